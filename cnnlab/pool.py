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
from .im2col import _tap_slices


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


def _max_taps(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Window maxima and, per output cell, the index of the winning tap
    (first one on ties, as in PyTorch)."""
    k, s, p, d, osize, hi = _geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    xp = _padded(x, p, hi, -np.inf)
    best = np.full((*x.shape[:2], *osize), -np.inf, dtype=x.dtype)
    arg = np.zeros(best.shape, dtype=np.int32)
    for t, tap in enumerate(np.ndindex(*k)):
        v = xp[(slice(None), slice(None), *_tap_slices(tap, s, d, osize))]
        better = v > best
        best = np.where(better, v, best)
        arg[better] = t
    return best, arg, (k, s, p, d, osize, hi)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-d max pooling, as `torch.nn.functional.max_pool2d`.

    x: (N, C, H, W) -> (N, C, H_out, W_out), H_out = floor((H + 2p - d(k-1) - 1)/s) + 1
    (ceil instead of floor with ceil_mode). stride defaults to kernel_size;
    padding (at most half the kernel) is -inf, so it never wins. With
    return_indices, also returns the argmax as a flat index into each H*W plane.
    """
    x = as_array(x, "input", 4)
    out, arg, (k, s, p, d, osize, _) = _max_taps(x, kernel_size, stride, padding, dilation, ceil_mode)
    if not return_indices:
        return out
    ti, tj = np.divmod(arg, k[1])
    rows = np.arange(osize[0])[:, None] * s[0] - p[0] + ti * d[0]
    cols = np.arange(osize[1])[None, :] * s[1] - p[1] + tj * d[1]
    return out, (rows * x.shape[3] + cols).astype(np.int64)


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Gradient of `max_pool2d`: each output's gradient goes to the input cell
    that won its window (the argmax); every other cell gets zero. Cells that
    win several overlapping windows collect the sum. Returns grad_x (N, C, H, W)."""
    x = as_array(x, "input", 4)
    _, arg, (k, s, p, d, osize, hi) = _max_taps(x, kernel_size, stride, padding, dilation, ceil_mode)
    grad_out = as_array(grad_out, "grad_out", 4).astype(x.dtype, copy=False)
    check_shape(grad_out, arg.shape, "grad_out")
    gxp = np.zeros((*x.shape[:2], x.shape[2] + p[0] + hi[0], x.shape[3] + p[1] + hi[1]), dtype=x.dtype)
    for t, tap in enumerate(np.ndindex(*k)):
        gxp[(slice(None), slice(None), *_tap_slices(tap, s, d, osize))] += np.where(arg == t, grad_out, 0)
    return _crop(gxp, p, x.shape[2:])


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
    k, s, p, d, osize, hi = _geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    xp = _padded(x, p, hi, 0)
    total = np.zeros((*x.shape[:2], *osize), dtype=x.dtype)
    for tap in np.ndindex(*k):
        total += xp[(slice(None), slice(None), *_tap_slices(tap, s, d, osize))]
    return total / _avg_divisor(x.shape[2:], k, s, p, osize, count_include_pad).astype(x.dtype)


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Gradient of `avg_pool2d`: each output's gradient is shared equally by the
    cells of its window (divided by the window's divisor). Returns grad_x (N, C, H, W)."""
    x = as_array(x, "input", 4)
    k, s, p, d, osize, hi = _geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    grad_out = as_array(grad_out, "grad_out", 4).astype(x.dtype, copy=False)
    check_shape(grad_out, (*x.shape[:2], *osize), "grad_out")
    share = grad_out / _avg_divisor(x.shape[2:], k, s, p, osize, count_include_pad).astype(x.dtype)
    gxp = np.zeros((*x.shape[:2], x.shape[2] + p[0] + hi[0], x.shape[3] + p[1] + hi[1]), dtype=x.dtype)
    for tap in np.ndindex(*k):
        gxp[(slice(None), slice(None), *_tap_slices(tap, s, d, osize))] += share
    return _crop(gxp, p, x.shape[2:])


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
