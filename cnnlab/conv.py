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

Speed (see benchmarks/): temporaries live in reusable scratch memory
(`cnnlab.unfold.Scratch`), each GEMM is oriented the way OpenBLAS runs
fastest, validated geometry is cached per shape, big batch-last column
matrices are built a cache-sized chunk of the batch at a time, and big enough
chunks run side by side on the cores (`cnnlab.parallel`).
"""
import functools
import math

import numpy as np

from . import parallel
from ._checks import as_array, check_shape, ntuple
from .arithmetic import conv_output_size, conv_transpose_output_size, padding_amounts
from .unfold import Scratch, _batch_first, _batch_last, _cf_shape, _cf_view, _fold, _in_scratch, _unfold, scratch


# --- building blocks ---------------------------------------------------------

def _correlate(xp, weight, stride, dilation, osize, groups, cols=None, out=None):
    """Padded input (N, C, *S) correlated with weight (C_out, C/g, *k).

    Returns the output (N, C_out, *osize), new or written into `out`, and the
    columns, which backward can reuse; they live in the Scratch `cols` if
    given, else in engine scratch."""
    n, g, bl = xp.shape[0], groups, _batch_last(osize)
    cols = _unfold(xp, weight.shape[2:], stride, dilation, osize, bl, scratch("cols") if cols is None else cols)
    cm = cols.reshape(g, -1, n * math.prod(osize))
    res = np.matmul(weight.reshape(g, weight.shape[0] // g, -1), cm,
                    out=scratch("gemm").get((g, weight.shape[0] // g, cm.shape[-1]), cols.dtype))
    return _batch_first(res.reshape(_cf_shape(weight.shape[0], n, osize, bl)), bl, out), cols


def _grad_matrix(grad, groups):
    """grad (N, C_out, *o) as the (groups, C_out/groups, N*P) GEMM operand, in
    the layout `_unfold` uses for that output size."""
    bl = _batch_last(grad.shape[2:])
    return _in_scratch(_cf_view(grad, bl), "grad").reshape(groups, grad.shape[1] // groups, -1)


def _correlate_adjoint(grad, weight, stride, dilation, padded_shape, groups, gt=None, out=None):
    """Adjoint of `_correlate` in its input: (N, C_out, *o) -> (N, C, *padded_shape),
    new or written into `out`. `gt` is grad as `_grad_matrix` if the caller already has it."""
    n, cin, osize = grad.shape[0], weight.shape[1] * groups, grad.shape[2:]
    gt = _grad_matrix(grad, groups) if gt is None else gt
    wt = weight.reshape(gt.shape[0], gt.shape[1], -1).swapaxes(1, 2)
    gcols = np.matmul(wt, gt, out=scratch("gcols").get((gt.shape[0], wt.shape[1], gt.shape[2]), gt.dtype))
    bl = _batch_last(osize)
    cols = gcols.reshape(cin, *weight.shape[2:], *_cf_shape(cin, n, osize, bl)[1:])
    return _fold(cols, (n, cin, *padded_shape), stride, dilation, bl, out)


def _weight_grad(cols, gt, weight_shape):
    """Gradient of `_correlate` in its weight: sum over batch and positions of
    grad (as `_grad_matrix`) times the input windows in `cols`."""
    g = gt.shape[0]
    # (K, P) @ (P, C_out) runs 2-3x faster in OpenBLAS than (C_out, P) @ (P, K)
    # for these long-and-thin shapes; the small result is transposed afterwards.
    gw = np.matmul(cols.reshape(g, -1, gt.shape[-1]), gt.swapaxes(1, 2))
    return gw.swapaxes(1, 2).reshape(weight_shape)


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


def _frozen(value):
    """Lists (possibly nested) as tuples, so arguments can key a cache."""
    return tuple(map(_frozen, value)) if isinstance(value, (list, tuple)) else value


def _conv_geometry(x, weight, stride, padding, dilation, groups, nd):
    """Validate a convolution's arguments; return (stride, pads, dilation, groups, osize)."""
    return _conv_geometry_of(x.shape, weight.shape, *map(_frozen, (stride, padding, dilation, groups)), nd)


@functools.lru_cache(maxsize=512)
def _conv_geometry_of(x_shape, w_shape, stride, padding, dilation, groups, nd):
    """`_conv_geometry` on shapes, cached: a training loop asks the same every step."""
    c_out, c_w = w_shape[:2]
    groups = _check_groups(groups, c_out, "out_channels (weight.shape[0])")
    if x_shape[1] != c_w * groups:
        raise ValueError(f"input has {x_shape[1]} channels but weight {w_shape} with groups={groups} "
                         f"expects {c_w * groups} (= weight.shape[1] * groups)")
    stride, dilation = ntuple(stride, nd, "stride"), ntuple(dilation, nd, "dilation")
    if isinstance(padding, str):
        padding = (padding,) * nd
    elif not isinstance(padding, (tuple, list)):
        padding = (padding,) * nd
    if len(padding) != nd:
        raise ValueError(f"padding must be an int, a string or a tuple of {nd} ints, got {padding!r}")
    ks = w_shape[2:]
    pads = tuple(padding_amounts(p, k, s, d) for p, k, s, d in zip(padding, ks, stride, dilation))
    osize = tuple(conv_output_size(i, k, s, p, d) for i, k, s, p, d in zip(x_shape[2:], ks, stride, pads, dilation))
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

# Batch-last columns bigger than this are built and consumed a chunk of samples
# at a time: columns that stay in the CPU cache make the copies and GEMMs faster.
CHUNK_BYTES = 4 << 20
# Columns are also split into one chunk per thread (`cnnlab.parallel`) if every
# chunk still holds this much; smaller shares don't pay for the threads' overhead.
PARALLEL_CHUNK_BYTES = 2 << 20


def _chunks(x, weight, osize):
    """Slices of the batch that are processed together."""
    n = x.shape[0]
    cols_bytes = n * x.shape[1] * math.prod(weight.shape[2:]) * math.prod(osize) * x.itemsize
    count = -(-cols_bytes // CHUNK_BYTES) if _batch_last(osize) else 1
    count = max(count, min(parallel.workers(), cols_bytes // PARALLEL_CHUNK_BYTES))
    count = max(1, min(n, count))
    bounds = [n * i // count for i in range(count + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:])]


def _conv(x, weight, bias, stride, padding, dilation, groups, nd, memory=None):
    """The convolution. Given `memory`, a Scratch owned by the caller (a layer),
    also returns the im2col columns, kept there for `_conv_backward` (as
    autograd keeps its saved tensors), or None when the batch went in chunks:
    re-unfolding a chunk from the small input is then cheaper than reading
    back columns that have left the cache."""
    x, weight, bias = _common(x, weight, bias, nd)
    stride, pads, dilation, groups, osize = _conv_geometry(x, weight, stride, padding, dilation, groups, nd)
    _check_bias(bias, weight.shape[0])
    xp, chunks = _pad(x, pads), _chunks(x, weight, osize)
    out = np.empty((x.shape[0], weight.shape[0], *osize), x.dtype)
    keep = memory if len(chunks) == 1 else None

    def chunk(c):
        return _correlate(xp[c], weight, stride, dilation, osize, groups, keep, out=out[c])[1]

    cols = parallel.map_chunks(chunk, chunks)[0]
    if bias is not None:
        out += bias.reshape(-1, *(1,) * nd)
    return out if memory is None else (out, cols if keep is not None else None)


def _mask(output_mask):
    if len(output_mask) != 3:
        raise ValueError(f"output_mask must hold 3 flags (grad_x, grad_weight, grad_bias), got {output_mask!r}")
    return tuple(bool(m) for m in output_mask)


def _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, nd, output_mask, cols=None):
    """Gradients of `_conv`; `cols` are the columns `_conv` kept, if any."""
    want_x, want_w, want_b = _mask(output_mask)
    x, weight, _ = _common(x, weight, None, nd)
    stride, pads, dilation, groups, osize = _conv_geometry(x, weight, stride, padding, dilation, groups, nd)
    grad_out = as_array(grad_out, "grad_out", nd + 2).astype(x.dtype, copy=False)
    check_shape(grad_out, (x.shape[0], weight.shape[0], *osize), "grad_out")
    chunks = _chunks(x, weight, osize)
    if len(chunks) > 1:  # the forward keeps columns of a single chunk only
        cols = None
    xp = _pad(x, pads) if want_w and cols is None else None
    padded = tuple(size + lo + hi for size, (lo, hi) in zip(x.shape[2:], pads))
    grad_x = np.empty_like(x) if want_x else None

    def chunk(c):
        gt = grad_w = None
        if want_w:
            cc = cols if cols is not None else _unfold(xp[c], weight.shape[2:], stride, dilation, osize,
                                                       _batch_last(osize), scratch("cols"))
            gt = _grad_matrix(grad_out[c], groups)
            grad_w = _weight_grad(cc, gt, weight.shape)
        if want_x and padded == x.shape[2:]:
            _correlate_adjoint(grad_out[c], weight, stride, dilation, padded, groups, gt, out=grad_x[c])
        elif want_x:
            grad_x[c] = _crop(_correlate_adjoint(grad_out[c], weight, stride, dilation, padded, groups, gt),
                              pads, x.shape[2:])
        return grad_w

    grad_ws = parallel.map_chunks(chunk, chunks)
    grad_w = sum(grad_ws[1:], grad_ws[0]) if want_w else None
    grad_b = grad_out.sum(axis=(0, *range(2, nd + 2))) if want_b else None
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
    grad_w = _weight_grad(cols, _grad_matrix(x, groups), weight.shape)
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
