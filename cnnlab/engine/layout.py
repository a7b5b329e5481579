"""im2col and col2im in the engine's memory layouts.

To read the algorithm, see `cnnlab.reference.conv2d_im2col`; this module adds
two layouts and one copy trick:

* Channel-first columns (C, *k, N, *o), or batch-last (C, *k, *o, N) when the
  output is small: every group's GEMM is then one contiguous 2-D matrix
  product, with no transpose of the columns. Batch-last makes the runs that
  a tap slice copies W*N long instead of W long, which NumPy streams much
  faster for LeNet's 10x10 outputs (measured in benchmarks/).
* `unfold` copies one read-only strided view that holds every window at once
  (`windows`): a single NumPy call, which releases the GIL so that batch
  chunks can run on several threads. Its adjoint `fold` adds one strided
  slice per kernel tap: Python loops over the k*k taps, never over pixels.
"""
import functools
import math

import numpy as np

from .scratch import in_scratch, scratch

# Outputs with fewer positions than this put the batch axis last.
BATCH_LAST_BELOW = 256


def batch_last(out_size):
    """Whether the columns of this output size put the batch axis last."""
    return math.prod(out_size) < BATCH_LAST_BELOW


def channels_first_view(a, last):
    """(N, C, *S) as a view (C, N, *S), or (C, *S, N) when `last`."""
    return np.moveaxis(a, 0, -1) if last else a.swapaxes(0, 1)


def channels_first_shape(channels, n, size, last):
    return (channels, *size, n) if last else (channels, n, *size)


def batch_first(a, last, out=None):
    """Inverse of `channels_first_view`, always a copy (`a` may live in scratch
    memory): a new (N, C, *S) array, or written into `out`."""
    moved = np.moveaxis(a, -1, 0) if last else a.swapaxes(0, 1)
    if out is None:
        return moved.copy()
    np.copyto(out, moved)
    return out


def windows(xt, geo, last):
    """Every window of the channel-first padded input at once, as a read-only
    strided view shaped like the columns: tap axes step by the dilation,
    output axes by the stride. No data is copied until the view is."""
    nd = len(geo.kernel)
    spatial = xt.strides[1:1 + nd] if last else xt.strides[2:]
    batch_stride = xt.strides[-1] if last else xt.strides[1]
    taps = tuple(st * d for st, d in zip(spatial, geo.dilation))
    steps = tuple(st * s for st, s in zip(spatial, geo.stride))
    n = xt.shape[-1] if last else xt.shape[1]
    shape, strides = (((*geo.out_size, n), (*steps, batch_stride)) if last
                      else ((n, *geo.out_size), (batch_stride, *steps)))
    return np.lib.stride_tricks.as_strided(xt, (xt.shape[0], *geo.kernel, *shape),
                                           (xt.strides[0], *taps, *strides), writeable=False)


def unfold(xp, geo, last, memory):
    """Padded input (N, C, *S) -> columns (C, *k, N, *o), or (C, *k, *o, N)
    when `last`, written into the Scratch `memory`."""
    n, c = xp.shape[:2]
    cols = memory.get((c, *geo.kernel, *channels_first_shape(c, n, geo.out_size, last)[1:]), xp.dtype)
    xt = in_scratch(channels_first_view(xp, True), "channels_first") if last else channels_first_view(xp, False)
    np.copyto(cols, windows(xt, geo, last))
    return cols


@functools.lru_cache(maxsize=256)
def _tap_indices(geo, last):
    """For every kernel tap, (index into the columns, index into the channel-first
    input). Computed once per geometry: a training loop asks the same every step."""
    def spatial(slices):
        return (slice(None), *slices, slice(None)) if last else (slice(None), slice(None), *slices)
    return [((slice(None), *tap), spatial(geo.tap_slices(tap))) for tap in np.ndindex(*geo.kernel)]


def fold(cols, padded_shape, geo, last, out=None):
    """Adjoint of `unfold`: scatter-add the columns into an (N, C, *S) array of
    `padded_shape`, new or `out`. Overlapping windows add up."""
    n, c = padded_shape[:2]
    acc = scratch("fold").get(channels_first_shape(c, n, padded_shape[2:], last), cols.dtype)
    acc.fill(0)
    for col, dst in _tap_indices(geo, last):
        acc[dst] += cols[col]
    return batch_first(acc, last, out)
