"""Activation functions and their derivatives (notebook 03, section 8).

Each activation `f(x)` has a partner `f_grad(x)`, the derivative df/dx at
the same input (not multiplied by any upstream gradient), so a backward pass
is `grad_out * f_grad(x)`. Both are elementwise: any shape in, the same
shape out. `ACTIVATIONS` maps names to (f, f_grad) pairs for plotting and
for `cnnlab.nn.layers.Activation`.
"""
import numpy as np


def sigmoid(x):
    """Logistic function 1 / (1 + e^-x), computed without overflow for large |x|.

    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(x):
    """s'(x) = s(x)(1 - s(x)); at most 1/4, which is why gradients shrink in
    deep sigmoid nets (notebook 07, section 1).

    >>> sigmoid_grad(np.array([0.0]))
    array([0.25])
    """
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x):
    """Hyperbolic tangent, (e^x - e^-x) / (e^x + e^-x), in (-1, 1)."""
    return np.tanh(x)


def tanh_grad(x):
    """tanh'(x) = 1 - tanh(x)^2."""
    return 1 - np.tanh(x) ** 2


def relu(x):
    """max(x, 0).

    >>> relu(np.array([-2.0, 3.0]))
    array([0., 3.])
    """
    x = np.asarray(x)
    if x.dtype.kind == "f":
        # the same values (NaN stays NaN), but NumPy 2.4 runs clip with both
        # bounds in its vectorised loop and maximum against a scalar in a plain
        # one: 4.5x faster on LeNet-5's C1 output (benchmarks/README.md)
        return np.clip(x, 0, np.inf)
    return np.maximum(x, 0)


def relu_grad(x):
    """1 for x > 0, else 0 (the subgradient 0 is taken at x = 0, as PyTorch does)."""
    return (np.asarray(x) > 0).astype(np.result_type(x, np.float32))


def leaky_relu(x, negative_slope=0.01):
    """x for x >= 0, a*x for x < 0."""
    return np.where(np.asarray(x) >= 0, x, negative_slope * np.asarray(x))


def leaky_relu_grad(x, negative_slope=0.01):
    """1 for x > 0, negative_slope otherwise."""
    x = np.asarray(x)
    return np.where(x > 0, 1.0, negative_slope).astype(np.result_type(x, np.float32))


def elu(x, alpha=1.0):
    """x for x > 0, alpha (e^x - 1) for x <= 0: smooth, saturates at -alpha."""
    x = np.asarray(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def elu_grad(x, alpha=1.0):
    """1 for x > 0, alpha e^x otherwise."""
    x = np.asarray(x)
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))).astype(np.result_type(x, np.float32))


def srelu(x, alpha=1.0):
    """Shifted ReLU max(-alpha, x): like ReLU, but it lets the mean sit near zero."""
    return np.maximum(x, -alpha)


def srelu_grad(x, alpha=1.0):
    """1 for x > -alpha, else 0."""
    return (np.asarray(x) > -alpha).astype(np.result_type(x, np.float32))


LECUN_A, LECUN_S = 1.7159, 2 / 3


def lecun_tanh(x):
    """LeCun's scaled tanh 1.7159 tanh(2x/3): f(+-1) = +-1, where the curvature
    is largest, and the gain near 0 is about 1."""
    return LECUN_A * np.tanh(LECUN_S * np.asarray(x))


def lecun_tanh_grad(x):
    """1.7159 * 2/3 * (1 - tanh(2x/3)^2)."""
    return LECUN_A * LECUN_S * (1 - np.tanh(LECUN_S * np.asarray(x)) ** 2)


ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "elu": (elu, elu_grad),
    "srelu": (srelu, srelu_grad),
    "lecun_tanh": (lecun_tanh, lecun_tanh_grad),
}
