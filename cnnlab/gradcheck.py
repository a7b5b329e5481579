"""Numerical gradients by central differences, for checking backward passes.

Gradient checking is the debugging tool that the UFLDL tutorial and the
CS231n notes put first: a backward pass that disagrees with
(f(x + h) - f(x - h)) / 2h is wrong, however plausible it looks. Work in
float64 so that rounding does not hide bugs; with h = 1e-6 a correct
gradient gives a relative error of 1e-7 or less, a wrong one something near 1.
Notebook 05, section 7 teaches it; `check_backward` and `check_layer` apply
it to a kernel pair and to a layer in one call.
"""
import inspect

import numpy as np


def numerical_gradient(f, x, grad_out=None, eps=1e-6):
    """d/dx of sum(f(x) * grad_out) by central differences, one entry at a time.

    f: function of the array x (modified in place and restored) returning an
    array or scalar; grad_out: upstream gradient of f's output (ones if None).
    Returns an array shaped like x.

    >>> numerical_gradient(lambda v: v ** 2, np.array([1.0, 3.0])).round(6)
    array([2., 6.])
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
    """Largest relative error max |a - b| / max(|a| + |b|, floor), elementwise.

    >>> round(rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])), 4)   # 0.2 / 4.2
    0.0476
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor))) if a.size else 0.0


def _upstream(shape, grad, seed=0):
    return np.random.default_rng(seed).standard_normal(shape) if grad is None else np.asarray(grad, float)


def check_backward(forward, backward, *args, grad=None, **kwargs):
    """Check a kernel's backward function against central differences.

    forward(*args, **kwargs) is the kernel (e.g. `cnnlab.conv2d`); backward
    is its partner (e.g. `cnnlab.conv2d_backward`), called as
    backward(grad, *args[:m], **kwargs) where m is the number of its
    required arguments after grad_out. It returns one gradient, or a tuple
    with one gradient (or None) per float64 array in args, in order.
    grad: the upstream gradient (seeded random if None).
    Returns {forward's parameter name: relative error}.

    >>> import cnnlab as cl
    >>> x, w = np.random.default_rng(0).standard_normal((2, 1, 5, 5)), np.ones((2, 1, 3, 3))
    >>> errors = check_backward(cl.conv2d, cl.conv2d_backward, x, w, stride=2)
    >>> sorted(errors), max(errors.values()) < 1e-7
    (['weight', 'x'], True)
    """
    g = _upstream(np.shape(forward(*args, **kwargs)), grad)
    required = [p for p in list(inspect.signature(backward).parameters.values())[1:]
                if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    analytic = backward(g, *args[:len(required)], **kwargs)
    analytic = analytic if isinstance(analytic, tuple) else (analytic,)
    names = list(inspect.signature(forward).parameters)
    arrays = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype == np.float64]
    errors = {}
    for i, a_grad in zip(arrays, analytic):
        if a_grad is None:
            continue

        def probe(v, i=i):
            return forward(*args[:i], v, *args[i + 1:], **kwargs)

        errors[names[i]] = rel_error(numerical_gradient(probe, args[i].copy(), g), a_grad)
    return errors


def check_layer(layer, x, grad=None):
    """Gradient check of a layer (`cnnlab.nn.layers.Layer` protocol) at the
    float64 input x: its backward's input gradient and every parameter
    gradient against central differences. Convert the layer first with
    `layer.astype(np.float64)`; stochastic layers (dropout) must be in eval
    mode. Returns {'input': error, parameter name: error, ...}.

    >>> from cnnlab.nn.layers import Linear
    >>> layer = Linear(3, 2).astype(np.float64)
    >>> errors = check_layer(layer, np.random.default_rng(0).standard_normal((4, 3)))
    >>> sorted(errors), max(errors.values()) < 1e-7
    (['bias', 'input', 'weight'], True)
    """
    x = np.asarray(x)
    if x.dtype != np.float64 or any(p.dtype != np.float64 for _, p, _ in layer.parameters()):
        raise TypeError("check_layer needs float64 input and parameters: call layer.astype(np.float64) first")
    g = _upstream(np.shape(layer.forward(x)), grad)
    layer.zero_grad()
    layer.forward(x)
    errors = {"input": rel_error(numerical_gradient(layer.forward, x.copy(), g), layer.backward(g))}
    for name, param, param_grad in layer.parameters():
        # numerical_gradient perturbs the parameter array itself, in place, and restores it
        errors[name] = rel_error(numerical_gradient(lambda _: layer.forward(x), param, g), param_grad)
    return errors
