"""Activations, their derivatives, softmax/cross-entropy/MSE and the filters."""
import numpy as np
import pytest

import cnnlab as cl
from cnnlab import filters
from cnnlab.functional.activations import ACTIVATIONS
from cnnlab.gradcheck import numerical_gradient, rel_error

from tolerance import assert_close


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivatives(rng, name):
    f, df = ACTIVATIONS[name]
    x = rng.uniform(-2.5, 2.5, 200)  # saturated tails make finite differences noisy
    x = x[np.abs(x) > 1e-3]  # keep away from the kinks of ReLU-like functions
    x = x[np.abs(x + 1) > 1e-3]  # and of SReLU's at -1
    assert rel_error(numerical_gradient(f, x.copy()), df(x)) < 1e-6


def test_relu_keeps_dtype_and_special_values():
    """relu's fast path (clip for floats) gives np.maximum(x, 0)'s values and dtype: NaN stays NaN, ints stay ints."""
    special = np.array([-np.inf, -3.0, -0.0, 0.0, 2.5, np.inf, np.nan])
    for x in [special, special.astype(np.float32), special.astype(np.float16), np.array([-2, 0, 3]),
              np.float32(-1.5), 2.0]:
        got, want = cl.relu(x), np.maximum(x, 0)
        assert np.asarray(got).dtype == np.asarray(want).dtype
        np.testing.assert_array_equal(got, want)


def test_activation_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(cl.relu(x), [0, 0, 0, 0.5, 2])
    np.testing.assert_allclose(cl.leaky_relu(x, 0.1), [-0.2, -0.05, 0, 0.5, 2])
    np.testing.assert_allclose(cl.elu(x), [np.expm1(-2), np.expm1(-0.5), 0, 0.5, 2])
    np.testing.assert_allclose(cl.srelu(x, 1.0), [-1, -0.5, 0, 0.5, 2])
    np.testing.assert_allclose(cl.lecun_tanh(np.array([1.0, -1.0])), [1, -1], atol=2e-4)  # f(+-1) = +-1
    np.testing.assert_allclose(cl.sigmoid_grad(x), cl.sigmoid(x) * (1 - cl.sigmoid(x)))
    np.testing.assert_allclose(cl.tanh_grad(x), 1 - np.tanh(x) ** 2)
    assert cl.sigmoid(np.array([-1000.0, 1000.0])).tolist() == [0.0, 1.0]  # no overflow
    assert cl.sigmoid_grad(np.zeros(1))[0] == 0.25  # the most a sigmoid passes back


def test_softmax_and_cross_entropy_are_stable(rng):
    z = np.array([[1e4, 0.0, -1e4], [3.0, 3.0, 3.0]])
    p = cl.softmax(z)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1)
    np.testing.assert_allclose(p[1], 1 / 3)
    loss = cl.cross_entropy(z, np.array([0, 2]))
    np.testing.assert_allclose(loss, (0 + np.log(3)) / 2)
    assert np.isfinite(cl.cross_entropy(z, np.array([2, 0])))  # -log p of a 1e4-margin loser: 2e4
    np.testing.assert_allclose(cl.cross_entropy(z, np.array([2, 0]), reduction="none"), [2e4, np.log(3)])
    np.testing.assert_allclose(cl.log_softmax(z)[0], [0, -1e4, -2e4])


def test_cross_entropy_gradient_is_softmax_minus_onehot(rng):
    z, y = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    g = cl.cross_entropy_backward(z, y)
    np.testing.assert_allclose(g, (cl.softmax(z) - np.eye(4)[y]) / 5)
    assert rel_error(numerical_gradient(lambda v: cl.cross_entropy(v, y), z.copy()), g) < 1e-6
    assert rel_error(numerical_gradient(lambda v: cl.cross_entropy(v, y, "sum"), z.copy()),
                     cl.cross_entropy_backward(z, y, "sum")) < 1e-6


def test_mse(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(cl.mse(a, b), np.mean((a - b) ** 2))
    assert rel_error(numerical_gradient(lambda v: cl.mse(v, b), a.copy()), cl.mse_backward(a, b)) < 1e-6
    assert rel_error(numerical_gradient(lambda v: cl.mse(v, b, "sum"), a.copy()), cl.mse_backward(a, b, "sum")) < 1e-6


def test_filters_and_separability():
    col, row = filters.separate(filters.get("sobel_x"))
    np.testing.assert_allclose(np.outer(col, row), filters.get("sobel_x"))
    np.testing.assert_allclose(np.outer([1, 2, 1], [-1, 0, 1]), filters.get("sobel_x"))
    assert np.allclose(np.abs(col / col[0]), [1, 2, 1])
    assert filters.is_separable(filters.get("gaussian")) and filters.is_separable(filters.get("box_blur"))
    assert not filters.is_separable(filters.get("laplacian"))
    with pytest.raises(ValueError, match="not separable"):
        filters.separate(filters.get("laplacian"))
    np.testing.assert_allclose(filters.gaussian(7, 1.5).sum(), 1)
    np.testing.assert_array_equal(filters.get("horizontal_edge"), [[1, 1, 1], [0, 0, 0], [-1, -1, -1]])
    np.testing.assert_array_equal(filters.get("sobel_y"), filters.get("sobel_x").T)
    with pytest.raises(ValueError, match="unknown filter"):
        filters.get("nope")
    with pytest.raises(ValueError, match="odd"):
        filters.gaussian(4)
    # two 1-d passes equal the 2-d filter (6 multiplications per pixel instead of 9)
    img = np.random.default_rng(0).standard_normal((1, 1, 9, 9))
    two_pass = cl.conv2d(cl.conv2d(img, col.reshape(1, 1, 3, 1)), row.reshape(1, 1, 1, 3))
    assert_close(two_pass, cl.conv2d(img, filters.get("sobel_x")[None, None]), 9)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_backward_partners(rng, name):
    from cnnlab.gradcheck import check_backward
    errors = check_backward(getattr(cl, name), getattr(cl, f"{name}_backward"), rng.standard_normal((3, 5)))
    assert errors["z"] < 1e-7


def test_reductions_are_checked_and_aliases_exist(rng):
    z, y = rng.standard_normal((3, 4)), np.array([0, 1, 2])
    for fn, args in [(cl.cross_entropy, (z, y)), (cl.cross_entropy_backward, (z, y)), (cl.mse, (z, z)),
                     (cl.mse_backward, (z, z))]:
        with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
            fn(*args, reduction="avg")
    assert cl.mse_loss is cl.mse and cl.unfold is cl.im2col and cl.fold is cl.col2im
    assert_close(cl.cross_entropy_backward(z, y, reduction="sum"), 3 * cl.cross_entropy_backward(z, y), 2)
