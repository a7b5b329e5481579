"""The one rule for comparing two computations of the same floating-point quantity.

Two computations that add the same products in a different order (another
thread count, batch chunking, code path, memory layout or BLAS kernel; the
plain loops against the engine; float32 against float64) round differently,
and which one is "right" is a matter of luck. Each of them is within about
`terms * eps * sum|products|` of the exact value (the classic bound for a sum
of `terms` products: Higham, *Accuracy and Stability of Numerical
Algorithms*, 2nd ed., section 3.1), so two of them agree to twice that. We
measure the size of the products by the largest magnitude in either result
and accept

    |actual - desired| <= 2 * terms * eps(dtype) * max(|actual|, |desired|)

elementwise, where `terms` is the length of the longest reduction behind one
element (C_in/groups * kH * kW for a convolution's output, N * H_out * W_out
for its weight gradient) and `eps` is the machine epsilon of the *less*
precise dtype involved. The bound is loose for random data, whose rounding
errors add up like a random walk (about sqrt(terms) * eps), and it is still
tight enough to catch any real bug, which moves results by far more.

Bit-identical results are asserted only where they are promised: the same
call twice with the same settings, and a resumed training run against an
uninterrupted one with the same thread count.
"""
import numpy as np


def tolerance(actual, desired, terms, dtype=None):
    """The absolute tolerance of the rule above for these two arrays."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    if dtype is None:
        kinds = [a.dtype for a in (actual, desired) if a.dtype.kind == "f"]
        dtype = max(kinds, key=lambda d: np.finfo(d).eps) if kinds else np.float64
    scale = max(float(np.max(np.abs(actual), initial=0)), float(np.max(np.abs(desired), initial=0)))
    return 2 * max(int(terms), 1) * float(np.finfo(dtype).eps) * max(scale, np.finfo(dtype).tiny)


def assert_close(actual, desired, terms, dtype=None, err_msg=""):
    """Assert that two computations of one quantity agree within `tolerance`.

    terms: length of the longest sum behind one element; dtype: the precision
    to judge by (default: the less precise of the two arrays)."""
    np.testing.assert_allclose(actual, desired, rtol=0, atol=tolerance(actual, desired, terms, dtype),
                               err_msg=err_msg)


def conv_terms(x_shape, w_shape, out_shape, groups=1):
    """Reduction lengths of a convolution: {'out': products per output element,
    'grad_x': contributions per input cell (at most), 'grad_w': per weight,
    'grad_b': per bias}."""
    k = int(np.prod(w_shape[2:]))
    positions = int(np.prod(out_shape[2:]))
    return {"out": w_shape[1] * k, "grad_x": (w_shape[0] // groups) * k,
            "grad_w": x_shape[0] * positions, "grad_b": x_shape[0] * positions}


def conv_transpose_terms(x_shape, w_shape, out_shape, groups=1):
    """Reduction lengths of a transposed convolution, keyed as in `conv_terms`;
    w_shape is (C_in, C_out/groups, *k)."""
    k = int(np.prod(w_shape[2:]))
    return {"out": (w_shape[0] // groups) * k, "grad_x": w_shape[1] * k,
            "grad_w": x_shape[0] * int(np.prod(x_shape[2:])), "grad_b": out_shape[0] * int(np.prod(out_shape[2:]))}


GRADS = ("grad_x", "grad_w", "grad_b")
