"""Checkers for the notebook exercises.

Each `check_*(fn)` runs a student's function on several random cases, compares
it with cnnlab, prints a friendly message (with a hint on the first mismatch)
and returns True if every case passed, False otherwise.
"""
import numpy as np

from .. import reference

_SEED = 1234


def _report(passed, message):
    print(("PASSED: " if passed else "NOT YET: ") + message)
    return passed


def _call(fn, *args):
    """Run the student's function; a crash becomes a message instead of a traceback."""
    try:
        return np.asarray(fn(*args), dtype=float), None
    except Exception as err:  # any student error is reported, not raised
        return None, f"your function raised {type(err).__name__}: {err}"


def _first_mismatch(got, want):
    r, c = np.argwhere(~np.isclose(got, want))[0]
    return f"first mismatch at output cell ({r}, {c}): got {got[r, c]:.4g}, expected {want[r, c]:.4g}"


def correlate2d_cases(rng=None):
    """(image, kernel) pairs of 2-D arrays: square, rectangular, 1x1 and full-size kernels."""
    rng = np.random.default_rng(_SEED) if rng is None else rng
    shapes = [((6, 6), (3, 3)), ((5, 7), (2, 3)), ((4, 4), (1, 1)), ((3, 5), (3, 5)), ((8, 5), (4, 2))]
    return [(rng.integers(-4, 5, s).astype(float), rng.integers(-3, 4, k).astype(float)) for s, k in shapes]


def _check(fn, cases, expected, label, shape_hint, mistakes, value_hint, oracle):
    """Run `fn` on every case against `expected`; report the first failure with
    the most specific hint: a crash, a wrong shape, a known mistake (`mistakes`
    is a list of (wrong_fn, message) pairs), or the first mismatching cell."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    for n, args in enumerate(cases):
        want = expected(*args)
        got, error = _call(fn, *(a.copy() if isinstance(a, np.ndarray) else a for a in args))
        where = f"case {n} ({label(*args)})"
        if error:
            return _report(False, f"{where}: {error}")
        if got.shape != want.shape:
            return _report(False, f"{where}: output shape {got.shape}, expected {want.shape}. Hint: {shape_hint}")
        if np.allclose(got, want):
            continue
        for wrong, message in mistakes:
            if np.allclose(got, wrong(*args)):
                return _report(False, f"{where}: {message}")
        return _report(False, f"{where}: {_first_mismatch(got, want)}. Hint: {value_hint}")
    return _report(True, f"all {len(cases)} cases match {oracle}.")


def check_correlate2d(fn):
    """Check `fn(image, kernel) -> out`: 'valid' 2-D cross-correlation of a
    (H, W) image with a (kH, kW) kernel, out of shape (H - kH + 1, W - kW + 1)."""
    def correlate(image, kernel):
        return reference.conv2d(image[None, None], kernel[None, None])[0, 0]

    return _check(
        fn, correlate2d_cases(), correlate,
        lambda image, kernel: f"image {image.shape}, kernel {kernel.shape}",
        "a valid correlation has one output per window position that fits inside the image, "
        "i.e. (H - kH + 1, W - kW + 1).",
        [(lambda image, kernel: correlate(image, kernel[::-1, ::-1]),
          "you computed a true convolution (kernel flipped by 180 degrees). Hint: cross-correlation, what "
          "CNN layers compute, uses kernel[i, j] unflipped at window offset (i, j).")],
        "each output cell is sum(image[r:r+kH, c:c+kW] * kernel).", "cnnlab.reference.conv2d")


def max_pool_cases(rng=None):
    """(image, size) pairs: 2-D images, some with sides not divisible by `size`."""
    rng = np.random.default_rng(_SEED + 1) if rng is None else rng
    shapes = [((4, 4), 2), ((6, 6), 3), ((5, 7), 2), ((6, 4), 2), ((3, 3), 1)]
    return [(rng.standard_normal(s).round(2), k) for s, k in shapes]


def check_max_pool(fn):
    """Check `fn(image, size) -> out`: non-overlapping max pooling of a (H, W)
    image with a size x size window and stride `size`, floor mode: out has shape
    (H // size, W // size) and leftover rows/columns are dropped."""
    return _check(
        fn, max_pool_cases(), lambda image, k: reference.max_pool2d(image[None, None], k)[0, 0],
        lambda image, k: f"image {image.shape}, size {k}",
        "with stride = size the output has floor(H / size) x floor(W / size) cells; rows or columns "
        "that do not fill a whole window are dropped.",
        [(lambda image, k: reference.avg_pool2d(image[None, None], k)[0, 0],
          "you computed the average of each window. Hint: max pooling keeps the largest value.")],
        "windows do not overlap; output cell (r, c) is the max of image[r*size:(r+1)*size, c*size:(c+1)*size].",
        "cnnlab.reference.max_pool2d")
