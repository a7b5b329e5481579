"""im2col and col2im: convolution as one matrix product, with the conventions
of `torch.nn.functional.unfold` and `fold`.

Every output position of a convolution reads one window of the padded
input. Copying each window into a column turns the whole convolution into a
single GEMM, `weight.reshape(C_out, -1) @ im2col(x, k)`: the trick behind
Caffe's convolution and cuDNN's "implicit GEMM" (Chellapilla, Puri & Simard,
2006). Notebook 05, section 5 develops it; `cnnlab.reference.im2col` is the
readable version (one slice per kernel tap), this one uses the engine's
single strided copy.
"""
import numpy as np

from .._checks import as_array, ntuple
from ..engine import layout
from .window import window_geometry


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Unfold sliding windows into columns, as `torch.nn.functional.unfold`.

    x: (N, C, H, W) -> (N, C*kH*kW, L) with L = H_out*W_out output positions
    in row-major order. Row c*kH*kW + i*kW + j holds channel c at kernel tap
    (i, j), so a conv2d is `weight.reshape(C_out, -1) @ im2col(x, ...)`
    reshaped to (N, C_out, H_out, W_out). Arguments as in `cnnlab.conv2d`.

    >>> im2col(np.arange(9.0).reshape(1, 1, 3, 3), 2)[0]
    array([[0., 1., 3., 4.],
           [1., 2., 4., 5.],
           [3., 4., 6., 7.],
           [4., 5., 7., 8.]])
    """
    x = as_array(x, "input", 4)
    geo = window_geometry(x.shape[2:], kernel_size, stride, padding, dilation)
    n, c = x.shape[:2]
    return np.ascontiguousarray(layout.windows(geo.pad(x), geo)).reshape(n, c * geo.kernel[0] * geo.kernel[1], -1)


def col2im(cols, output_size, kernel_size, stride=1, padding=0, dilation=1):
    """Fold columns back into an image, as `torch.nn.functional.fold`: the
    adjoint (not the inverse) of `im2col`, so cells read by several windows
    receive the sum of their copies.

    cols: (N, C*kH*kW, L) -> (N, C, H, W) with (H, W) = output_size.

    >>> col2im(np.ones((1, 4, 4)), (3, 3), 2)[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    cols = as_array(cols, "cols", 3)
    size = ntuple(output_size, 2, "output_size")
    geo = window_geometry(size, kernel_size, stride, padding, dilation)
    n, rows, length = cols.shape
    taps = geo.kernel[0] * geo.kernel[1]
    positions = geo.out_size[0] * geo.out_size[1]
    if rows % taps or length != positions:
        raise ValueError(f"cols shape {cols.shape} does not match kernel_size={geo.kernel} and "
                         f"{geo.out_size[0]}x{geo.out_size[1]}={positions} windows")
    c = rows // taps
    out = np.empty((n, c, *geo.padded_size(size)), cols.dtype)
    layout.fold(cols.reshape(n, c, *geo.kernel, *geo.out_size), geo, out)
    return np.ascontiguousarray(geo.crop(out))


unfold, fold = im2col, col2im  # the names torch.nn.functional uses
