"""The compiled direct path (`cnnlab.engine.direct`, float32 2-d convolutions
without groups): against the plain loops in float64, against the im2col engine,
across thread counts, on views and special values."""
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab as cl
from cnnlab import reference
from cnnlab.engine import direct

from tolerance import GRADS, assert_close, conv_terms, conv_transpose_terms

needs_direct = pytest.mark.skipif(not direct.available(), reason="the compiled direct kernels are not built")


def test_the_kernels_are_built():
    """make install compiles them (setup.py). In CI (CI set) a missing build fails, so that the
    fast path cannot go untested unnoticed; elsewhere (no C compiler) it is reported as a skip."""
    if os.environ.get("CNNLAB_DIRECT") == "0":
        pytest.skip("CNNLAB_DIRECT=0: the NumPy engine only")
    if not direct.available() and not os.environ.get("CI"):
        pytest.skip("cnnlab/engine/_direct.c is not built (no C compiler?): the NumPy engine runs everything")
    assert direct.available(), "cnnlab/engine/_direct.c did not build: run `make install` with a C compiler"


@st.composite
def float32_cases(draw, transposed=False):
    """A float32 2-d convolution the direct path runs: channel counts on both sides of the
    8- and 16-lane blocks and of `adjoint_pays`, any stride, padding and dilation."""
    cin, cout = draw(st.sampled_from([1, 3, 4, 6, 9])), draw(st.sampled_from([1, 6, 8, 9, 16, 17]))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 15))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 15))
    n = draw(st.integers(1, 3))
    r = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    kwargs = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))
    if transposed:
        kwargs["output_padding"] = (draw(st.integers(0, max(sh, dh) - 1)), draw(st.integers(0, max(sw, dw) - 1)))
        if min((h - 1) * sh - 2 * ph + dh * (kh - 1) + kwargs["output_padding"][0] + 1,
               (w - 1) * sw - 2 * pw + dw * (kw - 1) + kwargs["output_padding"][1] + 1) < 1:
            kwargs["padding"] = (0, 0)
    weight = r.standard_normal((cin, cout, kh, kw) if transposed else (cout, cin, kh, kw)).astype(np.float32)
    return (r.standard_normal((n, cin, h, w)).astype(np.float32), weight,
            r.standard_normal(cout).astype(np.float32), kwargs)


def _f64(*arrays):
    return [a.astype(np.float64) for a in arrays]


@needs_direct
@settings(max_examples=150, deadline=None)
@given(float32_cases())
def test_conv2d_matches_loops(case):
    x, w, b, kw = case
    out = cl.conv2d(x, w, b, **kw)
    assert out.dtype == np.float32
    terms = conv_terms(x.shape, w.shape, out.shape)
    assert_close(out, reference.conv2d(*_f64(x, w, b), **kw), terms["out"] + 1, np.float32)
    g = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    for name, ours, loops in zip(GRADS, cl.conv2d_backward(g, x, w, **kw),
                                 reference.conv2d_backward(*_f64(g, x, w), **kw)):
        assert ours.dtype == np.float32
        assert_close(ours, loops, terms[name], np.float32, err_msg=name)


@needs_direct
@settings(max_examples=100, deadline=None)
@given(float32_cases(transposed=True))
def test_conv_transpose2d_matches_loops(case):
    x, w, b, kw = case
    out = cl.conv_transpose2d(x, w, b, **kw)
    terms = conv_transpose_terms(x.shape, w.shape, out.shape)
    assert_close(out, reference.conv_transpose2d(*_f64(x, w, b), **kw), terms["out"] + 1, np.float32)
    g = np.random.default_rng(2).standard_normal(out.shape).astype(np.float32)
    for name, ours, loops in zip(GRADS, cl.conv_transpose2d_backward(g, x, w, **kw),
                                 reference.conv_transpose2d_backward(*_f64(g, x, w), **kw)):
        assert_close(ours, loops, terms[name], np.float32, err_msg=name)


def _all_results(x, w, b, g, gt, kw):
    """conv2d, its three gradients, conv_transpose2d (weight reused as (C_out, C_in) -> (C_in, C_out))
    and its three gradients."""
    return (cl.conv2d(x, w, b, **kw), *cl.conv2d_backward(g, x, w, **kw),
            cl.conv_transpose2d(g, w, x[0, :, 0, 0], **kw), *cl.conv_transpose2d_backward(gt, g, w, **kw))


@st.composite
def row_cases(draw):
    """A float32 correlation `direct.correlate_rows` runs (few weights per window, width stride 1):
    output rows of one and two vectors and several segments, whole or partial, output channels on
    both sides of the 6 or 8 accumulated at once."""
    cin, cout = draw(st.integers(1, 3)), draw(st.sampled_from([1, 3, 6, 7, 8, 9, 17]))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    if cin * kh * kw > direct.ROW_WINDOW:
        kh = 1
    sh, dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 7))
    w = draw(st.integers(direct.ROW_MIN + dw * (kw - 1) - 2 * pw, 70))
    r = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    x = r.standard_normal((draw(st.integers(1, 3)), cin, h, w)).astype(np.float32)
    weight = r.standard_normal((cout, cin, kh, kw)).astype(np.float32)
    bias = r.standard_normal(cout).astype(np.float32) if draw(st.booleans()) else None
    return x, weight, bias, dict(stride=(sh, 1), padding=(ph, pw), dilation=(dh, dw))


@needs_direct
@settings(max_examples=150, deadline=None)
@given(row_cases())
def test_row_kernel_matches_loops(case):
    """The row kernel (`correlate_rows`) behind conv2d and conv_transpose2d's input gradient."""
    from cnnlab.functional.window import window_geometry
    x, w, b, kw = case
    geo = window_geometry(x.shape[2:], w.shape[2:], kw["stride"], kw["padding"], kw["dilation"])
    assert direct.rows_pay(w, geo)
    out = cl.conv2d(x, w, b, **kw)
    f64 = None if b is None else b.astype(np.float64)
    terms = conv_terms(x.shape, w.shape, out.shape)
    assert_close(out, reference.conv2d(*_f64(x, w), f64, **kw), terms["out"] + 1, np.float32)
    # conv_transpose2d's input gradient is this correlation of its output gradient
    extra = (x.shape[2] + 2 * kw["padding"][0] - kw["dilation"][0] * (w.shape[2] - 1) - 1) % kw["stride"][0]
    gx = cl.conv_transpose2d_backward(x, out, w, output_padding=(extra, 0), output_mask=(True, False, False), **kw)[0]
    assert_close(gx, reference.conv2d(*_f64(x, w), **kw), terms["out"], np.float32)


@needs_direct
@pytest.mark.parametrize("shape", [(5, 6, 14, 14, 16, 5, 1, 0), (4, 9, 11, 13, 20, 3, 2, 1),
                                   (3, 3, 12, 12, 6, 5, 1, 2)], ids=["C3", "strided", "few-channels"])
def test_agrees_with_the_im2col_engine_and_across_threads(rng, monkeypatch, shape):
    """The direct path, the im2col engine (the same call with the kernels switched off) and the
    direct path split over two threads compute the same sums in other orders."""
    n, c, h, wd, oc, k, s, p = shape
    kw = dict(stride=s, padding=p)
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    w = rng.standard_normal((oc, c, k, k)).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32)
    g = rng.standard_normal(cl.conv2d(x, w, **kw).shape).astype(np.float32)
    gt = rng.standard_normal(cl.conv_transpose2d(g, w, **kw).shape).astype(np.float32)
    ours = _all_results(x, w, b, g, gt, kw)
    assert all(r.dtype == np.float32 for r in ours)
    np.testing.assert_array_equal(ours[0], cl.conv2d(x, w, b, **kw))  # same settings twice: bit for bit
    with monkeypatch.context() as mp:
        mp.setattr(direct, "_lib", None)
        im2col = _all_results(x, w, b, g, gt, kw)
    with monkeypatch.context() as mp:
        mp.setattr("cnnlab.engine.conv.DIRECT_PARALLEL_MACS", 0)
        before = cl.get_num_threads()
        cl.set_num_threads(2)
        try:
            threaded = _all_results(x, w, b, g, gt, kw)
        finally:
            cl.set_num_threads(before)
    terms = conv_terms(x.shape, w.shape, g.shape)
    tterms = conv_transpose_terms(g.shape, w.shape, gt.shape)
    names = ("out", *GRADS)
    for i, name in enumerate(names * 2):
        t = (terms if i < 4 else tterms)[name]
        assert_close(ours[i], im2col[i], t + 1, err_msg=f"im2col {name} ({i})")
        assert_close(ours[i], threaded[i], t + 1, err_msg=f"threads {name} ({i})")


@needs_direct
def test_same_call_twice_is_bit_identical_on_threads(rng, monkeypatch):
    """Same settings, same bits, with the batch split over two threads and several chunks each:
    this caught a bias array freed (and its memory reused by the other thread) before the
    kernel read it."""
    monkeypatch.setattr("cnnlab.engine.conv.DIRECT_PARALLEL_MACS", 0)
    monkeypatch.setattr("cnnlab.engine.conv.CHUNK_BYTES", 200_000)
    before = cl.get_num_threads()
    cl.set_num_threads(2)
    try:
        for n, c, oc, k, s, p, h in [(19, 8, 32, 5, 2, 1, 19), (35, 6, 8, 5, 1, 2, 21), (40, 8, 8, 4, 2, 0, 29)]:
            x = rng.standard_normal((n, c, h, h)).astype(np.float32)
            w = rng.standard_normal((oc, c, k, k)).astype(np.float32)
            b = rng.standard_normal(oc).astype(np.float32)
            kw = dict(stride=s, padding=p)
            g = rng.standard_normal(cl.conv2d(x, w, b, **kw).shape).astype(np.float32)
            first = (cl.conv2d(x, w, b, **kw), *cl.conv2d_backward(g, x, w, **kw), cl.conv_transpose2d(g, w, b[:c] if
                     c <= oc else None, **kw))
            for _ in range(3):
                again = (cl.conv2d(x, w, b, **kw), *cl.conv2d_backward(g, x, w, **kw),
                         cl.conv_transpose2d(g, w, b[:c] if c <= oc else None, **kw))
                for a, b2 in zip(first, again):
                    np.testing.assert_array_equal(a, b2)
    finally:
        cl.set_num_threads(before)


@needs_direct
def test_views_and_special_values(rng):
    """Non-contiguous inputs and gradients give the same results as contiguous copies, and a NaN
    or an infinity reaches exactly the outputs whose windows hold it."""
    x = rng.standard_normal((4, 6, 20, 18)).astype(np.float32)
    w = rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    view = x[::2, :, ::2, 1:]  # strided in three axes
    out = cl.conv2d(view, w)
    np.testing.assert_array_equal(out, cl.conv2d(np.ascontiguousarray(view), w))
    g = rng.standard_normal((out.shape[0], out.shape[1], out.shape[3], out.shape[2])).astype(np.float32)
    g = g.swapaxes(2, 3)  # a transposed gradient
    (gx, gw, gb), (cx, cw, cb) = cl.conv2d_backward(g, view, w), cl.conv2d_backward(np.ascontiguousarray(g), view, w)
    np.testing.assert_array_equal(gx, cx)  # the kernels see the same contiguous copies
    np.testing.assert_array_equal(gw, cw)
    assert_close(gb, cb, g.size // g.shape[1])  # NumPy's sum adds a view in another order
    x = np.zeros((1, 6, 9, 9), np.float32)
    x[0, 2, 4, 4], x[0, 3, 0, 0] = np.nan, np.inf
    out = cl.conv2d(x, np.abs(w), padding=2)
    nan = np.zeros((9, 9), bool)
    nan[2:7, 2:7] = True  # the windows that hold (4, 4)
    inf = np.zeros((9, 9), bool)
    inf[:3, :3] = True  # the windows that hold (0, 0)
    np.testing.assert_array_equal(np.isnan(out[0]), np.broadcast_to(nan, out.shape[1:]))
    np.testing.assert_array_equal(np.isposinf(out[0]), np.broadcast_to(inf & ~nan, out.shape[1:]))


@needs_direct
def test_scratch_does_not_grow_with_the_batch(rng):
    """The direct path works in chunks of about CHUNK_BYTES of temporaries per thread: the
    wide 32->64 layer holds the same scratch after a batch of 64 as after one of 128."""
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    before = cl.get_num_threads()
    cl.set_num_threads(2)
    held = []
    try:
        for n in (64, 128):
            x = rng.standard_normal((n, 32, 28, 28)).astype(np.float32)
            cl.release_scratch()
            y = cl.conv2d(x, w, padding=1)
            cl.conv2d_backward(np.ones_like(y), x, w, padding=1)
            held.append(cl.scratch_nbytes())
    finally:
        cl.set_num_threads(before)
        cl.release_scratch()
    # two threads, each with a chunk's padded input (up to 4 MiB), spread gradient and result
    assert 4 << 20 < held[0] == held[1] < 16 << 20, held


def test_pack_unpack_round_trip(rng):
    for oc in (1, 6, 8, 9, 16, 17, 33):
        w = rng.standard_normal((oc, 3, 2, 4)).astype(np.float32)
        packed = direct.pack(w, direct.lanes(oc))
        assert packed.shape == (-(-oc // direct.lanes(oc)), 3 * 2 * 4, direct.lanes(oc))
        np.testing.assert_array_equal(direct.unpack(packed, w.shape), w)
        lanes = packed.swapaxes(1, 2).reshape(-1, packed.shape[1])  # one row per output channel slot
        np.testing.assert_array_equal(lanes[oc:], 0)  # the slots past C_out hold zeros


def test_what_runs_where(rng):
    """float32 2-d convolutions without groups run direct; float64, groups, 1-d/3-d and output rows
    narrower than MIN_ROW (LeNet's C5: 1x1) or deep windows over narrow rows run im2col."""
    from cnnlab.functional.window import window_geometry
    geo2, geo1 = window_geometry((8, 8), (3, 3)), window_geometry((8,), (3,))
    assert not direct.applies(np.zeros((1, 16, 5, 5), np.float32), np.zeros((120, 16, 5, 5), np.float32),
                              window_geometry((5, 5), (5, 5)), 1)
    deep = np.zeros((1, 256, 7, 7), np.float32), np.zeros((256, 256, 3, 3), np.float32)
    assert not direct.applies(*deep, window_geometry((7, 7), (3, 3), padding=1), 1)
    x32, w32 = np.zeros((1, 4, 8, 8), np.float32), np.zeros((4, 4, 3, 3), np.float32)
    assert direct.applies(x32, w32, geo2, 1) == direct.available()
    assert not direct.applies(x32.astype(np.float64), w32, geo2, 1)
    assert not direct.applies(x32, w32[:, :2], geo2, 2)
    assert not direct.applies(x32[..., 0], w32[..., 0], geo1, 1)
    c1 = window_geometry((28, 28), (5, 5), padding=2)  # LeNet's C1: 25 weights per window, rows of 28
    assert direct.rows_pay(np.zeros((6, 1, 5, 5), np.float32), c1)
    assert not direct.rows_pay(np.zeros((16, 6, 5, 5), np.float32), window_geometry((14, 14), (5, 5)))  # C3
    assert not direct.rows_pay(np.zeros((6, 1, 5, 5), np.float32), window_geometry((28, 28), (5, 5), stride=(1, 2)))


@needs_direct
@pytest.mark.parametrize("shape,k", [((4, 6, 28, 28), 2), ((3, 2, 11, 9), 2), ((2, 3, 12, 12), 3),
                                     ((2, 2, 8, 9), (2, 3)), ((2, 3, 6, 40), 2), ((1, 2, 10, 10), 5)])
def test_max_pool_matches_the_numpy_passes_and_loops(rng, monkeypatch, shape, k):
    """The compiled max pooling and its gradient equal the NumPy tap passes' exactly (ties to the
    first tap, NaN inputs and a window of NaNs, infinities, rows of whole and partial vectors of 8
    windows, cells outside every window zero, a view as input), and the loops' values."""
    from cnnlab.functional.window import window_geometry
    x = rng.integers(-3, 4, shape).astype(np.float32)  # small integers: many ties
    x[0, 0, 0, 0], x[-1, -1, :3, :3], x[0, -1, -1, 1], x[-1, 0, 1, :] = np.nan, np.nan, -np.inf, np.inf
    x = x[:, :, :, ::-1]  # a view with a negative stride
    assert direct.pools(x, window_geometry(x.shape[2:], k, k, ceil_mode=False))
    out, winners = cl.max_pool2d_winners(x, k)
    g = rng.standard_normal(out.shape).astype(np.float32)
    grad = cl.max_pool2d_backward(g, x, k, winners=winners)
    with monkeypatch.context() as mp:
        mp.setattr(direct, "_lib", None)
        ref_out, ref_winners = cl.max_pool2d_winners(x, k)
        ref_grad = cl.max_pool2d_backward(g, x, k, winners=ref_winners)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(winners, ref_winners)
    assert winners.dtype == np.int8 and grad.dtype == np.float32
    np.testing.assert_array_equal(grad, ref_grad)
    clean = np.nan_to_num(x, nan=0.0)  # the loops do not propagate NaN (NumPy's maximum and PyTorch do)
    np.testing.assert_array_equal(cl.max_pool2d(clean, k), reference.max_pool2d(clean, k))
    np.testing.assert_array_equal(cl.max_pool2d_backward(g, clean, k),
                                  reference.max_pool2d_backward(g.astype(np.float64), clean.astype(np.float64), k))
