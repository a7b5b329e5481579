"""im2col and its adjoint col2im: convolution as one matrix product.

Every output position of a convolution reads a window of the (padded) input.
Copying each window into a column turns the whole convolution into a single
GEMM, the trick behind Caffe and cuDNN's "implicit GEMM". The copy reads a
strided view that holds every window at once (no data is duplicated until the
copy); its adjoint adds one strided slice per kernel tap, so Python loops run
over the k*k taps at most, never over pixels or batch items.

`_unfold`/`_fold` are the N-d engines used by `cnnlab.conv`; their layout
(C, *k, N, *o) (or (C, *k, *o, N), see BATCH_LAST_BELOW) makes the GEMM of
every group a contiguous 2-D matrix product.
`im2col`/`col2im` expose the same thing with `torch.nn.functional.unfold`/
`fold` conventions for teaching.
"""
import functools
import math
import threading
import weakref

import numpy as np

from ._checks import as_array, ntuple
from .arithmetic import conv_output_size, padding_amounts


class Scratch:
    """Reusable memory for temporaries: `get` returns an uninitialised array
    viewing one buffer that only ever grows.

    A fresh multi-megabyte array costs more than the copy that fills it: the
    kernel must map and zero every page (NumPy even asks for huge pages, which
    can stall on compaction). The engine's columns, GEMM results and
    accumulators are the same size every training step, so they reuse memory.
    An array from `get` is valid until the next `get` on the same Scratch.
    """

    def __init__(self):
        self._buf = np.empty(0, np.uint8)

    def get(self, shape, dtype):
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if self._buf.size < nbytes:
            self._buf = np.empty(nbytes, np.uint8)
        return self._buf[:nbytes].view(dtype).reshape(shape)

    @property
    def nbytes(self):
        return self._buf.nbytes


_local = threading.local()
# Every thread's scratch pools, so that one thread can count or free them all.
# Weak keys: a pool disappears with its thread.
_pools = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


def scratch(name):
    """The engine's per-thread Scratch called `name` (one per role, so that the
    temporaries alive at the same time never share memory)."""
    pool = _local.__dict__.get("pool")
    if pool is None:
        pool = _local.pool = {}
        with _pools_lock:
            _pools[threading.current_thread()] = pool
    return pool.setdefault(name, Scratch())


def scratch_nbytes():
    """Bytes of scratch memory the engine holds for reuse, summed over all threads."""
    with _pools_lock:
        pools = list(_pools.values())
    return sum(s.nbytes for pool in pools for s in list(pool.values()))


def release_scratch():
    """Free the scratch memory of every thread (the engine otherwise keeps it
    for the next call of the same size). Arrays still in use elsewhere stay
    valid: only the engine's references are dropped."""
    with _pools_lock:
        pools = list(_pools.values())
    for pool in pools:
        pool.clear()


def _tap_slices(tap, stride, dilation, osize):
    """Slices picking, for one kernel tap, the input cell each output reads."""
    return tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                 for t, s, d, o in zip(tap, stride, dilation, osize))


# Where the batch axis sits in the channel-first arrays of the engine. Slicing
# a tap copies runs as long as the innermost axis; with small outputs (LeNet's
# 10x10) rows are too short for NumPy to stream, so the batch axis goes last
# and each run becomes W*N long. Large outputs keep it first (cheaper transposes).
BATCH_LAST_BELOW = 256


def _batch_last(osize):
    return math.prod(osize) < BATCH_LAST_BELOW


def _cf_view(a, batch_last):
    """(N, C, *S) as a channel-first view: (C, N, *S), or (C, *S, N) with batch_last."""
    return np.moveaxis(a, 0, -1) if batch_last else a.swapaxes(0, 1)


def _in_scratch(a, name):
    """A contiguous copy of `a` in scratch memory `name`."""
    out = scratch(name).get(a.shape, a.dtype)
    np.copyto(out, a)
    return out


def _channels_first(a, batch_last):
    """(N, C, *S) -> (C, N, *S) as a view, or (C, *S, N) as a contiguous copy
    (in scratch memory)."""
    return _in_scratch(_cf_view(a, batch_last), "channels_first") if batch_last else _cf_view(a, False)


def _batch_first(a, batch_last, out=None):
    """Inverse of `_channels_first`: a copy as (N, C, *S), new or written into
    `out` (always a copy: `a` may live in scratch memory)."""
    moved = np.moveaxis(a, -1, 0) if batch_last else a.swapaxes(0, 1)
    if out is None:
        return moved.copy()
    np.copyto(out, moved)
    return out


def _cf_shape(c, n, size, batch_last):
    return (c, *size, n) if batch_last else (c, n, *size)


def _spatial(slices, batch_last):
    """Index that applies per-axis `slices` to a channel-first array."""
    return (slice(None), *slices, slice(None)) if batch_last else (slice(None), slice(None), *slices)


@functools.lru_cache(maxsize=256)
def _tap_indices(ksize, stride, dilation, osize, batch_last):
    """For every kernel tap, (index into the columns, index into the channel-first
    input). Computed once per geometry: a training loop asks for the same ones
    every step."""
    return [((slice(None), *tap), _spatial(_tap_slices(tap, stride, dilation, osize), batch_last))
            for tap in np.ndindex(*ksize)]


def _unfold(xp, ksize, stride, dilation, osize, batch_last=False, out=None):
    """Padded input (N, C, *S) -> columns (C, *ksize, N, *osize), or
    (C, *ksize, *osize, N) with batch_last; written into Scratch `out` if given."""
    n, c = xp.shape[:2]
    shape = (c, *ksize, *_cf_shape(c, n, osize, batch_last)[1:])
    cols = out.get(shape, xp.dtype) if out is not None else np.empty(shape, dtype=xp.dtype)
    np.copyto(cols, _windows(_channels_first(xp, batch_last), ksize, stride, dilation, osize, batch_last))
    return cols


def _windows(xt, ksize, stride, dilation, osize, batch_last):
    """Every window of the channel-first input at once, as a read-only strided
    view shaped like the columns: tap axes step by the dilation, output axes
    by the stride. Copying it is a single NumPy call (which releases the GIL)."""
    nd = len(ksize)
    spatial = xt.strides[1:1 + nd] if batch_last else xt.strides[2:]
    batch = xt.strides[-1] if batch_last else xt.strides[1]
    taps = tuple(st * d for st, d in zip(spatial, dilation))
    steps = tuple(st * s for st, s in zip(spatial, stride))
    n = xt.shape[-1] if batch_last else xt.shape[1]
    shape, strides = ((*osize, n), (*steps, batch)) if batch_last else ((n, *osize), (batch, *steps))
    return np.lib.stride_tricks.as_strided(xt, (xt.shape[0], *ksize, *shape), (xt.strides[0], *taps, *strides),
                                           writeable=False)


def _fold(cols, padded_shape, stride, dilation, batch_last=False, out=None):
    """Adjoint of `_unfold`: scatter-add columns into an array of
    `padded_shape` (N, C, *S), new or `out`. Overlapping windows add up."""
    nd = len(padded_shape) - 2
    ksize = cols.shape[1:1 + nd]
    osize = cols.shape[1 + nd:1 + 2 * nd] if batch_last else cols.shape[2 + nd:]
    n, c = padded_shape[:2]
    acc = scratch("fold").get(_cf_shape(c, n, padded_shape[2:], batch_last), cols.dtype)
    acc.fill(0)
    for col, dst in _tap_indices(tuple(ksize), tuple(stride), tuple(dilation), tuple(osize), batch_last):
        acc[dst] += cols[col]
    return _batch_first(acc, batch_last, out)


def _geometry2d(size, kernel_size, stride, padding, dilation):
    k, s, d = ntuple(kernel_size, 2, "kernel_size"), ntuple(stride, 2, "stride"), ntuple(dilation, 2, "dilation")
    p = padding if isinstance(padding, str) else ntuple(padding, 2, "padding", 0)
    p = p if isinstance(p, tuple) else (p, p)
    pads = [padding_amounts(pa, ka, sa, da) for pa, ka, sa, da in zip(p, k, s, d)]
    osize = tuple(conv_output_size(i, ka, sa, pa, da) for i, ka, sa, pa, da in zip(size, k, s, pads, d))
    return k, s, d, pads, osize


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Unfold sliding windows into columns, like `torch.nn.functional.unfold`.

    x: (N, C, H, W) -> (N, C*kH*kW, L) with L = oH*oW output positions; row
    index c*kH*kW + i*kW + j holds channel c at kernel tap (i, j). A conv2d is
    then `weight.reshape(C_out, -1) @ im2col(x, ...)` reshaped to (N, C_out, oH, oW).
    """
    x = as_array(x, "input", 4)
    k, s, d, pads, osize = _geometry2d(x.shape[2:], kernel_size, stride, padding, dilation)
    xp = np.pad(x, [(0, 0), (0, 0), *pads])
    cols = _unfold(xp, k, s, d, osize)
    n, c = x.shape[:2]
    return np.ascontiguousarray(cols.reshape(c * k[0] * k[1], n, -1).swapaxes(0, 1))


def col2im(cols, output_size, kernel_size, stride=1, padding=0, dilation=1):
    """Fold columns back into an image, like `torch.nn.functional.fold`: the
    adjoint (not the inverse) of `im2col`, so cells read by several windows
    receive the sum of their copies.

    cols: (N, C*kH*kW, L) -> (N, C, H, W) with (H, W) = `output_size`.
    """
    cols = as_array(cols, "cols", 3)
    size = ntuple(output_size, 2, "output_size")
    k, s, d, pads, osize = _geometry2d(size, kernel_size, stride, padding, dilation)
    n, ckk, length = cols.shape
    if ckk % (k[0] * k[1]) or length != osize[0] * osize[1]:
        raise ValueError(f"cols shape {cols.shape} does not match kernel_size={k} and "
                         f"{osize[0]}x{osize[1]}={osize[0] * osize[1]} windows")
    c = ckk // (k[0] * k[1])
    c6 = cols.swapaxes(0, 1).reshape(c, *k, n, *osize)
    padded = (n, c, size[0] + sum(pads[0]), size[1] + sum(pads[1]))
    out = _fold(c6, padded, s, d)
    return np.ascontiguousarray(out[:, :, pads[0][0]:pads[0][0] + size[0], pads[1][0]:pads[1][0] + size[1]])
