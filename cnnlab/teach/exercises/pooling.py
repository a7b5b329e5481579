"""Notebooks 03 and 05: max pooling forward, and the pooling backward passes."""
import numpy as np

from ... import reference
from ...functional import pool as F
from ._core import SEED, Exercise, Mistake, check, gradient_check


def max_pool_cases(rng=None):
    """(image, size) pairs: 2-D images, some with sides not divisible by `size`."""
    rng = np.random.default_rng(SEED + 1) if rng is None else rng
    shapes = [((4, 4), 2), ((6, 6), 3), ((5, 7), 2), ((6, 4), 2), ((3, 3), 1)]
    return [(rng.standard_normal(s).round(2), k) for s, k in shapes]


def check_max_pool(fn):
    """Check `fn(image, size) -> out`: non-overlapping max pooling of a (H, W)
    image with a size x size window and stride `size`, floor mode: out has
    shape (H // size, W // size) and leftover rows/columns are dropped."""
    return check(fn, Exercise(
        cases=max_pool_cases(), expected=lambda image, k: reference.max_pool2d(image[None, None], k)[0, 0],
        label=lambda image, k: f"image {image.shape}, size {k}",
        shape_hint="with stride = size the output has floor(H / size) x floor(W / size) cells; rows or columns "
                   "that do not fill a whole window are dropped.",
        value_hint="windows do not overlap; output cell (r, c) is the max of "
                   "image[r*size:(r+1)*size, c*size:(c+1)*size].",
        oracle="cnnlab.reference.max_pool2d",
        mistakes=[Mistake(lambda image, k: reference.avg_pool2d(image[None, None], k)[0, 0],
                          "you computed the average of each window. Hint: max pooling keeps the largest value."),
                  Mistake(lambda image, k: reference.max_pool2d(image[None, None], k, ceil_mode=True)[0, 0],
                          "your output has a row or column for a partial window at the end (ceil instead of "
                          "floor). Hint: with floor(H / size) x floor(W / size) outputs, leftover cells are "
                          "dropped.", by_shape=True)],
        forbidden=[(F.max_pool2d, "cnnlab.max_pool2d"), (reference.max_pool2d, "cnnlab.reference.max_pool2d")]))


# --- the backward passes (NCHW, window `size`, stride `stride`, no padding) -----------------------

def _distinct(rng, shape):
    """Values without ties, 0.1 apart (so the max of a window is unique and
    survives the central differences' 1e-6 steps)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) - n / 2) * 0.1


def _has_ties(x):
    return np.unique(x).size < x.size


def _pool_backward_cases(rng, tie):
    """(dout, x, size, stride) tuples; with `tie`, one case whose windows hold equal maxima."""
    specs = [((1, 1, 4, 4), 2, 2),      # non-overlapping windows
             ((1, 1, 5, 5), 3, 2),      # 3x3 windows, stride 2: neighbours share a row or column
             ((2, 3, 5, 7), 2, 1),      # stride 1: every inner cell is in four windows
             ((1, 2, 7, 5), 3, 3),      # floor mode: the last row and columns are in no window
             ((2, 2, 7, 6), 3, 2)]
    cases = []
    for shape, size, stride in specs:
        x = _distinct(rng, shape)
        oh, ow = (shape[2] - size) // stride + 1, (shape[3] - size) // stride + 1
        cases.append((rng.integers(1, 5, (shape[0], shape[1], oh, ow)).astype(float), x, size, stride))
    if tie:  # each 2x2 window holds its maximum twice: the first in row-major order gets the gradient
        x = np.array([[[[1.0, 3.0, 2.0, 0.0], [3.0, 0.0, 2.0, 2.0]]]])
        cases.insert(2, (np.array([[[[1.0, 2.0]]]]), x, 2, 2))
    return cases


def max_pool_backward_cases(rng=None):
    """(dout, x, size, stride) tuples: x (N, C, H, W) without ties, except one
    explicit tie case; dout (N, C, H_out, W_out)."""
    return _pool_backward_cases(np.random.default_rng(SEED + 2) if rng is None else rng, tie=True)


def avg_pool_backward_cases(rng=None):
    """(dout, x, size, stride) tuples: x (N, C, H, W), dout (N, C, H_out, W_out)."""
    return _pool_backward_cases(np.random.default_rng(SEED + 3) if rng is None else rng, tie=False)


def _route(dout, x, size, stride, window_step=None, assign=False, rule="first"):
    """Max-pool backward with the classic slips: windows `window_step` apart
    instead of `stride`, `=` instead of `+=`, or the gradient sent to every
    cell equal to the max (rule='all') or to the whole window (rule='window')."""
    step = stride if window_step is None else window_step
    dx = np.zeros_like(x)
    n, c, oh, ow = dout.shape
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    win = x[b, ch, i * step:i * step + size, j * step:j * step + size]
                    if rule == "first":
                        share = np.zeros_like(win)
                        share.flat[np.argmax(win)] = 1
                    else:
                        share = (win == win.max()) if rule == "all" else np.ones_like(win)
                    target = dx[b, ch, i * step:i * step + size, j * step:j * step + size]
                    if assign:
                        target[share > 0] = dout[b, ch, i, j]
                    else:
                        target += share * dout[b, ch, i, j]
    return dx


def _spread_average(dout, x, size, stride, divisor=None, assign=False, window_step=None):
    """Average-pool backward with the classic slips: another divisor, `=`
    instead of `+=`, windows `window_step` apart instead of `stride`."""
    step = stride if window_step is None else window_step
    divisor = size * size if divisor is None else divisor
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            target = dx[:, :, i * step:i * step + size, j * step:j * step + size]
            share = (dout[:, :, i, j] / divisor)[:, :, None, None]
            if assign:
                target[...] = share
            else:
                target += share
    return dx


def _pool_backward_gradcheck(fn, forward):
    rng = np.random.default_rng(SEED + 4)
    x, dout = _distinct(rng, (1, 2, 5, 5)), rng.standard_normal((1, 2, 2, 2))
    return gradient_check(fn, (dout, x, 3, 2), forward, {"dx": x}, upstream=dout)


def _stride_ignored(slip):
    return ("the stride is ignored: the window of output (i, j) starts at (i, j). Hint: it starts at "
            f"(i*stride, j*stride); {slip}")


_OVERWRITE = ("windows that overlap overwrite each other's gradient (= instead of +=). Hint: a cell in several "
              "windows receives the sum of their shares: dx[...] += ...")


def check_max_pool_backward(fn):
    """Check `fn(dout, x, size, stride) -> dx`: the backward pass of max pooling
    with a size x size window and stride `stride` (floor mode, no padding).

    dout (N, C, H_out, W_out), x (N, C, H, W) -> dx (N, C, H, W): each
    dout[n, c, i, j] goes to the cell holding the maximum of its window
    x[n, c, i*stride:i*stride+size, j*stride:j*stride+size], and cells in
    several (overlapping) windows add up their shares. Tie rule: when a window
    holds its maximum more than once, the first maximum in row-major order of
    the window wins (np.argmax of the flattened window), as in cnnlab and PyTorch.
    Notebook 05, section 2.
    """
    return check(fn, Exercise(
        cases=max_pool_backward_cases(), expected=lambda d, x, k, s: reference.max_pool2d_backward(d, x, k, s),
        label=lambda d, x, k, s: f"x {x.shape}, size {k}, stride {s}" + (", with ties" if _has_ties(x) else ""),
        shape_hint="dx has x's shape; cells that are in no window get 0.",
        value_hint="for each window, dx[argmax cell] += dout[n, c, i, j]; all other cells of the window get nothing.",
        oracle="cnnlab.reference.max_pool2d_backward",
        mistakes=[
            Mistake(lambda d, x, k, s: _route(d, x, k, s, rule="all"),
                    "several cells share the maximum of a window and you sent the gradient to all of them. Hint: "
                    "only the first maximum in row-major order gets it (np.argmax of the flattened window)."),
            Mistake(lambda d, x, k, s: _route(d, x, k, s, assign=True), _OVERWRITE),
            Mistake(lambda d, x, k, s: reference.avg_pool2d_backward(d, x, k, s),
                    "that is the backward pass of *average* pooling. Hint: max pooling sends each gradient to the "
                    "one cell that held the window's maximum."),
            Mistake(lambda d, x, k, s: _route(d, x, k, s, rule="window"),
                    "you sent dout to every cell of the window. Hint: only the cell holding the maximum influenced "
                    "the output, so only it receives the gradient."),
            Mistake(lambda d, x, k, s: _route(d, x, k, s, window_step=1),
                    _stride_ignored("find the argmax of that window.")),
        ],
        forbidden=[(F.max_pool2d_backward, "cnnlab.max_pool2d_backward"),
                   (reference.max_pool2d_backward, "cnnlab.reference.max_pool2d_backward")],
        gradcheck=lambda fn: _pool_backward_gradcheck(fn, lambda x: reference.max_pool2d(x, 3, 2))))


def check_avg_pool_backward(fn):
    """Check `fn(dout, x, size, stride) -> dx`: the backward pass of average
    pooling with a size x size window and stride `stride` (floor mode, no padding).

    dout (N, C, H_out, W_out), x (N, C, H, W) -> dx (N, C, H, W): each
    dout[n, c, i, j] is shared equally, dout / (size*size), by the cells of its
    window; cells in several windows add up their shares, cells in none get 0.
    Notebook 05, section 2.
    """
    return check(fn, Exercise(
        cases=avg_pool_backward_cases(), expected=lambda d, x, k, s: reference.avg_pool2d_backward(d, x, k, s),
        label=lambda d, x, k, s: f"x {x.shape}, size {k}, stride {s}",
        shape_hint="dx has x's shape; rows and columns that are in no window get 0.",
        value_hint="for each window: dx[n, c, i*s:i*s+size, j*s:j*s+size] += dout[n, c, i, j] / (size*size).",
        oracle="cnnlab.reference.avg_pool2d_backward",
        mistakes=[
            Mistake(lambda d, x, k, s: _spread_average(d, x, k, s, divisor=1),
                    "you did not divide by the window's cell count. Hint: each output is the mean of size*size "
                    "cells, so each cell receives dout / (size*size)."),
            Mistake(lambda d, x, k, s: _spread_average(d, x, k, s, divisor=k),
                    "you divided by size instead of size*size. Hint: the window has size*size cells."),
            Mistake(lambda d, x, k, s: _spread_average(d, x, k, s, assign=True), _OVERWRITE),
            Mistake(lambda d, x, k, s: reference.max_pool2d_backward(d, x, k, s),
                    "that is the backward pass of *max* pooling. Hint: every cell of an average window contributed "
                    "equally, so each gets dout / (size*size)."),
            Mistake(lambda d, x, k, s: _spread_average(d, x, k, s, window_step=1),
                    _stride_ignored("spread dout / (size*size) over that window.")),
            Mistake(lambda d, x, k, s: np.zeros((*d.shape[:2], d.shape[2] * k, d.shape[3] * k)),
                    "your dx is (H_out*size, W_out*size), an upsampled dout. Hint: dx has x's shape: rows and "
                    "columns that no window reads get a zero gradient.", by_shape=True),
        ],
        forbidden=[(F.avg_pool2d_backward, "cnnlab.avg_pool2d_backward"),
                   (reference.avg_pool2d_backward, "cnnlab.reference.avg_pool2d_backward")],
        gradcheck=lambda fn: _pool_backward_gradcheck(fn, lambda x: reference.avg_pool2d(x, 3, 2))))
