"""Parity with torch.nn.functional, forward and autograd backward (skipped without torch)."""
import numpy as np
import pytest

import cnnlab as cl

from tolerance import GRADS, assert_close, conv_terms, conv_transpose_terms

torch = pytest.importorskip("torch")
F = torch.nn.functional
pytestmark = pytest.mark.torch


def t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def close(ours, theirs, terms, err_msg=""):
    """Two implementations of one quantity: the suite's tolerance rule (tests/tolerance.py)."""
    assert_close(ours, theirs.detach().numpy(), terms, err_msg=err_msg)


CONV = [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2), dict(padding="valid", groups=2, stride=2),
        dict(padding="full", dilation=2, groups=2)]


def check_conv(rng, nd, kw, size=7):
    x = rng.standard_normal((2, 4, *(size,) * nd))
    w, b = rng.standard_normal((6, 4 // kw.get("groups", 1), *(3,) * nd)), rng.standard_normal(6)
    ours = [cl.conv1d, cl.conv2d, cl.conv3d][nd - 1](x, w, b, **kw)
    tx, tw, tb = t(x, True), t(w, True), t(b, True)
    theirs = [F.conv1d, F.conv2d, F.conv3d][nd - 1](tx, tw, tb, **{**kw, "padding": kw.get("padding", 0)
                                                                   if kw.get("padding") != "full" else 4})
    terms = conv_terms(x.shape, w.shape, ours.shape, kw.get("groups", 1))
    close(ours, theirs, terms["out"] + 1)
    g = rng.standard_normal(ours.shape)
    theirs.backward(t(g))
    grads = [cl.conv1d_backward, cl.conv2d_backward, cl.conv3d_backward][nd - 1](g, x, w, **kw)
    for name, a, b_ in zip(GRADS, grads, (tx.grad, tw.grad, tb.grad)):
        close(a, b_, terms[name], name)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", CONV)
def test_conv(rng, nd, kw):
    check_conv(rng, nd, kw)  # 'full' is padding d(k-1) = 4 in PyTorch's terms


def test_conv2d_per_axis_arguments(rng):
    check_conv(rng, 2, dict(stride=(2, 1), padding=(1, 0), dilation=(2, 1), groups=2))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=3, dilation=2, output_padding=1, groups=2)])
def test_conv_transpose(rng, nd, kw):
    g_ = kw.get("groups", 1)
    x, w = rng.standard_normal((2, 4, *(4,) * nd)), rng.standard_normal((4, 6 // g_, *(3,) * nd))
    b = rng.standard_normal(6)
    ours = [cl.conv_transpose1d, cl.conv_transpose2d, cl.conv_transpose3d][nd - 1](x, w, b, **kw)
    tx, tw, tb = t(x, True), t(w, True), t(b, True)
    theirs = [F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d][nd - 1](tx, tw, tb, **kw)
    terms = conv_transpose_terms(x.shape, w.shape, ours.shape, g_)
    close(ours, theirs, terms["out"] + 1)
    g = rng.standard_normal(ours.shape)
    theirs.backward(t(g))
    back = [cl.conv_transpose1d_backward, cl.conv_transpose2d_backward, cl.conv_transpose3d_backward][nd - 1]
    for name, a, b_ in zip(GRADS, back(g, x, w, **kw), (tx.grad, tw.grad, tb.grad)):
        close(a, b_, terms[name], name)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, ceil_mode=True),
                                dict(kernel_size=(2, 3), dilation=(2, 1)),
                                dict(kernel_size=3, stride=1, padding=1)])
def test_max_pool(rng, kw):
    x = rng.standard_normal((2, 3, 9, 8))
    out, idx = cl.max_pool2d(x, return_indices=True, **kw)
    tx = t(x, True)
    tout, tidx = F.max_pool2d(tx, return_indices=True, **kw)
    np.testing.assert_array_equal(out, tout.detach().numpy())  # a maximum is one of the inputs: exact
    np.testing.assert_array_equal(idx, tidx.numpy())
    g = rng.standard_normal(out.shape)
    tout.backward(t(g))
    taps = int(np.prod(kw["kernel_size"]))  # overlapping windows add up to k*k gradients in one cell
    close(cl.max_pool2d_backward(g, x, **kw), tx.grad, taps)
    close(cl.max_pool2d_backward(g, x, indices=idx, **kw), tx.grad, taps)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                                dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))])
def test_avg_pool(rng, kw):
    x = rng.standard_normal((2, 3, 9, 8))
    tx = t(x, True)
    tout = F.avg_pool2d(tx, **kw)
    out = cl.avg_pool2d(x, **kw)
    taps = int(np.prod(kw["kernel_size"]))
    close(out, tout, taps + 1)
    g = rng.standard_normal(out.shape)
    tout.backward(t(g))
    close(cl.avg_pool2d_backward(g, x, **kw), tx.grad, taps + 1)


@pytest.mark.parametrize("size", [(3, 4), (1, 1), (5, 2), (11, 12)])
def test_adaptive_pools(rng, size):
    x = rng.standard_normal((2, 3, 9, 8))
    close(cl.adaptive_avg_pool2d(x, size), F.adaptive_avg_pool2d(t(x), size), x.shape[2] * x.shape[3])
    out, idx = cl.adaptive_max_pool2d(x, size, return_indices=True)
    tout, tidx = F.adaptive_max_pool2d(t(x), size, return_indices=True)
    np.testing.assert_array_equal(out, tout.numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())


def test_losses_and_activations(rng):
    z, y = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    z[0] = [1e4, -1e4, 0, 5, 1]
    tz = t(z, True)
    loss = F.cross_entropy(tz, torch.tensor(y))
    loss.backward()
    classes = z.shape[1]  # a softmax sums over the classes, the mean over the batch
    close(cl.cross_entropy(z, y), loss, z.size)
    close(cl.cross_entropy_backward(z, y), tz.grad, classes + 2)
    close(cl.softmax(z), F.softmax(t(z), 1), classes + 2)
    close(cl.log_softmax(z), F.log_softmax(t(z), 1), classes + 2)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    close(cl.mse(a, b), F.mse_loss(t(a), t(b)), a.size)
    x = rng.standard_normal(50) * 3  # elementwise functions: a few roundings each
    for ours, theirs in [(cl.elu(x, 0.7), F.elu(t(x), 0.7)), (cl.leaky_relu(x, 0.2), F.leaky_relu(t(x), 0.2)),
                         (cl.sigmoid(x), torch.sigmoid(t(x))), (cl.relu(x), F.relu(t(x))),
                         (cl.tanh(x), torch.tanh(t(x)))]:
        close(ours, theirs, 4)


def test_float32_parity(rng):
    x = rng.standard_normal((4, 3, 12, 12)).astype(np.float32)
    w = rng.standard_normal((8, 3, 5, 5)).astype(np.float32)
    ours = cl.conv2d(x, w, padding=2)
    assert ours.dtype == np.float32
    close(ours, F.conv2d(t(x), t(w), padding=2), conv_terms(x.shape, w.shape, ours.shape)["out"])
