"""Pooling: against plain loops (floor/ceil, padding, dilation,
count_include_pad), gradient checks, adaptive and pyramid pooling."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnlab as cl
from cnnlab import arithmetic, reference
from cnnlab.gradcheck import numerical_gradient, rel_error

from tolerance import assert_close


@st.composite
def pool_cases(draw, dilation=True):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    dh, dw = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 10))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 10))
    seed = draw(st.integers(0, 2 ** 16))
    # a permutation has no ties, so the argmax (and the gradient) is unique
    x = np.random.default_rng(seed).permutation(2 * 2 * h * w).reshape(2, 2, h, w) / 7.0
    kwargs = dict(kernel_size=(kh, kw), stride=draw(st.sampled_from([None, (sh, sw)])), padding=(ph, pw),
                  ceil_mode=draw(st.booleans()))
    if dilation:
        kwargs["dilation"] = (dh, dw)
    return x, kwargs


@given(pool_cases())
def test_max_pool_matches_loops(case):
    x, kw = case
    out, idx = cl.max_pool2d(x, return_indices=True, **kw)
    np.testing.assert_array_equal(out, reference.max_pool2d(x, **kw))
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(*x.shape[:2], -1), idx.reshape(*idx.shape[:2], -1),
                                                     axis=2).reshape(out.shape), out)
    g = np.random.default_rng(0).standard_normal(out.shape)
    expect = reference.max_pool2d_backward(g, x, **kw)
    taps = int(np.prod(kw["kernel_size"]))  # a cell may win up to k*k overlapping windows
    assert_close(cl.max_pool2d_backward(g, x, **kw), expect, taps)
    assert_close(cl.max_pool2d_backward(g, x, indices=idx, **kw), expect, taps)
    pooled, winners = cl.max_pool2d_winners(x, **kw)
    np.testing.assert_array_equal(pooled, out)
    assert_close(cl.max_pool2d_backward(g, x, winners=winners, **kw), expect, taps)


@pytest.mark.parametrize("size", [28, 27])  # 27: floor mode leaves a last row and column outside every tile
def test_tiled_max_pool_backward_writes_zeros_outside_the_winners(size):
    x = np.random.default_rng(3).permutation(2 * 3 * size * size).reshape(2, 3, size, size).astype(np.float32)
    g = np.random.default_rng(4).standard_normal((2, 3, size // 2, size // 2)).astype(np.float32)
    _, winners = cl.max_pool2d_winners(x, 2)
    grad = cl.max_pool2d_backward(g, x, 2, winners=winners)
    assert grad.dtype == np.float32 and grad.shape == x.shape
    np.testing.assert_array_equal(grad, reference.max_pool2d_backward(g, x, 2))
    with pytest.raises(ValueError, match="winners must have shape"):
        cl.max_pool2d_backward(g, x, 2, winners=winners[:1])
    _, flat = cl.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(ValueError, match=r"winners must be taps in \[0, 4\) for a 2x2 kernel.*indices="):
        cl.max_pool2d_backward(g, x, 2, winners=flat)
    with pytest.raises(TypeError, match="winners must be integer taps"):
        cl.max_pool2d_backward(g, x, 2, winners=winners.astype(float))


@given(pool_cases(dilation=False), st.booleans())
def test_avg_pool_matches_loops(case, include_pad):
    x, kw = case
    out = cl.avg_pool2d(x, count_include_pad=include_pad, **kw)
    taps = int(np.prod(kw["kernel_size"])) + 1  # k*k cells and one division
    assert_close(out, reference.avg_pool2d(x, count_include_pad=include_pad, **kw), taps)
    g = np.random.default_rng(0).standard_normal(out.shape)
    assert_close(cl.avg_pool2d_backward(g, x, count_include_pad=include_pad, **kw),
                 reference.avg_pool2d_backward(g, x, count_include_pad=include_pad, **kw), taps)


@given(pool_cases())
def test_pool_output_size_is_the_kernel_shape(case):
    x, kw = case
    k, s = kw["kernel_size"], kw["stride"] or kw["kernel_size"]
    expect = tuple(arithmetic.pool_output_size(i, ka, sa, pa, da, kw["ceil_mode"])
                   for i, ka, sa, pa, da in zip(x.shape[2:], k, s, kw["padding"], kw["dilation"]))
    assert cl.max_pool2d(x, **kw).shape[2:] == expect


def test_ties_go_to_the_first_cell_like_pytorch():
    x = np.zeros((1, 1, 4, 4))  # e.g. a ReLU output: every window is a tie
    g = np.arange(1, 5, dtype=float).reshape(1, 1, 2, 2)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1)):
        out = cl.max_pool2d(x, **kw)
        grad = cl.max_pool2d_backward(np.ones_like(out), x, **kw)
        assert grad.sum() == out.size  # each window routes exactly once
    grad = cl.max_pool2d_backward(g, x, 2)
    np.testing.assert_array_equal(grad[0, 0], [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1))])
def test_max_pool_gradcheck(rng, kw):
    x = rng.permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8) / 10.0
    g = rng.standard_normal(cl.max_pool2d(x, **kw).shape)
    num = numerical_gradient(lambda v: cl.max_pool2d(v, **kw), x.copy(), g, eps=1e-4)
    assert rel_error(num, cl.max_pool2d_backward(g, x, **kw)) < 1e-6


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)])
def test_avg_pool_gradcheck(rng, kw):
    x = rng.standard_normal((2, 3, 7, 8))
    g = rng.standard_normal(cl.avg_pool2d(x, **kw).shape)
    num = numerical_gradient(lambda v: cl.avg_pool2d(v, **kw), x.copy(), g)
    assert rel_error(num, cl.avg_pool2d_backward(g, x, **kw)) < 1e-6


@pytest.mark.parametrize("size,out", [((7, 9), (3, 4)), ((13, 13), (3, 3)), ((14, 14), (3, 3)), ((4, 5), (6, 7)),
                                      ((5, 5), (1, 1))])
def test_adaptive_pooling(rng, size, out):
    x = rng.permutation(2 * 2 * size[0] * size[1]).reshape(2, 2, *size) / 9.0
    (sh, eh), (sw, ew) = arithmetic.adaptive_bins(size[0], out[0]), arithmetic.adaptive_bins(size[1], out[1])
    avg, mx = cl.adaptive_avg_pool2d(x, out), cl.adaptive_max_pool2d(x, out)
    for i in range(out[0]):
        for j in range(out[1]):
            window = x[:, :, sh[i]:eh[i], sw[j]:ew[j]]
            assert_close(avg[:, :, i, j], window.mean(axis=(2, 3)), window[0, 0].size + 1)
            np.testing.assert_array_equal(mx[:, :, i, j], window.max(axis=(2, 3)))
    g = rng.standard_normal(avg.shape)
    for fwd, bwd in ((cl.adaptive_avg_pool2d, cl.adaptive_avg_pool2d_backward),
                     (cl.adaptive_max_pool2d, cl.adaptive_max_pool2d_backward)):
        num = numerical_gradient(lambda v: fwd(v, out), x.copy(), g, eps=1e-4)
        assert rel_error(num, bwd(g, x, out)) < 1e-6
    _, idx = cl.adaptive_max_pool2d(x, out, return_indices=True)
    picked = np.take_along_axis(x.reshape(2, 2, -1), idx.reshape(2, 2, -1), 2)
    np.testing.assert_array_equal(picked.reshape(mx.shape), mx)


def test_global_average_pooling(rng):
    x = rng.standard_normal((3, 4, 5, 6))
    assert_close(cl.global_avg_pool2d(x), x.mean(axis=(2, 3), keepdims=True), 5 * 6)
    assert_close(cl.global_avg_pool2d(x), cl.adaptive_avg_pool2d(x, 1), 5 * 6)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_spatial_pyramid_pooling(rng, mode):
    for size in [(13, 13), (14, 14), (10, 17)]:
        x = rng.permutation(2 * 3 * size[0] * size[1]).reshape(2, 3, *size) / 11.0
        v = cl.spatial_pyramid_pool(x, levels=(3, 2, 1), mode=mode)
        assert v.shape == (2, 3 * (9 + 4 + 1))  # fixed length whatever the input size
        top = v[:, -3:]  # the 1x1 level is global pooling
        assert_close(top, (x.max if mode == "max" else x.mean)(axis=(2, 3)), size[0] * size[1])
    x = rng.permutation(2 * 7 * 8).reshape(1, 2, 7, 8) / 11.0
    g = rng.standard_normal((1, 2 * 14))
    num = numerical_gradient(lambda t: cl.spatial_pyramid_pool(t, (3, 2, 1), mode), x.copy(), g, eps=1e-4)
    assert rel_error(num, cl.spatial_pyramid_pool_backward(g, x, (3, 2, 1), mode)) < 1e-6


def test_pooling_keeps_float32(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    for fwd, bwd in ((cl.max_pool2d, cl.max_pool2d_backward), (cl.avg_pool2d, cl.avg_pool2d_backward)):
        out = fwd(x, 2)
        assert out.dtype == np.float32 and bwd(out, x, 2).dtype == np.float32


def test_global_average_pooling_backward(rng):
    from cnnlab.gradcheck import check_backward
    errors = check_backward(cl.global_avg_pool2d, cl.global_avg_pool2d_backward, rng.standard_normal((2, 3, 4, 5)))
    assert errors["x"] < 1e-7
