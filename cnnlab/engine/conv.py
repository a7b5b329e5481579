"""The fast N-d convolution behind `cnnlab.conv2d` and its relatives.

To read the algorithm, see `cnnlab.reference.conv2d_im2col`: pad, im2col,
one matrix product, col2im for the input gradient. This module computes the
same thing and adds, for speed only:

* reusable scratch memory for every temporary (`engine.scratch`);
* the channel-first and batch-last column layouts (`engine.layout`);
* GEMMs oriented the way OpenBLAS runs them fastest;
* batch chunks: big batch-last columns are built a cache-sized chunk of the
  batch at a time, and big enough chunks run side by side on the cores
  (`engine.threads`);
* a `ConvCache` in which a layer keeps the forward's columns for its backward.

Arguments arrive validated by `cnnlab.functional.conv`: arrays of one
floating dtype, a `Geometry` (`cnnlab.functional.window`) and `groups`.
A transposed convolution is the adjoint of a convolution, so both share the
three building blocks `_correlate`, `_correlate_adjoint` and `_weight_grad`.
"""
import math

import numpy as np

from . import threads
from .layout import batch_first, batch_last, channels_first_shape, channels_first_view, fold, unfold
from .scratch import Scratch, in_scratch, scratch

# Batch-last columns bigger than this are built and consumed a chunk of
# samples at a time: columns that stay in the CPU cache copy and multiply faster.
CHUNK_BYTES = 4 << 20
# Columns are also split into one chunk per thread if every chunk still holds
# this much; smaller shares do not pay for the threads' overhead.
PARALLEL_CHUNK_BYTES = 2 << 20


class ConvCache:
    """Memory a layer owns for its convolution: `conv2d(..., cache=c)` leaves
    the im2col columns of its input here, and `conv2d_backward(..., cache=c)`
    reads them instead of unfolding the input again, as autograd keeps its
    saved tensors. The memory is reused every step (same sizes); it holds one
    call's columns at a time, and only when the batch went in one chunk
    (re-unfolding a chunk is cheaper than reading columns evicted from the cache)."""

    def __init__(self):
        self._memory = Scratch()
        self.clear()

    def clear(self):
        """Forget the columns (the memory is kept for the next forward)."""
        self.columns, self._key = None, None

    def _store(self, columns, key):
        self.columns, self._key = columns, key

    def _lookup(self, key):
        return self.columns if self._key is not None and self._key == key else None

    @property
    def nbytes(self):
        return self._memory.nbytes


# --- building blocks -------------------------------------------------------------

def _correlate(xp, weight, geo, groups, memory, out):
    """Padded input (N, C, *S) correlated with weight (C_out, C/g, *k), written
    into `out` (N, C_out, *o). Returns the columns (in the Scratch `memory`)."""
    n, last = xp.shape[0], batch_last(geo.out_size)
    cols = unfold(xp, geo, last, memory)
    col_matrix = cols.reshape(groups, -1, n * math.prod(geo.out_size))
    rows = weight.shape[0] // groups
    result = np.matmul(weight.reshape(groups, rows, -1), col_matrix,
                       out=scratch("gemm").get((groups, rows, col_matrix.shape[-1]), cols.dtype))
    batch_first(result.reshape(channels_first_shape(weight.shape[0], n, geo.out_size, last)), last, out)
    return cols


def _grad_matrix(grad, groups, out_size):
    """grad (N, C_out, *o) as the (groups, C_out/groups, N*P) GEMM operand, in
    the layout `unfold` uses for that output size."""
    view = channels_first_view(grad, batch_last(out_size))
    return in_scratch(view, "grad").reshape(groups, grad.shape[1] // groups, -1)


def _correlate_adjoint(grad_matrix, weight, geo, padded_shape, groups, out=None):
    """Adjoint of `_correlate` in its input: the (groups, C_out/g, N*P) gradient
    matrix -> (N, C, *padded_shape), new or written into `out`."""
    n, cin = padded_shape[0], weight.shape[1] * groups
    weight_t = weight.reshape(groups, grad_matrix.shape[1], -1).swapaxes(1, 2)
    grad_cols = np.matmul(weight_t, grad_matrix, out=scratch("grad_cols").get(
        (groups, weight_t.shape[1], grad_matrix.shape[2]), grad_matrix.dtype))
    last = batch_last(geo.out_size)
    cols = grad_cols.reshape(cin, *geo.kernel, *channels_first_shape(cin, n, geo.out_size, last)[1:])
    return fold(cols, padded_shape, geo, last, out)


def _weight_grad(cols, grad_matrix, weight_shape):
    """Gradient of `_correlate` in its weight: the sum over batch and positions
    of the gradient times the input windows."""
    groups = grad_matrix.shape[0]
    # (K, P) @ (P, C_out) runs 2-3x faster in OpenBLAS than (C_out, P) @ (P, K)
    # for these long-and-thin shapes; the small result is transposed afterwards.
    grad_w = np.matmul(cols.reshape(groups, -1, grad_matrix.shape[-1]), grad_matrix.swapaxes(1, 2))
    return grad_w.swapaxes(1, 2).reshape(weight_shape)


def chunks(x, weight, out_size):
    """Slices of the batch that are processed together."""
    n = x.shape[0]
    cols_bytes = n * x.shape[1] * math.prod(weight.shape[2:]) * math.prod(out_size) * x.itemsize
    count = -(-cols_bytes // CHUNK_BYTES) if batch_last(out_size) else 1
    count = max(count, min(threads.workers(), cols_bytes // PARALLEL_CHUNK_BYTES))
    count = max(1, min(n, count))
    bounds = [n * i // count for i in range(count + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:])]


def _key(x, weight, geo, groups):
    return id(x), x.shape, x.dtype, weight.shape, geo, groups


# --- convolution -------------------------------------------------------------------

def conv(x, weight, bias, geo, groups, cache=None):
    """out (N, C_out, *o) = x (N, C, *S) correlated with weight, plus bias."""
    xp, parts = geo.pad(x), chunks(x, weight, geo.out_size)
    out = np.empty((x.shape[0], weight.shape[0], *geo.out_size), x.dtype)
    keep = cache is not None and len(parts) == 1
    memory = cache._memory if keep else None

    def part(c):
        return _correlate(xp[c], weight, geo, groups, memory or scratch("cols"), out[c])

    cols = threads.map_chunks(part, parts)[0]
    if keep:
        cache._store(cols, _key(x, weight, geo, groups))
    elif cache is not None:
        cache.clear()
    if bias is not None:
        out += bias.reshape(-1, *(1,) * len(geo.kernel))
    return out


def conv_backward(grad_out, x, weight, geo, groups, mask, cache=None):
    """(grad_x, grad_weight, grad_bias) of `conv`, None where `mask` says so."""
    want_x, want_w, want_b = mask
    parts = chunks(x, weight, geo.out_size)
    saved = cache._lookup(_key(x, weight, geo, groups)) if cache is not None and len(parts) == 1 else None
    xp = geo.pad(x) if want_w and saved is None else None
    padded = geo.padded_size(x.shape[2:])
    grad_x = np.empty_like(x) if want_x else None

    def part(c):
        grad_matrix, grad_w = _grad_matrix(grad_out[c], groups, geo.out_size), None
        if want_w:
            last = batch_last(geo.out_size)
            cols = saved if saved is not None else unfold(xp[c], geo, last, scratch("cols"))
            grad_w = _weight_grad(cols, grad_matrix, weight.shape)
        if want_x and padded == x.shape[2:]:
            _correlate_adjoint(grad_matrix, weight, geo, (c.stop - c.start, x.shape[1], *padded), groups,
                               out=grad_x[c])
        elif want_x:
            grad_x[c] = geo.crop(_correlate_adjoint(grad_matrix, weight, geo,
                                                    (c.stop - c.start, x.shape[1], *padded), groups))
        return grad_w

    grad_ws = threads.map_chunks(part, parts) if (want_x or want_w) else []
    grad_w = sum(grad_ws[1:], grad_ws[0]) if want_w else None
    grad_b = grad_out.sum(axis=(0, *range(2, grad_out.ndim))) if want_b else None
    if cache is not None:
        cache.clear()
    return grad_x, grad_w, grad_b


# --- transposed convolution --------------------------------------------------------
# `geo` describes the convolution whose adjoint this is: from the transposed
# convolution's output (padded by geo.pads) to its input.

def conv_transpose(x, weight, bias, geo, groups, out_size):
    """out (N, C_out, *out_size): the adjoint of `conv` applied to x (N, C_in, *S)."""
    padded = geo.padded_size(out_size)
    grad_matrix = _grad_matrix(x, groups, geo.out_size)
    full = _correlate_adjoint(grad_matrix, weight, geo, (x.shape[0], weight.shape[1] * groups, *padded), groups)
    out = np.ascontiguousarray(geo.crop(full))
    if bias is not None:
        out += bias.reshape(-1, *(1,) * len(geo.kernel))
    return out


def conv_transpose_backward(grad_out, x, weight, geo, groups, mask):
    """(grad_x, grad_weight, grad_bias) of `conv_transpose`: its input gradient
    is the convolution it is the adjoint of, applied to grad_out, and its weight
    gradient swaps the roles of input and gradient."""
    want_x, want_w, want_b = mask
    grad_x = grad_w = None
    if want_x or want_w:
        grad_x = np.empty_like(x)
        cols = _correlate(geo.pad(grad_out), weight, geo, groups, scratch("cols"), grad_x)
        if want_w:
            grad_w = _weight_grad(cols, _grad_matrix(x, groups, geo.out_size), weight.shape)
        grad_x = grad_x if want_x else None
    grad_b = grad_out.sum(axis=(0, *range(2, grad_out.ndim))) if want_b else None
    return grad_x, grad_w, grad_b
