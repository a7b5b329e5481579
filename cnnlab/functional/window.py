"""The geometry of a sliding window, shared by convolution, pooling and im2col.

Along every spatial axis a sliding-window operation is fixed by the kernel
size, the stride, the padding before and after, the dilation, and the output
size these imply (`cnnlab.functional.arithmetic`, Dumoulin & Visin's
relationships). `window_geometry` checks the arguments once, with errors
that name them, and returns a `Geometry`; its methods pad and crop arrays
and slice the cells that one kernel tap reads (notebook 02 teaches the sizes).
"""
from typing import NamedTuple

import numpy as np

from .._checks import ntuple
from .arithmetic import conv_output_size, conv_transpose_output_size, padding_amounts, pool_output_size


class Geometry(NamedTuple):
    """Per-axis window geometry: tuples with one entry per spatial axis.

    kernel, stride, dilation: ints; pads: (before, after) pairs; out_size: ints."""
    kernel: tuple
    stride: tuple
    pads: tuple
    dilation: tuple
    out_size: tuple

    def padded_size(self, size):
        """The spatial size of an input of `size` once padded."""
        return tuple(i + lo + hi for i, (lo, hi) in zip(size, self.pads))

    def tap_slices(self, tap):
        """Slices of the padded input that kernel tap `tap` (one index per axis)
        reads for every output position: start t*d, step s, o cells."""
        return tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                     for t, s, d, o in zip(tap, self.stride, self.dilation, self.out_size))

    @property
    def tiles(self):
        """True when the windows tile the input: no padding, overlap or gaps."""
        return (self.stride == self.kernel and all(d == 1 for d in self.dilation)
                and not any(lo or hi for lo, hi in self.pads))

    def pad(self, x, value=0):
        """x (N, C, *S) with the padding added around the spatial axes (x itself if none)."""
        if not any(lo or hi for lo, hi in self.pads):
            return x
        return np.pad(x, [(0, 0), (0, 0), *self.pads], constant_values=value)

    def crop(self, xp):
        """Inverse of `pad` on the shape: the view of xp without its padding."""
        return xp[(slice(None), slice(None),
                   *(slice(lo, n - hi) for (lo, hi), n in zip(self.pads, xp.shape[2:])))]


def _key(value):
    """An argument as a cache key: lists as tuples, and every value with its
    type (True == 1 for a dict, but stride=True must still be refused)."""
    return tuple(map(_key, value)) if isinstance(value, (list, tuple)) else (type(value), value)


_cache = {}  # a training loop asks for the same geometries every step


def _per_axis_padding(padding, nd):
    padding = tuple(padding) if isinstance(padding, list) else padding
    if isinstance(padding, str) or not isinstance(padding, tuple):
        return (padding,) * nd
    if len(padding) != nd:
        raise ValueError(f"padding must be an int, a string or a tuple of {nd} ints, got {padding!r}")
    return padding


def window_geometry(in_size, kernel_size, stride=1, padding=0, dilation=1, ceil_mode=None):
    """Validate a sliding window's arguments for an input of spatial size
    `in_size` (a tuple) and return its `Geometry`.

    Convolution rules by default: padding may be an int, a tuple with one int
    or (before, after) pair per axis, or 'valid', 'same', 'full'. With
    `ceil_mode` True or False, pooling rules: stride None means the kernel
    size, padding is at most half the kernel, and ceil mode's last window
    may reach past the padding (the extra cells count as padding after).

    >>> window_geometry((6, 6), 3, stride=2, padding=1).out_size
    (3, 3)
    """
    in_size = tuple(in_size)
    key = (in_size, *map(_key, (kernel_size, stride, padding, dilation)), ceil_mode)
    geo = _cache.get(key)
    if geo is None:
        geo = _geometry(in_size, kernel_size, stride, padding, dilation, ceil_mode)
        if len(_cache) < 4096:
            _cache[key] = geo
    return geo


def _geometry(in_size, kernel_size, stride, padding, dilation, ceil_mode):
    nd = len(in_size)
    k = ntuple(kernel_size, nd, "kernel_size")
    s = k if ceil_mode is not None and stride is None else ntuple(stride, nd, "stride")
    d = ntuple(dilation, nd, "dilation")
    if ceil_mode is None:
        pads = tuple(padding_amounts(p, *a) for p, a in zip(_per_axis_padding(padding, nd), zip(k, s, d)))
        out = tuple(conv_output_size(i, *a) for i, a in zip(in_size, zip(k, s, pads, d)))
        return Geometry(k, s, pads, d, out)
    p = ntuple(padding, nd, "padding", 0)
    out = tuple(pool_output_size(i, *a, ceil_mode=ceil_mode) for i, a in zip(in_size, zip(k, s, p, d)))
    # ceil mode's last window may hang over the end: pad after by what it needs
    extra = tuple(max(0, (o - 1) * sa + da * (ka - 1) + 1 - i - pa)
                  for o, sa, da, ka, i, pa in zip(out, s, d, k, in_size, p))
    return Geometry(k, s, tuple((pa, pa + e) for pa, e in zip(p, extra)), d, out)


def transpose_geometry(in_size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """The geometry of a transposed convolution of an input of spatial size
    `in_size`, returned as (geometry, out_size): `geometry` describes the
    convolution whose adjoint it is, from the (padded) output of size
    out_size back to the input (so geometry.out_size == in_size)."""
    nd = len(in_size)
    k, s, d = ntuple(kernel_size, nd, "kernel_size"), ntuple(stride, nd, "stride"), ntuple(dilation, nd, "dilation")
    p = ntuple(padding, nd, "padding", 0)
    op = ntuple(output_padding, nd, "output_padding", 0)
    out = tuple(conv_transpose_output_size(*a) for a in zip(in_size, k, s, p, op, d))
    # The scatter-add writes (i-1)s + d(k-1) + 1 cells; the output is the slice
    # [p, p + o) of a buffer large enough for both.
    buf = tuple(max((i - 1) * sa + da * (ka - 1) + 1, pa + o)
                for i, ka, sa, pa, da, o in zip(in_size, k, s, p, d, out))
    pads = tuple((pa, b - pa - o) for pa, b, o in zip(p, buf, out))
    return Geometry(k, s, pads, d, tuple(in_size)), out
