"""Numerical gradients by central differences, for checking backward passes.

The notes call gradient checking the most useful debugging tool of all: a
backward pass that disagrees with (f(x + h) - f(x - h)) / 2h is wrong, however
plausible it looks. Work in float64 so that rounding does not hide bugs.
"""
import numpy as np


def numerical_gradient(f, x, grad_out=None, eps=1e-6):
    """d/dx of sum(f(x) * grad_out) by central differences, one entry at a time.

    f: function of the array x (modified in place and restored) returning an
    array or scalar; grad_out: upstream gradient of f's output (ones if None).
    Returns an array shaped like x.
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64 input, got {x.dtype}")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: edits reach x and grad
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = np.array(f(x))  # a copy: f may return a view of x
        flat[i] = old - eps
        minus = np.array(f(x))
        flat[i] = old
        diff = plus - minus
        gflat[i] = np.sum(diff if grad_out is None else diff * grad_out) / (2 * eps)
    return grad


def rel_error(a, b, floor=1e-8):
    """Largest relative error max |a - b| / max(|a| + |b|, floor), elementwise."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor))) if a.size else 0.0
