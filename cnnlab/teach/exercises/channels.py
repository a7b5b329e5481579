"""Notebook 03: the 1x1 convolution and the parameter count of depthwise separable convolution."""
import numpy as np

from ... import reference
from ...functional import arithmetic as A
from ...functional import conv as F
from ._core import SEED, Exercise, Mistake, check, size_reader

# --- 1x1 convolution --------------------------------------------------------------------


def conv1x1_cases(rng=None):
    """(x, w) pairs: x (N, C_in, H, W), w (C_out, C_in)."""
    rng = np.random.default_rng(SEED + 30) if rng is None else rng
    specs = [((1, 1, 2, 3), 1),     # one channel: a 1x1 convolution only scales
             ((1, 3, 3, 3), 3),     # C_in == C_out: w and w.T have the same shape
             ((2, 3, 4, 5), 4),     # a batch of two non-square maps
             ((3, 2, 2, 4), 5),
             ((int(rng.integers(2, 4)), 4, int(rng.integers(2, 6)), int(rng.integers(2, 6))), 3)]
    return [(rng.integers(-3, 4, shape).astype(float), rng.integers(-2, 3, (c_out, shape[1])).astype(float))
            for shape, c_out in specs]


def _conv1x1(x, w):
    return reference.conv2d(x, w[:, :, None, None])


def _batch_mixed(x, w, move_back=False):
    """w @ x.reshape(C_in, -1), reshaped to (N, C_out, H, W), with or without
    moving the channel axis to the front first."""
    n, c, h, wd = x.shape
    flat = x.transpose(1, 0, 2, 3).reshape(c, -1) if move_back else x.reshape(c, -1)
    return (w @ flat).reshape(n, w.shape[0], h, wd)


def check_conv1x1(fn):
    """Check `fn(x, w) -> out`: a 1x1 convolution written as one matrix product.

    x (N, C_in, H, W), w (C_out, C_in) -> out (N, C_out, H, W) with
    out[n, o, r, c] = sum over k of w[o, k] * x[n, k, r, c]: at every pixel, the
    vector of channels is multiplied by w. E.g. `w @ x.reshape(N, C_in, H*W)`,
    reshaped back. Notebook 03, section 2.
    """
    return check(fn, Exercise(
        cases=conv1x1_cases(), expected=_conv1x1,
        label=lambda x, w: f"x {x.shape}, w {w.shape}",
        shape_hint="out is (N, C_out, H, W): the pixels stay where they are, only the channels change.",
        value_hint="out[n, :, r, c] = w @ x[n, :, r, c] at every pixel (r, c).",
        oracle="cnnlab.reference.conv2d with a (C_out, C_in, 1, 1) kernel",
        mistakes=[
            Mistake(lambda x, w: _conv1x1(x, w.T),
                    "you multiplied by w.T. Hint: w is (C_out, C_in): out[:, o] = sum over k of w[o, k] * x[:, k]."),
            Mistake(lambda x, w: _batch_mixed(x, w),
                    "x.reshape(C_in, -1) mixes the images of the batch with the channels when N > 1. Hint: "
                    "multiply per image, w @ x.reshape(N, C_in, H*W), or move the channel axis first."),
            Mistake(lambda x, w: _batch_mixed(x, w, move_back=True),
                    "you moved the channel axis to the front for the product but not back: the result "
                    "(C_out, N*H*W) is reshaped as if it were (N, C_out, H, W). Hint: reshape to "
                    "(C_out, N, H, W) and transpose to (N, C_out, H, W)."),
            Mistake(lambda x, w: np.zeros((x.shape[0], w.shape[0], x.shape[2] * x.shape[3])),
                    "your output is (N, C_out, H*W). Hint: reshape the product back to (N, C_out, H, W).",
                    by_shape=True),
            Mistake(lambda x, w: np.zeros((x.shape[0], w.shape[0], x.shape[3], x.shape[2])),
                    "your output has H and W swapped. Hint: reshape back to (N, C_out, H, W) in the order "
                    "the pixels were flattened.", by_shape=True),
        ],
        forbidden=[(F.conv2d, "cnnlab.conv2d"), (reference.conv2d, "cnnlab.reference.conv2d"),
                   (reference.conv2d_im2col, "cnnlab.reference.conv2d_im2col")]))


# --- parameters of a depthwise separable convolution ---------------------------------------------

def separable_params_cases(rng=None):
    """(c_in, c_out, k) tuples."""
    rng = np.random.default_rng(SEED + 31) if rng is None else rng
    cases = [(3, 256, 3),      # the notebook's example: 6,912 against 27 + 768
             (512, 512, 3),    # a MobileNet block
             (1, 1, 1), (16, 32, 5),
             (8, 4, 3)]        # fewer output than input channels
    return cases + [tuple(int(v) for v in (rng.integers(1, 65), rng.integers(1, 65), rng.integers(1, 8)))
                    for _ in range(2)]


def _separable_params(c_in, c_out, k):
    return A.conv_params(c_in, c_out, k * k, bias=False), c_in * k * k + c_in * c_out


def check_separable_params(fn):
    """Check `fn(c_in, c_out, k) -> (standard, separable)`: the weight counts
    (no biases) of a k x k convolution from c_in to c_out channels, and of its
    depthwise separable version: a depthwise k x k convolution (one kernel per
    input channel) followed by a pointwise 1x1 convolution (c_in -> c_out).
    standard = c_out * c_in * k * k, separable = c_in * k * k + c_in * c_out.
    Notebook 03, section 3.
    """
    return check(fn, Exercise(
        cases=separable_params_cases(), expected=_separable_params, read=size_reader("standard", "separable"),
        label=lambda c_in, c_out, k: f"c_in={c_in}, c_out={c_out}, k={k}",
        outputs=("standard", "separable"),
        shape_hint="return two ints.",
        value_hint="standard = c_out * c_in * k * k; separable = depthwise c_in * k * k + pointwise c_in * c_out.",
        oracle="cnnlab.arithmetic.conv_params",
        mistakes=[
            Mistake(lambda c_in, c_out, k: (c_in * c_out * k * k + c_out, c_in * k * k + c_in + c_in * c_out + c_out),
                    "you counted the biases. Hint: count the weights only, without biases."),
            Mistake(lambda c_in, c_out, k: (c_out * c_in * k * k, c_in * k * k + c_in + c_in * c_out + c_out),
                    "your separable count includes the biases. Hint: count the weights only."),
            Mistake(lambda c_in, c_out, k: (None, c_out * k * k + c_in * c_out),
                    "your depthwise step has c_out kernels. Hint: the depthwise convolution has one k x k kernel "
                    "per *input* channel (c_in * k * k weights); the pointwise 1x1 step changes the channel count."),
            Mistake(lambda c_in, c_out, k: (None, c_in * k * k),
                    "your separable count has only the depthwise step. Hint: add the pointwise 1x1 convolution, "
                    "c_in * c_out weights."),
            Mistake(lambda c_in, c_out, k: (None, c_in * c_out),
                    "your separable count has only the pointwise step. Hint: add the depthwise k x k kernels, "
                    "c_in * k * k weights."),
            Mistake(lambda c_in, c_out, k: (c_in * k * k + c_in * c_out, c_out * c_in * k * k),
                    "the two counts are swapped. Hint: return (standard, separable)."),
            Mistake(lambda c_in, c_out, k: (c_out * k * k, None),
                    "your standard count misses the input channels. Hint: each of the c_out kernels spans all "
                    "c_in input channels: c_out * c_in * k * k."),
        ],
        forbidden=[(A.conv_params, "cnnlab.arithmetic.conv_params")]))
