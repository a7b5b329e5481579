"""conv1d/2d/3d and conv_transpose: against plain loops, SciPy and each other,
gradient checks in float64, dtypes, im2col/col2im."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import signal

import cnnlab as cl
from cnnlab import reference
from cnnlab.gradcheck import numerical_gradient, rel_error

from tolerance import GRADS, assert_close, conv_terms, conv_transpose_terms


@st.composite
def conv_cases(draw, transposed=False):
    """A random valid conv2d configuration (non-square, groups, dilation...)."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    h = draw(st.integers(max(1, span_h - 2 * ph), 9))
    w = draw(st.integers(max(1, span_w - 2 * pw), 9))
    n = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2 ** 16))
    case = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups)
    if transposed:
        oph = draw(st.integers(0, max(sh, dh) - 1))
        opw = draw(st.integers(0, max(sw, dw) - 1))
        case["output_padding"] = (oph, opw)
        if (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1 < 1 or (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1 < 1:
            case["padding"] = (0, 0)
        shape_w = (cin, cout // groups, kh, kw)
    else:
        shape_w = (cout, cin // groups, kh, kw)
    r = np.random.default_rng(seed)
    bias = r.standard_normal(shape_w[0] if not transposed else cout)
    return r.standard_normal((n, cin, h, w)), r.standard_normal(shape_w), bias, case


@given(conv_cases())
def test_conv2d_matches_loops(case):
    x, w, b, kw = case
    out = cl.conv2d(x, w, b, **kw)
    assert_close(out, reference.conv2d(x, w, b, **kw), conv_terms(x.shape, w.shape, out.shape)["out"] + 1)


@given(conv_cases())
def test_conv2d_backward_matches_loops(case):
    x, w, _, kw = case
    g = np.random.default_rng(1).standard_normal(cl.conv2d(x, w, **kw).shape)
    terms = conv_terms(x.shape, w.shape, g.shape, kw["groups"])
    for name, ours, loops in zip(GRADS, cl.conv2d_backward(g, x, w, **kw), reference.conv2d_backward(g, x, w, **kw)):
        assert_close(ours, loops, terms[name], err_msg=name)


def check_transposed_against_loops(x, w, b, kw, positive=False):
    """conv_transpose2d and its backward equal the scatter-add loops (grad_out drawn
    from a fixed seed, in [0, 1) if `positive`, else normal)."""
    out = cl.conv_transpose2d(x, w, b, **kw)
    terms = conv_transpose_terms(x.shape, w.shape, out.shape, kw["groups"])
    assert_close(out, reference.conv_transpose2d(x, w, b, **kw), terms["out"] + 1)
    rng = np.random.default_rng(2)
    g = rng.random(out.shape) if positive else rng.standard_normal(out.shape)
    for name, ours, loops in zip(GRADS, cl.conv_transpose2d_backward(g, x, w, **kw),
                                 reference.conv_transpose2d_backward(g, x, w, **kw)):
        assert_close(ours, loops, terms[name], err_msg=name)


@given(conv_cases(transposed=True))
def test_conv_transpose2d_matches_scatter_add(case):
    check_transposed_against_loops(*case)


@pytest.mark.parametrize("below", [0, 10 ** 9], ids=["batch-first", "batch-last"])
@given(case=conv_cases(), transposed=conv_cases(transposed=True))
def test_both_column_layouts_match_loops(below, case, transposed):
    """The engine lays columns out batch-first for big outputs and batch-last for small
    ones (BATCH_LAST_BELOW positions): force each layout on every case, layers included.
    Positive data: with no cancellation the tolerance rule's scale (the result's size)
    bounds the products too, even for a one-element gradient."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("cnnlab.engine.conv.BATCH_LAST_BELOW", below)
        mp.setattr("cnnlab.engine.conv.CHUNK_BYTES", 500)  # several chunks even for these small cases
        x, w, b, kw = case
        x, w, cache = np.abs(x), np.abs(w), cl.ConvCache()
        out = cl.conv2d(x, w, np.abs(b), **kw, cache=cache)
        terms = conv_terms(x.shape, w.shape, out.shape, kw["groups"])
        assert_close(out, reference.conv2d(x, w, np.abs(b), **kw), terms["out"] + 1)
        if kw["groups"] == 1 and kw["dilation"] == (1, 1):
            np.testing.assert_array_equal(cache.batch_columns(), cl.im2col(x, w.shape[2:], kw["stride"], kw["padding"]))
        g = np.random.default_rng(1).random(out.shape)
        for name, ours, loops in zip(GRADS, cl.conv2d_backward(g, x, w, **kw, cache=cache),
                                     reference.conv2d_backward(g, x, w, **kw)):
            assert_close(ours, loops, terms[name], err_msg=name)
        x, w, b, kw = transposed
        check_transposed_against_loops(np.abs(x), np.abs(w), np.abs(b), kw, positive=True)


@given(conv_cases())
def test_transposed_conv_is_the_adjoint_of_conv(case):
    """<conv(x), y> == <x, conv_transpose(y)> with the same weight and geometry."""
    x, w, _, kw = case
    y = np.random.default_rng(3).standard_normal(cl.conv2d(x, w, **kw).shape)
    back = cl.conv2d_backward(y, x, w, **kw)[0]
    assert_close(np.sum(cl.conv2d(x, w, **kw) * y), np.sum(x * back), x.size * w[0].size)
    s, p, d = kw["stride"], kw["padding"], kw["dilation"]
    # the same geometry as a transposed conv needs output_padding to land on x's size
    op = tuple(xi + 2 * pi - di * (k - 1) - 1 - (yi - 1) * si
               for xi, yi, k, si, pi, di in zip(x.shape[2:], y.shape[2:], w.shape[2:], s, p, d))
    if all(o < max(si, di) for o, si, di in zip(op, s, d)):
        up = cl.conv_transpose2d(y, w, stride=s, padding=p, output_padding=op, groups=kw["groups"], dilation=d)
        assert_close(up, back, conv_terms(x.shape, w.shape, y.shape, kw["groups"])["grad_x"])


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("k", [(3, 3), (3, 5), (1, 3), (5, 1)])
def test_single_channel_matches_scipy(rng, mode, k):
    img, ker = rng.standard_normal((9, 11)), rng.standard_normal(k)
    ours = cl.conv2d(img[None, None], ker[None, None], padding=mode)[0, 0]
    assert_close(ours, signal.correlate2d(img, ker, mode=mode), ker.size)
    flipped = cl.conv2d(img[None, None], ker[::-1, ::-1][None, None], padding=mode)[0, 0]
    assert_close(flipped, signal.convolve2d(img, ker, mode=mode), ker.size)


def test_even_kernel_same_padding_puts_the_extra_cell_after(rng):
    img, ker = rng.standard_normal((1, 1, 6, 7)), rng.standard_normal((1, 1, 2, 4))
    out = cl.conv2d(img, ker, padding="same")
    assert out.shape == img.shape
    explicit = np.pad(img, [(0, 0), (0, 0), (0, 1), (1, 2)])
    assert_close(out, cl.conv2d(explicit, ker), ker.size)


def test_conv1d_and_conv3d_agree_with_conv2d(rng):
    x1, w1 = rng.standard_normal((2, 4, 15)), rng.standard_normal((6, 2, 3))
    y1 = cl.conv1d(x1, w1, stride=2, padding=1, dilation=2, groups=2)
    y2 = cl.conv2d(x1[:, :, None], w1[:, :, None], stride=(1, 2), padding=(0, 1), dilation=(1, 2), groups=2)
    assert_close(y1, y2[:, :, 0], w1[0].size)
    # conv3d with a depth-1 kernel is conv2d applied to every depth slice
    x3, w3 = rng.standard_normal((2, 3, 4, 6, 5)), rng.standard_normal((2, 3, 1, 3, 2))
    y3 = cl.conv3d(x3, w3, padding=(0, 1, 1))
    for dz in range(4):
        assert_close(y3[:, :, dz], cl.conv2d(x3[:, :, dz], w3[:, :, 0], padding=1), w3[0].size)
    # a full 3-d kernel sums conv2d over its depth taps
    w3 = rng.standard_normal((2, 3, 2, 3, 3))
    y3 = cl.conv3d(x3, w3)
    for dz in range(y3.shape[2]):
        manual = sum(cl.conv2d(x3[:, :, dz + t], w3[:, :, t]) for t in range(2))
        assert_close(y3[:, :, dz], manual, w3[0].size)


def check_all_gradients(forward, backward, args, kw, rng):
    """Central differences for x, weight and bias against backward(g, x, weight, **kw)."""
    g = rng.standard_normal(forward(*args, **kw).shape)
    analytic = backward(g, *args[:2], **kw)
    for i, (arg, grad) in enumerate(zip(args, analytic)):
        def probe(v, i=i):
            return forward(*args[:i], v, *args[i + 1:], **kw)
        assert rel_error(numerical_gradient(probe, arg.copy(), g), grad) < 1e-6, ("x", "weight", "bias")[i]


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_gradcheck(rng, nd):
    k = (3,) * nd if nd < 3 else (2,) * nd
    args = rng.standard_normal((2, 4, *(5,) * nd)), rng.standard_normal((4, 2, *k)), rng.standard_normal(4)
    kw = dict(stride=2, padding=1, dilation=1 if nd == 3 else 2, groups=2)
    check_all_gradients([cl.conv1d, cl.conv2d, cl.conv3d][nd - 1],
                        [cl.conv1d_backward, cl.conv2d_backward, cl.conv3d_backward][nd - 1], args, kw, rng)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_transpose_gradcheck(rng, nd):
    k = (3,) * nd if nd < 3 else (2,) * nd
    args = rng.standard_normal((2, 2, *(3,) * nd)), rng.standard_normal((2, 3, *k)), rng.standard_normal(3)
    kw = dict(stride=2, padding=1, output_padding=1, groups=1, dilation=1)
    check_all_gradients([cl.conv_transpose1d, cl.conv_transpose2d, cl.conv_transpose3d][nd - 1],
                        [cl.conv_transpose1d_backward, cl.conv_transpose2d_backward,
                         cl.conv_transpose3d_backward][nd - 1], args, kw, rng)


def test_one_sample_chunks_agree_with_one_chunk(rng, monkeypatch):
    """The batch is processed a cache-sized chunk at a time: chunking never changes the numbers
    (beyond the order in which the chunks' weight gradients are summed)."""
    x, w = rng.standard_normal((3, 4, 12, 12)), rng.standard_normal((6, 2, 3, 3))
    g = rng.standard_normal((3, 6, 12, 12))
    xt, wt = rng.standard_normal((3, 4, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    kw = dict(padding=1, groups=2)
    tk = dict(stride=2, padding=(1, 0), output_padding=1, groups=2)
    gt = rng.standard_normal(cl.conv_transpose2d(xt, wt, **tk).shape)
    results = []
    for chunk_bytes in (10 ** 9, 1):
        monkeypatch.setattr("cnnlab.engine.conv.CHUNK_BYTES", chunk_bytes)
        results.append((cl.conv2d(x, w, **kw), *cl.conv2d_backward(g, x, w, **kw),
                        cl.conv_transpose2d(xt, wt, **tk), *cl.conv_transpose2d_backward(gt, xt, wt, **tk)))
    terms = conv_terms(x.shape, w.shape, g.shape)
    names = ("out",) + GRADS
    for name, a, b in zip(names + tuple("transposed " + n for n in names), *results):
        assert_close(a, b, terms[name.removeprefix("transposed ")] * 4, err_msg=name)


@pytest.mark.parametrize("fn,wshape", [(cl.conv2d, (4, 3, 3, 3)), (cl.conv_transpose2d, (3, 4, 3, 3))])
def test_dtypes(rng, fn, wshape):
    x32 = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w32 = rng.standard_normal(wshape).astype(np.float32)
    assert fn(x32, w32).dtype == np.float32
    assert fn(x32.astype(np.float64), w32).dtype == np.float64
    assert fn(np.ones((1, 3, 5, 5), dtype=np.int64), np.ones(wshape, dtype=np.int32)).dtype == np.float64
    gx, gw, gb = (cl.conv2d_backward if fn is cl.conv2d else cl.conv_transpose2d_backward)(
        fn(x32, w32), x32, w32)
    assert gx.dtype == gw.dtype == gb.dtype == np.float32


def test_im2col_col2im(rng):
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 2))
    cols = cl.im2col(x, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2))
    assert cols.shape == (2, 3 * 3 * 2, cl.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2))[0, 0].size)
    # a convolution is one matrix product on the columns
    out = (w.reshape(4, -1) @ cols).reshape(2, 4, *cl.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2)).shape[2:])
    assert_close(out, cl.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2)), w[0].size)
    # col2im is the adjoint (not the inverse) of im2col
    y = rng.standard_normal(cols.shape)
    back = cl.col2im(y, (7, 6), (3, 2), stride=(2, 1), padding=1, dilation=(1, 2))
    assert_close(np.sum(cols * y), np.sum(x * back), cols.size)
    # cells covered by several windows come back multiplied by their count
    ones = cl.col2im(cl.im2col(np.ones((1, 1, 4, 4)), 2), (4, 4), 2)
    np.testing.assert_array_equal(ones[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


def test_output_mask_skips_gradients(rng):
    x, w = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))
    g = rng.standard_normal((2, 4, 5, 5))
    full = cl.conv2d_backward(g, x, w)
    for mask in [(False, True, True), (True, False, False), (False, False, True), (True, True, False)]:
        for name, got, want, on in zip(GRADS, cl.conv2d_backward(g, x, w, output_mask=mask), full, mask):
            if on:
                assert_close(got, want, conv_terms(x.shape, w.shape, g.shape)[name], err_msg=name)
            else:
                assert got is None
    with pytest.raises(ValueError, match="output_mask must hold 3 flags"):
        cl.conv2d_backward(g, x, w, output_mask=(True, False))


def test_results_never_alias_scratch_memory(rng):
    """Temporaries are reused between calls; results must not be among them."""
    for shape in [(1, 1, 6, 6), (1, 3, 30, 30), (2, 3, 6, 6)]:  # N=1 / C=1 make transposes no-ops
        x, w = rng.standard_normal(shape), rng.standard_normal((2, shape[1], 3, 3))
        y = cl.conv2d(x, w)
        g = np.ones_like(y)
        grads = cl.conv2d_backward(g, x, w)
        keep = [a.copy() for a in (y, *grads)]
        cl.conv2d(x + 1, w * 2)
        cl.conv2d_backward(g * 3, x - 1, w)
        cl.conv_transpose2d(y, w)
        for a, b in zip((y, *grads), keep):
            np.testing.assert_array_equal(a, b)


def test_chunked_batches_agree(rng, monkeypatch):
    """Big batches are built a chunk of samples at a time; a layer keeps every chunk's columns."""
    x, w = rng.standard_normal((7, 3, 9, 9)), rng.standard_normal((4, 3, 3, 3))
    g = rng.standard_normal((7, 4, 4, 4))
    whole = (cl.conv2d(x, w, stride=2), *cl.conv2d_backward(g, x, w, stride=2))
    monkeypatch.setattr("cnnlab.engine.conv.CHUNK_BYTES", 3 * 9 * 16 * 8 * 2)  # two samples' columns per chunk
    from cnnlab.engine.conv import chunks
    assert [c.stop - c.start for c in chunks(7, 3 * 9 * 16 * 8)] == [1, 2, 2, 2]
    chunked = (cl.conv2d(x, w, stride=2), *cl.conv2d_backward(g, x, w, stride=2))
    terms = conv_terms(x.shape, w.shape, g.shape)
    for name, a, b in zip(("out",) + GRADS, whole, chunked):
        assert_close(a, b, terms[name], err_msg=name)
    from cnnlab.nn.layers import Conv2d
    layer = Conv2d(3, 4, 3, stride=2, bias=False)
    layer.params["weight"] = w
    layer.grads["weight"] = np.zeros_like(w)
    assert_close(layer.forward(x), whole[0], terms["out"])
    assert len(layer.cache.columns) == 4  # one entry per chunk
    np.testing.assert_array_equal(layer.cache.batch_columns(), cl.im2col(x, 3, stride=2))
    assert_close(layer.backward(g), whole[1], terms["grad_x"])
    assert_close(layer.grads["weight"], whole[2], terms["grad_w"])
    assert layer.cache.columns is None  # backward frees the saved columns for the next step


def test_threads_have_their_own_scratch(rng):
    from concurrent.futures import ThreadPoolExecutor
    w = rng.standard_normal((4, 3, 3, 3))
    xs = [rng.standard_normal((8, 3, 10, 10)) for _ in range(6)]
    expected = [cl.conv2d_backward(np.ones((8, 4, 8, 8)), x, w)[0] for x in xs]

    def work(i):
        return [cl.conv2d_backward(np.ones((8, 4, 8, 8)), xs[i], w)[0] for _ in range(20)]

    with ThreadPoolExecutor(3) as pool:
        for i, results in enumerate(pool.map(work, range(6))):
            for r in results:  # a thread writing into another's scratch would be far off
                assert_close(r, expected[i], conv_terms(xs[i].shape, w.shape, (8, 4, 8, 8))["grad_x"])


def test_geometry_accepts_lists_and_keeps_raising(rng):
    x, w = rng.standard_normal((1, 2, 7, 7)), rng.standard_normal((3, 2, 3, 3))
    np.testing.assert_array_equal(cl.conv2d(x, w, stride=[1, 2], padding=[1, 0]),
                                  cl.conv2d(x, w, stride=(1, 2), padding=(1, 0)))
    np.testing.assert_array_equal(cl.conv2d(x, w, stride=np.int64(2)), cl.conv2d(x, w, stride=2))
    for _ in range(2):  # the cache of valid geometries never hides an error
        with pytest.raises(ValueError, match="stride must be >= 1"):
            cl.conv2d(x, w, stride=0)


def test_release_scratch(rng):
    from cnnlab import engine
    x, w = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    y = cl.conv2d(x, w)
    engine.release_scratch()
    np.testing.assert_array_equal(cl.conv2d(x, w), y)


def test_transposed_output_mask_and_cache_checks(rng):
    x, w = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((3, 2, 3, 3))
    g = rng.standard_normal(cl.conv_transpose2d(x, w, stride=2).shape)
    full = cl.conv_transpose2d_backward(g, x, w, stride=2)
    for mask in [(False, True, True), (True, False, False), (False, False, True)]:
        for got, want, on in zip(cl.conv_transpose2d_backward(g, x, w, stride=2, output_mask=mask), full, mask):
            assert (got is None) != on
            if on:
                np.testing.assert_array_equal(got, want)  # the same computation, masked or not
    with pytest.raises(TypeError, match="cache must be a cnnlab.ConvCache or None, got dict"):
        cl.conv2d(x, rng.standard_normal((2, 3, 3, 3)), cache={})


def test_cache_holds_the_columns_of_its_own_input_only(rng):
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    cache = cl.ConvCache()
    y = cl.conv2d(x, w, cache=cache)
    assert cache.columns is not None and cache.nbytes > 0
    other = rng.standard_normal(x.shape)  # a different input: the kept columns must not be used
    for name, a, b in zip(GRADS, cl.conv2d_backward(np.ones_like(y), other, w, cache=cache),
                          cl.conv2d_backward(np.ones_like(y), other, w)):
        np.testing.assert_array_equal(a, b)
    assert cache.columns is None  # backward is done with them


def test_strided_gradients_by_zero_insertion_8x8(rng):
    """Notebook 05, section 6: 8x8 input, k=3, s=2, p=1. Zeros inserted into the delta, a full correlation with
    the rotated kernel and a crop of p give 7x7; padding the (H + 2p - k) mod s rows no window read first gives
    the 8x8 input gradient. The kernel gradient is x correlated with the delta dilated by s (first k x k)."""
    x, w = rng.standard_normal((1, 1, 8, 8)), rng.standard_normal((1, 1, 3, 3))
    g = rng.standard_normal(cl.conv2d(x, w, stride=2, padding=1).shape)
    spread = np.zeros((1, 1, 7, 7))
    spread[..., ::2, ::2] = g
    full = cl.conv2d(spread, w[..., ::-1, ::-1], padding="full")
    assert full.shape[2:] == (9, 9) and full[..., 1:-1, 1:-1].shape[2:] == (7, 7)
    r = (8 + 2 * 1 - 3) % 2
    gx, gw, _ = cl.conv2d_backward(g, x, w, stride=2, padding=1)
    terms = conv_terms(x.shape, w.shape, g.shape)
    assert_close(np.pad(full, ((0, 0), (0, 0), (0, r), (0, r)))[..., 1:-1, 1:-1], gx, terms["grad_x"])
    dilated = cl.conv2d(x, g, padding=1, dilation=2)
    assert dilated.shape[2:] == (3 + r, 3 + r)
    assert_close(dilated[..., :3, :3], gw, terms["grad_w"])


@pytest.mark.parametrize("size,padding", [(20, 0), (20, 1), (9, 0)])  # batch-first and batch-last columns
def test_non_contiguous_input_views(rng, size, padding):
    """Inputs that are views with gaps or swapped axes give the plain loops' results;
    unpadded with an 18x18 output (batch-first columns of the input itself) they
    take the as_strided fallback of `engine.layout.windows`."""
    base = rng.standard_normal((4, 3, 2 * size, size))
    w = rng.standard_normal((5, 3, 3, 3))
    for x in [base[:, :, ::2], base[:, :, :size].transpose(0, 1, 3, 2), np.asfortranarray(base[:, :, :size])]:
        assert not x.flags.c_contiguous
        out = cl.conv2d(x, w, padding=padding)
        terms = conv_terms(x.shape, w.shape, out.shape)
        assert_close(out, reference.conv2d(np.ascontiguousarray(x), w, padding=padding), terms["out"])
        g = rng.standard_normal(out.shape)
        grads = cl.conv2d_backward(g, x, w, padding=padding)
        want = reference.conv2d_backward(g, np.ascontiguousarray(x), w, padding=padding)
        for name, ours, loops in zip(["grad_x", "grad_w"], grads[:2], want[:2]):
            assert_close(ours, loops, terms[name], err_msg=name)
