"""Footprints, overlap counts, upsampling and convolution matrices.

Plain functions behind the explorers in `cnnlab.widgets` and the figures of
notebooks 02 and 04. Sizes come from `cnnlab.arithmetic` and values from the
kernels in `cnnlab.conv`, so nothing here restates a formula. Spatial sizes
are (H, W) pairs or ints (square); images are NCHW.
"""
import numpy as np

from .._checks import as_array, ntuple
from ..functional import arithmetic
from ..functional.conv import conv2d, conv_transpose1d, conv_transpose2d
from ..nn.autoencoders import upsample2d

UPSAMPLE_METHODS = ("nearest", "bilinear")


def footprint(out_index, k, stride=1, padding=0, dilation=1, size=None):
    """Padded-input cells read by output cell `out_index` along one axis.

    Returns the int array out_index*s + d*arange(k) (length k). When the input
    `size` is given, `out_index` is checked against the output size."""
    o_idx = ntuple(out_index, 1, "out_index", 0)[0]
    if size is not None:
        o = arithmetic.conv_output_size(size, k, stride, padding, dilation)
        if o_idx >= o:
            raise ValueError(f"out_index={o_idx} is outside the output of size {o}")
    k, s, d = (ntuple(v, 1, n)[0] for v, n in ((k, "kernel_size"), (stride, "stride"), (dilation, "dilation")))
    return o_idx * s + d * np.arange(k)


def footprint_2d(out_rc, padded_shape, k, stride=1, dilation=1):
    """Boolean mask (Hp, Wp) over the padded input: the cells output (r, c) reads.

    Taps falling outside the padded grid (possible for ceil-mode pooling) are dropped."""
    (r, c), (hp, wp) = ntuple(out_rc, 2, "out_rc", 0), ntuple(padded_shape, 2, "padded_shape")
    k, s, d = ntuple(k, 2, "kernel_size"), ntuple(stride, 2, "stride"), ntuple(dilation, 2, "dilation")
    rows = footprint(r, k[0], s[0], dilation=d[0])
    cols = footprint(c, k[1], s[1], dilation=d[1])
    mask = np.zeros((hp, wp), dtype=bool)
    mask[np.ix_(rows[rows < hp], cols[cols < wp])] = True
    return mask


def padded_grid_mask(size, padding):
    """Boolean mask over the padded input (H + 2pH, W + 2pW): True where a cell is padding."""
    (h, w), (ph, pw) = ntuple(size, 2, "size"), ntuple(padding, 2, "padding", 0)
    mask = np.ones((h + 2 * ph, w + 2 * pw), dtype=bool)
    mask[ph:ph + h, pw:pw + w] = False
    return mask


def covered_1d(o, padded_size, k, stride=1, dilation=1):
    """Boolean mask (padded_size,): cells read by at least one of `o` windows.

    Unlike `arithmetic.covered_cells` the output size `o` is given, so the same
    function serves convolution and (ceil-mode) pooling."""
    taps = (np.arange(o)[:, None] * stride + np.arange(k) * dilation).ravel()
    mask = np.zeros(padded_size, dtype=bool)
    mask[taps[taps < padded_size]] = True
    return mask


def overlap_counts_1d(i, k, s):
    """How many kernel copies a stride-`s` transposed convolution of a length-`i`
    input with a length-`k` kernel adds onto each output cell: (o,), o = (i-1)s + k.

    Computed by running `conv_transpose1d` on ones with a ones kernel."""
    k, s = ntuple(k, 1, "kernel_size")[0], ntuple(s, 1, "stride")[0]
    i = ntuple(i, 1, "input size")[0]
    return conv_transpose1d(np.ones((1, 1, i)), np.ones((1, 1, k)), stride=s)[0, 0].round().astype(int)


def overlap_counts_2d(size, k, s):
    """2-d overlap counts (oH, oW) of a transposed convolution: `conv_transpose2d`
    of a ones (H, W) input with a ones kernel. Equals the outer product of the
    per-axis `overlap_counts_1d` (tested)."""
    (h, w), (kh, kw) = ntuple(size, 2, "size"), ntuple(k, 2, "kernel_size")
    out = conv_transpose2d(np.ones((1, 1, h, w)), np.ones((1, 1, kh, kw)), stride=ntuple(s, 2, "stride"))
    return out[0, 0].round().astype(int)


def unevenness(values, margin=0):
    """Max/min ratio of `values` after cropping `margin` cells from every edge:
    1.0 means perfectly even, 2.0 means some cells get twice as much as others.

    Border cells are always short of overlaps, so the crop judges the interior
    only. Returns nan when the crop leaves nothing."""
    values = np.asarray(values, dtype=float)
    m = ntuple(margin, 1, "margin", 0)[0]
    inner = values[tuple(slice(m, n - m) for n in values.shape)]
    if inner.size == 0:
        return float("nan")
    lo, hi = np.abs(inner).min(), np.abs(inner).max()
    if lo == 0:
        return float("inf") if hi > 0 else 1.0
    return float(hi / lo)


def upsample(x, factor, method="nearest"):
    """Upsample (N, C, H, W) -> (N, C, H*f, W*f).

    'nearest' repeats every pixel f x f times (a Kronecker product with ones);
    'bilinear' interpolates separably like `F.interpolate(mode='bilinear',
    align_corners=False)`: one matrix per axis. The kernel is
    `cnnlab.nn.autoencoders.upsample2d` (with its backward, notebook 08)."""
    if method not in UPSAMPLE_METHODS:
        raise ValueError(f"method must be one of {UPSAMPLE_METHODS}, got {method!r}")
    return upsample2d(x, factor, mode=method)


def zero_insert(x, stride):
    """Put stride-1 zeros between neighbouring pixels: (N, C, H, W) ->
    (N, C, (H-1)s + 1, (W-1)s + 1). The first step of the 'direct convolution'
    view of a transposed convolution."""
    x = as_array(x, "x", 4)
    sh, sw = ntuple(stride, 2, "stride")
    out = np.zeros(x.shape[:2] + ((x.shape[2] - 1) * sh + 1, (x.shape[3] - 1) * sw + 1), dtype=x.dtype)
    out[:, :, ::sh, ::sw] = x
    return out


def _weight4(weight):
    weight = as_array(weight, "weight", (2, 4))
    return weight[None, None] if weight.ndim == 2 else weight


def _input_shape(input_shape, weight):
    shape = tuple(input_shape)
    if len(shape) == 2:
        shape = (weight.shape[1],) + shape
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (H, W) or (C, H, W), got {input_shape!r}")
    return shape


def linear_operator_matrix(fn, input_shape):
    """Dense matrix A of a linear map `fn` on (N, C, H, W) batches, with
    fn(x).ravel() == A @ x.ravel() for one image of shape (C, H, W).

    Built in one call: `fn` is applied to the batch of one-hot images (the
    columns of the identity), and output n is column n of A."""
    n = int(np.prod(input_shape))
    out = fn(np.eye(n).reshape((n,) + tuple(input_shape)))
    return out.reshape(n, -1).T


def conv_matrix(input_shape, weight, stride=1, padding=0, dilation=1):
    """Convolution matrix C (C_out*oH*oW, C_in*H*W) with
    conv2d(x, weight, ...).ravel() == C @ x.ravel() for x of shape `input_shape`
    ((H, W) or (C_in, H, W)); weight (C_out, C_in, kH, kW) or (kH, kW).

    Its transpose is the transposed convolution with the same weight:
    conv_transpose2d(y, weight, ...) == (C.T @ y.ravel()) (with the output_padding
    that restores the input size)."""
    weight = _weight4(weight)
    shape = _input_shape(input_shape, weight)
    return linear_operator_matrix(lambda x: conv2d(x, weight, stride=stride, padding=padding, dilation=dilation),
                                  shape)


def resize_conv(x, weight, factor, method="nearest", padding="same"):
    """Resize-convolution (Odena et al. 2016): upsample by `factor` then a
    stride-1 convolution. x (N, C_in, H, W), weight (C_out, C_in, kH, kW) or
    (kH, kW) -> (N, C_out, H', W') with H' = conv_output_size(H*f, kH, 1, padding)."""
    return conv2d(upsample(x, factor, method), _weight4(weight), padding=padding)


def resize_conv_matrix(input_shape, weight, factor, method="nearest", padding="same"):
    """Dense matrix of `resize_conv` on inputs of `input_shape` ((H, W) or (C, H, W))."""
    weight = _weight4(weight)
    shape = _input_shape(input_shape, weight)
    return linear_operator_matrix(lambda x: resize_conv(x, weight, factor, method, padding), shape)


def resize_conv_kernel(weight, factor):
    """The transposed-convolution kernel equivalent to nearest resize-convolution.

    Nearest upsampling by f followed by a valid correlation with w (kH, kW)
    equals a stride-f transposed convolution with kernel g (kH+f-1, kW+f-1),
    g = sum of the f*f shifted copies of the flipped w (a 'full' correlation
    with ones(f, f)), cropped by k-1 on every side (tested). Each output cell
    gets the same total weight, hence no checkerboard."""
    w = as_array(weight, "weight", 2)[::-1, ::-1]
    f = ntuple(factor, 1, "factor")[0]
    return conv2d(w[None, None], np.ones((1, 1, f, f)), padding="full")[0, 0]


def stacked_upsampling(x, weight, layers, stride, method="transposed"):
    """Apply `layers` upsampling layers with the same single-channel kernel (kH, kW).

    method 'transposed': conv_transpose2d with `stride`; 'nearest'/'bilinear':
    resize-convolution with factor `stride` and 'same' padding. Returns the
    list of the `layers` outputs, each (N, 1, H_l, W_l)."""
    w = _weight4(weight)
    outs = []
    for _ in range(ntuple(layers, 1, "layers")[0]):
        if method == "transposed":
            x = conv_transpose2d(x, w, stride=stride)
        elif method in UPSAMPLE_METHODS:
            x = resize_conv(x, w, stride, method)
        else:
            raise ValueError(f"method must be 'transposed' or one of {UPSAMPLE_METHODS}, got {method!r}")
        outs.append(x)
    return outs


def border_margin(k, s, layers, method="transposed"):
    """Cells from each edge that the borders disturb after `layers` layers of
    `stacked_upsampling`: a transposed conv adds k-1 partial-overlap cells per
    layer (and scales earlier ones by s); a 'same' resize-conv adds k//2, plus
    one input cell of interpolation reach for bilinear."""
    m = 0
    for _ in range(layers):
        if method == "transposed":
            m = m * s + k - 1
        else:
            m = (m + (method == "bilinear")) * s + k // 2
    return m


def conv_transpose2d_direct(x, weight, stride=1, padding=0, output_padding=0):
    """Transposed convolution as an ordinary one (the 'direct convolution' view):
    insert stride-1 zeros between the input pixels, pad with k-1-p zeros on each
    side (plus output_padding after), then correlate (stride 1) with the kernel
    rotated by 180 degrees and its in/out channels swapped.

    x (N, C_in, H, W), weight (C_in, C_out, kH, kW) as for `conv_transpose2d`,
    whose result this equals (tested); no groups or dilation."""
    x, w = as_array(x, "x", 4), as_array(weight, "weight", 4)
    (ph, pw), (oph, opw) = ntuple(padding, 2, "padding", 0), ntuple(output_padding, 2, "output_padding", 0)
    kh, kw = w.shape[2:]
    if ph > kh - 1 or pw > kw - 1:
        raise ValueError(f"padding={padding} must be at most kernel_size - 1 = ({kh - 1}, {kw - 1}) here")
    z = zero_insert(x, stride)
    z = np.pad(z, ((0, 0), (0, 0), (kh - 1 - ph, kh - 1 - ph + oph), (kw - 1 - pw, kw - 1 - pw + opw)))
    return conv2d(z, w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).copy())


def phase_sums(weight, stride):
    """The (sH, sW) table of phase sums of a kernel (kH, kW): entry (a, b) is
    w[a::sH, b::sW].sum(). Away from the border, a stride-s transposed
    convolution of a constant 1 gives out[r, c] = P[r % sH, c % sW] (tested):
    the output is even exactly when all phase sums are equal. Notebook 04
    (checkerboard artifacts)."""
    w = as_array(weight, "weight", 2)
    sh, sw = ntuple(stride, 2, "stride")
    return np.array([[w[a::sh, b::sw].sum() for b in range(sw)] for a in range(sh)])


def resize_conv_parts(input_shape, weight, factor):
    """Nearest resize-convolution (valid padding) split into transposed
    convolutions: one dense matrix (o*o, H*W) per shift (u, v) < (f, f), the
    stride-f transposed convolution with the rotated kernel shifted by (u, v),
    cropped by k-1 cells on every side. Their sum is
    `resize_conv_matrix(input_shape, weight, f, 'nearest', padding=0)` (tested):
    resize-convolution is the deconvolution matrix plus its shifted copies.
    input_shape (H, W); weight (k, k). Notebook 04 (fixes)."""
    w = as_array(weight, "weight", 2)[::-1, ::-1]
    f = ntuple(factor, 1, "factor")[0]
    (kh, kw), shape = w.shape, (1,) + tuple(ntuple(input_shape, 2, "input_shape"))

    def part(u, v):
        copy = np.pad(w, ((u, f - 1 - u), (v, f - 1 - v)))[None, None]
        def fn(x):
            out = conv_transpose2d(x, copy, stride=f)
            return out[:, :, kh - 1:out.shape[2] - kh + 1, kw - 1:out.shape[3] - kw + 1]
        return linear_operator_matrix(fn, shape)
    return [part(u, v) for u in range(f) for v in range(f)]
