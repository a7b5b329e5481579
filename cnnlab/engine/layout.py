"""im2col and col2im for the engine, in two layouts.

To read the algorithm, see `cnnlab.reference.im2col` and `col2im`: the
columns of a batch are (N, C, *k, *o), one (C*k*k, P) matrix per sample, the
layout of `torch.nn.functional.unfold`. This module builds the same columns
with one trick:

* `unfold` copies one read-only strided view that holds every window at once
  (`windows`) instead of one slice per kernel tap: a single NumPy call, with
  no Python loop, which also releases the GIL so that batch chunks can run
  on several threads. Its adjoint `fold` still adds one strided slice per
  kernel tap: Python loops over the k*k taps, never over pixels.

and a second layout, for the columns of small outputs and for every input
gradient (`engine.conv` decides):

* batch-last columns (C, *k, *o, N), from `windows(..., batch_last=True)`
  of the input moved to (C, *S, N), folded by `fold_batch_last`: each tap's
  slice then copies or adds runs of o_W*N numbers instead of o_W, which NumPy
  streams several times faster for LeNet's 10x10 outputs (measured in
  `engine.conv`'s docstring). `fold` (batch-first) is `cnnlab.col2im`'s.
"""
import functools

import numpy as np


def windows(xp, geo, batch_last=False):
    """Every window of the padded input xp (N, C, *S) at once, as a read-only
    strided view (N, C, *k, *o) shaped like the columns: tap axes step by the
    dilation, output axes by the stride. No data is copied until the view is.
    With `batch_last`, xp is (C, *S, N) and the view (C, *k, *o, N)."""
    spatial = xp.strides[1:-1] if batch_last else xp.strides[2:]
    taps = tuple(st * d for st, d in zip(spatial, geo.dilation))
    steps = tuple(st * s for st, s in zip(spatial, geo.stride))
    if batch_last:
        shape, strides = (xp.shape[0], *geo.kernel, *geo.out_size, xp.shape[-1]), \
            (xp.strides[0], *taps, *steps, xp.strides[-1])
    else:
        shape, strides = (*xp.shape[:2], *geo.kernel, *geo.out_size), (*xp.strides[:2], *taps, *steps)
    if not xp.flags.c_contiguous:
        return np.lib.stride_tricks.as_strided(xp, shape, strides, writeable=False)
    view = np.ndarray(shape, xp.dtype, xp, 0, strides)  # as_strided, 0.7 us instead of 6 per call
    view.flags.writeable = False
    return view


def to_batch_last(a):
    """a (N, ...) as the view (..., N): np.moveaxis(a, 0, -1), 0.3 us instead of 5.5 per call."""
    return a.transpose(*range(1, a.ndim), 0)


def to_batch_first(a):
    """a (..., N) as the view (N, ...): the inverse of `to_batch_last`."""
    return a.transpose(a.ndim - 1, *range(a.ndim - 1))


def unfold(xp, geo, out):
    """Padded input (N, C, *S) -> its columns (N, C, *k, *o), written into `out`."""
    np.copyto(out, windows(xp, geo))
    return out


@functools.lru_cache(maxsize=256)
def _tap_indices(geo, batch_last=False):
    """For every kernel tap, (index into the columns, index into the padded
    input). Computed once per geometry: a training loop asks the same every step."""
    lead, tail = ((slice(None),), (slice(None),)) if batch_last else ((slice(None), slice(None)), ())
    return [((*lead, *tap), (*lead, *geo.tap_slices(tap), *tail)) for tap in np.ndindex(*geo.kernel)]


def fold(cols, geo, out):
    """Adjoint of `unfold`: scatter-add the columns (N, C, *k, *o) into `out`
    (N, C, *S padded), which is zeroed first. Overlapping windows add up."""
    out.fill(0)
    for col, dst in _tap_indices(geo):
        out[dst] += cols[col]
    return out


def fold_batch_last(cols, geo, out):
    """`fold` for columns laid out (C, *k, *o, N), into `out` (C, *S padded, N)."""
    out.fill(0)
    for col, dst in _tap_indices(geo, True):
        out[dst] += cols[col]
    return out
