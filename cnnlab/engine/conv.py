"""The fast N-d convolution behind `cnnlab.conv2d` and its relatives.

To read the algorithm, see `cnnlab.reference.conv2d_im2col`: pad, im2col
into (N, C*k*k, P) columns, one matrix product per sample, and col2im for
the input gradient. This module runs exactly that and adds, for speed only
(measured on the 2-core machine of benchmarks/README.md, N=64, the best of
several repeats; `make bench` has the same-run ratios):

* reused scratch memory for the columns and every other temporary
  (`engine.scratch`): the wide 32->64 layer's im2col takes 3.3 ms into
  reused memory, 9.1 ms into a fresh array (the kernel maps and zeroes
  every page), 14.8 ms as the readable tier's k*k slice copies;
* one strided copy builds a chunk's columns (`engine.layout.unfold`):
  C1's im2col 0.40 -> 0.29 ms;
* batch-last columns (C, *k, *o, N) for outputs of fewer than
  BATCH_LAST_BELOW positions (LeNet's 10x10 C3): one GEMM per chunk
  instead of one per sample, and copies of runs o_W*N long instead of o_W.
  C3's im2col 0.47 -> 0.12 ms and forward 0.84 -> 0.49 ms; for C1's 28x28
  output the batch-first layout is the faster one (forward 0.49 vs 1.20 ms).
  The input gradient is folded batch-last whatever the output size: C1's
  1.19 -> 1.05 ms (N=64), 8.9 -> 6.0 ms (N=256), a 16->8 4x4 layer 23 -> 16
  ms, the wide layer no different (42 vs 43 ms);
* batch chunks of about CHUNK_BYTES of columns, so that what a copy has
  just written is still in the cache when the GEMM reads it: 4 MiB ran
  1.1-1.7x faster than 1 MiB (C1 forward 0.72 -> 0.48 ms, C3 0.98 -> 0.65);
* big calls (PARALLEL_BYTES of columns) spread their chunks over the cores
  (`engine.threads`); smaller ones stay on the calling thread, where
  LeNet's C1 trains 1.4x faster than on the pool;
* a `ConvCache` in which a layer keeps the forward's columns for its
  backward, as autograd keeps its saved tensors (C3 forward+backward
  2.42 -> 1.89 ms in one `make bench` run);
* the bias added to each chunk's output in the pass that brings it back
  to batch-first, and the weight gradient as columns @ grad^T, 2.4x faster
  in OpenBLAS than grad @ columns^T for C3's (150 x 6400) columns;
* a small fixed cost per call, which LeNet's layers pay at every step:
  strided views built by `np.ndarray` on the buffer instead of `as_strided`,
  transposes instead of `np.moveaxis`, the gradient moved batch-last once per
  chunk for both gradients: a 1x1x4x4 convolution 31 -> 23 us (same-run A/B).

float32 2-d convolutions without groups do not come here but go to the
compiled direct kernels of `engine.direct` (the bottom of this file routes
them): for LeNet's few channels a direct loop beats im2col + GEMM (C3 forward
0.57 -> 0.33 ms). This module keeps float64 (the gradient checks), groups,
1-d and 3-d, and the input gradient of inputs with fewer than 4 channels.

Arguments arrive validated by `cnnlab.functional.conv`: arrays of one
floating dtype, a `Geometry` (`cnnlab.functional.window`) and `groups`.
A transposed convolution is the adjoint of a convolution, so both share the
three building blocks `_correlate`, `_correlate_adjoint` and `_weight_grad`.
"""
import math

import numpy as np

from . import direct, threads
from .layout import fold_batch_last, to_batch_first, to_batch_last, unfold, windows
from .scratch import Scratch, in_scratch, scratch

# A chunk of the batch holds about this many bytes of columns: small enough
# to stay in the CPU's cache between the copy that writes them and the GEMM
# that reads them, big enough for one large GEMM (see the module docstring).
CHUNK_BYTES = 4 << 20
# Below this many bytes of columns in all, threads do not pay for themselves.
PARALLEL_BYTES = 8 << 20
# Outputs with fewer positions than this lay their columns out batch-last.
BATCH_LAST_BELOW = 256
# A direct-path call with at least this many multiply-adds is split over the
# threads: below it, waking the pool costs more than half the work saves.
DIRECT_PARALLEL_MACS = 8_000_000


class ConvCache:
    """Memory a layer owns for its convolution: `conv2d(..., cache=c)` leaves
    the im2col columns of its input here, and `conv2d_backward(..., cache=c)`
    reads them instead of unfolding the input again, as autograd keeps its
    saved tensors. The memory is reused every step (same sizes) and holds one
    call's columns at a time: `columns` maps each batch chunk (start, stop) to
    its columns, in the engine's layout for that output size (`_chunk_shape`)."""

    def __init__(self):
        self._memory = Scratch()
        self.clear()

    def clear(self):
        """Forget the columns (the memory is kept for the next forward)."""
        self.columns, self._key, self._batch_last = None, None, False

    def _store(self, columns, key, batch_last):
        self.columns, self._key, self._batch_last = columns, key, batch_last

    def batch_columns(self):
        """A copy of the kept columns in the readable tier's layout (N, C*k*k, P),
        as `cnnlab.im2col` returns them; None when nothing is kept."""
        if not self.columns:
            return None
        parts = [to_batch_first(c) if self._batch_last else c for _, c in sorted(self.columns.items())]
        whole = np.concatenate(parts)  # (N, C, *k, *o)
        nd = (whole.ndim - 2) // 2
        return whole.reshape(len(whole), -1, math.prod(whole.shape[2 + nd:]))

    def _lookup(self, key):
        return self.columns if self._key is not None and self._key == key else None

    @property
    def nbytes(self):
        return self._memory.nbytes


def chunks(n, sample_bytes):
    """Slices of the batch (n samples of `sample_bytes` of columns each) that
    are processed together: about CHUNK_BYTES each, and a multiple of the
    thread count when the whole is big enough to share out."""
    count = -(-n * sample_bytes // CHUNK_BYTES)
    workers = threads.workers()
    if workers > 1 and n * sample_bytes >= PARALLEL_BYTES:
        count = -(-count // workers) * workers
    count = max(1, min(n, count))
    bounds = [n * i // count for i in range(count + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:])]


def _over_chunks(fn, n, sample_bytes):
    """[fn(c) for c in chunks(n, sample_bytes)], on the thread pool only when
    the batch holds PARALLEL_BYTES of columns: below that, handing the chunks
    to threads (and holding OpenBLAS to one thread meanwhile) costs more than
    it saves."""
    parts = chunks(n, sample_bytes)
    if n * sample_bytes < PARALLEL_BYTES:
        return [fn(c) for c in parts]
    return threads.map_chunks(fn, parts)


def _padded(x, geo, name):
    """x (m, C, *S) with its zero padding, in the scratch memory `name` (x itself if unpadded)."""
    if not any(lo or hi for lo, hi in geo.pads):
        return x
    xp = scratch(name).get((*x.shape[:2], *geo.padded_size(x.shape[2:])), x.dtype)
    xp.fill(0)
    np.copyto(geo.crop(xp), x)
    return xp


def _padded_batch_last(x, geo, name):
    """x (m, C, *S) moved to (C, *S, m) and zero-padded, in the scratch memory `name`: one copy."""
    size = geo.padded_size(x.shape[2:])
    xp = scratch(name).get((x.shape[1], *size, x.shape[0]), x.dtype)
    inner = (slice(None), *(slice(lo, n - hi) for (lo, hi), n in zip(geo.pads, size)), slice(None))
    if size != x.shape[2:]:
        xp.fill(0)
    np.copyto(xp[inner], to_batch_last(x))
    return xp


def _batch_last(geo):
    return math.prod(geo.out_size) < BATCH_LAST_BELOW


def _col_shape(channels, geo):
    return (channels, *geo.kernel, *geo.out_size)


def _chunk_shape(m, channels, geo):
    """The columns of m samples: (m, C, *k, *o), or (C, *k, *o, m) for small outputs."""
    shape = _col_shape(channels, geo)
    return (*shape, m) if _batch_last(geo) else (m, *shape)


def _sample_bytes(channels, geo, dtype):
    return math.prod(_col_shape(channels, geo)) * np.dtype(dtype).itemsize


# --- building blocks (one chunk of the batch) ------------------------------------
# Columns are batch-first (m, C, *k, *o), one (C*k*k, P) matrix per sample, as
# in the readable tier; for outputs of fewer than BATCH_LAST_BELOW positions
# they are batch-last (C, *k, *o, m), one (C*k*k, P*m) matrix for the chunk:
# one big GEMM instead of m small ones, and copies of runs o_W*m long. The
# input gradient's columns are always batch-last (`_correlate_adjoint`).

def _unfold(x, geo, cols):
    """x (m, C, *S) -> its columns, written into `cols` (see `_chunk_shape`)."""
    if _batch_last(geo):
        np.copyto(cols, windows(_padded_batch_last(x, geo, "padded"), geo, batch_last=True))
        return cols
    return unfold(_padded(x, geo, "padded"), geo, cols)


def _grad_batch_last(grad, groups):
    """grad (m, C_out, *o) as the (groups, C_out/g, P*m) batch-last GEMM operand, in scratch."""
    return in_scratch(to_batch_last(grad), "grad").reshape(groups, grad.shape[1] // groups, -1)


def _correlate(x, weight, bias, geo, groups, cols, out):
    """x (m, C, *S) correlated with weight (C_out, C/g, *k), plus bias, into
    `out` (m, C_out, *o); its columns are written into `cols`."""
    m, p = x.shape[0], math.prod(geo.out_size)
    _unfold(x, geo, cols)
    w = weight.reshape(groups, weight.shape[0] // groups, -1)
    if _batch_last(geo):
        y = np.matmul(w, cols.reshape(groups, -1, p * m),
                      out=scratch("gemm").get((groups, w.shape[1], p * m), x.dtype))
        y = y.reshape(weight.shape[0], p, m).transpose(2, 0, 1)
        if bias is None:
            np.copyto(out.reshape(m, -1, p), y)
        else:  # back to batch-first and the bias in one pass
            np.add(y, bias.reshape(-1, 1), out=out.reshape(m, -1, p))
        return cols
    y = out.reshape(m, groups, -1, p)
    np.matmul(w, cols.reshape(m, groups, -1, p), out=y)
    if bias is not None:
        y += bias.reshape(groups, -1, 1)
    return cols


def _correlate_adjoint(grad, weight, geo, groups, out, grad_bl=None):
    """Adjoint of `_correlate` in its input: grad (m, C_out, *o) -> `out`
    (m, C, *S), the unpadded input's shape: W^T @ grad, then col2im. Always
    batch-last, whatever the forward's layout: one GEMM for the chunk, and a
    fold whose slices add runs o_W*m long. `grad_bl`: `_grad_batch_last(grad)`
    if the caller has it already."""
    m, p = grad.shape[0], math.prod(geo.out_size)
    channels = weight.shape[1] * groups
    w_t = weight.reshape(groups, weight.shape[0] // groups, -1).swapaxes(1, 2)
    if grad_bl is None:
        grad_bl = _grad_batch_last(grad, groups)
    cols = np.matmul(w_t, grad_bl,
                     out=scratch("grad_cols").get((groups, w_t.shape[1], p * m), grad.dtype))
    acc = fold_batch_last(cols.reshape(_col_shape(channels, geo) + (m,)), geo,
                          scratch("fold").get((channels, *geo.padded_size(out.shape[2:]), m), grad.dtype))
    np.copyto(out, geo.crop(to_batch_first(acc)))
    return out


def _weight_grad(cols, grad, geo, groups, grad_bl=None):
    """Gradient of `_correlate` in its weight, summed over the chunk: columns
    (K, P) @ grad^T (P, C_out/g), per sample or, batch-last, for the chunk at
    once; returns (groups, K, C_out/g). This orientation runs faster in
    OpenBLAS than grad @ columns^T for these long-and-thin matrices.
    `grad_bl` as in `_correlate_adjoint`."""
    m, p = grad.shape[0], math.prod(grad.shape[2:])
    if _batch_last(geo):
        if grad_bl is None:
            grad_bl = _grad_batch_last(grad, groups)
        return np.matmul(cols.reshape(groups, -1, p * m), grad_bl.swapaxes(1, 2))
    g = grad.reshape(m, groups, -1, p).swapaxes(2, 3)
    return np.matmul(cols.reshape(m, groups, -1, p), g).sum(axis=0)


def _as_weight(grad_w, weight_shape):
    """(groups, K, C_out/g) summed weight gradient -> weight_shape (C_out, C/g, *k)."""
    return grad_w.swapaxes(1, 2).reshape(weight_shape)


def _sum(parts):
    return sum(parts[1:], parts[0])


def _grad_bias(grad_out, want_b):
    return grad_out.sum(axis=(0, *range(2, grad_out.ndim))) if want_b else None


def _key(x, weight, geo, groups):
    return id(x), x.shape, x.dtype, weight.shape, geo, groups


# --- convolution -------------------------------------------------------------------

def conv(x, weight, bias, geo, groups, cache=None):
    """out (N, C_out, *o) = x (N, C, *S) correlated with weight, plus bias."""
    if direct.applies(x, weight, geo, groups):
        return _conv_direct(x, weight, bias, geo, cache)
    n, channels = x.shape[:2]
    out = np.empty((n, weight.shape[0], *geo.out_size), x.dtype)
    per = math.prod(_col_shape(channels, geo))
    kept = cache._memory.get((n * per,), x.dtype) if cache is not None else None

    def part(c):
        shape = _chunk_shape(c.stop - c.start, channels, geo)
        cols = (kept[c.start * per:c.stop * per].reshape(shape) if kept is not None
                else scratch("cols").get(shape, x.dtype))
        return (c.start, c.stop), _correlate(x[c], weight, bias, geo, groups, cols, out[c])

    columns = _over_chunks(part, n, _sample_bytes(channels, geo, x.dtype))
    if cache is not None:
        cache._store(dict(columns), _key(x, weight, geo, groups), _batch_last(geo))
    return out


def conv_backward(grad_out, x, weight, geo, groups, mask, cache=None):
    """(grad_x, grad_weight, grad_bias) of `conv`, None where `mask` says so."""
    if direct.applies(x, weight, geo, groups):
        return _conv_backward_direct(grad_out, x, weight, geo, mask, cache)
    want_x, want_w, want_b = mask
    n, channels = x.shape[:2]
    saved = (cache._lookup(_key(x, weight, geo, groups)) if cache is not None else None) or {}
    grad_x = np.empty_like(x) if want_x else None

    def part(c):  # both gradients of one chunk while its grad_out is in the cache
        # both want grad_out batch-last when the columns are: move it once (C3: 50 us of 0.9 ms)
        grad_bl = _grad_batch_last(grad_out[c], groups) if want_x or _batch_last(geo) else None
        if want_x:
            _correlate_adjoint(grad_out[c], weight, geo, groups, grad_x[c], grad_bl)
        if not want_w:
            return None
        cols = saved.get((c.start, c.stop))
        if cols is None:
            cols = _unfold(x[c], geo, scratch("cols").get(_chunk_shape(c.stop - c.start, channels, geo), x.dtype))
        return _weight_grad(cols, grad_out[c], geo, groups, grad_bl)

    grad_ws = _over_chunks(part, n, _sample_bytes(channels, geo, x.dtype)) if (want_x or want_w) else []
    grad_w = _as_weight(_sum(grad_ws), weight.shape) if want_w else None
    grad_b = _grad_bias(grad_out, want_b)
    if cache is not None:
        cache.clear()
    return grad_x, grad_w, grad_b


# --- transposed convolution --------------------------------------------------------
# `geo` describes the convolution whose adjoint this is: from the transposed
# convolution's output (padded by geo.pads) to its input. The transposed
# convolution's weight (C_in, C_out/g, *k) is that convolution's weight.

def conv_transpose(x, weight, bias, geo, groups, out_size):
    """out (N, C_out, *out_size): the adjoint of `conv` applied to x (N, C_in, *S)."""
    if direct.applies(x, weight, geo, groups):
        return _conv_transpose_direct(x, weight, bias, geo, out_size)
    n, channels = x.shape[0], weight.shape[1] * groups
    out = np.empty((n, channels, *out_size), x.dtype)

    def part(c):
        _correlate_adjoint(x[c], weight, geo, groups, out[c])
        if bias is not None:
            out[c] += bias.reshape(-1, *(1,) * len(geo.kernel))

    _over_chunks(part, n, _sample_bytes(channels, geo, x.dtype))
    return out


def conv_transpose_backward(grad_out, x, weight, geo, groups, mask):
    """(grad_x, grad_weight, grad_bias) of `conv_transpose`: its input gradient
    is the convolution it is the adjoint of, applied to grad_out, and its weight
    gradient swaps the roles of input and gradient."""
    if direct.applies(x, weight, geo, groups):
        return _conv_transpose_backward_direct(grad_out, x, weight, geo, mask)
    want_x, want_w, want_b = mask
    n, channels = x.shape[0], grad_out.shape[1]
    grad_x = np.empty_like(x)

    def part(c):
        cols = scratch("cols").get(_chunk_shape(c.stop - c.start, channels, geo), x.dtype)
        _correlate(grad_out[c], weight, None, geo, groups, cols, grad_x[c])
        return _weight_grad(cols, x[c], geo, groups) if want_w else None

    grad_ws = _over_chunks(part, n, _sample_bytes(channels, geo, x.dtype)) if (want_x or want_w) else []
    grad_w = _as_weight(_sum(grad_ws), weight.shape) if want_w else None
    grad_b = _grad_bias(grad_out, want_b)
    return grad_x if want_x else None, grad_w, grad_b


# --- the direct path (`engine.direct`): float32 2-d convolutions without groups ---------
# The same three building blocks as above, from the compiled kernels, on batch
# slices of about CHUNK_BYTES of temporaries; nothing is kept between forward
# and backward (the weight gradient reads x itself).

def _over_samples(fn, n, macs, sample_bytes, blas=False):
    """[fn(c) for c in slices of the batch]: slices of about CHUNK_BYTES of
    temporaries (`sample_bytes` per sample), so that scratch memory does not
    grow with the batch; spread over the threads for calls of
    DIRECT_PARALLEL_MACS multiply-adds or more. `blas`: fn calls BLAS (see
    `threads.map_chunks`)."""
    parallel = threads.workers() if macs >= DIRECT_PARALLEL_MACS else 1
    count = max(1, min(n, max(parallel, -(-n * sample_bytes // CHUNK_BYTES))))
    bounds = [n * i // count for i in range(count + 1)]
    parts = [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:])]
    return threads.map_chunks(fn, parts, blas=blas) if parallel > 1 else [fn(c) for c in parts]


def _direct_bytes(channels, size, out_channels, geo, backward=False):
    """Bytes of float32 temporaries per sample on the direct path: the padded input, and for
    the input gradient the spread output gradient and the padded result (`direct.input_grad`)."""
    padded = geo.padded_size(size)
    total = channels * math.prod(padded)
    if backward:
        spread = [p + d * (k - 1) for p, d, k in zip(padded, geo.dilation, geo.kernel)]
        total += out_channels * math.prod(spread) + channels * math.prod(padded)
    return 4 * total


def _macs(n, weight, out_size):
    return n * weight.size * math.prod(out_size)


def _conv_direct(x, weight, bias, geo, cache):
    n, oc = len(x), weight.shape[0]
    out = np.empty((n, oc, *geo.out_size), x.dtype)
    correlate = direct.correlator(weight, geo)

    def part(c):
        correlate(_padded(x[c], geo, "padded"), bias, out[c])

    _over_samples(part, n, _macs(n, weight, geo.out_size), _direct_bytes(x.shape[1], x.shape[2:], oc, geo))
    if cache is not None:
        cache.clear()  # the direct backward reads x itself: nothing to keep
    return out


def _input_grad_direct(grad, weight, flipped, geo, out):
    """The gradient in its unpadded input out (m, C, *S) of the correlation with weight, for grad
    (m, C_out, *o); `flipped`: the packed kernel of `direct.input_grad`, or None where that does
    not pay (`direct.adjoint_pays`) and the im2col engine's `_correlate_adjoint` runs instead."""
    if flipped is None:
        return _correlate_adjoint(grad, weight, geo, 1, out)
    size = geo.padded_size(out.shape[2:])
    if size == out.shape[2:] and out.flags.c_contiguous:
        return direct.input_grad(grad, flipped, geo, size, out)
    full = direct.input_grad(grad, flipped, geo, size, scratch("direct_full").get((*out.shape[:2], *size), out.dtype))
    np.copyto(out, geo.crop(full))
    return out


def _flipped(weight):
    """The packed kernel of `direct.input_grad` for this weight, or None where it does not pay."""
    channels = weight.shape[1]
    return direct.pack(direct.flip(weight), direct.lanes(channels)) if direct.adjoint_pays(channels) else None


def _conv_backward_direct(grad_out, x, weight, geo, mask, cache):
    want_x, want_w, want_b = mask
    n = len(x)
    grad_x = np.empty_like(x) if want_x else None
    flipped = _flipped(weight) if want_x else None
    vw = direct.lanes(weight.shape[0])

    def part(c):
        if want_x:
            _input_grad_direct(grad_out[c], weight, flipped, geo, grad_x[c])
        return direct.weight_grad(_padded(x[c], geo, "padded"), grad_out[c], geo, vw) if want_w else None

    blas = want_x and flipped is None
    per = _direct_bytes(x.shape[1], x.shape[2:], weight.shape[0], geo, backward=want_x)
    grad_ws = _over_samples(part, n, 2 * _macs(n, weight, geo.out_size), per, blas) if (want_x or want_w) else []
    grad_w = direct.unpack(_sum(grad_ws), weight.shape) if want_w else None
    if cache is not None:
        cache.clear()
    return grad_x, grad_w, _grad_bias(grad_out, want_b)


def _conv_transpose_direct(x, weight, bias, geo, out_size):
    n, channels = x.shape[0], weight.shape[1]
    out = np.empty((n, channels, *out_size), x.dtype)
    flipped = _flipped(weight)

    def part(c):
        _input_grad_direct(x[c], weight, flipped, geo, out[c])
        if bias is not None:
            out[c] += bias.reshape(-1, 1, 1)

    per = _direct_bytes(channels, out_size, x.shape[1], geo, backward=True)
    _over_samples(part, n, _macs(n, weight, geo.out_size), per, blas=flipped is None)
    return out


def _conv_transpose_backward_direct(grad_out, x, weight, geo, mask):
    want_x, want_w, want_b = mask
    n, oc = x.shape[:2]
    grad_x = np.empty_like(x) if want_x else None
    correlate = direct.correlator(weight, geo)

    def part(c):
        gp = _padded(grad_out[c], geo, "padded")
        if want_x:
            correlate(gp, None, grad_x[c])
        return direct.weight_grad(gp, x[c], geo, direct.lanes(oc)) if want_w else None

    per = _direct_bytes(grad_out.shape[1], grad_out.shape[2:], oc, geo)
    grad_ws = _over_samples(part, n, 2 * _macs(n, weight, geo.out_size), per) if (want_x or want_w) else []
    grad_w = direct.unpack(_sum(grad_ws), weight.shape) if want_w else None
    return grad_x, grad_w, _grad_bias(grad_out, want_b)
