"""Size arithmetic of convolution and pooling, one spatial axis at a time.

These functions are the single source of truth for shapes: every kernel gets
its sizes from them (through `cnnlab.functional.window`), so a formula shown
in a notebook is the formula the code runs (notebooks 02 and 04). Symbols follow Dumoulin & Visin's guide:
i input size, k kernel size, s stride, p padding, d dilation, o output size.
"""
import math

import numpy as np

from .._checks import ntuple

PADDING_MODES = ("valid", "same", "full")


def _int(value, name, minimum):
    return ntuple(value, 1, name, minimum)[0]


def effective_kernel_size(k, dilation=1):
    """Span of a dilated kernel: k' = k + (k - 1)(d - 1) = d(k - 1) + 1. Notebook 02 (dilation).

    >>> effective_kernel_size(3, dilation=2)
    5
    """
    k, d = _int(k, "kernel_size", 1), _int(dilation, "dilation", 1)
    return d * (k - 1) + 1


def padding_amounts(padding, k, stride=1, dilation=1):
    """Resolve `padding` for one axis into (before, after) amounts.

    `padding` is an int p (p on both sides), a pair (before, after), or one of
    'valid' (0), 'same' (output size == input size; stride 1 only; an odd
    total puts the extra cell after, as PyTorch does) or 'full' (k' - 1 on
    both sides, every partial overlap counted). Notebook 02 (full, same and valid modes).

    >>> padding_amounts("same", 4), padding_amounts("full", 3), padding_amounts(1, 3)
    ((1, 2), (2, 2), (1, 1))
    """
    span = effective_kernel_size(k, dilation)
    if isinstance(padding, str):
        if padding not in PADDING_MODES:
            raise ValueError(f"padding must be an int, a tuple or one of {PADDING_MODES}, got {padding!r}")
        if padding == "valid":
            return 0, 0
        if padding == "full":
            return span - 1, span - 1
        if _int(stride, "stride", 1) != 1:
            raise ValueError(f"padding='same' needs stride=1, got stride={stride!r}")
        total = span - 1
        return total // 2, total - total // 2
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            raise ValueError(f"padding for one axis must be an int or (before, after), got {padding!r}")
        return ntuple(padding, 2, "padding", 0)
    p = _int(padding, "padding", 0)
    return p, p


def conv_output_size(i, k, stride=1, padding=0, dilation=1):
    """Output length of a convolution along one axis.

    o = floor((i + p_before + p_after - d(k - 1) - 1) / s) + 1, which for
    symmetric padding is Relationship 6, o = floor((i + 2p - k') / s) + 1.
    Raises ValueError when the (dilated) kernel does not fit the padded input.
    Notebook 02 (the general formula).

    >>> conv_output_size(5, 3, stride=2, padding=1), conv_output_size(6, 3, stride=2, padding=1)
    (3, 3)
    """
    i = _int(i, "input size", 1)
    s = _int(stride, "stride", 1)
    lo, hi = padding_amounts(padding, k, s, dilation)
    span = effective_kernel_size(k, dilation)
    if span > i + lo + hi:
        raise ValueError(
            f"kernel_size={k} (effective size {span} with dilation={dilation}) is larger than "
            f"the padded input (size {i} + padding {lo}+{hi} = {i + lo + hi})")
    return (i + lo + hi - span) // s + 1


def conv_transpose_output_size(i, k, stride=1, padding=0, output_padding=0, dilation=1):
    """Output length of a transposed convolution along one axis.

    o = (i - 1)s - 2p + d(k - 1) + output_padding + 1; with p = 0, d = 1 this is
    o = (i - 1)s + k. `output_padding` picks one of the s input sizes that a
    strided convolution maps to the same output size, so it must be smaller
    than the stride or the dilation. Notebook 04 (output size).

    >>> conv_transpose_output_size(3, 3, stride=2, padding=1), conv_transpose_output_size(3, 3, 2, 1, 1)
    (5, 6)
    """
    i, s = _int(i, "input size", 1), _int(stride, "stride", 1)
    d, p = _int(dilation, "dilation", 1), _int(padding, "padding", 0)
    op = _int(output_padding, "output_padding", 0)
    if op >= max(s, d):
        raise ValueError(f"output_padding={op} must be smaller than stride={s} or dilation={d}")
    o = (i - 1) * s - 2 * p + d * (_int(k, "kernel_size", 1) - 1) + op + 1
    if o < 1:
        raise ValueError(f"transposed convolution output size {o} < 1: padding={p} is too large")
    return o


def pool_output_size(i, k, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Output length of a pooling window along one axis.

    Floor mode: o = floor((i + 2p - k') / s) + 1. Ceil mode rounds up instead,
    so a partial window at the end also counts, except that the last window
    must start inside the input or its left padding (PyTorch's rule).
    `stride` defaults to the kernel size (non-overlapping windows). Notebook 02 (pooling).

    >>> pool_output_size(5, 2), pool_output_size(5, 2, ceil_mode=True)
    (2, 3)
    """
    k = _int(k, "kernel_size", 1)
    s = k if stride is None else _int(stride, "stride", 1)
    p = _int(padding, "padding", 0)
    if p > k // 2:
        raise ValueError(f"pool padding={p} must be at most half the kernel_size={k}")
    i = _int(i, "input size", 1)
    span = effective_kernel_size(k, dilation)
    if span > i + 2 * p:
        raise ValueError(
            f"pool kernel_size={k} (effective size {span}) is larger than the padded input ({i + 2 * p})")
    if not ceil_mode:
        return (i + 2 * p - span) // s + 1
    o = -(-(i + 2 * p - span) // s) + 1
    if (o - 1) * s >= i + p:
        o -= 1
    return o


def spp_bin_window(a, n):
    """Window and stride of the SPP paper for an a x a map and n x n bins:
    window ceil(a/n), stride floor(a/n). It does not always cover every cell.
    Notebook 03, section 7.

    >>> spp_bin_window(13, 3)
    (5, 4)
    """
    return math.ceil(a / n), a // n


def adaptive_bins(i, o):
    """Start and end (exclusive) of the `o` adaptive-pooling bins over `i` cells:
    start = floor(j i / o), end = ceil((j + 1) i / o). Bins cover every cell.

    >>> [b.tolist() for b in adaptive_bins(5, 3)]
    [[0, 1, 3], [2, 4, 5]]
    """
    i, o = _int(i, "input size", 1), _int(o, "output_size", 1)
    j = np.arange(o)
    return (j * i) // o, -((-(j + 1) * i) // o)


def covered_cells(i, k, stride=1, padding=0, dilation=1):
    """Boolean mask over the padded input (length i + 2p): which cells at least
    one kernel window reads. Cells left False are never seen by the layer.
    Notebook 02 (uncovered cells).

    >>> covered_cells(6, 3, stride=2, padding=1).astype(int)
    array([1, 1, 1, 1, 1, 1, 1, 0])
    """
    o = conv_output_size(i, k, stride, padding, dilation)
    lo, hi = padding_amounts(padding, k, stride, dilation)
    mask = np.zeros(i + lo + hi, dtype=bool)
    taps = np.arange(k) * dilation
    mask[(np.arange(o)[:, None] * stride + taps).ravel()] = True
    return mask


def receptive_field(layers):
    """Receptive field and jump (input cells between neighbouring outputs) after
    each layer of a stack. `layers` is a list of (kernel, stride) or
    (kernel, stride, dilation) tuples. Returns a list of (rf, jump) pairs.

    r_l = r_{l-1} + (k'_l - 1) j_{l-1},  j_l = j_{l-1} s_l, starting at r = j = 1.
    Notebook 02 (receptive fields).

    >>> receptive_field([(3, 1), (3, 1), (2, 2)])
    [(3, 1), (5, 1), (6, 2)]
    """
    rf, jump, out = 1, 1, []
    for layer in layers:
        k, s, d = (tuple(layer) + (1,))[:3]
        rf += (effective_kernel_size(k, d) - 1) * jump
        jump *= _int(s, "stride", 1)
        out.append((rf, jump))
    return out


def _prod(values):
    return math.prod(values) if isinstance(values, (tuple, list)) else values


def conv_params(in_channels, out_channels, kernel_size, groups=1, bias=True):
    """Trainable parameters of a conv layer: C_out * (C_in/groups) * prod(k) + C_out.

    `kernel_size` is an int (one axis) or a tuple (one entry per spatial axis).
    Notebooks 01 and 03.

    >>> conv_params(3, 96, (11, 11))
    34944
    """
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"in_channels={in_channels} and out_channels={out_channels} "
                         f"must be divisible by groups={groups}")
    return out_channels * (in_channels // groups) * _prod(kernel_size) + (out_channels if bias else 0)


def conv_connections(in_channels, out_channels, kernel_size, output_size, groups=1, bias=True):
    """Connections (multiply-adds plus bias terms) of a conv layer: every output
    neuron is wired to (C_in/groups) * prod(k) inputs, plus one for its bias.
    Notebook 06 (the LeNet-5 table).

    >>> conv_connections(1, 6, (5, 5), (28, 28))
    122304
    """
    fan_in = (in_channels // groups) * _prod(kernel_size) + (1 if bias else 0)
    return out_channels * _prod(output_size) * fan_in
