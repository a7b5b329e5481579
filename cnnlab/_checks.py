"""Argument validation shared by every kernel: clear errors that name the
parameter and the offending value, raised before any arithmetic happens."""
import numbers

import numpy as np


def ntuple(value, n, name, minimum=1):
    """Return `value` as a tuple of `n` ints >= `minimum` (an int is repeated)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    for v in items:
        # plain ints skip the (slow) abstract-class check; NumPy integers pass it, bools don't
        if type(v) is not int and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
            raise TypeError(f"{name} must contain integers, got {value!r}")
        if v < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in items)


def as_array(x, name, ndim=None):
    """`x` as a floating ndarray (ints and bools become float64), ndim checked.

    `ndim` may be an int or a tuple of allowed ranks."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)
    elif x.dtype.kind != "f":
        raise TypeError(f"{name} must be a real numeric array, got dtype {x.dtype}")
    if ndim is not None:
        allowed = ndim if isinstance(ndim, tuple) else (ndim,)
        if x.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must be {want}-dimensional, got shape {x.shape}")
    return x


def check_shape(arr, expected, name):
    """Raise if `arr.shape` differs from `expected` (e.g. a grad_out)."""
    if tuple(arr.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}, got {tuple(arr.shape)}")
