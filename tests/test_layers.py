"""Every layer's backward against central differences (float64)."""
import numpy as np
import pytest

from cnnlab.gradcheck import check_layer, numerical_gradient, rel_error
from cnnlab.nn import layers as L
from cnnlab.nn.models import C3_TABLE, Sequential, rbf_codes

from tolerance import assert_close

CASES = {
    "conv": (lambda r: L.Conv2d(3, 4, 3, stride=2, padding=1, rng=r), (2, 3, 7, 7)),
    "conv_groups": (lambda r: L.Conv2d(4, 6, (3, 2), groups=2, dilation=2, rng=r), (2, 4, 8, 7)),
    "conv_transpose": (lambda r: L.ConvTranspose2d(3, 2, 4, stride=2, padding=1, rng=r), (2, 3, 4, 4)),
    "sparse_conv": (lambda r: L.SparseConv2d(C3_TABLE, 3, rng=r), (2, 6, 6, 6)),
    "maxpool": (lambda r: L.MaxPool2d(2), (2, 3, 6, 6)),
    "maxpool_overlap": (lambda r: L.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 7)),
    "avgpool": (lambda r: L.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 7, 7)),
    "subsample": (lambda r: L.Subsample2d(3), (2, 3, 6, 6)),
    "linear": (lambda r: L.Linear(5, 4, rng=r), (3, 5)),
    "flatten": (lambda r: L.Flatten(), (2, 3, 2, 2)),
    "relu": (lambda r: L.Activation("relu"), (3, 7)),
    "lecun_tanh": (lambda r: L.Activation("lecun_tanh"), (3, 7)),
    "sigmoid": (lambda r: L.Activation("sigmoid"), (3, 7)),
    "rbf": (lambda r: L.RBF(rbf_codes()[:, :6].astype(np.float64)), (3, 6)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_gradients(rng, name):
    make, shape = CASES[name]
    layer = make(rng).astype(np.float64)
    if isinstance(layer, L.Subsample2d):
        layer.params["weight"][...] = rng.standard_normal(3)
    n = int(np.prod(shape))
    x = rng.permutation(n).reshape(shape) * (2.0 / n) - 1  # in [-1, 1), no ties for max pooling
    if isinstance(layer, L.Activation) and layer.name == "relu":
        x = x + 0.05  # keep off the kink at 0
    errors = check_layer(layer, x.astype(np.float64))
    assert set(errors) == {"input", *layer.params}
    # central differences with h = 1e-6 carry ~1e-9 of rounding: entries near 1e-3 reach 1e-6
    assert max(errors.values()) < 1e-5, errors


def test_check_layer_catches_a_wrong_backward(rng):
    class Doubled(L.Linear):  # a backward that forgets nothing but doubles the input gradient
        def backward(self, grad, input_grad=True):
            return 2 * super().backward(grad, input_grad)
    errors = check_layer(Doubled(3, 2, rng=rng).astype(np.float64), rng.standard_normal((4, 3)))
    assert errors["input"] > 0.3 and errors["weight"] < 1e-7
    with pytest.raises(TypeError, match="astype"):
        check_layer(L.Linear(3, 2), rng.standard_normal((4, 3)))


def test_every_layer_skips_the_input_gradient_on_request(rng):
    for name, (make, shape) in CASES.items():
        layer = make(rng).astype(np.float64)
        x = rng.standard_normal(shape)
        layer.forward(x)
        assert layer.backward(np.ones_like(layer.forward(x)), input_grad=False) is None, name


def test_sequential_is_a_layer(rng):
    model = Sequential([("c", L.Conv2d(1, 2, 3, rng=rng)), ("a", L.Activation("tanh")), ("f", L.Flatten()),
                        ("l", L.Linear(2 * 4 * 4, 3, rng=rng))], (1, 6, 6)).astype(np.float64)
    errors = check_layer(model, rng.standard_normal((2, 1, 6, 6)))
    assert set(errors) == {"input", "c.weight", "c.bias", "l.weight", "l.bias"}
    assert max(errors.values()) < 1e-6, errors
    model.eval()
    assert not any(layer.training for _, layer in model.layers)


def test_sparse_conv_keeps_absent_connections_at_zero(rng):
    layer = L.SparseConv2d(C3_TABLE, 5, rng=rng)
    absent = ~C3_TABLE.T
    assert np.all(layer.params["weight"][absent] == 0)
    layer.forward(rng.standard_normal((2, 6, 14, 14)).astype(np.float32))
    layer.backward(np.ones((2, 16, 10, 10), np.float32))
    assert np.all(layer.grads["weight"][absent] == 0)
    assert layer.summary_row((1, 6, 14, 14), (1, 16, 10, 10)) == (1516, 151600)


def test_dropout(rng):
    d = L.Dropout(0.5, rng=rng)
    x = np.ones((1000, 10))
    y = d.forward(x)
    assert set(np.unique(y)) <= {0.0, 2.0} and abs(y.mean() - 1) < 0.05  # expectation preserved
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), y)  # same mask backwards
    d.training = False
    np.testing.assert_array_equal(d.forward(x), x)
    with pytest.raises(ValueError, match="dropout p must be in"):
        L.Dropout(1.0)


def test_losses(rng):
    z, y = rng.standard_normal((4, 10)), np.array([1, 0, 9, 3])
    for loss in (L.SoftmaxCrossEntropy(), L.RBFLoss()):
        loss.forward(z, y)
        g = loss.backward()
        num = numerical_gradient(lambda v: loss.forward(v, y), z.copy())
        assert rel_error(num, g) < 1e-6, type(loss).__name__
    assert L.RBFLoss.predict(np.array([[3.0, 1.0, 2.0]])).tolist() == [1]  # smallest distance wins


def test_linear_checks_its_input():
    with pytest.raises(ValueError, match=r"Linear expects input \(N, 5\), got \(2, 4\)"):
        L.Linear(5, 3).forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        L.Activation("swish")


def test_conv_layer_reuses_columns_and_can_skip_the_input_gradient(rng):
    import cnnlab as cl
    layer = L.Conv2d(3, 4, 3, padding=1, rng=rng).astype(np.float64)
    x, g = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 4, 6, 6))
    layer.forward(x)
    assert layer.cache.columns is not None  # kept for the weight gradient
    assert layer.backward(g, input_grad=False) is None
    gx, gw, gb = cl.conv2d_backward(g, x, layer.params["weight"], padding=1)
    assert_close(layer.grads["weight"], gw, 2 * 6 * 6)  # kept columns vs re-unfolded input
    layer.eval()
    layer.forward(x)
    assert layer.cache.columns is None  # evaluation keeps nothing
