"""Batch normalisation and max unpooling: the formulas, central-difference
gradient checks in float64, bad input, and parity with torch.nn.functional
(forward, the running statistics, autograd backward; skipped without torch)."""
import numpy as np
import pytest

import cnnlab as cl
from cnnlab.gradcheck import numerical_gradient, rel_error

from tolerance import assert_close

SHAPES = [(4, 3, 5, 6), (2, 1, 3, 3), (1, 2, 7, 2)]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def bn_case(rng, shape):
    x = rng.normal(1.5, 3.0, shape)
    c = shape[1]
    return x, rng.normal(0, 1, c), rng.uniform(0.5, 2, c), rng.normal(1, 0.5, c), rng.normal(0, 0.5, c)


# --- batch norm ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_training_normalises_and_updates_running_statistics(rng, shape):
    x, rm, rv, w, b = bn_case(rng, shape)
    rm0, rv0 = rm.copy(), rv.copy()
    y = cl.batch_norm2d(x, rm, rv, w, b, training=True, momentum=0.2)
    n = x.size // x.shape[1]
    x_hat = (y - b[:, None, None]) / w[:, None, None]
    np.testing.assert_allclose(x_hat.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(x_hat.var(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)) / (x.var(axis=(0, 2, 3)) + 1e-5))
    np.testing.assert_allclose(rm, 0.8 * rm0 + 0.2 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(rv, 0.8 * rv0 + 0.2 * x.var(axis=(0, 2, 3)) * n / (n - 1))


def test_batch_norm_evaluation_uses_the_running_statistics(rng):
    x, rm, rv, w, b = bn_case(rng, (3, 2, 4, 4))
    rm0, rv0 = rm.copy(), rv.copy()
    y = cl.batch_norm2d(x, rm, rv, w, b)
    np.testing.assert_allclose(y, (x - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5) * w[:, None, None]
                               + b[:, None, None])
    assert np.array_equal(rm, rm0) and np.array_equal(rv, rv0)  # nothing is updated
    assert np.allclose(cl.batch_norm2d(x, None, None, training=True).mean(axis=(0, 2, 3)), 0)


def test_batch_norm_keeps_float32(rng):
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    assert cl.batch_norm2d(x, rm, rv, training=True).dtype == np.float32 and rm.dtype == np.float32
    assert all(g.dtype == np.float32 for g in cl.batch_norm2d_backward(x, x, np.ones(3, np.float32)))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_backward_gradcheck_training(shape, affine):
    rng = np.random.default_rng(7)
    x, _, _, w, b = bn_case(rng, shape)
    w, b = (w, b) if affine else (None, None)
    g = rng.standard_normal(shape)
    grad_x, grad_w, grad_b = cl.batch_norm2d_backward(g, x, w)

    def forward(x_=x, w_=w, b_=b):
        return cl.batch_norm2d(x_, None, None, w_, b_, training=True)
    assert rel_error(numerical_gradient(lambda v: forward(x_=v), x.copy(), g), grad_x) < 1e-6
    w_probe = np.ones(shape[1]) if w is None else w.copy()
    b_probe = np.zeros(shape[1]) if b is None else b.copy()
    assert rel_error(numerical_gradient(lambda v: forward(w_=v, b_=b_probe), w_probe, g), grad_w) < 1e-6
    assert rel_error(numerical_gradient(lambda v: forward(w_=w_probe, b_=v), b_probe, g), grad_b) < 1e-6


def test_batch_norm_backward_gradcheck_evaluation():
    rng = np.random.default_rng(8)
    x, rm, rv, w, b = bn_case(rng, (3, 2, 3, 4))
    g = rng.standard_normal(x.shape)
    grad_x, grad_w, grad_b = cl.batch_norm2d_backward(g, x, w, running_mean=rm, running_var=rv)
    assert rel_error(numerical_gradient(lambda v: cl.batch_norm2d(v, rm, rv, w, b), x.copy(), g), grad_x) < 1e-7
    assert rel_error(numerical_gradient(lambda v: cl.batch_norm2d(x, rm, rv, v, b), w.copy(), g), grad_w) < 1e-7
    assert rel_error(numerical_gradient(lambda v: cl.batch_norm2d(x, rm, rv, w, v), b.copy(), g), grad_b) < 1e-7


def test_batch_norm_bad_input(rng):
    x = rng.standard_normal((2, 3, 4, 4))
    with pytest.raises(ValueError, match="running_mean must have shape"):
        cl.batch_norm2d(x, np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match="needs running_mean and running_var"):
        cl.batch_norm2d(x, None, None)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        cl.batch_norm2d(x[:1, :, :1, :1], None, None, training=True)
    with pytest.raises(ValueError, match="input must be 4-dimensional"):
        cl.batch_norm2d(x[0], None, None, training=True)
    with pytest.raises(ValueError, match="grad_out must have shape"):
        cl.batch_norm2d_backward(x[:1], x, None)
    with pytest.raises(ValueError, match="both running_mean and running_var"):
        cl.batch_norm2d_backward(x, x, None, running_mean=np.zeros(3))


@pytest.mark.torch
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch(torch, rng, shape, training):
    x, rm, rv, w, b = bn_case(rng, shape)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    theirs = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=training, momentum=0.3, eps=1e-4)
    ours = cl.batch_norm2d(x, rm, rv, w, b, training=training, momentum=0.3, eps=1e-4)
    n = x.size // x.shape[1]
    assert_close(ours, theirs.detach().numpy(), n)
    assert_close(rm, trm.numpy(), n) and assert_close(rv, trv.numpy(), n)
    g = rng.standard_normal(x.shape)
    theirs.backward(torch.tensor(g))
    running = {} if training else dict(running_mean=rm, running_var=rv)
    for ours_grad, their_grad in zip(cl.batch_norm2d_backward(g, x, w, eps=1e-4, **running), (tx, tw, tb)):
        assert_close(ours_grad, their_grad.grad.numpy(), 4 * n)


# --- max unpooling ------------------------------------------------------------------------------

UNPOOL = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(2, 3), stride=(2, 1)),
          dict(kernel_size=3, stride=3)]


@pytest.mark.parametrize("kw", UNPOOL)
def test_unpool_puts_each_maximum_back(rng, kw):
    x = np.abs(rng.standard_normal((2, 3, 9, 8))) + 0.1               # positive: the zeros never win a window
    pooled, idx = cl.max_pool2d(x, return_indices=True, **kw)
    up = cl.max_unpool2d(pooled, idx, **kw, output_size=x.shape)
    assert up.shape == x.shape
    kept = up != 0
    assert np.array_equal(up[kept], x[kept])                        # every kept value is the input's own
    assert kept.sum() == len(np.unique(idx.reshape(6, -1) + 1000 * np.arange(6)[:, None]))
    assert np.array_equal(cl.max_pool2d(up, **kw), pooled)          # pooling the unpooled map gives it back


def test_unpool_default_size_and_output_size(rng):
    x = rng.standard_normal((1, 1, 6, 6))
    pooled, idx = cl.max_pool2d(x, 2, return_indices=True)
    assert cl.max_unpool2d(pooled, idx, 2).shape == (1, 1, 6, 6)      # (3 - 1) * 2 + 2
    odd = rng.standard_normal((1, 1, 7, 7))
    pooled, idx = cl.max_pool2d(odd, 2, return_indices=True)           # floor mode drops the last row and column
    assert cl.max_unpool2d(pooled, idx, 2, output_size=(7, 7)).shape == (1, 1, 7, 7)
    with pytest.raises(ValueError, match=r"indices must be in \[0, 36\)"):
        cl.max_unpool2d(pooled, idx, 2)                                # the indices point into a 7-wide map
    with pytest.raises(ValueError, match="output_size .* must be between"):
        cl.max_unpool2d(pooled, idx, 2, output_size=(8, 8))
    with pytest.raises(ValueError, match="indices must have shape"):
        cl.max_unpool2d(pooled, idx[..., :1], 2)
    with pytest.raises(TypeError, match="indices must be integers"):
        cl.max_unpool2d(pooled, idx.astype(float), 2)


@pytest.mark.parametrize("kw", [UNPOOL[0], UNPOOL[3]])
def test_unpool_backward_gradcheck(rng, kw):
    # Disjoint windows only: where overlapping windows share a maximum, the forward writes one copy and the
    # backward (a gather, as PyTorch's) reads the cell for both, which central differences cannot see.
    x = rng.standard_normal((2, 2, 8, 7))
    pooled, idx = cl.max_pool2d(x, return_indices=True, **kw)
    out = cl.max_unpool2d(pooled, idx, **kw, output_size=x.shape)
    g = rng.standard_normal(out.shape)
    num = numerical_gradient(lambda v: cl.max_unpool2d(v, idx, **kw, output_size=x.shape), pooled.copy(), g)
    assert rel_error(num, cl.max_unpool2d_backward(g, idx, **kw)) < 1e-8


@pytest.mark.torch
@pytest.mark.parametrize("kw", UNPOOL)
def test_unpool_matches_torch(torch, rng, kw):
    x = rng.standard_normal((2, 3, 9, 8))
    pooled, idx = cl.max_pool2d(x, return_indices=True, **kw)
    tp = torch.tensor(pooled, requires_grad=True)
    theirs = torch.nn.functional.max_unpool2d(tp, torch.tensor(idx), **kw, output_size=x.shape[2:])
    ours = cl.max_unpool2d(pooled, idx, **kw, output_size=x.shape[2:])
    np.testing.assert_array_equal(ours, theirs.detach().numpy())    # copies: no arithmetic, bit-identical
    g = rng.standard_normal(ours.shape)
    theirs.backward(torch.tensor(g))
    np.testing.assert_array_equal(cl.max_unpool2d_backward(g, idx, **kw), tp.grad.numpy())
