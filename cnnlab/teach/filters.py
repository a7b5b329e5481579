"""Classic hand-made kernels and the separability test.

Kernels are 2-D float64 arrays for cross-correlation (what `conv2d` does);
use `kernel[::-1, ::-1]` for a true convolution. `FILTERS` maps names to
kernels; `get(name)` returns a fresh copy.
"""
import numpy as np


def gaussian(size=5, sigma=1.0):
    """Normalised 2-D Gaussian blur kernel of odd `size` (sums to 1)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"gaussian size must be a positive odd int, got {size!r}")
    if sigma <= 0:
        raise ValueError(f"gaussian sigma must be > 0, got {sigma!r}")
    r = np.arange(size) - size // 2
    g = np.exp(-r ** 2 / (2 * sigma ** 2))
    return np.outer(g, g) / g.sum() ** 2


VERTICAL_EDGE = np.array([[1, 0, -1]] * 3, dtype=float)
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
PREWITT_X = np.array([[-1, 0, 1]] * 3, dtype=float)

FILTERS = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
    "vertical_edge": VERTICAL_EDGE,
    "horizontal_edge": np.rot90(VERTICAL_EDGE, -1).copy(),  # bright above dark -> positive
    "sobel_x": SOBEL_X,
    "sobel_y": SOBEL_X.T.copy(),
    "prewitt_x": PREWITT_X,
    "prewitt_y": PREWITT_X.T.copy(),
    "laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float),
    "laplacian_diag": np.array([[1, 1, 1], [1, -8, 1], [1, 1, 1]], dtype=float),
    "box_blur": np.full((3, 3), 1 / 9),
    "gaussian": gaussian(5, 1.0),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
}


def get(name):
    """A copy of the named kernel; raises ValueError listing the known names."""
    if name not in FILTERS:
        raise ValueError(f"unknown filter {name!r}; known: {sorted(FILTERS)}")
    return FILTERS[name].copy()


def is_separable(kernel, tol=1e-10):
    """True if the 2-D kernel is an outer product of two 1-D kernels (matrix
    rank 1): then one k x k correlation equals a column pass then a row pass,
    2k multiplications per pixel instead of k*k."""
    s = np.linalg.svd(np.asarray(kernel, float), compute_uv=False)
    return bool(s[0] > 0 and np.all(s[1:] <= tol * s[0]))


def separate(kernel, tol=1e-10):
    """Factor a rank-1 kernel into (column, row) with outer(column, row) == kernel,
    from the leading singular vectors. Raises ValueError if it is not separable."""
    kernel = np.asarray(kernel, float)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D, got shape {kernel.shape}")
    if not is_separable(kernel, tol):
        raise ValueError("kernel is not separable: its matrix rank is above 1")
    u, s, vt = np.linalg.svd(kernel)
    col, row = u[:, 0] * np.sqrt(s[0]), vt[0] * np.sqrt(s[0])
    if row[np.argmax(np.abs(row))] < 0:  # the sign is arbitrary: prefer a positive row peak
        col, row = -col, -row
    return col, row
