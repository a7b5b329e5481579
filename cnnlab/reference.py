"""Plain-loop reference implementations: the readable teaching versions and
the test oracle for the vectorized kernels.

Every function here walks the output (or the input) one position at a time,
exactly as the formulas in the notes read. They are slow on purpose; use
them on small arrays. Shapes and arguments match the fast versions in
`cnnlab.conv` and `cnnlab.pool` (NCHW, PyTorch weight layouts).
"""
import numpy as np

from .arithmetic import pool_output_size


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _zero_pad(x, ph, pw, value=0.0):
    return np.pad(x, [(0, 0), (0, 0), (ph, ph), (pw, pw)], constant_values=value)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation by loops: out[n, o, i, j] = b[o] + sum over the group's
    input channels c and taps (u, v) of x_pad[n, c, i*s + u*d, j*s + v*d] * w[o, c, u, v]."""
    x, weight = np.asarray(x, float), np.asarray(weight, float)
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    xp = _zero_pad(x, ph, pw)
    n_batch, _, hp, wp = xp.shape
    c_out, c_group, kh, kw = weight.shape
    out_per_group = c_out // groups
    rows = range(0, hp - dh * (kh - 1), sh)  # every window start that fits
    cols = range(0, wp - dw * (kw - 1), sw)
    out = np.zeros((n_batch, c_out, len(rows), len(cols)))
    for n in range(n_batch):
        for o in range(c_out):
            first = (o // out_per_group) * c_group  # first input channel of o's group
            for i, r in enumerate(rows):
                for j, c in enumerate(cols):
                    total = 0.0 if bias is None else bias[o]
                    for ci in range(c_group):
                        for u in range(kh):
                            for v in range(kw):
                                total += xp[n, first + ci, r + u * dh, c + v * dw] * weight[o, ci, u, v]
                    out[n, o, i, j] = total
    return out


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """Backward of `conv2d` by loops: every product x * w in the forward sum
    sends grad * w to the input cell and grad * x to the weight."""
    x, weight, grad_out = np.asarray(x, float), np.asarray(weight, float), np.asarray(grad_out, float)
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    xp = _zero_pad(x, ph, pw)
    grad_xp, grad_w = np.zeros_like(xp), np.zeros_like(weight)
    c_out, c_group, kh, kw = weight.shape
    out_per_group = c_out // groups
    n_batch, _, oh, ow = grad_out.shape
    for n in range(n_batch):
        for o in range(c_out):
            first = (o // out_per_group) * c_group
            for i in range(oh):
                for j in range(ow):
                    g = grad_out[n, o, i, j]
                    for ci in range(c_group):
                        for u in range(kh):
                            for v in range(kw):
                                r, c = i * sh + u * dh, j * sw + v * dw
                                grad_xp[n, first + ci, r, c] += g * weight[o, ci, u, v]
                                grad_w[o, ci, u, v] += g * xp[n, first + ci, r, c]
    grad_x = grad_xp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]
    return grad_x, grad_w, grad_out.sum(axis=(0, 2, 3))


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution as scatter-add: input pixel x[n, c, i, j] adds
    x * w[c, o, :, :] into the output at (i*s, j*s), taps spaced by d; then
    `padding` cells are cut from each border (and output_padding added at the end)."""
    x, weight = np.asarray(x, float), np.asarray(weight, float)
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    oph, opw = _pair(output_padding)
    n_batch, c_in, h, w = x.shape
    _, out_per_group, kh, kw = weight.shape
    in_per_group = c_in // groups
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + oph
    full_w = (w - 1) * sw + dw * (kw - 1) + 1 + opw
    full = np.zeros((n_batch, out_per_group * groups, full_h, full_w))
    for n in range(n_batch):
        for c in range(c_in):
            g = c // in_per_group
            for i in range(h):
                for j in range(w):
                    for o in range(out_per_group):
                        for u in range(kh):
                            for v in range(kw):
                                full[n, g * out_per_group + o, i * sh + u * dh, j * sw + v * dw] += (
                                    x[n, c, i, j] * weight[c, o, u, v])
    out = full[:, :, ph:full_h - ph, pw:full_w - pw]
    if bias is not None:
        out = out + np.asarray(bias).reshape(-1, 1, 1)
    return out


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Backward of `conv_transpose2d` by loops over the same scatter."""
    x, weight, grad_out = np.asarray(x, float), np.asarray(weight, float), np.asarray(grad_out, float)
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    n_batch, c_in, h, w = x.shape
    _, out_per_group, kh, kw = weight.shape
    in_per_group = c_in // groups
    grad_x, grad_w = np.zeros_like(x), np.zeros_like(weight)
    oh, ow = grad_out.shape[2:]
    for n in range(n_batch):
        for c in range(c_in):
            g = c // in_per_group
            for i in range(h):
                for j in range(w):
                    for o in range(out_per_group):
                        for u in range(kh):
                            for v in range(kw):
                                r, q = i * sh + u * dh - ph, j * sw + v * dw - pw
                                if 0 <= r < oh and 0 <= q < ow:
                                    go = grad_out[n, g * out_per_group + o, r, q]
                                    grad_x[n, c, i, j] += go * weight[c, o, u, v]
                                    grad_w[c, o, u, v] += go * x[n, c, i, j]
    return grad_x, grad_w, grad_out.sum(axis=(0, 2, 3))


def _windows(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Yield (i, j, rows, cols) for each pooling window: the output position and
    the input coordinates it covers (padding cells excluded)."""
    (kh, kw), (ph, pw), (dh, dw) = _pair(kernel_size), _pair(padding), _pair(dilation)
    sh, sw = _pair(kernel_size if stride is None else stride)
    h, w = x.shape[2:]
    oh = pool_output_size(h, kh, sh, ph, dh, ceil_mode)
    ow = pool_output_size(w, kw, sw, pw, dw, ceil_mode)
    for i in range(oh):
        for j in range(ow):
            rows = [i * sh - ph + u * dh for u in range(kh)]
            cols = [j * sw - pw + v * dw for v in range(kw)]
            yield i, j, oh, ow, rows, cols


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling by loops: each output is the largest input cell of its window."""
    x = np.asarray(x, float)
    out = None
    for i, j, oh, ow, rows, cols in _windows(x, kernel_size, stride, padding, dilation, ceil_mode):
        out = np.full((*x.shape[:2], oh, ow), -np.inf) if out is None else out
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                for r in rows:
                    for q in cols:
                        if 0 <= r < x.shape[2] and 0 <= q < x.shape[3]:
                            out[n, c, i, j] = max(out[n, c, i, j], x[n, c, r, q])
    return out


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Routes each output gradient to the first cell holding its window's maximum."""
    x = np.asarray(x, float)
    grad = np.zeros_like(x)
    for i, j, _, _, rows, cols in _windows(x, kernel_size, stride, padding, dilation, ceil_mode):
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                best, where = -np.inf, None
                for r in rows:
                    for q in cols:
                        if 0 <= r < x.shape[2] and 0 <= q < x.shape[3] and x[n, c, r, q] > best:
                            best, where = x[n, c, r, q], (r, q)
                grad[n, c, where[0], where[1]] += grad_out[n, c, i, j]
    return grad


def _avg_count(rows, cols, size, padding, count_include_pad):
    """How many cells a window averages over: padding counts only if asked,
    and the part of a ceil-mode window beyond the padding never does."""
    (h, w), (ph, pw) = size, _pair(padding)
    lim_r = (-ph, h + ph) if count_include_pad else (0, h)
    lim_c = (-pw, w + pw) if count_include_pad else (0, w)
    nr = sum(lim_r[0] <= r < lim_r[1] for r in rows)
    nc = sum(lim_c[0] <= q < lim_c[1] for q in cols)
    return nr * nc


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average pooling by loops: the window's sum over its cell count."""
    x = np.asarray(x, float)
    out = None
    for i, j, oh, ow, rows, cols in _windows(x, kernel_size, stride, padding, 1, ceil_mode):
        out = np.zeros((*x.shape[:2], oh, ow)) if out is None else out
        count = _avg_count(rows, cols, x.shape[2:], padding, count_include_pad)
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                total = sum(x[n, c, r, q] for r in rows for q in cols
                            if 0 <= r < x.shape[2] and 0 <= q < x.shape[3])
                out[n, c, i, j] = total / count
    return out


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Each output gradient is split equally over its window's cells."""
    x = np.asarray(x, float)
    grad = np.zeros_like(x)
    for i, j, _, _, rows, cols in _windows(x, kernel_size, stride, padding, 1, ceil_mode):
        count = _avg_count(rows, cols, x.shape[2:], padding, count_include_pad)
        for r in rows:
            for q in cols:
                if 0 <= r < x.shape[2] and 0 <= q < x.shape[3]:
                    grad[:, :, r, q] += grad_out[:, :, i, j] / count
    return grad
