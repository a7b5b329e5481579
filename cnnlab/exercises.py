"""Checkers for the notebook exercises.

Each `check_*(fn)` runs a student's function on several random cases, compares
it with cnnlab, prints a friendly message (with a hint on the first mismatch)
and returns True if every case passed, False otherwise.
"""
import numpy as np

from . import reference

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


def check_correlate2d(fn):
    """Check `fn(image, kernel) -> out`: 'valid' 2-D cross-correlation of a
    (H, W) image with a (kH, kW) kernel, out of shape (H - kH + 1, W - kW + 1)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    cases = correlate2d_cases()
    for n, (image, kernel) in enumerate(cases):
        want = reference.conv2d(image[None, None], kernel[None, None])[0, 0]
        got, error = _call(fn, image.copy(), kernel.copy())
        where = f"case {n} (image {image.shape}, kernel {kernel.shape})"
        if error:
            return _report(False, f"{where}: {error}")
        if got.shape != want.shape:
            return _report(False, f"{where}: output shape {got.shape}, expected {want.shape}. Hint: a "
                                  "valid correlation has one output per window position that fits "
                                  "inside the image, i.e. (H - kH + 1, W - kW + 1).")
        if np.allclose(got, want):
            continue
        flipped = reference.conv2d(image[None, None], kernel[None, None, ::-1, ::-1])[0, 0]
        if np.allclose(got, flipped):
            return _report(False, f"{where}: you computed a true convolution (kernel flipped by 180 "
                                  "degrees). Hint: cross-correlation, what CNN layers compute, uses "
                                  "kernel[i, j] unflipped at window offset (i, j).")
        return _report(False, f"{where}: {_first_mismatch(got, want)}. Hint: each output cell is "
                              "sum(image[r:r+kH, c:c+kW] * kernel).")
    return _report(True, f"all {len(cases)} cases match cnnlab.reference.conv2d.")


def max_pool_cases(rng=None):
    """(image, size) pairs: 2-D images, some with sides not divisible by `size`."""
    rng = np.random.default_rng(_SEED + 1) if rng is None else rng
    shapes = [((4, 4), 2), ((6, 6), 3), ((5, 7), 2), ((6, 4), 2), ((3, 3), 1)]
    return [(rng.standard_normal(s).round(2), k) for s, k in shapes]


def check_max_pool(fn):
    """Check `fn(image, size) -> out`: non-overlapping max pooling of a (H, W)
    image with a size x size window and stride `size`, floor mode: out has shape
    (H // size, W // size) and leftover rows/columns are dropped."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    cases = max_pool_cases()
    for n, (image, k) in enumerate(cases):
        want = reference.max_pool2d(image[None, None], k)[0, 0]
        got, error = _call(fn, image.copy(), k)
        where = f"case {n} (image {image.shape}, size {k})"
        if error:
            return _report(False, f"{where}: {error}")
        if got.shape != want.shape:
            return _report(False, f"{where}: output shape {got.shape}, expected {want.shape}. Hint: with "
                                  "stride = size the output has floor(H / size) x floor(W / size) cells; "
                                  "rows or columns that do not fill a whole window are dropped.")
        if np.allclose(got, want):
            continue
        if np.allclose(got, reference.avg_pool2d(image[None, None], k)[0, 0]):
            return _report(False, f"{where}: you computed the average of each window. Hint: max "
                                  "pooling keeps the largest value.")
        return _report(False, f"{where}: {_first_mismatch(got, want)}. Hint: windows do not overlap; "
                              "output cell (r, c) is the max of image[r*size:(r+1)*size, c*size:(c+1)*size].")
    return _report(True, f"all {len(cases)} cases match cnnlab.reference.max_pool2d.")
