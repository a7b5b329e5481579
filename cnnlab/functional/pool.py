"""Pooling in 2-d: max, average, adaptive, global and spatial pyramid pooling.

Window pooling loops over the kH*kW kernel taps only; each tap is one strided
slice of the padded batch, so every pixel of every image is handled by NumPy
(`cnnlab.reference.max_pool2d` is the plain-loop version). Two tricks: when
the windows tile the input, the taps are views of one reshape (and the
backward writes each tap's share instead of adding it); the running argmax
is a branch-free select instead of masked writes, kept as the winning tap
(`max_pool2d_winners`) rather than as flat indices. For float32 windows that
tile the input, `cnnlab.engine.direct` computes the same forward and gradient
in one compiled pass each (see `direct.pools`).
Arguments and output sizes follow `torch.nn.functional` (floor or ceil mode,
count_include_pad). Pooling has no parameters, so each backward returns only
grad_x.
"""
import numpy as np

from .._checks import as_array, check_shape, ntuple
from ..engine import direct
from .arithmetic import adaptive_bins
from .window import window_geometry


def _geometry(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Pooling's window geometry (pooling rules: stride None = kernel size)."""
    return window_geometry(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode=bool(ceil_mode))


def _tap_views(xp, geo):
    """Yield (t, view) for every kernel tap t of the padded input xp:
    view[n, c, i, j] is the cell tap t of window (i, j) reads. Windows that
    tile the input are reshaped views (no slicing arithmetic at all)."""
    k, (oh, ow) = geo.kernel, geo.out_size
    if geo.tiles:
        tiles = xp[:, :, :oh * k[0], :ow * k[1]].reshape(*xp.shape[:2], oh, k[0], ow, k[1])
        for t, (i, j) in enumerate(np.ndindex(*k)):
            yield t, tiles[:, :, :, i, :, j]
    else:
        for t, tap in enumerate(np.ndindex(*k)):
            yield t, xp[(slice(None), slice(None), *geo.tap_slices(tap))]


def _spread(share, shape, geo):
    """Adjoint of `_tap_views`: add share(t) into the cells tap t reads, for
    every tap, and crop the padding. Returns an array of `shape` (N, C, H, W)."""
    grad = np.zeros((*shape[:2], *geo.padded_size(shape[2:])), dtype=np.result_type(share(0)))
    for t, view in _tap_views(grad, geo):
        view += share(t)
    return np.ascontiguousarray(geo.crop(grad))


def _max_taps(x, geo):
    """Window maxima and, per output cell, the index of the winning tap
    (row-major within the window; the first one on ties, as in PyTorch)."""
    if direct.pools(x, geo):  # the same maxima and winners from one compiled pass
        return direct.max_pool_tiles(x, geo)
    taps = _tap_views(geo.pad(x, -np.inf), geo)
    _, first = next(taps)
    best = first.copy()  # the first tap leads until beaten: one pass less than starting from -inf
    arg = np.zeros(best.shape, dtype=np.int8 if np.prod(geo.kernel) < 128 else np.int32)
    for t, view in taps:
        better = view > best
        np.maximum(best, view, out=best)
        arg += better * (t - arg).astype(arg.dtype)  # branch-free select: masked writes are slow
    return best, arg


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-d max pooling, as `torch.nn.functional.max_pool2d`.

    x: (N, C, H, W) -> (N, C, H_out, W_out), H_out = floor((H + 2p - d(k - 1) - 1) / s) + 1
    (ceil instead of floor with ceil_mode). stride defaults to kernel_size;
    padding (at most half the kernel) is -inf, so it never wins; on ties the
    first cell of the window (row-major) wins. With return_indices, also
    returns the argmax as a flat index into each H*W plane (int64), which
    `max_pool2d_backward` and `max_unpool2d` take. Notebook 03, section 6.

    >>> x = np.array([[[[1., 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]]]])
    >>> max_pool2d(x, 2)
    array([[[[9., 2.],
             [6., 3.]]]])
    >>> max_pool2d(x, 2, return_indices=True)[1]
    array([[[[ 5,  2],
             [13, 11]]]])
    """
    x = as_array(x, "input", 4)
    geo = _geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    out, arg = _max_taps(x, geo)
    if not return_indices:
        return out
    # flat index = (window origin row + tap row) * W + (window origin col + tap col)
    width, s, d = x.shape[3], geo.stride, geo.dilation
    p = [before for before, _ in geo.pads]
    origin = ((np.arange(geo.out_size[0]) * s[0] - p[0])[:, None] * width + np.arange(geo.out_size[1]) * s[1] - p[1])
    tap_offset = np.array([i * d[0] * width + j * d[1] for i, j in np.ndindex(*geo.kernel)], dtype=np.int64)
    return out, origin + tap_offset[arg]


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                        indices=None, winners=None):
    """Gradient of `max_pool2d` given grad_out (N, C, H_out, W_out): each
    output's gradient goes to the input cell that won its window (the argmax);
    every other cell gets zero, and cells that win several overlapping windows
    collect the sum. Pass the forward's `indices` (return_indices=True) to
    skip recomputing the argmax, or its `winners` (`max_pool2d_winners`).
    Returns grad_x (N, C, H, W). Notebook 05, section 2.

    >>> x = np.array([[[[1., 3], [4, 2]]]])
    >>> max_pool2d_backward(np.array([[[[10.]]]]), x, 2)
    array([[[[ 0.,  0.],
             [10.,  0.]]]])
    """
    x = as_array(x, "input", 4)
    geo = _geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    if indices is not None:
        return _scatter_indices(grad_out, x, indices, geo)
    if winners is None:
        _, winners = _max_taps(x, geo)
    else:
        winners = _checked_winners(winners, geo)
    grad_out = as_array(grad_out, "grad_out", 4).astype(x.dtype, copy=False)
    check_shape(grad_out, (*x.shape[:2], *geo.out_size), "grad_out")
    check_shape(winners, grad_out.shape, "winners")
    if not geo.tiles:
        return _spread(lambda t: grad_out * (winners == t), x.shape, geo)
    if direct.pools(x, geo):  # the same gradient from one compiled pass
        return direct.max_pool_tiles_backward(grad_out, winners, geo, x.shape)
    grad = np.zeros_like(x)  # cells outside every tile (odd sizes in floor mode) stay zero
    for t, view in _tap_views(grad, geo):  # tiles never overlap: write each tap's share, no adds
        np.multiply(grad_out, winners == t, out=view)
    return grad


def _checked_winners(winners, geo):
    """`winners` as an integer array of taps in [0, kH*kW): flat indices passed by mistake must not route silently."""
    winners, taps = np.asarray(winners), int(np.prod(geo.kernel))
    if winners.dtype.kind not in "iu":
        raise TypeError(f"winners must be integer taps (from max_pool2d_winners), got dtype {winners.dtype}")
    if winners.size and (winners.min() < 0 or winners.max() >= taps):
        raise ValueError(f"winners must be taps in [0, {taps}) for a {geo.kernel[0]}x{geo.kernel[1]} kernel, got "
                         f"values from {winners.min()} to {winners.max()} (flat indices go in indices=)")
    return winners


def max_pool2d_winners(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """`max_pool2d` and, per output cell, the tap of its window that won
    (int8, row-major within the window, the first on ties): what a layer keeps
    for `max_pool2d_backward(..., winners=...)`. A fraction of the size of
    the flat indices, and cheaper to make and to route the gradient with.
    Notebook 05, section 2.

    >>> max_pool2d_winners(np.array([[[[1., 3], [4, 2]]]]), 2)[1]
    array([[[[2]]]], dtype=int8)
    """
    x = as_array(x, "input", 4)
    return _max_taps(x, _geometry(x, kernel_size, stride, padding, dilation, ceil_mode))


def _scatter_indices(grad_out, x, indices, geo):
    """Send grad_out to the flat H*W positions in `indices` (from the forward)."""
    n, c, h, w = x.shape
    grad_out = as_array(grad_out, "grad_out", 4).astype(x.dtype, copy=False)
    check_shape(grad_out, (n, c, *geo.out_size), "grad_out")
    check_shape(np.asarray(indices), (n, c, *geo.out_size), "indices")
    grad = np.zeros((n * c, h * w), dtype=x.dtype)
    idx, g = np.asarray(indices).reshape(n * c, -1), grad_out.reshape(n * c, -1)
    if all(s >= d * (k - 1) + 1 for s, d, k in zip(geo.stride, geo.dilation, geo.kernel)):
        np.put_along_axis(grad, idx, g, axis=1)  # windows are disjoint: indices never repeat
    else:
        np.add.at(grad, (np.arange(n * c)[:, None], idx), g)
    return grad.reshape(x.shape)


def _avg_divisor(size, geo, count_include_pad):
    """Per-axis number of cells each window averages (PyTorch's rule): the
    window clipped to the padded input, or to the input itself; the part of
    a ceil-mode window beyond the padding never counts."""
    counts = []
    for i, k, s, (p, _), o in zip(size, geo.kernel, geo.stride, geo.pads, geo.out_size):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, i + p)
        counts.append(end - start if count_include_pad else np.minimum(end, i) - np.maximum(start, 0))
    return np.outer(*counts)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """2-d average pooling, as `torch.nn.functional.avg_pool2d`.

    x: (N, C, H, W) -> (N, C, H_out, W_out) (sizes as in `max_pool2d`). Zero
    padding is counted in the average when count_include_pad is True; the
    part of a ceil-mode window that hangs over the padding never is.
    Notebook 03, section 6.

    >>> avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """
    x = as_array(x, "input", 4)
    geo = _geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    total = np.zeros((*x.shape[:2], *geo.out_size), dtype=x.dtype)
    for _, view in _tap_views(geo.pad(x), geo):
        total += view
    return total / _avg_divisor(x.shape[2:], geo, count_include_pad).astype(x.dtype)


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Gradient of `avg_pool2d` given grad_out (N, C, H_out, W_out): each
    output's gradient is shared equally by the cells of its window (divided
    by the window's divisor). Returns grad_x (N, C, H, W). Notebook 05, section 2.

    >>> avg_pool2d_backward(np.array([[[[4.0]]]]), np.zeros((1, 1, 2, 2)), 2)
    array([[[[1., 1.],
             [1., 1.]]]])
    """
    x = as_array(x, "input", 4)
    geo = _geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    grad_out = as_array(grad_out, "grad_out", 4).astype(x.dtype, copy=False)
    check_shape(grad_out, (*x.shape[:2], *geo.out_size), "grad_out")
    share = grad_out / _avg_divisor(x.shape[2:], geo, count_include_pad).astype(x.dtype)
    return _spread(lambda t: share, x.shape, geo)


# --- adaptive, global and pyramid pooling ---------------------------------------

def _averaging_matrix(i, o, dtype):
    """(o, i) matrix whose row j averages adaptive bin j: pooling one axis is a matmul."""
    start, end = adaptive_bins(i, o)
    cells = np.arange(i)
    inside = (cells >= start[:, None]) & (cells < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_args(x, output_size):
    x = as_array(x, "input", 4)
    return x, ntuple(output_size, 2, "output_size")


def adaptive_avg_pool2d(x, output_size):
    """Average over adaptive bins, as `torch.nn.functional.adaptive_avg_pool2d`:
    x (N, C, H, W) -> (N, C, oH, oW) for any H, W. Bin j of an axis spans
    [floor(jH/oH), ceil((j+1)H/oH)), so every cell is covered. Notebook 03, section 7.

    >>> adaptive_avg_pool2d(np.arange(6.0).reshape(1, 1, 2, 3), 1)
    array([[[[2.5]]]])
    """
    x, (oh, ow) = _adaptive_args(x, output_size)
    a_h, a_w = _averaging_matrix(x.shape[2], oh, x.dtype), _averaging_matrix(x.shape[3], ow, x.dtype)
    return a_h @ x @ a_w.T


def adaptive_avg_pool2d_backward(grad_out, x, output_size):
    """Gradient of `adaptive_avg_pool2d` given grad_out (N, C, oH, oW): the
    transposed averaging matrices. Returns grad_x (N, C, H, W).

    >>> adaptive_avg_pool2d_backward(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 2, 2)), 1)
    array([[[[0.25, 0.25],
             [0.25, 0.25]]]])
    """
    x, (oh, ow) = _adaptive_args(x, output_size)
    check_shape(grad_out, (*x.shape[:2], oh, ow), "grad_out")
    a_h, a_w = _averaging_matrix(x.shape[2], oh, x.dtype), _averaging_matrix(x.shape[3], ow, x.dtype)
    return a_h.T @ np.asarray(grad_out, dtype=x.dtype) @ a_w


def _adaptive_argmax(x, oh, ow):
    """Max over adaptive bins and the flat H*W index of each maximum.

    Taps run up to the longest bin; a shorter bin repeats its last cell, which
    cannot change its maximum."""
    (sh, eh), (sw, ew) = adaptive_bins(x.shape[2], oh), adaptive_bins(x.shape[3], ow)
    best = np.full((*x.shape[:2], oh, ow), -np.inf, dtype=x.dtype)
    idx = np.zeros(best.shape, dtype=np.int64)
    for th in range((eh - sh).max()):
        rows = np.minimum(sh + th, eh - 1)[:, None]
        for tw in range((ew - sw).max()):
            cols = np.minimum(sw + tw, ew - 1)[None, :]
            v = x[:, :, rows, cols]
            better = v > best
            best = np.where(better, v, best)
            idx = np.where(better, rows * x.shape[3] + cols, idx)
    return best, idx


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """Max over adaptive bins, as `torch.nn.functional.adaptive_max_pool2d`:
    x (N, C, H, W) -> (N, C, oH, oW) (and the flat H*W argmax indices).

    >>> adaptive_max_pool2d(np.arange(6.0).reshape(1, 1, 2, 3), (1, 2))
    array([[[[4., 5.]]]])
    """
    x, (oh, ow) = _adaptive_args(x, output_size)
    out, idx = _adaptive_argmax(x, oh, ow)
    return (out, idx) if return_indices else out


def adaptive_max_pool2d_backward(grad_out, x, output_size):
    """Gradient of `adaptive_max_pool2d` given grad_out (N, C, oH, oW): routed
    to each bin's argmax (bins may share a maximum; its cell gets the sum).
    Returns grad_x (N, C, H, W)."""
    x, (oh, ow) = _adaptive_args(x, output_size)
    check_shape(grad_out, (*x.shape[:2], oh, ow), "grad_out")
    _, idx = _adaptive_argmax(x, oh, ow)
    n, c, h, w = x.shape
    grad = np.zeros((n * c, h * w), dtype=x.dtype)
    # Neighbouring bins may share their maximum, so indices can repeat: add.at sums them.
    np.add.at(grad, (np.arange(n * c)[:, None], idx.reshape(n * c, -1)), np.asarray(grad_out).reshape(n * c, -1))
    return grad.reshape(x.shape)


def global_avg_pool2d(x):
    """Mean of each feature map, Network-in-Network's global average pooling:
    x (N, C, H, W) -> (N, C, 1, 1). Notebook 03, section 6.

    >>> global_avg_pool2d(np.arange(4.0).reshape(1, 1, 2, 2))
    array([[[[1.5]]]])
    """
    return as_array(x, "input", 4).mean(axis=(2, 3), keepdims=True)


def global_avg_pool2d_backward(grad_out, x):
    """Gradient of `global_avg_pool2d` given grad_out (N, C, 1, 1): every cell
    of a map receives its map's gradient divided by H*W. Returns grad_x (N, C, H, W).

    >>> global_avg_pool2d_backward(np.array([[[[4.0]]]]), np.zeros((1, 1, 2, 2)))
    array([[[[1., 1.],
             [1., 1.]]]])
    """
    x = as_array(x, "input", 4)
    grad_out = as_array(grad_out, "grad_out", 4).astype(x.dtype, copy=False)
    check_shape(grad_out, (*x.shape[:2], 1, 1), "grad_out")
    return np.broadcast_to(grad_out / (x.shape[2] * x.shape[3]), x.shape).copy()


_PYRAMID = {"max": (adaptive_max_pool2d, adaptive_max_pool2d_backward),
            "avg": (adaptive_avg_pool2d, adaptive_avg_pool2d_backward)}


def _pyramid_mode(mode):
    if mode not in _PYRAMID:
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    return _PYRAMID[mode]


def spatial_pyramid_pool(x, levels=(4, 2, 1), mode="max"):
    """Spatial pyramid pooling (He et al. 2014): pool each map into n x n
    adaptive bins for every n in `levels` and concatenate.

    x: (N, C, H, W) of any H, W -> (N, C * sum(n*n)), channel-major within
    each level. Adaptive bins cover every input cell, unlike the paper's
    window ceil(a/n) / stride floor(a/n), which can skip the last rows.
    Notebook 03, section 7.

    >>> spatial_pyramid_pool(np.ones((2, 256, 13, 13)), levels=(4, 2, 1)).shape
    (2, 5376)
    """
    pool, _ = _pyramid_mode(mode)
    x = as_array(x, "input", 4)
    return np.concatenate([pool(x, n).reshape(x.shape[0], -1) for n in levels], axis=1)


def spatial_pyramid_pool_backward(grad_out, x, levels=(4, 2, 1), mode="max"):
    """Gradient of `spatial_pyramid_pool` given grad_out (N, C * sum(n*n)): the
    sum of each level's pooling gradient. Returns grad_x (N, C, H, W)."""
    _, backward = _pyramid_mode(mode)
    x = as_array(x, "input", 4)
    n, c = x.shape[:2]
    check_shape(grad_out, (n, c * sum(m * m for m in levels)), "grad_out")
    grad, start = np.zeros_like(x), 0
    for m in levels:
        grad += backward(grad_out[:, start:start + c * m * m].reshape(n, c, m, m), x, m)
        start += c * m * m
    return grad


# --- max unpooling (DeconvNet) -----------------------------------------------------

def _unpool_size(in_size, kernel_size, stride, padding, output_size):
    """Output (H, W) of max unpooling, PyTorch's rule: by default
    (i - 1) s - 2p + k per axis, the input size of the pooling that made x;
    an explicit output_size ((H, W) or (N, C, H, W)) must lie strictly
    between that size minus and plus the stride."""
    k = ntuple(kernel_size, 2, "kernel_size")
    s = k if stride is None else ntuple(stride, 2, "stride")
    p = ntuple(padding, 2, "padding", 0)
    default = tuple((i - 1) * si - 2 * pi + ki for i, si, pi, ki in zip(in_size, s, p, k))
    if output_size is None:
        return default
    size = tuple(output_size)[-2:]
    ntuple(size, 2, "output_size")
    if not all(d - si < o < d + si for d, o, si in zip(default, size, s)):
        low, high = tuple(d - si for d, si in zip(default, s)), tuple(d + si for d, si in zip(default, s))
        raise ValueError(f"output_size {tuple(output_size)} must be between {low} and {high} (exclusive) "
                         f"for this input size, kernel_size, stride and padding")
    return tuple(int(o) for o in size)


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of `max_pool2d`, as `torch.nn.functional.max_unpool2d`:
    every value of x goes back to the cell its window's maximum came from,
    every other cell is zero (DeconvNet's "switches", Zeiler & Fergus 2013).

    x, indices: (N, C, h, w), indices the flat H*W positions that
    `max_pool2d(..., return_indices=True)` returns. Output (N, C, H, W) with
    H = (h - 1) s - 2p + k by default (stride defaults to kernel_size);
    output_size picks another size (e.g. an odd one that floor mode lost).
    Notebook 09, section 4.

    >>> v = np.array([[[[1., 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]]]])
    >>> pooled, idx = max_pool2d(v, 2, return_indices=True)
    >>> max_unpool2d(pooled, idx, 2)
    array([[[[0., 0., 2., 0.],
             [0., 9., 0., 0.],
             [0., 0., 0., 3.],
             [0., 6., 0., 0.]]]])
    """
    x = as_array(x, "input", 4)
    indices = np.asarray(indices)
    check_shape(indices, x.shape, "indices")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers (from max_pool2d(..., return_indices=True)), got {indices.dtype}")
    n, c = x.shape[:2]
    h, w = _unpool_size(x.shape[2:], kernel_size, stride, padding, output_size)
    flat = indices.reshape(n * c, -1)
    if flat.size and (flat.min() < 0 or flat.max() >= h * w):
        raise ValueError(f"indices must be in [0, {h * w}) for an output of size {h}x{w}, "
                         f"got values from {flat.min()} to {flat.max()}")
    out = np.zeros((n * c, h * w), dtype=x.dtype)
    # overlapping windows can share a maximum: its index repeats with the same value, so any write is right
    np.put_along_axis(out, flat, x.reshape(n * c, -1), axis=1)
    return out.reshape(n, c, h, w)


def max_unpool2d_backward(grad_out, indices, kernel_size, stride=None, padding=0):
    """Gradient of `max_unpool2d` given grad_out (N, C, H, W): each input value
    was copied to one output cell, so its gradient is read back from there
    (a gather at `indices`, as PyTorch's; where overlapping windows share a
    maximum, both copies read that cell's gradient). Returns grad_x
    (N, C, h, w), the shape of indices.
    kernel_size, stride and padding check that grad_out's size is one the
    forward can produce.

    >>> idx = np.array([[[[5, 2], [13, 11]]]])
    >>> max_unpool2d_backward(np.arange(16.0).reshape(1, 1, 4, 4), idx, 2)
    array([[[[ 5.,  2.],
             [13., 11.]]]])
    """
    grad_out = as_array(grad_out, "grad_out", 4)
    indices = np.asarray(indices)
    if indices.ndim != 4 or indices.shape[:2] != grad_out.shape[:2]:
        raise ValueError(f"indices must be (N, C, h, w) with N, C of grad_out {grad_out.shape}, got {indices.shape}")
    h, w = _unpool_size(indices.shape[2:], kernel_size, stride, padding, grad_out.shape[2:])
    n, c = indices.shape[:2]
    flat = indices.reshape(n * c, -1)
    if flat.size and (flat.min() < 0 or flat.max() >= h * w):
        raise ValueError(f"indices must be in [0, {h * w}) for grad_out of size {h}x{w}")
    return np.take_along_axis(grad_out.reshape(n * c, h * w), flat, axis=1).reshape(indices.shape)
