"""The readable tiers: plain loops and plain im2col + one matrix product.

These are the teaching versions and the test oracles of the fast kernels in
`cnnlab.functional` (whose arithmetic runs in `cnnlab.engine`). Shapes and
arguments match them: NCHW, PyTorch weight layouts.

* The loops (`conv2d`, `conv2d_backward`, `conv_transpose2d`, pooling) walk
  the output one position at a time, exactly as the formulas read
  (notebooks 01, 04, 05). They are slow on purpose; use them on small arrays.
* The im2col tier (`im2col`, `col2im`, `conv2d_im2col`,
  `conv2d_im2col_backward`) is the algorithm the engine runs, without its
  speed tricks: one strided slice per kernel tap builds the columns, one
  matrix product does the convolution, the matrix-product rule and col2im
  give the gradients (notebook 05, section 5).
"""
import numpy as np

from .functional.arithmetic import padding_amounts, pool_output_size


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _zero_pad(x, ph, pw, value=0.0):
    return np.pad(x, [(0, 0), (0, 0), (ph, ph), (pw, pw)], constant_values=value)


def _conv_pads(padding, kernel, stride, dilation):
    """((top, bottom), (left, right)) for an int, a pair or 'valid'/'same'/'full'."""
    per_axis = (padding, padding) if isinstance(padding, str) else _pair(padding)
    return [padding_amounts(p, k, s, d) for p, k, s, d in zip(per_axis, kernel, stride, dilation)]


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation by loops: out[n, o, i, j] = b[o] + sum over the group's
    input channels c and taps (u, v) of x_pad[n, c, i*s + u*d, j*s + v*d] * w[o, c, u, v].
    The arguments of `cnnlab.conv2d`, padding strings included."""
    x, weight = np.asarray(x, float), np.asarray(weight, float)
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    (top, bottom), (left, right) = _conv_pads(padding, weight.shape[2:], (sh, sw), (dh, dw))
    xp = np.pad(x, [(0, 0), (0, 0), (top, bottom), (left, right)])
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
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    (top, bottom), (left, right) = _conv_pads(padding, weight.shape[2:], (sh, sw), (dh, dw))
    xp = np.pad(x, [(0, 0), (0, 0), (top, bottom), (left, right)])
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
    grad_x = grad_xp[:, :, top:top + x.shape[2], left:left + x.shape[3]]
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
    """Yield (i, j, oh, ow, rows, cols) for each pooling window: the output
    position, the output size, and the input rows and columns the window
    covers (they may lie in the padding)."""
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


# --- the im2col tier ---------------------------------------------------------------

def _out_size(size, kernel, stride, padding):
    return tuple((i + 2 * p - k) // s + 1 for i, k, s, p in zip(size, kernel, stride, padding))


def im2col(x, kernel_size, stride=1, padding=0):
    """Windows as columns, one strided slice per kernel tap: x (N, C, H, W) ->
    (N, C*kH*kW, H_out*W_out), the layout of `cnnlab.im2col` (row
    c*kH*kW + u*kW + v holds channel c at tap (u, v); columns are the output
    positions in row-major order). padding: an int or (pH, pW), per side."""
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(stride)
    xp = _zero_pad(np.asarray(x), *_pair(padding))
    oh, ow = _out_size(x.shape[2:], (kh, kw), (sh, sw), _pair(padding))
    cols = np.empty((*x.shape[:2], kh, kw, oh, ow), xp.dtype)
    for u in range(kh):
        for v in range(kw):  # tap (u, v) reads every s-th cell, starting at (u, v)
            cols[:, :, u, v] = xp[:, :, u:u + sh * (oh - 1) + 1:sh, v:v + sw * (ow - 1) + 1:sw]
    return cols.reshape(x.shape[0], -1, oh * ow)


def col2im(cols, x_shape, kernel_size, stride=1, padding=0):
    """Adjoint of `im2col`: add every column entry back into the input cell it
    was copied from (cells in several windows collect several entries)."""
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size), _pair(stride), _pair(padding)
    n, c, h, w = x_shape
    oh, ow = _out_size((h, w), (kh, kw), (sh, sw), (ph, pw))
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), cols.dtype)
    for u in range(kh):
        for v in range(kw):
            xp[:, :, u:u + sh * (oh - 1) + 1:sh, v:v + sw * (ow - 1) + 1:sw] += cols[:, :, u, v]
    return xp[:, :, ph:ph + h, pw:pw + w]


def conv2d_im2col(x, weight, bias=None, stride=1, padding=0):
    """conv2d as im2col and one matrix product: the algorithm `cnnlab.conv2d`
    runs, without the engine's tricks (groups=1, dilation=1; padding per side).
    x (N, C, H, W), weight (C_out, C, kH, kW), bias (C_out,) -> (N, C_out, H_out, W_out).

    >>> conv2d_im2col(np.arange(9.0).reshape(1, 1, 3, 3), np.ones((1, 1, 2, 2)))
    array([[[[ 8., 12.],
             [20., 24.]]]])
    """
    c_out, _, kh, kw = weight.shape
    cols = im2col(x, (kh, kw), stride, padding)                  # (N, C*kH*kW, L)
    out = weight.reshape(c_out, -1) @ cols                        # (N, C_out, L): one GEMM per image
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(x.shape[0], c_out, *_out_size(x.shape[2:], (kh, kw), _pair(stride), _pair(padding)))


def conv2d_im2col_backward(grad_out, x, weight, stride=1, padding=0):
    """Gradients of `conv2d_im2col` by the matrix-product rule: with
    Y = W X_col, dW = dY X_col^T (summed over the batch), dX_col = W^T dY,
    then col2im. Returns (grad_x, grad_weight, grad_bias)."""
    n, c_out = grad_out.shape[:2]
    cols = im2col(x, weight.shape[2:], stride, padding)          # (N, C*kH*kW, L)
    g = grad_out.reshape(n, c_out, -1)                            # (N, C_out, L)
    grad_w = (g @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape)
    grad_cols = weight.reshape(c_out, -1).T @ g                   # (N, C*kH*kW, L)
    grad_x = col2im(grad_cols, x.shape, weight.shape[2:], stride, padding)
    return grad_x, grad_w, g.sum(axis=(0, 2))
