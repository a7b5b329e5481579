"""Softmax, log-softmax, cross-entropy and mean squared error, with their gradients.

Logits are (N, classes); labels are integer class indices (N,). With softmax
followed by cross-entropy the gradient in the logits is simply
(softmax(z) - onehot(y)) / N: the delta at the output of a classifier
(notebook 05, section 1).

Backward conventions: `cross_entropy_backward(logits, target)` and
`mse_backward(input, target)` take the forward's arguments and return
dLoss/dInput (the loss is the end of the chain, so no upstream gradient);
`softmax_backward(grad_out, z)` and `log_softmax_backward(grad_out, z)` take
the upstream gradient first, like the kernels' backward functions.
"""
import numpy as np

from .._checks import as_array, check_shape

REDUCTIONS = ("mean", "sum", "none")


def _reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def log_softmax(z, axis=1):
    """log softmax(z) = z - logsumexp(z) along `axis`, stable for logits of any size.

    >>> log_softmax(np.array([[0.0, 1e4]]))
    array([[-10000.,      0.]])
    """
    z = as_array(z, "input")
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(z, axis=1):
    """exp(z) / sum(exp(z)) along `axis`, computed from the max-shifted logits
    (so logits of 1e4 do not overflow).

    >>> softmax(np.array([[1.0, 1.0, 1e4]])).round(3)
    array([[0., 0., 1.]])
    """
    return np.exp(log_softmax(z, axis))


def softmax_backward(grad_out, z, axis=1):
    """Gradient of `softmax` in z given grad_out (same shape): the softmax
    Jacobian f_k (1[k=i] - f_i) applied to grad_out, i.e. f * (g - sum(g f)).

    >>> softmax_backward(np.array([[1.0, 0.0]]), np.zeros((1, 2)))
    array([[ 0.25, -0.25]])
    """
    f = softmax(z, axis)
    g = as_array(grad_out, "grad_out")
    check_shape(g, f.shape, "grad_out")
    return f * (g - (g * f).sum(axis=axis, keepdims=True))


def log_softmax_backward(grad_out, z, axis=1):
    """Gradient of `log_softmax` in z given grad_out: g - softmax(z) * sum(g).

    >>> log_softmax_backward(np.array([[1.0, 0.0]]), np.zeros((1, 2)))
    array([[ 0.5, -0.5]])
    """
    g = as_array(grad_out, "grad_out")
    f = softmax(z, axis)
    check_shape(g, f.shape, "grad_out")
    return g - f * g.sum(axis=axis, keepdims=True)


def _labels(logits, target):
    logits = as_array(logits, "logits", 2)
    target = np.asarray(target)
    if target.dtype.kind not in "iu":
        raise TypeError(f"target must hold integer class labels, got dtype {target.dtype}")
    check_shape(target, logits.shape[:1], "target")
    if target.size and (target.min() < 0 or target.max() >= logits.shape[1]):
        raise ValueError(f"target labels must lie in [0, {logits.shape[1] - 1}], "
                         f"got range [{target.min()}, {target.max()}]")
    return logits, target


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy, as `torch.nn.functional.cross_entropy`.

    logits: (N, K) raw scores; target: (N,) ints in [0, K). Returns the mean
    (or 'sum', or the (N,) losses with 'none') of -log softmax(logits)[n, target[n]].

    >>> float(cross_entropy(np.zeros((2, 4)), np.array([0, 3])).round(4))  # ln 4
    1.3863
    """
    logits, target = _labels(logits, target)
    losses = -log_softmax(logits)[np.arange(len(target)), target]
    return _reduce(losses, _reduction(reduction))


def cross_entropy_backward(logits, target, reduction="mean"):
    """Gradient of `cross_entropy` in the logits (N, K): (softmax - onehot) / N
    for 'mean', without the 1/N for 'sum' and 'none' (per-sample gradients).

    >>> cross_entropy_backward(np.zeros((1, 2)), np.array([1]))
    array([[ 0.5, -0.5]])
    """
    reduction = _reduction(reduction)
    logits, target = _labels(logits, target)
    grad = softmax(logits)
    grad[np.arange(len(target)), target] -= 1
    return grad / len(target) if reduction == "mean" else grad


def mse(input, target, reduction="mean"):
    """Mean squared error mean((input - target)^2), as `torch.nn.functional.mse_loss`
    (any shape; 'sum' and 'none' as in `cross_entropy`).

    >>> float(mse(np.array([1.0, 3.0]), np.array([0.0, 0.0])))
    5.0
    """
    reduction = _reduction(reduction)
    input = as_array(input, "input")
    check_shape(np.asarray(target), input.shape, "target")
    return _reduce((input - target) ** 2, reduction)


def mse_backward(input, target, reduction="mean"):
    """Gradient of `mse` in `input`: 2 (input - target) / input.size for 'mean'.

    >>> mse_backward(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
    array([1., 3.])
    """
    reduction = _reduction(reduction)
    input = as_array(input, "input")
    check_shape(np.asarray(target), input.shape, "target")
    grad = 2 * (input - target)
    return grad / input.size if reduction == "mean" else grad


mse_loss = mse  # the name torch.nn.functional uses


def _reduce(values, reduction):
    if reduction == "mean":
        return values.mean()
    return values.sum() if reduction == "sum" else values
