"""Notebook 01: the valid 2-D cross-correlation, the multi-channel conv2d
forward pass, and separable kernels."""
import numpy as np

from ... import reference
from ...functional import conv as F
from .. import filters
from ._core import SEED, Exercise, Mistake, Unreadable, check


def correlate2d_cases(rng=None):
    """(image, kernel) pairs of 2-D arrays: square, rectangular, 1x1 and full-size kernels."""
    rng = np.random.default_rng(SEED) if rng is None else rng
    shapes = [((6, 6), (3, 3)), ((5, 7), (2, 3)), ((4, 4), (1, 1)), ((3, 5), (3, 5)), ((8, 5), (4, 2))]
    return [(rng.integers(-4, 5, s).astype(float), rng.integers(-3, 4, k).astype(float)) for s, k in shapes]


def _correlate(image, kernel):
    return reference.conv2d(image[None, None], kernel[None, None])[0, 0]


def check_correlate2d(fn):
    """Check `fn(image, kernel) -> out`: the 'valid' 2-D cross-correlation of a
    (H, W) image with a (kH, kW) kernel, out of shape (H - kH + 1, W - kW + 1),
    out[r, c] = sum(image[r:r+kH, c:c+kW] * kernel). Notebook 01, section 2."""
    return check(fn, Exercise(
        cases=correlate2d_cases(), expected=_correlate,
        label=lambda image, kernel: f"image {image.shape}, kernel {kernel.shape}",
        shape_hint="a valid correlation has one output per window position that fits inside the image, "
                   "i.e. (H - kH + 1, W - kW + 1).",
        value_hint="each output cell is sum(image[r:r+kH, c:c+kW] * kernel).",
        oracle="cnnlab.reference.conv2d",
        mistakes=[Mistake(lambda image, kernel: _correlate(image, kernel[::-1, ::-1]),
                          "you computed a true convolution (kernel flipped by 180 degrees). Hint: cross-correlation, "
                          "what CNN layers compute, uses kernel[i, j] unflipped at window offset (i, j)."),
                  Mistake(lambda image, kernel: _correlate(image, kernel.T),
                          "you used the kernel transposed (kernel[j, i] at offset (i, j)): rows and columns are "
                          "swapped somewhere. Hint: image[r, c] is row r, column c, and kernel[i, j] multiplies "
                          "image[r + i, c + j].")],
        forbidden=[(F.conv2d, "cnnlab.conv2d"), (reference.conv2d, "cnnlab.reference.conv2d"),
                   (reference.conv2d_im2col, "cnnlab.reference.conv2d_im2col")]))


# --- conv2d forward ------------------------------------------------------------------

def _conv_spec(rng):
    """A random (x shape, w shape, stride, pad) whose kernel fits the padded input."""
    kh, kw = rng.integers(1, 4, 2)
    h, w = rng.integers(max(kh, 2), 8), rng.integers(max(kw, 2), 8)
    n, c, f = rng.integers(1, 4, 3)
    return (n, c, h, w), (f, c, kh, kw), int(rng.integers(1, 4)), int(rng.integers(0, 3))


def conv2d_forward_cases(rng=None):
    """(x, w, b, stride, pad) tuples with small integer values (so the
    numbers are readable) and a bias that is never zero."""
    rng = np.random.default_rng(SEED + 10) if rng is None else rng
    specs = [((1, 1, 4, 4), (1, 1, 3, 3), 1, 0),   # one map, one kernel
             ((1, 1, 5, 5), (1, 1, 3, 3), 2, 1),   # stride and padding
             ((1, 2, 6, 6), (2, 2, 3, 3), 2, 0),   # stride 2 does not divide 6 - 3: the last row is never read
             ((2, 3, 5, 7), (4, 3, 2, 3), 2, 1),   # non-square input and kernel, batch 2
             ((2, 2, 3, 4), (3, 2, 3, 3), 1, 2),   # padding wider than the kernel's radius
             ((1, 3, 4, 3), (2, 3, 1, 1), 1, 0),   # 1x1 kernel
             _conv_spec(rng), _conv_spec(rng)]
    cases = []
    for x_shape, w_shape, stride, pad in specs:
        bias = rng.integers(1, 4, w_shape[0]) * rng.choice([-1, 1], w_shape[0])
        cases.append((rng.integers(-3, 4, x_shape).astype(float), rng.integers(-2, 3, w_shape).astype(float),
                      bias.astype(float), stride, pad))
    return cases


def _conv(x, w, b, stride, pad):
    return reference.conv2d(x, w, b, stride, pad)


def _out_size(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


def _conv2d_mistakes():
    return [
        Mistake(lambda x, w, b, s, p: _conv(x, w[:, :, ::-1, ::-1], b, s, p),
                "you flipped the kernel by 180 degrees (a true convolution). Hint: a conv layer computes a "
                "cross-correlation: w[f, c, u, v] multiplies x_pad[n, c, i*stride + u, j*stride + v], unflipped."),
        Mistake(lambda x, w, b, s, p: _conv(x, w, None, s, p),
                "the bias is missing. Hint: add b[f] once to every cell of output map f."),
        Mistake(lambda x, w, b, s, p: _conv(x, w, b, s, p) + (x.shape[1] - 1) * b[:, None, None],
                "the bias is added once per input channel. Hint: sum over the channels and taps first, then add "
                "b[f] once per output cell."),
        Mistake(lambda x, w, b, s, p: _conv(x, w, b, 1, p)[:, :, :_out_size(x.shape[2], w.shape[2], s, p),
                                                          :_out_size(x.shape[3], w.shape[3], s, p)],
                "your output has the right size but every window starts at (i, j): the stride is ignored in the "
                "window positions. Hint: the window of output (i, j) starts at row i*stride and column j*stride "
                "of the padded input."),
        Mistake(lambda x, w, b, s, p: _conv(x, w, b, 1, p),
                "you ignored the stride (your output is the stride-1 result). Hint: the window moves by `stride` "
                "cells: H_out = (H + 2*pad - kH) // stride + 1.", by_shape=True),
        Mistake(lambda x, w, b, s, p: _conv(np.pad(x, [(0, 0), (0, 0), (p, 0), (p, 0)]), w, b, s, 0),
                "you padded only the top and left borders. Hint: `pad` is per side: pad zeros on all four borders, "
                "np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))."),
        Mistake(lambda x, w, b, s, p: _conv(x, w, b, s, 0),
                "you ignored the padding. Hint: first pad x with `pad` zeros on every border, then slide the kernel "
                "over the padded input: H_out = (H + 2*pad - kH) // stride + 1.", by_shape=True),
        Mistake(lambda x, w, b, s, p: _conv(x, w.swapaxes(2, 3), b, s, p),
                "you used each kernel transposed (w[f, c, v, u] at tap (u, v)): rows and columns are swapped. "
                "Hint: w[f, c, u, v] multiplies the cell u rows down and v columns right of the window's corner."),
        Mistake(lambda x, w, b, s, p: _conv(x, w, b, s, p).swapaxes(2, 3),
                "your output is transposed: H_out and W_out swapped. Hint: out[n, f, i, j] is output row i, "
                "column j; its window starts at row i*stride and column j*stride."),
    ]


def check_conv2d_forward(fn):
    """Check `fn(x, w, b, stride, pad) -> out`: the forward pass of a conv layer.

    x (N, C, H, W), w (F, C, kH, kW), b (F,), stride and pad ints (pad zeros
    on each side) -> out (N, F, H_out, W_out), H_out = (H + 2*pad - kH) // stride + 1,
    out[n, f, i, j] = b[f] + sum over c, u, v of x_pad[n, c, i*stride + u, j*stride + v] * w[f, c, u, v]:
    a cross-correlation (the kernel is not flipped). Notebook 01, section 5
    (multi-channel input), with the stride and padding of notebook 02.
    """
    return check(fn, Exercise(
        cases=conv2d_forward_cases(), expected=_conv,
        label=lambda x, w, b, s, p: f"x {x.shape}, w {w.shape}, stride {s}, pad {p}",
        shape_hint="out is (N, F, H_out, W_out) with H_out = (H + 2*pad - kH) // stride + 1, "
                   "W_out = (W + 2*pad - kW) // stride + 1.",
        value_hint="out[n, f, i, j] = b[f] + sum(x_pad[n, :, i*stride:i*stride+kH, j*stride:j*stride+kW] * w[f]).",
        oracle="cnnlab.reference.conv2d",
        mistakes=_conv2d_mistakes(),
        forbidden=[(F.conv2d, "cnnlab.conv2d"), (reference.conv2d, "cnnlab.reference.conv2d"),
                   (reference.conv2d_im2col, "cnnlab.reference.conv2d_im2col")]))


# --- separable kernels -----------------------------------------------------------------

def separable_factors_cases(rng=None):
    """(kernel,) tuples: separable ones (Sobel, box, Gaussian, a row, rank-1
    products, one whose first row is zero) and non-separable ones (the
    Laplacian, Sobel X + Sobel Y, a random matrix)."""
    rng = np.random.default_rng(SEED + 11) if rng is None else rng
    sobel_x = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    kernels = [sobel_x,
               np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]),             # Laplacian: rank 2
               np.ones((3, 3)) / 9,
               filters.gaussian(5, 1.0),                                  # rank 1 only up to rounding
               np.outer([0.0, 1, -2], [1.0, 2, 0, -1, 3]),                 # first row zero: kernel[0, 0] == 0
               sobel_x + sobel_x.T,                                       # rank 2
               np.array([[1.0, -2, 3, 0.5]]),                             # a single row is always separable
               np.outer(rng.standard_normal(4), rng.standard_normal(2)),
               rng.standard_normal((4, 3))]
    return [(k,) for k in kernels]


def _read_factors(result, kernel):
    """[separable flag, np.outer(u, v)] from the student's (u, v) or None."""
    if result is None:
        return [np.asarray(0.0), np.zeros(kernel.shape)]
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Unreadable(f"your function returned {type(result).__name__}, expected a pair (u, v) "
                         f"with np.outer(u, v) == kernel, or None.")
    try:
        return [np.asarray(1.0), np.outer(np.asarray(result[0], float), np.asarray(result[1], float))]
    except (TypeError, ValueError):
        raise Unreadable("u and v must be 1-D numeric arrays.") from None


def _factors(kernel):
    if filters.is_separable(kernel):
        return 1.0, kernel
    return 0.0, np.zeros(kernel.shape)


def _column_of_vh(kernel):
    """s[0] * outer(U[:, 0], Vh[:, 0]): v read from a column of Vh instead of a row."""
    u, s, vh = np.linalg.svd(kernel)
    return s[0] * np.outer(u[:, 0], vh[:, 0])


def _separable_mistakes():
    said = [lambda got, k: got[0] == 0 and filters.is_separable(k),
            lambda got, k: got[0] == 1 and not filters.is_separable(k)]
    return [
        Mistake(when=said[0], hint="you returned None, but this kernel is separable (rank 1). Hint: in floating "
                "point its second singular value is zero only up to rounding (about 1e-16 times the first): test "
                "s[1] <= 1e-10 * s[0], not s[1] == 0."),
        Mistake(when=said[1], hint="you returned factors, but this kernel is not separable (its rank is 2 or more, "
                "like the Laplacian's), so no np.outer(u, v) equals it. Hint: return None when the second singular "
                "value s[1] is not negligible against s[0]."),
        Mistake(when=lambda got, k: not np.all(np.isfinite(got[1])),
                hint="np.outer(u, v) contains nan or inf: did you divide by a kernel entry that is 0 (such as "
                     "kernel[0, 0])? Hint: read u and v off the SVD, u = U[:, 0] * sqrt(s[0]), "
                     "v = Vh[0] * sqrt(s[0])."),
        Mistake(lambda k: (None, k / np.linalg.svd(k, compute_uv=False)[0]),
                "np.outer(u, v) is the kernel divided by its first singular value s[0]: you left s[0] out. "
                "Hint: scale u and v by sqrt(s[0]) each (or one of them by s[0])."),
        Mistake(lambda k: (None, _column_of_vh(k)),
                "you took v from a column of Vh. Hint: np.linalg.svd returns Vh whose *rows* are the right "
                "singular vectors: v comes from Vh[0], not Vh[:, 0]."),
        Mistake(lambda k: (None, k.T),
                "u and v are swapped: np.outer(u, v) is the kernel transposed. Hint: u is the column factor "
                "(length kH: every column of the kernel is a multiple of u), v the row factor (length kW)."),
    ]


def check_separable_factors(fn):
    """Check `fn(kernel) -> (u, v)` or None: factor a separable 2-D kernel.

    kernel (kH, kW). If it has rank 1, return 1-D arrays u (kH,) and v (kW,)
    with np.outer(u, v) == kernel (use an SVD; the sign and scale of u and v
    are free, so only their outer product is checked); if it is not
    separable, return None. Notebook 01, section 4.
    """
    return check(fn, Exercise(
        cases=separable_factors_cases(), expected=_factors, read=_read_factors, none_ok=True,
        label=lambda k: f"{k.shape[0]}x{k.shape[1]} kernel of rank {np.linalg.matrix_rank(k, tol=1e-10)}",
        outputs=("separable", "np.outer(u, v)"),
        shape_hint="u has one entry per kernel row (kH) and v one per kernel column (kW).",
        value_hint="np.outer(u, v) must equal the kernel: with U, s, Vh = np.linalg.svd(kernel), "
                   "u = U[:, 0] * sqrt(s[0]) and v = Vh[0] * sqrt(s[0]).",
        oracle="the kernels (np.outer(u, v) == kernel) and cnnlab.filters.is_separable",
        mistakes=_separable_mistakes(),
        forbidden=[(filters.separate, "cnnlab.filters.separate"),
                   (filters.is_separable, "cnnlab.filters.is_separable")]))
