"""Locally connected layer ("local convolution", unshared weights, as in
DeepFace: Taigman et al., 2014). Notebook 03, section 4.

Like conv2d, each output position sees one kH x kW window of the input, but
every position has its own kernel: weight sharing is switched off. With the
windows unfolded by im2col, the layer is one small matrix product per
output position (an einsum over the batch).
"""
import numpy as np

from .._checks import as_array, check_shape
from .unfold import col2im, im2col
from .window import window_geometry


def _check(x, weight, stride, padding):
    x, weight = as_array(x, "input", 4), as_array(weight, "weight", 6)
    oh, ow, c_out, c_in, kh, kw = weight.shape
    if x.shape[1] != c_in:
        raise ValueError(f"input has {x.shape[1]} channels but weight expects C_in={c_in}")
    size = window_geometry(x.shape[2:], (kh, kw), stride, padding).out_size
    if size != (oh, ow):
        raise ValueError(f"weight is for a {oh}x{ow} output but input {x.shape[2:]} with kernel "
                         f"({kh}, {kw}), stride={stride}, padding={padding} gives {size[0]}x{size[1]}")
    return x, weight


def local_conv2d(x, weight, bias=None, stride=1, padding=0):
    """Locally connected 2-D layer.

    x: (N, C_in, H, W); weight: (oH, oW, C_out, C_in, kH, kW), one kernel per
    output position; bias: None or (C_out, oH, oW). Returns (N, C_out, oH, oW)
    with oH = floor((H + 2p - kH) / s) + 1 (the geometry of conv2d).
    Parameters: oH*oW*C_out*C_in*kH*kW (+ C_out*oH*oW), versus
    C_out*C_in*kH*kW (+ C_out) for the shared convolution.

    >>> w = np.ones((2, 2, 1, 1, 2, 2)); w[1, 1] = 0       # the bottom-right kernel is off
    >>> local_conv2d(np.ones((1, 1, 3, 3)), w)
    array([[[[4., 4.],
             [4., 0.]]]])
    """
    x, weight = _check(x, weight, stride, padding)
    oh, ow, c_out = weight.shape[:3]
    cols = im2col(x, weight.shape[4:], stride=stride, padding=padding)         # (N, C_in*kH*kW, oH*oW)
    out = np.einsum("nkl,lok->nol", cols, weight.reshape(oh * ow, c_out, -1))
    out = out.reshape(x.shape[0], c_out, oh, ow)
    if bias is not None:
        bias = as_array(bias, "bias", 3)
        if bias.shape != (c_out, oh, ow):
            raise ValueError(f"bias must have shape {(c_out, oh, ow)}, got {bias.shape}")
        out = out + bias
    return out


def local_conv2d_backward(grad_out, x, weight, stride=1, padding=0):
    """Gradients of `local_conv2d` given grad_out (N, C_out, oH, oW):
    (grad_x (N, C_in, H, W), grad_weight (oH, oW, C_out, C_in, kH, kW),
    grad_bias (C_out, oH, oW)). As for a convolution, but each position's
    weight gradient sums over the batch only, not over positions.

    >>> gx, gw, gb = local_conv2d_backward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), np.ones((2, 2, 1, 1, 2, 2)))
    >>> gx[0, 0], gw.shape, gb.shape
    (array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]]), (2, 2, 1, 1, 2, 2), (1, 2, 2))
    """
    x, weight = _check(x, weight, stride, padding)
    oh, ow, c_out = weight.shape[:3]
    grad_out = as_array(grad_out, "grad_out", 4)
    check_shape(grad_out, (x.shape[0], c_out, oh, ow), "grad_out")
    g = grad_out.reshape(x.shape[0], c_out, oh * ow)                           # (N, C_out, L)
    cols = im2col(x, weight.shape[4:], stride=stride, padding=padding)         # (N, K, L)
    grad_w = np.einsum("nol,nkl->lok", g, cols).reshape(weight.shape)
    grad_cols = np.einsum("nol,lok->nkl", g, weight.reshape(oh * ow, c_out, -1))
    grad_x = col2im(grad_cols, x.shape[2:], weight.shape[4:], stride=stride, padding=padding)
    return grad_x, grad_w, grad_out.sum(axis=0)
