"""Pooling in 2-d: max, average, adaptive, global and spatial pyramid pooling.

Window pooling loops over the kH*kW kernel taps only; each tap is one strided
slice of the padded batch, so every pixel of every image is handled by NumPy.
Arguments and output sizes follow `torch.nn.functional` (floor or ceil mode,
count_include_pad). Pooling has no parameters, so each backward returns only
grad_x.
"""
import numpy as np

from ._checks import as_array, check_shape, ntuple
from .arithmetic import adaptive_bins, pool_output_size
from .unfold import _tap_slices


def _geometry(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate pooling arguments; return (k, s, p, d, osize, hi) where `hi` is
    the padding after each axis that ceil mode's last window needs."""
    k = ntuple(kernel_size, 2, "kernel_size")
    s = k if stride is None else ntuple(stride, 2, "stride")
    p, d = ntuple(padding, 2, "padding", 0), ntuple(dilation, 2, "dilation")
    osize = tuple(pool_output_size(i, *a, ceil_mode=ceil_mode) for i, a in zip(x.shape[2:], zip(k, s, p, d)))
    hi = tuple(max(0, (o - 1) * sa + da * (ka - 1) + 1 - i - pa)
               for o, sa, da, ka, i, pa in zip(osize, s, d, k, x.shape[2:], p))
    return k, s, p, d, osize, hi


def _padded(x, p, hi, value):
    return np.pad(x, [(0, 0), (0, 0), (p[0], hi[0]), (p[1], hi[1])], constant_values=value)


def _crop(xp, p, size):
    return np.ascontiguousarray(xp[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]])


def _tiled(k, s, p, d, hi):
    """True when the windows tile the input exactly: no padding, no overlap, no gaps."""
    return s == k and d == (1, 1) and p == (0, 0) and hi == (0, 0)


def _tap_views(x, geo, fill):
    """Yield (t, view) for every kernel tap: view[n, c, i, j] is the cell that
    tap t of window (i, j) reads. Tiled windows are views of x itself (the
    reshape trick); otherwise x is padded with `fill` and sliced with strides."""
    k, s, p, d, osize, hi = geo
    if _tiled(*geo[:4], hi):
        tiles = x[:, :, :osize[0] * k[0], :osize[1] * k[1]].reshape(*x.shape[:2], osize[0], k[0], osize[1], k[1])
        for t, (i, j) in enumerate(np.ndindex(*k)):
            yield t, tiles[:, :, :, i, :, j]
    else:
        xp = _padded(x, p, hi, fill) if any(p + hi) else x  # no copy when nothing to pad
        for t, tap in enumerate(np.ndindex(*k)):
            yield t, xp[(slice(None), slice(None), *_tap_slices(tap, s, d, osize))]


def _spread(share, shape, geo):
    """Adjoint of `_tap_views`: add share(t) into the cells tap t reads, for
    every tap, and crop the padding. Returns an array of `shape` (N, C, H, W)."""
    k, s, p, d, osize, hi = geo
    grad = np.zeros((*shape[:2], shape[2] + p[0] + hi[0], shape[3] + p[1] + hi[1]),
                    dtype=np.result_type(share(0)))
    for t, view in _tap_views(grad, (k, s, (0, 0), d, osize, (0, 0)), 0):
        view += share(t)
    return _crop(grad, p, shape[2:])


def _max_taps(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Window maxima and, per output cell, the index of the winning tap
    (row-major within the window; the first one on ties, as in PyTorch)."""
    geo = _geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    best = np.full((*x.shape[:2], *geo[4]), -np.inf, dtype=x.dtype)
    arg = np.zeros(best.shape, dtype=np.int8 if np.prod(geo[0]) < 128 else np.int32)
    for t, view in _tap_views(x, geo, -np.inf):
        better = view > best
        np.maximum(best, view, out=best)
        arg += better * (t - arg).astype(arg.dtype)  # branch-free select: masked writes are slow
    return best, arg, geo


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-d max pooling, as `torch.nn.functional.max_pool2d`.

    x: (N, C, H, W) -> (N, C, H_out, W_out), H_out = floor((H + 2p - d(k-1) - 1)/s) + 1
    (ceil instead of floor with ceil_mode). stride defaults to kernel_size;
    padding (at most half the kernel) is -inf, so it never wins. With
    return_indices, also returns the argmax as a flat index into each H*W
    plane (int64), which `max_pool2d_backward` can reuse.
    """
    x = as_array(x, "input", 4)
    out, arg, (k, s, p, d, osize, _) = _max_taps(x, kernel_size, stride, padding, dilation, ceil_mode)
    if not return_indices:
        return out
    # flat index = (window origin row + tap row) * W + (window origin col + tap col)
    width = x.shape[3]
    origin = ((np.arange(osize[0]) * s[0] - p[0])[:, None] * width + np.arange(osize[1]) * s[1] - p[1])
    tap_offset = np.array([i * d[0] * width + j * d[1] for i, j in np.ndindex(*k)], dtype=np.int64)
    return out, origin + tap_offset[arg]


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                        indices=None):
    """Gradient of `max_pool2d`: each output's gradient goes to the input cell
    that won its window (the argmax); every other cell gets zero. Cells that
    win several overlapping windows collect the sum. Pass the forward's
    `indices` (from return_indices=True) to skip recomputing the argmax.
    Returns grad_x (N, C, H, W)."""
    x = as_array(x, "input", 4)
    if indices is not None:
        return _scatter_indices(grad_out, x, indices, *_geometry(x, kernel_size, stride, padding, dilation,
                                                                  ceil_mode)[:5])
    _, arg, (k, s, p, d, osize, hi) = _max_taps(x, kernel_size, stride, padding, dilation, ceil_mode)
    grad_out = as_array(grad_out, "grad_out", 4).astype(x.dtype, copy=False)
    check_shape(grad_out, arg.shape, "grad_out")
    return _spread(lambda t: grad_out * (arg == t), x.shape, (k, s, p, d, osize, hi))


def _scatter_indices(grad_out, x, indices, k, s, p, d, osize):
    """Send grad_out to the flat H*W positions in `indices` (from the forward)."""
    n, c, h, w = x.shape
    grad_out = as_array(grad_out, "grad_out", 4).astype(x.dtype, copy=False)
    check_shape(grad_out, (n, c, *osize), "grad_out")
    check_shape(np.asarray(indices), (n, c, *osize), "indices")
    grad = np.zeros((n * c, h * w), dtype=x.dtype)
    idx, g = np.asarray(indices).reshape(n * c, -1), grad_out.reshape(n * c, -1)
    if all(sa >= da * (ka - 1) + 1 for sa, da, ka in zip(s, d, k)):
        np.put_along_axis(grad, idx, g, axis=1)  # windows are disjoint: indices never repeat
    else:
        np.add.at(grad, (np.arange(n * c)[:, None], idx), g)
    return grad.reshape(x.shape)


def _avg_divisor(size, k, s, p, osize, count_include_pad):
    """Per-axis number of cells each window averages (PyTorch's rule): the
    window clipped to the padded input, or to the input itself."""
    counts = []
    for i, ka, sa, pa, o in zip(size, k, s, p, osize):
        start = np.arange(o) * sa - pa
        end = np.minimum(start + ka, i + pa)
        counts.append(end - start if count_include_pad else np.minimum(end, i) - np.maximum(start, 0))
    return np.outer(*counts)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """2-d average pooling, as `torch.nn.functional.avg_pool2d`.

    x: (N, C, H, W) -> (N, C, H_out, W_out). Zero padding is counted in the
    average when count_include_pad is True; the part of a ceil-mode window
    that hangs over the padding never is.
    """
    x = as_array(x, "input", 4)
    geo = k, s, p, _, osize, _ = _geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    total = np.zeros((*x.shape[:2], *osize), dtype=x.dtype)
    for _, view in _tap_views(x, geo, 0):
        total += view
    return total / _avg_divisor(x.shape[2:], k, s, p, osize, count_include_pad).astype(x.dtype)


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Gradient of `avg_pool2d`: each output's gradient is shared equally by the
    cells of its window (divided by the window's divisor). Returns grad_x (N, C, H, W)."""
    x = as_array(x, "input", 4)
    k, s, p, d, osize, hi = _geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    grad_out = as_array(grad_out, "grad_out", 4).astype(x.dtype, copy=False)
    check_shape(grad_out, (*x.shape[:2], *osize), "grad_out")
    share = grad_out / _avg_divisor(x.shape[2:], k, s, p, osize, count_include_pad).astype(x.dtype)
    return _spread(lambda t: share, x.shape, (k, s, p, d, osize, hi))


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
    """Average over adaptive bins: x (N, C, H, W) -> (N, C, oH, oW). Bin j of an
    axis spans [floor(jH/oH), ceil((j+1)H/oH)), so every cell is covered for any H."""
    x, (oh, ow) = _adaptive_args(x, output_size)
    a_h, a_w = _averaging_matrix(x.shape[2], oh, x.dtype), _averaging_matrix(x.shape[3], ow, x.dtype)
    return a_h @ x @ a_w.T


def adaptive_avg_pool2d_backward(grad_out, x, output_size):
    """Gradient of `adaptive_avg_pool2d`: the transposed averaging matrices. Returns grad_x."""
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
    """Max over adaptive bins: x (N, C, H, W) -> (N, C, oH, oW) (and flat argmax indices)."""
    x, (oh, ow) = _adaptive_args(x, output_size)
    out, idx = _adaptive_argmax(x, oh, ow)
    return (out, idx) if return_indices else out


def adaptive_max_pool2d_backward(grad_out, x, output_size):
    """Gradient of `adaptive_max_pool2d`: routed to each bin's argmax. Returns grad_x."""
    x, (oh, ow) = _adaptive_args(x, output_size)
    check_shape(grad_out, (*x.shape[:2], oh, ow), "grad_out")
    _, idx = _adaptive_argmax(x, oh, ow)
    n, c, h, w = x.shape
    grad = np.zeros((n * c, h * w), dtype=x.dtype)
    # Neighbouring bins may share their maximum, so indices can repeat: add.at sums them.
    np.add.at(grad, (np.arange(n * c)[:, None], idx.reshape(n * c, -1)), np.asarray(grad_out).reshape(n * c, -1))
    return grad.reshape(x.shape)


def global_avg_pool2d(x):
    """Mean of each feature map: x (N, C, H, W) -> (N, C, 1, 1) (Network-in-Network's GAP)."""
    return as_array(x, "input", 4).mean(axis=(2, 3), keepdims=True)


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
    """
    pool, _ = _pyramid_mode(mode)
    x = as_array(x, "input", 4)
    return np.concatenate([pool(x, n).reshape(x.shape[0], -1) for n in levels], axis=1)


def spatial_pyramid_pool_backward(grad_out, x, levels=(4, 2, 1), mode="max"):
    """Gradient of `spatial_pyramid_pool`: the sum of each level's pooling gradient."""
    _, backward = _pyramid_mode(mode)
    x = as_array(x, "input", 4)
    n, c = x.shape[:2]
    check_shape(grad_out, (n, c * sum(m * m for m in levels)), "grad_out")
    grad, start = np.zeros_like(x), 0
    for m in levels:
        grad += backward(grad_out[:, start:start + c * m * m].reshape(n, c, m, m), x, m)
        start += c * m * m
    return grad
