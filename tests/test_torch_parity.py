"""Parity with torch.nn.functional, forward and autograd backward (skipped without torch)."""
import numpy as np
import pytest

import cnnlab as cl

torch = pytest.importorskip("torch")
F = torch.nn.functional
pytestmark = pytest.mark.torch


def t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def assert_close(ours, theirs, atol=1e-10):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), atol=atol, rtol=1e-7)


CONV = [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2), dict(padding="valid", groups=2, stride=2),
        dict(padding="full", dilation=2, groups=2)]


def check_conv(rng, nd, kw, size=7):
    x = rng.standard_normal((2, 4, *(size,) * nd))
    w, b = rng.standard_normal((6, 4 // kw.get("groups", 1), *(3,) * nd)), rng.standard_normal(6)
    ours = [cl.conv1d, cl.conv2d, cl.conv3d][nd - 1](x, w, b, **kw)
    tx, tw, tb = t(x, True), t(w, True), t(b, True)
    theirs = [F.conv1d, F.conv2d, F.conv3d][nd - 1](tx, tw, tb, **{**kw, "padding": kw.get("padding", 0)
                                                                   if kw.get("padding") != "full" else 4})
    assert_close(ours, theirs)
    g = rng.standard_normal(ours.shape)
    theirs.backward(t(g))
    grads = [cl.conv1d_backward, cl.conv2d_backward, cl.conv3d_backward][nd - 1](g, x, w, **kw)
    for a, b_ in zip(grads, (tx.grad, tw.grad, tb.grad)):
        assert_close(a, b_)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", CONV)
def test_conv(rng, nd, kw):
    check_conv(rng, nd, kw)  # 'full' is padding d(k-1) = 4 in PyTorch's terms


def test_conv2d_per_axis_arguments(rng):
    check_conv(rng, 2, dict(stride=(2, 1), padding=(1, 0), dilation=(2, 1), groups=2))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1), dict(stride=3, dilation=2, output_padding=1, groups=2)])
def test_conv_transpose(rng, nd, kw):
    g_ = kw.get("groups", 1)
    x, w, b = rng.standard_normal((2, 4, *(4,) * nd)), rng.standard_normal((4, 6 // g_, *(3,) * nd)), rng.standard_normal(6)
    ours = [cl.conv_transpose1d, cl.conv_transpose2d, cl.conv_transpose3d][nd - 1](x, w, b, **kw)
    tx, tw, tb = t(x, True), t(w, True), t(b, True)
    theirs = [F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d][nd - 1](tx, tw, tb, **kw)
    assert_close(ours, theirs)
    g = rng.standard_normal(ours.shape)
    theirs.backward(t(g))
    back = [cl.conv_transpose1d_backward, cl.conv_transpose2d_backward, cl.conv_transpose3d_backward][nd - 1]
    for a, b_ in zip(back(g, x, w, **kw), (tx.grad, tw.grad, tb.grad)):
        assert_close(a, b_)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, ceil_mode=True), dict(kernel_size=(2, 3), dilation=(2, 1)),
                                dict(kernel_size=3, stride=1, padding=1)])
def test_max_pool(rng, kw):
    x = rng.standard_normal((2, 3, 9, 8))
    out, idx = cl.max_pool2d(x, return_indices=True, **kw)
    tx = t(x, True)
    tout, tidx = F.max_pool2d(tx, return_indices=True, **kw)
    assert_close(out, tout)
    np.testing.assert_array_equal(idx, tidx.numpy())
    g = rng.standard_normal(out.shape)
    tout.backward(t(g))
    assert_close(cl.max_pool2d_backward(g, x, **kw), tx.grad)
    assert_close(cl.max_pool2d_backward(g, x, indices=idx, **kw), tx.grad)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                                dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))])
def test_avg_pool(rng, kw):
    x = rng.standard_normal((2, 3, 9, 8))
    tx = t(x, True)
    tout = F.avg_pool2d(tx, **kw)
    out = cl.avg_pool2d(x, **kw)
    assert_close(out, tout)
    g = rng.standard_normal(out.shape)
    tout.backward(t(g))
    assert_close(cl.avg_pool2d_backward(g, x, **kw), tx.grad)


@pytest.mark.parametrize("size", [(3, 4), (1, 1), (5, 2), (11, 12)])
def test_adaptive_pools(rng, size):
    x = rng.standard_normal((2, 3, 9, 8))
    assert_close(cl.adaptive_avg_pool2d(x, size), F.adaptive_avg_pool2d(t(x), size))
    out, idx = cl.adaptive_max_pool2d(x, size, return_indices=True)
    tout, tidx = F.adaptive_max_pool2d(t(x), size, return_indices=True)
    assert_close(out, tout)
    np.testing.assert_array_equal(idx, tidx.numpy())


def test_losses_and_activations(rng):
    z, y = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    z[0] = [1e4, -1e4, 0, 5, 1]
    tz = t(z, True)
    loss = F.cross_entropy(tz, torch.tensor(y))
    loss.backward()
    assert_close(cl.cross_entropy(z, y), loss)
    assert_close(cl.cross_entropy_backward(z, y), tz.grad)
    assert_close(cl.softmax(z), F.softmax(t(z), 1))
    assert_close(cl.log_softmax(z), F.log_softmax(t(z), 1))
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert_close(cl.mse(a, b), F.mse_loss(t(a), t(b)))
    x = rng.standard_normal(50) * 3
    assert_close(cl.elu(x, 0.7), F.elu(t(x), 0.7))
    assert_close(cl.leaky_relu(x, 0.2), F.leaky_relu(t(x), 0.2))
    assert_close(cl.sigmoid(x), torch.sigmoid(t(x)))
    assert_close(cl.relu(x), F.relu(t(x)))
    assert_close(cl.tanh(x), torch.tanh(t(x)))


def test_float32_parity(rng):
    x = rng.standard_normal((4, 3, 12, 12)).astype(np.float32)
    w = rng.standard_normal((8, 3, 5, 5)).astype(np.float32)
    ours = cl.conv2d(x, w, padding=2)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, F.conv2d(t(x), t(w), padding=2).numpy(), atol=1e-4)
