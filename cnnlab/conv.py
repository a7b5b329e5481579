"""Convolution (cross-correlation) and transposed convolution in 1, 2 and 3-d.

One N-d implementation serves every rank: im2col by strided slices (one per
kernel tap) followed by one GEMM per group. Semantics, argument names and
weight layouts match `torch.nn.functional`:

    conv:            x (N, C_in, *S), weight (C_out, C_in/groups, *k)
    conv_transpose:  x (N, C_in, *S), weight (C_in, C_out/groups, *k)

Backward functions take the upstream gradient and the forward inputs and
return (grad_x, grad_weight, grad_bias). A transposed convolution is the
adjoint of a convolution, so the two share their three building blocks:
`_correlate` (forward GEMM), `_correlate_adjoint` (GEMM + col2im) and
`_weight_grad`.
"""
import numpy as np

from ._checks import as_array, check_shape, ntuple
from .arithmetic import conv_output_size, conv_transpose_output_size, padding_amounts
from .unfold import _batch_first, _batch_last, _cf_shape, _channels_first, _fold, _unfold


# --- building blocks ---------------------------------------------------------

def _correlate(xp, weight, stride, dilation, osize, groups):
    """Padded input (N, C, *S) correlated with weight (C_out, C/g, *k).

    Returns the output (N, C_out, *osize) and the columns, reused by backward."""
    n, g, bl = xp.shape[0], groups, _batch_last(osize)
    cols = _unfold(xp, weight.shape[2:], stride, dilation, osize, bl)
    out = np.matmul(weight.reshape(g, weight.shape[0] // g, -1), cols.reshape(g, -1, n * int(np.prod(osize))))
    return _batch_first(out.reshape(_cf_shape(weight.shape[0], n, osize, bl)), bl), cols


def _grad_matrix(grad, groups):
    """grad (N, C_out, *o) as the (groups, C_out/groups, N*P) GEMM operand, in
    the layout `_unfold` uses for that output size."""
    bl = _batch_last(grad.shape[2:])
    return np.ascontiguousarray(_channels_first(grad, bl)).reshape(groups, grad.shape[1] // groups, -1), bl


def _correlate_adjoint(grad, weight, stride, dilation, padded_shape, groups):
    """Adjoint of `_correlate` in its input: (N, C_out, *o) -> (N, C, *padded_shape)."""
    gt, bl = _grad_matrix(grad, groups)
    gcols = np.matmul(weight.reshape(gt.shape[0], gt.shape[1], -1).swapaxes(1, 2), gt)
    n, cin = grad.shape[0], weight.shape[1] * groups
    cols = gcols.reshape(cin, *weight.shape[2:], *_cf_shape(cin, n, grad.shape[2:], bl)[1:])
    return _fold(cols, (n, cin, *padded_shape), stride, dilation, bl)


def _weight_grad(cols, grad, weight_shape, groups):
    """Gradient of `_correlate` in its weight: sum over batch and positions of
    grad (N, C_out, *o) times the input windows in `cols`."""
    gt, _ = _grad_matrix(grad, groups)
    return np.matmul(gt, cols.reshape(groups, -1, gt.shape[-1]).swapaxes(1, 2)).reshape(weight_shape)


def _crop(x, pads, size):
    return x[(slice(None), slice(None), *(slice(lo, lo + s) for (lo, _), s in zip(pads, size)))]


def _pad(x, pads):
    return np.pad(x, [(0, 0), (0, 0), *pads]) if any(lo or hi for lo, hi in pads) else x


# --- argument handling ---------------------------------------------------------

def _common(x, weight, bias, nd):
    x = as_array(x, "input", nd + 2)
    weight = as_array(weight, "weight", nd + 2)
    dtype = np.result_type(x.dtype, weight.dtype)
    if bias is not None:
        bias = as_array(bias, "bias", 1)
        dtype = np.result_type(dtype, bias.dtype)
        bias = bias.astype(dtype, copy=False)
    return x.astype(dtype, copy=False), weight.astype(dtype, copy=False), bias


def _check_bias(bias, channels):
    if bias is not None and bias.shape != (channels,):
        raise ValueError(f"bias must have shape ({channels},) (one per output channel), got {bias.shape}")


def _check_groups(groups, channels, what):
    groups = ntuple(groups, 1, "groups")[0]
    if channels % groups:
        raise ValueError(f"groups={groups} must divide {what}={channels}")
    return groups


def _conv_geometry(x, weight, stride, padding, dilation, groups, nd):
    """Validate a convolution's arguments; return (stride, pads, dilation, groups, osize)."""
    c_out, c_w = weight.shape[:2]
    groups = _check_groups(groups, c_out, "out_channels (weight.shape[0])")
    if x.shape[1] != c_w * groups:
        raise ValueError(f"input has {x.shape[1]} channels but weight {weight.shape} with groups={groups} "
                         f"expects {c_w * groups} (= weight.shape[1] * groups)")
    stride, dilation = ntuple(stride, nd, "stride"), ntuple(dilation, nd, "dilation")
    if isinstance(padding, str):
        padding = (padding,) * nd
    elif not isinstance(padding, (tuple, list)):
        padding = (padding,) * nd
    if len(padding) != nd:
        raise ValueError(f"padding must be an int, a string or a tuple of {nd} ints, got {padding!r}")
    ks = weight.shape[2:]
    pads = [padding_amounts(p, k, s, d) for p, k, s, d in zip(padding, ks, stride, dilation)]
    osize = tuple(conv_output_size(i, k, s, p, d) for i, k, s, p, d in zip(x.shape[2:], ks, stride, pads, dilation))
    return stride, pads, dilation, groups, osize


def _transpose_geometry(x, weight, stride, padding, output_padding, dilation, groups, nd):
    c_in = weight.shape[0]
    groups = _check_groups(groups, c_in, "in_channels (weight.shape[0])")
    if x.shape[1] != c_in:
        raise ValueError(f"input has {x.shape[1]} channels but conv_transpose weight {weight.shape} "
                         f"expects {c_in} (= weight.shape[0])")
    stride, dilation = ntuple(stride, nd, "stride"), ntuple(dilation, nd, "dilation")
    padding = ntuple(padding, nd, "padding", 0)
    output_padding = ntuple(output_padding, nd, "output_padding", 0)
    ks = weight.shape[2:]
    osize = tuple(conv_transpose_output_size(i, k, s, p, op, d)
                  for i, k, s, p, op, d in zip(x.shape[2:], ks, stride, padding, output_padding, dilation))
    # The scatter-add writes (i-1)s + d(k-1) + 1 cells; the output is the slice
    # [p, p + o) of a buffer large enough for both.
    buf = tuple(max((i - 1) * s + d * (k - 1) + 1, p + o)
                for i, k, s, p, d, o in zip(x.shape[2:], ks, stride, padding, dilation, osize))
    pads = [(p, b - p - o) for p, b, o in zip(padding, buf, osize)]
    return stride, pads, dilation, groups, osize, buf


# --- convolution ---------------------------------------------------------------

def _conv(x, weight, bias, stride, padding, dilation, groups, nd, keep_cols=False):
    """The convolution; with keep_cols also the im2col columns, which a layer
    can hand back to `_conv_backward` instead of unfolding the input again."""
    x, weight, bias = _common(x, weight, bias, nd)
    stride, pads, dilation, groups, osize = _conv_geometry(x, weight, stride, padding, dilation, groups, nd)
    _check_bias(bias, weight.shape[0])
    out, cols = _correlate(_pad(x, pads), weight, stride, dilation, osize, groups)
    if bias is not None:
        out += bias.reshape(-1, *(1,) * nd)
    return (out, cols) if keep_cols else out


def _mask(output_mask):
    if len(output_mask) != 3:
        raise ValueError(f"output_mask must hold 3 flags (grad_x, grad_weight, grad_bias), got {output_mask!r}")
    return tuple(bool(m) for m in output_mask)


def _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, nd, output_mask, cols=None):
    want_x, want_w, want_b = _mask(output_mask)
    x, weight, _ = _common(x, weight, None, nd)
    stride, pads, dilation, groups, osize = _conv_geometry(x, weight, stride, padding, dilation, groups, nd)
    grad_out = as_array(grad_out, "grad_out", nd + 2).astype(x.dtype, copy=False)
    check_shape(grad_out, (x.shape[0], weight.shape[0], *osize), "grad_out")
    grad_x = grad_w = grad_b = None
    if want_w:
        if cols is None:
            cols = _unfold(_pad(x, pads), weight.shape[2:], stride, dilation, osize, _batch_last(osize))
        grad_w = _weight_grad(cols, grad_out, weight.shape, groups)
    if want_x:
        padded = tuple(i + lo + hi for i, (lo, hi) in zip(x.shape[2:], pads))
        grad_x = _crop(_correlate_adjoint(grad_out, weight, stride, dilation, padded, groups), pads, x.shape[2:])
    if want_b:
        grad_b = grad_out.sum(axis=(0, *range(2, nd + 2)))
    return grad_x, grad_w, grad_b


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d cross-correlation. x (N, C_in, L), weight (C_out, C_in/groups, k),
    bias (C_out,) -> (N, C_out, L_out). See `conv2d` for the arguments."""
    return _conv(x, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d cross-correlation, as `torch.nn.functional.conv2d`.

    x: (N, C_in, H, W); weight: (C_out, C_in/groups, kH, kW); bias: (C_out,) or None.
    stride, dilation: int or (sH, sW). padding: int, (pH, pW), 'valid', 'same'
    (stride 1) or 'full' (k' - 1 zeros each side, the 'full' mode of
    scipy.signal.correlate2d). groups splits the channels into independent
    convolutions (groups == C_in gives a depthwise convolution).
    Returns (N, C_out, H_out, W_out), H_out = floor((H + 2p - d(k-1) - 1)/s) + 1.
    float32 stays float32; integer input is computed in float64.
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d cross-correlation (the kernel also slides along depth or time).
    x (N, C_in, D, H, W), weight (C_out, C_in/groups, kD, kH, kW) -> (N, C_out, D_out, H_out, W_out)."""
    return _conv(x, weight, bias, stride, padding, dilation, groups, 3)


def conv1d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    output_mask=(True, True, True)):
    """Gradients of `conv1d`: returns (grad_x, grad_weight, grad_bias) shaped like
    x (N, C_in, L), weight and (C_out,). grad_out has the forward output's shape;
    output_mask as in `conv2d_backward`."""
    return _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, 1, output_mask)


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    output_mask=(True, True, True)):
    """Gradients of `conv2d` given grad_out (N, C_out, H_out, W_out).

    Returns (grad_x (N, C_in, H, W), grad_weight (C_out, C_in/groups, kH, kW),
    grad_bias (C_out,)). grad_x is the full correlation of grad_out with the
    180-degree-rotated kernel, done here as W^T @ grad followed by col2im;
    grad_weight is the correlation of the input with grad_out; grad_bias sums grad_out.
    output_mask (as in PyTorch's convolution_backward) skips the gradients
    whose flag is False and returns None in their place: the first layer of a
    network needs no grad_x.
    """
    return _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, 2, output_mask)


def conv3d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    output_mask=(True, True, True)):
    """Gradients of `conv3d`: (grad_x (N, C_in, D, H, W), grad_weight, grad_bias (C_out,));
    output_mask as in `conv2d_backward`."""
    return _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, 3, output_mask)


# --- transposed convolution ---------------------------------------------------------

def _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, nd):
    x, weight, bias = _common(x, weight, bias, nd)
    stride, pads, dilation, groups, osize, buf = _transpose_geometry(
        x, weight, stride, padding, output_padding, dilation, groups, nd)
    _check_bias(bias, weight.shape[1] * groups)
    out = np.ascontiguousarray(_crop(_correlate_adjoint(x, weight, stride, dilation, buf, groups), pads, osize))
    if bias is not None:
        out += bias.reshape(-1, *(1,) * nd)
    return out


def _conv_transpose_backward(grad_out, x, weight, stride, padding, output_padding, groups, dilation, nd):
    x, weight, _ = _common(x, weight, None, nd)
    stride, pads, dilation, groups, osize, _ = _transpose_geometry(
        x, weight, stride, padding, output_padding, dilation, groups, nd)
    grad_out = as_array(grad_out, "grad_out", nd + 2).astype(x.dtype, copy=False)
    check_shape(grad_out, (x.shape[0], weight.shape[1] * groups, *osize), "grad_out")
    # The forward was the adjoint of a convolution, so its input gradient is
    # that convolution applied to grad_out, and its weight gradient swaps roles.
    grad_x, cols = _correlate(_pad(grad_out, pads), weight, stride, dilation, x.shape[2:], groups)
    grad_w = _weight_grad(cols, x, weight.shape, groups)
    return grad_x, grad_w, grad_out.sum(axis=(0, *range(2, nd + 2)))


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-d transposed convolution. x (N, C_in, L), weight (C_in, C_out/groups, k) -> (N, C_out, L_out)."""
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, 1)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-d transposed convolution, as `torch.nn.functional.conv_transpose2d`.

    x: (N, C_in, H, W); weight: (C_in, C_out/groups, kH, kW); bias: (C_out,).
    Every input pixel scatters a copy of the kernel, scaled by its value, into
    the output at stride spacing; overlaps add. It is the adjoint (transpose)
    of conv2d with the same arguments, which restores the shape, not the values.
    Returns (N, C_out, H_out, W_out), H_out = (H-1)s - 2p + d(k-1) + output_padding + 1.
    """
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, 2)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-d transposed convolution. x (N, C_in, D, H, W), weight (C_in, C_out/groups, kD, kH, kW)."""
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, 3)


def conv_transpose1d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Gradients of `conv_transpose1d`: (grad_x, grad_weight, grad_bias)."""
    return _conv_transpose_backward(grad_out, x, weight, stride, padding, output_padding, groups, dilation, 1)


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Gradients of `conv_transpose2d` given grad_out (N, C_out, H_out, W_out).

    Returns (grad_x (N, C_in, H, W), grad_weight (C_in, C_out/groups, kH, kW), grad_bias (C_out,)).
    grad_x is conv2d(grad_out, weight) with the same stride, padding and dilation."""
    return _conv_transpose_backward(grad_out, x, weight, stride, padding, output_padding, groups, dilation, 2)


def conv_transpose3d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Gradients of `conv_transpose3d`: (grad_x, grad_weight, grad_bias)."""
    return _conv_transpose_backward(grad_out, x, weight, stride, padding, output_padding, groups, dilation, 3)
