"""Locally connected layer ("local convolution", unshared weights, as in DeepFace).

Like conv2d, each output position sees one kH x kW window of the input, but
every position has its own kernel: weight sharing is switched off.
"""
import numpy as np

from ._checks import as_array, ntuple
from .arithmetic import conv_output_size
from .unfold import im2col


def local_conv2d(x, weight, bias=None, stride=1, padding=0):
    """Locally connected 2-D layer.

    x: (N, C_in, H, W); weight: (oH, oW, C_out, C_in, kH, kW), one kernel per
    output position; bias: None or (C_out, oH, oW). Returns (N, C_out, oH, oW)
    with oH = floor((H + 2p - kH) / s) + 1 (same geometry as conv2d).
    Parameters: oH*oW*C_out*C_in*kH*kW (+ C_out*oH*oW), versus
    C_out*C_in*kH*kW (+ C_out) for the shared convolution.
    """
    x, weight = as_array(x, "input", 4), as_array(weight, "weight", 6)
    oh, ow, c_out, c_in, kh, kw = weight.shape
    if x.shape[1] != c_in:
        raise ValueError(f"input has {x.shape[1]} channels but weight expects C_in={c_in}")
    s, p = ntuple(stride, 2, "stride"), ntuple(padding, 2, "padding", minimum=0)
    size = tuple(conv_output_size(i, k, si, pi) for i, k, si, pi in zip(x.shape[2:], (kh, kw), s, p))
    if size != (oh, ow):
        raise ValueError(f"weight is for a {oh}x{ow} output but input {x.shape[2:]} with kernel "
                         f"({kh}, {kw}), stride={stride}, padding={padding} gives {size[0]}x{size[1]}")
    cols = im2col(x, (kh, kw), stride=s, padding=p)                # (N, C_in*kH*kW, oH*oW)
    out = np.einsum("nkl,lok->nol", cols, weight.reshape(oh * ow, c_out, -1))
    out = out.reshape(x.shape[0], c_out, oh, ow)
    if bias is not None:
        bias = as_array(bias, "bias", 3)
        if bias.shape != (c_out, oh, ow):
            raise ValueError(f"bias must have shape {(c_out, oh, ow)}, got {bias.shape}")
        out = out + bias
    return out
