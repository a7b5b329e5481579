"""Notebook 04: the transposed convolution as scatter-add, its output size, and zero insertion."""
import numpy as np

from ... import reference
from ...functional import arithmetic as A
from ...functional import conv as F
from .. import geometry
from ._core import SEED, Exercise, Mistake, check, size_reader

# --- scatter-add --------------------------------------------------------------------------


def conv_transpose2d_cases(rng=None):
    """(x, w, stride) tuples: x (N, C_in, H, W), w (C_in, C_out, kH, kW)."""
    rng = np.random.default_rng(SEED + 40) if rng is None else rng
    specs = [((1, 1, 2, 2), (1, 1, 2, 2), 2),   # stride = kernel: the copies tile without overlap
             ((1, 1, 2, 2), (1, 1, 3, 3), 1),   # stride 1: the copies overlap a lot
             ((1, 1, 3, 3), (1, 1, 3, 3), 2),   # overlap of one row/column: the checkerboard
             ((1, 2, 2, 2), (2, 2, 3, 3), 2),   # C_in == C_out: the weight layout is not visible in the shape
             ((2, 3, 2, 3), (3, 2, 3, 2), 2),   # batch, non-square input and kernel
             ((1, 2, 3, 2), (2, 3, 4, 3), 3),
             ((2, 2, 3, 2), (2, 1, 3, 3), int(rng.integers(1, 3)))]
    return [(rng.integers(-3, 4, xs).astype(float), rng.integers(-2, 3, ws).astype(float), s) for xs, ws, s in specs]


def _transposed(x, w, stride):
    return reference.conv_transpose2d(x, w, stride=stride)


def _out_shape(x, w, stride):
    return ((x.shape[2] - 1) * stride + w.shape[2], (x.shape[3] - 1) * stride + w.shape[3])


def _assigned(x, w, stride, per_channel):
    """The scatter with `=` instead of `+=`: each kernel copy overwrites what
    earlier copies wrote (per input channel too, if per_channel)."""
    kh, kw = w.shape[2:]
    out = np.zeros((x.shape[0], w.shape[1], *_out_shape(x, w, stride)))
    for n in range(x.shape[0]):
        for i in range(x.shape[2]):
            for j in range(x.shape[3]):
                window = out[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                if per_channel:
                    for c in range(x.shape[1]):
                        window[...] = x[n, c, i, j] * w[c]
                else:
                    window[...] = np.einsum("c,cokl->okl", x[n, :, i, j], w)
    return out


def _transposed_mistakes():
    overwrite = ("copies of the kernel overwrite each other where they overlap (= instead of +=). Hint: every input "
                 "pixel adds x[n, c, i, j] * w[c] into out[n, :, i*s:i*s+kH, j*s:j*s+kW]: use +=.")
    return [
        Mistake(lambda x, w, s: _assigned(x, w, s, per_channel=False), overwrite),
        Mistake(lambda x, w, s: _assigned(x, w, s, per_channel=True), overwrite),
        Mistake(lambda x, w, s: _transposed(x, w[:, :, ::-1, ::-1], s),
                "you flipped the kernel by 180 degrees. Hint: in the scatter-add view input pixel (i, j) stamps "
                "w[c, o] unflipped at (i*s, j*s) (the flip appears only in the zero-insertion view)."),
        Mistake(lambda x, w, s: _transposed(x, w.swapaxes(0, 1), s),
                "you read w as (C_out, C_in, kH, kW). Hint: a transposed convolution's weight is "
                "(C_in, C_out, kH, kW) (PyTorch's layout): input channel c stamps w[c, o] into output channel o."),
        Mistake(lambda x, w, s: _transposed(x, w, 1),
                "you ignored the stride: the kernel copies are placed at (i, j). Hint: input pixel (i, j) stamps "
                "its copy at (i*stride, j*stride); the output is ((H-1)*stride + kH, (W-1)*stride + kW).",
                by_shape=True),
        Mistake(lambda x, w, s: _transposed(x, w, s).swapaxes(2, 3),
                "your output is transposed: its height and width are swapped. Hint: H_out = (H-1)*stride + kH "
                "comes from H and kH, W_out from W and kW; out[n, o, r, c] is row r, column c."),
    ]


def check_conv_transpose2d(fn):
    """Check `fn(x, w, stride) -> out`: the transposed convolution as
    scatter-add, without padding.

    x (N, C_in, H, W), w (C_in, C_out, kH, kW) -> out (N, C_out,
    (H-1)*stride + kH, (W-1)*stride + kW): every input pixel x[n, c, i, j] adds
    x[n, c, i, j] * w[c] into out[n, :, i*stride:i*stride+kH, j*stride:j*stride+kW];
    overlapping copies add up. Notebook 04, "Three equivalent views" (view 1).
    """
    return check(fn, Exercise(
        cases=conv_transpose2d_cases(), expected=_transposed,
        label=lambda x, w, s: f"x {x.shape}, w {w.shape}, stride {s}",
        shape_hint="out is (N, C_out, (H-1)*stride + kH, (W-1)*stride + kW), with C_out = w.shape[1].",
        value_hint="start from zeros and, for each input pixel (i, j), add x[n, c, i, j] * w[c] at (i*s, j*s).",
        oracle="cnnlab.reference.conv_transpose2d",
        mistakes=_transposed_mistakes(),
        forbidden=[(F.conv_transpose2d, "cnnlab.conv_transpose2d"),
                   (reference.conv_transpose2d, "cnnlab.reference.conv_transpose2d"),
                   (geometry.conv_transpose2d_direct, "cnnlab.teach.geometry.conv_transpose2d_direct")]))


# --- output size ----------------------------------------------------------------------------

def transposed_output_size_cases(rng=None):
    """(i, k[, s[, p[, output_padding]]]) tuples, some relying on the defaults."""
    rng = np.random.default_rng(SEED + 41) if rng is None else rng
    cases = [(3, 3), (2, 2, 2), (3, 3, 2),
             (4, 4, 2, 1),         # the usual "upsample by 2" layer: exactly 2i
             (3, 3, 2, 1),
             (3, 3, 2, 1, 1),      # output_padding picks the larger of two sizes
             (5, 4, 3, 2, 2)]
    while len(cases) < 10:
        i, k, s = (int(v) for v in (rng.integers(1, 12), rng.integers(1, 6), rng.integers(1, 4)))
        p, op = int(rng.integers(0, k)), int(rng.integers(0, s))
        if (i - 1) * s - 2 * p + k + op >= 1:
            cases.append((i, k, s, p, op))
    return cases


def _transposed_size(i, k, s=1, p=0, output_padding=0):
    return A.conv_transpose_output_size(i, k, s, p, output_padding)


def _size_mistakes():
    return [  # the output_padding slips first: they show only when it is > 0, where they may coincide with others
        Mistake(lambda i, k, s=1, p=0, op=0: (i - 1) * s - 2 * p + k,
                "you forgot output_padding. Hint: it adds output_padding cells at one end: "
                "o = (i - 1)s - 2p + k + output_padding."),
        Mistake(lambda i, k, s=1, p=0, op=0: (i - 1) * s - 2 * p + k + 2 * op,
                "you added output_padding twice. Hint: it is added at one end only (the bottom/right)."),
        Mistake(lambda i, k, s=1, p=0, op=0: (i + 2 * p - k) // s + 1,
                "that is the size of an ordinary convolution. Hint: a transposed convolution goes the other way, "
                "it maps a convolution's output size back to its input size: o = (i - 1)s - 2p + k + output_padding."),
        Mistake(lambda i, k, s=1, p=0, op=0: i * s,
                "the output is not simply i * s (that holds only for some k and p, such as k=4, s=2, p=1). Hint: "
                "the last kernel copy starts at (i - 1)s and is k cells long: o = (i - 1)s - 2p + k + output_padding."),
        Mistake(lambda i, k, s=1, p=0, op=0: i * s - 2 * p + k + op,
                "you used i * s. Hint: the first input cell's copy starts at 0 and the last one's at (i - 1)s: "
                "o = (i - 1)s - 2p + k + output_padding."),
        Mistake(lambda i, k, s=1, p=0, op=0: (i - 1) * s - 2 * p + k - 1 + op,
                "one too few. Hint: the last copy starts at (i - 1)s and covers k cells, so o = (i - 1)s + k "
                "before padding."),
        Mistake(lambda i, k, s=1, p=0, op=0: (i - 1) * s + 2 * p + k + op,
                "you added the padding. Hint: in a transposed convolution `padding` *removes* p cells from each "
                "border of the full output: -2p."),
        Mistake(lambda i, k, s=1, p=0, op=0: (i - 1) * s - p + k + op,
                "you subtracted the padding once. Hint: p cells are cut from both borders: -2p."),
    ]


def check_transposed_output_size(fn):
    """Check `fn(i, k, s=1, p=0, output_padding=0) -> int`: the output length of
    a transposed convolution along one axis: o = (i - 1)s - 2p + k + output_padding.
    Notebook 04, "Output size"."""
    return check(fn, Exercise(
        cases=transposed_output_size_cases(), expected=_transposed_size,
        read=size_reader(),
        label=lambda *case: ", ".join(f"{n}={v}" for n, v in zip(("i", "k", "s", "p", "output_padding"), case)),
        shape_hint="return one int.",
        value_hint="o = (i - 1)s - 2p + k + output_padding.",
        oracle="cnnlab.arithmetic.conv_transpose_output_size",
        mistakes=_size_mistakes(),
        forbidden=[(A.conv_transpose_output_size, "cnnlab.arithmetic.conv_transpose_output_size")]))


# --- zero insertion ------------------------------------------------------------------------

def zero_insert_cases(rng=None):
    """(x, stride) pairs: x (H, W) with non-zero entries, so the inserted zeros show."""
    rng = np.random.default_rng(SEED + 42) if rng is None else rng
    specs = [((2, 2), 2), ((3, 3), 2), ((2, 3), 3), ((3, 2), 1), ((1, 4), 2), ((4, 1), 3), ((3, 4), 2)]
    return [(rng.integers(1, 10, shape).astype(float), s) for shape, s in specs]


def _spread(x, step, shape):
    """x placed every `step` cells of zeros of `shape`."""
    out = np.zeros(shape)
    out[::step, ::step] = x
    return out


def _inserted_shape(x, stride):
    return (x.shape[0] - 1) * stride + 1, (x.shape[1] - 1) * stride + 1


def check_zero_insert(fn):
    """Check `fn(x, stride) -> out`: put stride - 1 zeros between neighbouring
    entries of x (H, W); out is ((H-1)*stride + 1, (W-1)*stride + 1) with
    out[::stride, ::stride] == x and zeros elsewhere (no zeros after the last
    row or column). Notebook 04, "Three equivalent views" (view 2)."""
    return check(fn, Exercise(
        cases=zero_insert_cases(), expected=lambda x, s: _spread(x, s, _inserted_shape(x, s)),
        label=lambda x, s: f"x {x.shape}, stride {s}",
        shape_hint="out is ((H-1)*stride + 1, (W-1)*stride + 1): zeros go only between entries.",
        value_hint="out = zeros, then out[::stride, ::stride] = x.",
        oracle="cnnlab.teach.geometry.zero_insert",
        mistakes=[
            Mistake(lambda x, s: _spread(x, s, (x.shape[0] * s, x.shape[1] * s)),
                    "your output has stride - 1 extra zero rows and columns after the last entry. Hint: zeros go "
                    "only *between* neighbours: ((H-1)*stride + 1, (W-1)*stride + 1)."),
            Mistake(lambda x, s: _spread(x, s + 1, ((x.shape[0] - 1) * (s + 1) + 1, (x.shape[1] - 1) * (s + 1) + 1)),
                    "you inserted `stride` zeros between neighbours. Hint: stride - 1 zeros, so neighbours end up "
                    "`stride` cells apart."),
            Mistake(lambda x, s: np.repeat(np.repeat(x, s, 0), s, 1)[:_inserted_shape(x, s)[0],
                                                                      :_inserted_shape(x, s)[1]],
                    "you repeated the entries (nearest-neighbour upsampling). Hint: the inserted cells are zeros."),
            Mistake(lambda x, s: _spread(x, s, _inserted_shape(x, s)).T,
                    "your output is transposed (H and W swapped). Hint: x[r, c] goes to out[r*stride, c*stride]."),
        ],
        forbidden=[(geometry.zero_insert, "cnnlab.teach.geometry.zero_insert")]))
