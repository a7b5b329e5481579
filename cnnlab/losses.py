"""Softmax, cross-entropy and mean squared error, with their gradients.

Logits are (N, classes); labels are integer class indices (N,). With softmax
followed by cross-entropy the gradient in the logits is simply
(softmax(z) - onehot(y)) / N: the delta at the output of a classifier.
"""
import numpy as np

from ._checks import as_array, check_shape


def log_softmax(z, axis=1):
    """log softmax(z) = z - logsumexp(z), stable for logits of any size."""
    z = as_array(z, "input")
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(z, axis=1):
    """exp(z) / sum(exp(z)) along `axis`, computed from the max-shifted logits."""
    return np.exp(log_softmax(z, axis))


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
    (or 'sum', or per-sample with 'none') of -log softmax(logits)[n, target[n]].
    """
    logits, target = _labels(logits, target)
    losses = -log_softmax(logits)[np.arange(len(target)), target]
    return _reduce(losses, reduction)


def cross_entropy_backward(logits, target, reduction="mean"):
    """Gradient of `cross_entropy` in the logits: (softmax - onehot) / N for 'mean'."""
    logits, target = _labels(logits, target)
    grad = softmax(logits)
    grad[np.arange(len(target)), target] -= 1
    return grad / len(target) if reduction == "mean" else grad


def mse(input, target, reduction="mean"):
    """Mean squared error mean((input - target)^2), as `torch.nn.functional.mse_loss`."""
    input = as_array(input, "input")
    check_shape(np.asarray(target), input.shape, "target")
    return _reduce((input - target) ** 2, reduction)


def mse_backward(input, target, reduction="mean"):
    """Gradient of `mse` in `input`: 2 (input - target) / size for 'mean'."""
    input = as_array(input, "input")
    check_shape(np.asarray(target), input.shape, "target")
    grad = 2 * (input - target)
    return grad / input.size if reduction == "mean" else grad


def _reduce(values, reduction):
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
