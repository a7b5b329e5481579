"""Convolution (cross-correlation) and transposed convolution in 1, 2 and 3-d.

Semantics, argument names and weight layouts are those of
`torch.nn.functional`:

    conv:            x (N, C_in, *S), weight (C_out, C_in/groups, *k)
    conv_transpose:  x (N, C_in, *S), weight (C_in, C_out/groups, *k)

Each forward function has a backward partner that takes the upstream
gradient and the forward's inputs and returns (grad_x, grad_weight,
grad_bias). This module checks the arguments and computes the geometry
(`cnnlab.functional.window`); the arithmetic runs in `cnnlab.engine.conv`.
The readable version of the same algorithm is `cnnlab.reference.conv2d_im2col`
(im2col + one matrix product), and the plain loops are `cnnlab.reference.conv2d`.
"""
import numpy as np

from .._checks import as_array, check_shape, ntuple
from ..engine import conv as engine
from .window import transpose_geometry, window_geometry


def _common(x, weight, bias, nd):
    """The arrays in one floating dtype (float32 stays float32, ints become float64)."""
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


def _mask(output_mask):
    if len(output_mask) != 3:
        raise ValueError(f"output_mask must hold 3 flags (grad_x, grad_weight, grad_bias), got {output_mask!r}")
    return tuple(bool(m) for m in output_mask)


def _check_cache(cache):
    if cache is not None and not isinstance(cache, engine.ConvCache):
        raise TypeError(f"cache must be a cnnlab.ConvCache or None, got {type(cache).__name__}")


def _conv_args(x, weight, stride, padding, dilation, groups):
    """The validated geometry and groups of a convolution."""
    c_out, c_w = weight.shape[:2]
    groups = _check_groups(groups, c_out, "out_channels (weight.shape[0])")
    if x.shape[1] != c_w * groups:
        raise ValueError(f"input has {x.shape[1]} channels but weight {weight.shape} with groups={groups} "
                         f"expects {c_w * groups} (= weight.shape[1] * groups)")
    return window_geometry(x.shape[2:], weight.shape[2:], stride, padding, dilation), groups


def _conv(x, weight, bias, stride, padding, dilation, groups, nd, cache=None):
    _check_cache(cache)
    x, weight, bias = _common(x, weight, bias, nd)
    geo, groups = _conv_args(x, weight, stride, padding, dilation, groups)
    _check_bias(bias, weight.shape[0])
    return engine.conv(x, weight, bias, geo, groups, cache)


def _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, nd, output_mask, cache=None):
    _check_cache(cache)
    mask = _mask(output_mask)
    x, weight, _ = _common(x, weight, None, nd)
    geo, groups = _conv_args(x, weight, stride, padding, dilation, groups)
    grad_out = as_array(grad_out, "grad_out", nd + 2).astype(x.dtype, copy=False)
    check_shape(grad_out, (x.shape[0], weight.shape[0], *geo.out_size), "grad_out")
    return engine.conv_backward(grad_out, x, weight, geo, groups, mask, cache)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d cross-correlation, as `torch.nn.functional.conv1d` (see `conv2d`).

    x (N, C_in, L), weight (C_out, C_in/groups, k), bias (C_out,) or None
    -> (N, C_out, L_out). Notebook 03, section 5 (1-d, 2-d and 3-d convolution).

    >>> conv1d(np.arange(5.0)[None, None], np.array([[[1.0, -1.0]]]))
    array([[[-1., -1., -1., -1.]]])
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, cache=None):
    """2-d cross-correlation, as `torch.nn.functional.conv2d`.

    x: (N, C_in, H, W). weight: (C_out, C_in/groups, kH, kW). bias: (C_out,) or None.
    stride, dilation: int or (sH, sW). padding: int, (pH, pW) (per side), or
    'valid', 'same' (stride 1; an odd total puts the extra cell after) or
    'full' (k' - 1 zeros each side, scipy.signal.correlate2d's 'full').
    groups splits the channels into independent convolutions (groups == C_in:
    depthwise). Returns (N, C_out, H_out, W_out) with
    H_out = floor((H + 2p - d(kH - 1) - 1) / s) + 1. float32 stays float32;
    integer input is computed in float64.

    cache: an optional `cnnlab.ConvCache` owned by the caller (a layer): the
    im2col columns are kept there for `conv2d_backward(..., cache=)` (float32
    runs in the compiled direct kernels of `cnnlab.engine.direct`, which need
    no columns and keep none). The engine also keeps its temporaries in
    per-thread scratch memory for the next call (`cnnlab.scratch_nbytes()`
    counts it, `cnnlab.release_scratch()` frees it), and splits big batches
    over `cnnlab.set_num_threads` threads.

    Notebook 01 (convolution as feature detection), 02 (the size formula),
    03 (channels and groups), 05 section 5 (im2col).

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d(x, np.ones((1, 1, 2, 2)), stride=2)
    array([[[[10., 18.],
             [42., 50.]]]])
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 2, cache)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d cross-correlation, as `torch.nn.functional.conv3d`: the kernel also
    slides along depth (or time). See `conv2d` for the arguments.

    x (N, C_in, D, H, W), weight (C_out, C_in/groups, kD, kH, kW)
    -> (N, C_out, D_out, H_out, W_out). Notebook 03, section 5.

    >>> conv3d(np.ones((1, 1, 3, 3, 3)), np.ones((1, 1, 2, 2, 2))).shape
    (1, 1, 2, 2, 2)
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 3)


def conv1d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    output_mask=(True, True, True)):
    """Gradients of `conv1d` given grad_out (N, C_out, L_out): (grad_x (N, C_in, L),
    grad_weight (C_out, C_in/groups, k), grad_bias (C_out,)). See `conv2d_backward`.

    >>> gx, gw, gb = conv1d_backward(np.ones((1, 1, 4)), np.arange(5.0)[None, None], np.ones((1, 1, 2)))
    >>> gx, gw, gb
    (array([[[1., 2., 2., 2., 1.]]]), array([[[ 6., 10.]]]), array([4.]))
    """
    return _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, 1, output_mask)


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    output_mask=(True, True, True), cache=None):
    """Gradients of `conv2d` given grad_out (N, C_out, H_out, W_out).

    Returns (grad_x (N, C_in, H, W), grad_weight (C_out, C_in/groups, kH, kW),
    grad_bias (C_out,)). grad_x is the full correlation of grad_out with the
    180-degree-rotated kernel (computed as W^T @ grad, then col2im);
    grad_weight is the correlation of the input with grad_out; grad_bias
    sums grad_out. output_mask, as in PyTorch's convolution_backward, skips
    the gradients whose flag is False and returns None in their place (the
    first layer of a network needs no grad_x). cache: the `cnnlab.ConvCache`
    the forward filled, if any. The other arguments are the forward's.
    Notebook 05, sections 3-6.

    >>> x, w = np.arange(9.0).reshape(1, 1, 3, 3), np.ones((1, 1, 2, 2))
    >>> gx, gw, gb = conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> gx[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> gw[0, 0], gb
    (array([[ 8., 12.],
           [20., 24.]]), array([4.]))
    """
    return _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, 2, output_mask, cache)


def conv3d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    output_mask=(True, True, True)):
    """Gradients of `conv3d` given grad_out (N, C_out, D_out, H_out, W_out):
    (grad_x (N, C_in, D, H, W), grad_weight (C_out, C_in/groups, kD, kH, kW),
    grad_bias (C_out,)). See `conv2d_backward`.

    >>> [g.shape for g in conv3d_backward(np.ones((1, 1, 2, 2, 2)), np.ones((1, 1, 3, 3, 3)),
    ...                                   np.ones((1, 1, 2, 2, 2)))]
    [(1, 1, 3, 3, 3), (1, 1, 2, 2, 2), (1,)]
    """
    return _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, 3, output_mask)


# --- transposed convolution -----------------------------------------------------------

def _transpose_args(x, weight, stride, padding, output_padding, dilation, groups):
    c_in = weight.shape[0]
    groups = _check_groups(groups, c_in, "in_channels (weight.shape[0])")
    if x.shape[1] != c_in:
        raise ValueError(f"input has {x.shape[1]} channels but conv_transpose weight {weight.shape} "
                         f"expects {c_in} (= weight.shape[0])")
    geo, out_size = transpose_geometry(x.shape[2:], weight.shape[2:], stride, padding, output_padding, dilation)
    return geo, out_size, groups


def _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, nd):
    x, weight, bias = _common(x, weight, bias, nd)
    geo, out_size, groups = _transpose_args(x, weight, stride, padding, output_padding, dilation, groups)
    _check_bias(bias, weight.shape[1] * groups)
    return engine.conv_transpose(x, weight, bias, geo, groups, out_size)


def _conv_transpose_backward(grad_out, x, weight, stride, padding, output_padding, groups, dilation, nd,
                             output_mask):
    mask = _mask(output_mask)
    x, weight, _ = _common(x, weight, None, nd)
    geo, out_size, groups = _transpose_args(x, weight, stride, padding, output_padding, dilation, groups)
    grad_out = as_array(grad_out, "grad_out", nd + 2).astype(x.dtype, copy=False)
    check_shape(grad_out, (x.shape[0], weight.shape[1] * groups, *out_size), "grad_out")
    return engine.conv_transpose_backward(grad_out, x, weight, geo, groups, mask)


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-d transposed convolution, as `torch.nn.functional.conv_transpose1d`
    (see `conv_transpose2d`). x (N, C_in, L), weight (C_in, C_out/groups, k)
    -> (N, C_out, (L - 1)s - 2p + d(k - 1) + output_padding + 1).

    >>> conv_transpose1d(np.array([[[1.0, 2.0]]]), np.ones((1, 1, 3)), stride=2)
    array([[[1., 1., 3., 2., 2.]]])
    """
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, 1)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-d transposed convolution, as `torch.nn.functional.conv_transpose2d`.

    x: (N, C_in, H, W). weight: (C_in, C_out/groups, kH, kW). bias: (C_out,) or None.
    Every input pixel scatters a copy of the kernel, scaled by its value, into
    the output at stride spacing; overlaps add; then `padding` cells are cut
    from each side and output_padding (< stride or dilation) extra cells kept
    at the end. It is the adjoint (transpose) of conv2d with the same
    arguments, which restores the shape, not the values. Returns
    (N, C_out, H_out, W_out), H_out = (H - 1)s - 2p + d(kH - 1) + output_padding + 1.
    Notebook 04.

    >>> conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), stride=2)[0, 0]
    array([[1., 1., 2., 1., 1.],
           [1., 1., 2., 1., 1.],
           [2., 2., 4., 2., 2.],
           [1., 1., 2., 1., 1.],
           [1., 1., 2., 1., 1.]])
    """
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, 2)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-d transposed convolution, as `torch.nn.functional.conv_transpose3d`
    (see `conv_transpose2d`). x (N, C_in, D, H, W), weight (C_in, C_out/groups, kD, kH, kW).

    >>> conv_transpose3d(np.ones((1, 1, 2, 2, 2)), np.ones((1, 1, 2, 2, 2)), stride=2).shape
    (1, 1, 4, 4, 4)
    """
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, 3)


def conv_transpose1d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                              output_mask=(True, True, True)):
    """Gradients of `conv_transpose1d`: (grad_x (N, C_in, L), grad_weight
    (C_in, C_out/groups, k), grad_bias (C_out,)). See `conv_transpose2d_backward`."""
    return _conv_transpose_backward(grad_out, x, weight, stride, padding, output_padding, groups, dilation, 1,
                                    output_mask)


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                              output_mask=(True, True, True)):
    """Gradients of `conv_transpose2d` given grad_out (N, C_out, H_out, W_out).

    Returns (grad_x (N, C_in, H, W), grad_weight (C_in, C_out/groups, kH, kW),
    grad_bias (C_out,)); grad_x is conv2d(grad_out, weight) with the same
    stride, padding and dilation. output_mask as in `conv2d_backward`.
    Notebook 04 (transposed convolution as an adjoint).

    >>> gx, gw, gb = conv_transpose2d_backward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))
    >>> gx[0, 0], gb
    (array([[4., 4.],
           [4., 4.]]), array([9.]))
    """
    return _conv_transpose_backward(grad_out, x, weight, stride, padding, output_padding, groups, dilation, 2,
                                    output_mask)


def conv_transpose3d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                              output_mask=(True, True, True)):
    """Gradients of `conv_transpose3d`: (grad_x, grad_weight, grad_bias). See
    `conv_transpose2d_backward`."""
    return _conv_transpose_backward(grad_out, x, weight, stride, padding, output_padding, groups, dilation, 3,
                                    output_mask)
