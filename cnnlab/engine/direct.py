"""Direct 2-d convolution in float32: the engine's compiled path.

To read the algorithm, see `cnnlab.reference.conv2d` (the plain loops):
every output is a sum over input channels and kernel taps. `_direct.c` runs
exactly those loops, with 8 or 16 output channels in one vector register and
a row tile of up to 12 output positions in 12 registers, so each input pixel
is loaded once per tap and feeds one fused multiply-add for all those
channels. Nothing is copied into im2col columns and no GEMM is called.

Why not im2col + GEMM (`engine.conv`, which still runs float64, groups and
1-d/3-d): for LeNet's 1->6 and 6->16 layers the GEMM has 6 or 16 rows, too
few for OpenBLAS to amortise its packing (C3: 119 GFLOP/s at best, 0.27 ms of
a 0.75 ms forward), and the column copies cost as much as the arithmetic.
Measured on the 2-core machine of benchmarks/README.md (N=64, one thread,
medians of one session; `make bench` has the same-run ratios): C3 forward
0.57 -> 0.33 ms, its weight gradient 0.58 -> 0.37 ms, C1's weight gradient
0.49 -> 0.34 ms, the wide 32->64 layer's forward 13.4 -> 10.2 ms.

The building blocks, for one batch chunk:

* `correlate`: out = x (padded) correlated with the weight, plus the bias;
* `correlate_rows`: the same for windows of few weights (a first layer:
  LeNet's C1 has 25 per output), with the vectors along the output row, so
  that each store writes one channel's row segment instead of a channel tile
  lane by lane (a third of C1's time): C1's forward 0.62 -> 0.29 ms
  (`rows_pay`, `correlator` picks one of the two);
* `input_grad`: the adjoint in the input, as the correlation of the output
  gradient, spread by the stride and padded by the kernel's extent, with the
  weight flipped and its two channel axes swapped; the kernel skips the rows
  that are all zeros (padding, the gaps of a stride), which took C3's input
  gradient from 1.19 to 0.85 ms. Below 4 input channels most of its 8 lanes
  would be empty, and the im2col engine's adjoint runs instead
  (`adjoint_pays`);
* `weight_grad`: the adjoint in the weight, a sum over samples and output
  positions; each block of 8 or 16 output-gradient channels is laid out
  channel-last in the C code (in L1, instead of a NumPy transpose of the
  whole gradient: C1's 0.53 -> 0.34 ms), and 12 weight taps are summed at once
  per gradient vector loaded.

Layouts: the weight is packed (blocks, C*kH*kW, vw), vw = 8 for at most 8
output channels, else 16, zero past C_out; `pack`/`unpack` convert it.

The kernels are used for float32 2-d convolutions without groups when the
compiled module was built at install (`available()`; setup.py); everything
else, and everything when CNNLAB_DIRECT=0 is set, runs in `engine.conv`.
"""
import ctypes
import math
import os

import numpy as np

from .scratch import scratch

try:
    if os.environ.get("CNNLAB_DIRECT", "1") == "0":
        raise ImportError("CNNLAB_DIRECT=0")
    from . import _direct
    _lib = ctypes.CDLL(_direct.__file__)
except (ImportError, OSError):  # not built (no C compiler at install): engine.conv does all the work
    _lib = None
else:
    _args = [ctypes.c_void_p] * 3 + [ctypes.c_int] * 14
    _lib.cnnlab_correlate2d_f32.argtypes = [ctypes.c_void_p] * 2 + _args
    _lib.cnnlab_weight_grad2d_f32.argtypes = [ctypes.c_void_p] + _args
    _lib.cnnlab_correlate2d_f32.restype = _lib.cnnlab_weight_grad2d_f32.restype = None
    _lib.cnnlab_correlate_rows2d_f32.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int] * 13
    _lib.cnnlab_correlate_rows2d_f32.restype = None
    _lib.cnnlab_max_pool2d_tiles_f32.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int] * 7
    _lib.cnnlab_max_pool2d_tiles_f32.restype = None
    _lib.cnnlab_max_pool2d_tiles_backward_f32.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int] * 7
    _lib.cnnlab_max_pool2d_tiles_backward_f32.restype = None


def available():
    """True when the compiled kernels were built and loaded."""
    return _lib is not None


# Where im2col + GEMM wins (same-session measurements, N=64 unless said): output rows narrower than
# MIN_ROW, whose tile of few accumulators waits on each multiply-add's latency (LeNet's C5, 16x5x5 ->
# 120 with a 1x1 output: 1.3 ms forward direct, 0.15 ms as one GEMM); and windows of more than
# DEEP_WINDOW weights over rows narrower than 8, where the packed weights no longer stay in the L1
# cache and a GEMM with many rows runs near its peak (256 -> 256 channels 3x3 on 7x7, N=8: 7.6 ms
# direct, 3.6 ms im2col). 128 -> 128 on 14x14 is still faster direct (6.5 vs 7.8 ms, N=16).
MIN_ROW = 4
DEEP_WINDOW = 1024
# Where `correlate_rows` (vectors along the output row) beats the channel tile of `correlate`: windows of at
# most ROW_WINDOW weights, output rows of ROW_MIN or more (N=64, one thread, same session: LeNet's C1,
# 1x28x28 -> 6@5x5 p2, 0.62 -> 0.29 ms; 3x32x32 -> 16@3x3 p1, 3.1 -> 1.0 ms; 3x32x32 -> 64@5x5 p2,
# 16.5 -> 9.4 ms; at 72 weights the two are even, and from 144 the tile wins: 16x28x28 -> 32@3x3,
# 5.7 vs 7.0 ms; rows of 8, 0.07 vs 0.10 ms).
ROW_WINDOW = 80
ROW_MIN = 12


def applies(x, weight, geo, groups):
    """True when the direct path runs this convolution: float32, 2-d, no groups, and an output row
    and window for which it beats im2col (MIN_ROW, DEEP_WINDOW)."""
    if _lib is None or x.dtype != np.float32 or len(geo.kernel) != 2 or groups != 1:
        return False
    row = geo.out_size[1]
    return row >= MIN_ROW and (row >= 8 or math.prod(weight.shape[1:]) <= DEEP_WINDOW)


def lanes(out_channels):
    """Output channels per vector: 8 for small layers (LeNet's C1), else 16."""
    return 8 if out_channels <= 8 else 16


def adjoint_pays(channels):
    """True when `input_grad` beats the im2col engine's adjoint for an input of this many channels:
    with fewer than 4, most of the 8 lanes of its vectors would hold nothing (LeNet's C1: 1.29 vs
    1.06 ms at N=64)."""
    return channels >= 4


def pack(weight, vw):
    """weight (C_out, C, kH, kW) -> (blocks, C*kH*kW, vw), zero past C_out."""
    oc = weight.shape[0]
    blocks = -(-oc // vw)
    packed = np.zeros((blocks * vw, math.prod(weight.shape[1:])), np.float32)
    packed[:oc] = weight.reshape(oc, -1)
    return np.ascontiguousarray(packed.reshape(blocks, vw, -1).transpose(0, 2, 1))


def unpack(packed, weight_shape):
    """Inverse of `pack`: (blocks, C*kH*kW, vw) -> weight_shape."""
    return packed.transpose(0, 2, 1).reshape(-1, math.prod(weight_shape[1:]))[:weight_shape[0]].reshape(weight_shape)


def _packed_bias(bias, oc, vw):
    bp = np.zeros(-(-oc // vw) * vw, np.float32)
    if bias is not None:
        bp[:oc] = bias
    return bp


def _ptr(a):
    """The address of a's data. The caller must hold a in a variable until the C call returns: a
    temporary would be freed (and its memory reused by another thread) before the kernel reads it."""
    return a.ctypes.data


def _sizes(xp, oc, geo):
    """The int arguments shared by both kernels."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = geo.kernel, geo.stride, geo.dilation, geo.out_size
    return (xp.shape[0], xp.shape[1], oc, kh, kw, *xp.shape[2:], sh, sw, dh, dw, oh, ow)


def correlate(xp, packed, bias, oc, geo, out, live=None):
    """out (m, C_out, oH, oW), C-contiguous = xp (m, C, Hp, Wp), padded, correlated with the packed
    weight, plus bias (C_out,) or None. `live`: None, or a uint8 flag per row of xp, 0 where the
    row is zero in every sample and channel (its taps are skipped)."""
    vw = packed.shape[2]
    xp, bp = np.ascontiguousarray(xp), _packed_bias(bias, oc, vw)  # named: alive until the call returns
    _lib.cnnlab_correlate2d_f32(_ptr(xp), _ptr(packed), _ptr(bp),
                                None if live is None else _ptr(live), _ptr(out), *_sizes(xp, oc, geo), vw)
    return out


def rows_pay(weight, geo):
    """True when `correlate_rows` runs this correlation: width stride 1, at most ROW_WINDOW weights per
    output channel, output rows of at least ROW_MIN."""
    return geo.stride[1] == 1 and math.prod(weight.shape[1:]) <= ROW_WINDOW and geo.out_size[1] >= ROW_MIN


def correlator(weight, geo):
    """fn(xp, bias, out) -> out: `correlate_rows` where it pays (`rows_pay`), else `correlate` with the
    weight packed once for all the chunks of a call."""
    if rows_pay(weight, geo):
        weight = np.ascontiguousarray(weight, np.float32)
        return lambda xp, bias, out: correlate_rows(xp, weight, bias, geo, out)
    oc = weight.shape[0]
    packed = pack(weight, lanes(oc))
    return lambda xp, bias, out: correlate(xp, packed, bias, oc, geo, out)


def correlate_rows(xp, weight, bias, geo, out):
    """`correlate` for windows of few weights, vectorised along the output row: the same out from xp
    (m, C, Hp, Wp) and the unpacked weight (C_out, C, kH, kW); width stride 1 (`rows_pay`)."""
    (kh, kw), (sh, _), (dh, dw), (oh, ow) = geo.kernel, geo.stride, geo.dilation, geo.out_size
    m, c, hp, wp = xp.shape
    segment = 2 * _lib.cnnlab_row_lanes()
    width = max(wp, -(-ow // segment) * segment + (kw - 1) * dw)  # whole vectors may be loaded past the row
    buf = scratch("direct_rows").get((c * kh * width,), np.float32)
    xp, weight = np.ascontiguousarray(xp), np.ascontiguousarray(weight, np.float32)
    bias = None if bias is None else np.ascontiguousarray(bias, np.float32)  # named: alive until the call returns
    _lib.cnnlab_correlate_rows2d_f32(_ptr(xp), _ptr(weight), None if bias is None else _ptr(bias), _ptr(out),
                                     _ptr(buf), width, m, c, weight.shape[0], kh, kw, hp, wp, sh, dh, dw, oh, ow)
    return out


def weight_grad(xp, grad, geo, vw):
    """The packed weight gradient (blocks, C*kH*kW, vw) of `correlate`, summed over the m samples of
    xp (m, C, Hp, Wp) and grad (m, C_out, oH, oW)."""
    oc = grad.shape[1]
    xp, grad = np.ascontiguousarray(xp), np.ascontiguousarray(grad)
    buf = scratch("direct_grad").get((math.prod(geo.out_size) * vw,), np.float32)
    packed = np.zeros((-(-oc // vw), xp.shape[1] * math.prod(geo.kernel), vw), np.float32)
    _lib.cnnlab_weight_grad2d_f32(_ptr(xp), _ptr(grad), _ptr(buf), _ptr(packed), *_sizes(xp, oc, geo), vw)
    return packed


def adjoint_geometry(geo, padded_size):
    """The geometry of `input_grad`'s correlation: stride 1, the forward's dilation, and an
    output of the forward's padded input size."""
    return type(geo)(geo.kernel, (1, 1), ((0, 0), (0, 0)), geo.dilation, tuple(padded_size))


def input_grad(grad, flipped, geo, padded_size, out):
    """out (m, C, Hp, Wp), C-contiguous: the gradient of `correlate` in its padded input, for
    grad (m, C_out, oH, oW); `flipped` is `pack(flip(weight))` (see `flip`)."""
    m, oc = grad.shape[:2]
    reach = [d * (k - 1) for k, d in zip(geo.kernel, geo.dilation)]
    # grad spread by the stride, with `reach` zeros before it and enough after to reach padded_size
    spread = scratch("direct_spread").get((m, oc, *(p + r for p, r in zip(padded_size, reach))), np.float32)
    spread.fill(0)
    rows, cols = (slice(r, r + s * (o - 1) + 1, s) for r, s, o in zip(reach, geo.stride, geo.out_size))
    spread[:, :, rows, cols] = grad
    live = np.zeros(spread.shape[2], np.uint8)
    live[rows] = 1  # the kernel skips the rows of zeros: the padding, and the gaps of a stride > 1
    return correlate(spread, flipped, None, out.shape[1], adjoint_geometry(geo, padded_size), out, live)


def flip(weight):
    """weight (C_out, C, kH, kW) -> (C, C_out, kH, kW) with the taps reversed: the kernel of `input_grad`."""
    return weight[:, :, ::-1, ::-1].swapaxes(0, 1)


# --- max pooling over tiling windows -------------------------------------------------------
# `cnnlab.functional.pool` makes one NumPy pass per kernel tap (its readable form); for float32
# windows that tile the input (LeNet's 2x2, stride 2) one C pass each does the work (one thread,
# same session): the forward gathers a tap of 8 windows into a vector and selects without
# branches, 64x6x28x28 0.35 -> 0.13 ms, 64x16x10x10 0.19 -> 0.10 ms (a scalar running select with
# branches, 1.1 ms, lost to NumPy); the gradient writes the winners' values into zeros,
# 64x6x28x28 0.37 -> 0.19 ms.

def pools(x, geo):
    """True when `max_pool_tiles` and `max_pool_tiles_backward` run this max pooling: float32, 2-d
    windows that tile the input."""
    return (_lib is not None and x.dtype == np.float32 and len(geo.kernel) == 2 and geo.tiles
            and math.prod(geo.kernel) < 128
            and all(o * k <= n for o, k, n in zip(geo.out_size, geo.kernel, x.shape[2:])))


def max_pool_tiles(x, geo):
    """(out, winners) of max pooling over tiling windows, as `cnnlab.max_pool2d_winners`."""
    x = np.ascontiguousarray(x, np.float32)
    out = np.empty((*x.shape[:2], *geo.out_size), np.float32)
    winners = np.empty(out.shape, np.int8)
    _lib.cnnlab_max_pool2d_tiles_f32(_ptr(x), _ptr(out), _ptr(winners), x.shape[0] * x.shape[1], *x.shape[2:],
                                     *geo.kernel, *geo.out_size)
    return out, winners


def max_pool_tiles_backward(grad_out, winners, geo, shape):
    """grad_x (shape (N, C, H, W)) of max pooling over tiling windows: grad_out (N, C, oH, oW) at each
    window's winning tap (`winners`, from `cnnlab.max_pool2d_winners`), zero elsewhere."""
    grad_out = np.ascontiguousarray(grad_out, np.float32)
    winners = np.ascontiguousarray(winners, np.int8)
    grad = np.empty(shape, np.float32)
    _lib.cnnlab_max_pool2d_tiles_backward_f32(_ptr(grad_out), _ptr(winners), _ptr(grad), shape[0] * shape[1],
                                              *shape[2:], *geo.kernel, *geo.out_size)
    return grad
