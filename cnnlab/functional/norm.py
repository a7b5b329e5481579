"""Batch normalisation (Ioffe & Szegedy, 2015), as `torch.nn.functional.batch_norm`.

Each channel of a batch is shifted and scaled to zero mean and unit variance
over the N*H*W values it holds, then given a trainable scale (`weight`,
gamma) and shift (`bias`, beta):

    y = (x - mean_c) / sqrt(var_c + eps) * gamma_c + beta_c

In training the statistics are those of the batch (the biased variance), and
the running estimates are updated in place with `momentum`, PyTorch's rule
(the running variance takes the *unbiased* batch variance):

    running_mean = (1 - momentum) * running_mean + momentum * mean
    running_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)

In evaluation the running estimates replace the batch statistics, so the
layer is a fixed per-channel affine map. Notebook 09, section 2.
"""
import numpy as np

from .._checks import as_array, check_shape

_AXES = (0, 2, 3)  # every axis but the channels


def _channel_vector(v, c, name):
    """A per-channel array (C,) or None, shape checked."""
    if v is None:
        return None
    v = np.asarray(v)
    check_shape(v, (c,), name)
    return v


def _per_channel(v):
    return v[:, None, None]


def batch_norm2d(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation of x (N, C, H, W) -> (N, C, H, W), as
    `torch.nn.functional.batch_norm`.

    running_mean, running_var: (C,) arrays (or None in training: then no
    running estimate is kept). weight (gamma), bias (beta): (C,) or None
    (1 and 0). training: normalise with the batch statistics (mean and
    biased variance over N, H, W) and update the running estimates in place,
    the variance with Bessel's n/(n-1); else normalise with the running
    estimates. The output keeps x's float dtype.

    >>> x = np.arange(8.0).reshape(2, 1, 2, 2)         # one channel, values 0..7
    >>> mean, var = np.zeros(1), np.ones(1)
    >>> y = batch_norm2d(x, mean, var, training=True)
    >>> round(float(y.mean()), 6), round(float(y.std()), 4)
    (0.0, 1.0)
    >>> mean, var                                      # 0.1 * 3.5 and 0.9 + 0.1 * 6 (unbiased variance 6)
    (array([0.35]), array([1.5]))
    >>> batch_norm2d(x, mean, var)[0, 0].round(4)      # evaluation: (x - 0.35) / sqrt(1.5 + eps)
    array([[-0.2858,  0.5307],
           [ 1.3472,  2.1637]])
    """
    x = as_array(x, "input", 4)
    c = x.shape[1]
    running_mean = _channel_vector(running_mean, c, "running_mean")
    running_var = _channel_vector(running_var, c, "running_var")
    weight, bias = _channel_vector(weight, c, "weight"), _channel_vector(bias, c, "bias")
    if not momentum >= 0 or not eps > 0:
        raise ValueError(f"momentum must be >= 0 and eps > 0, got momentum={momentum}, eps={eps}")
    if training:
        n = x.size // c
        if n < 2:
            raise ValueError(f"batch norm in training needs more than 1 value per channel, got input {x.shape}")
        mean, var = x.mean(axis=_AXES), x.var(axis=_AXES)
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
        if running_var is not None:
            running_var[...] = (1 - momentum) * running_var + momentum * var * (n / (n - 1))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch norm in evaluation (training=False) needs running_mean and running_var")
        mean, var = running_mean, running_var
    scale = 1 / np.sqrt(var + eps)
    if weight is not None:
        scale = scale * weight
    out = (x - _per_channel(mean).astype(x.dtype)) * _per_channel(scale).astype(x.dtype)
    if bias is not None:
        out += _per_channel(bias).astype(x.dtype)
    return out


def batch_norm2d_backward(grad_out, x, weight, eps=1e-5, running_mean=None, running_var=None):
    """Gradients of `batch_norm2d` given grad_out (N, C, H, W): returns
    (grad_x, grad_weight, grad_bias), grad_x like x, the others (C,).

    Training mode (the default): the batch statistics depend on x, so with
    x_hat = (x - mean) / sqrt(var + eps) and g = grad_out * gamma,

        grad_x = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)

    (means per channel over N, H, W): the gradient loses its channel mean
    and its component along x_hat. grad_weight = sum(grad_out * x_hat),
    grad_bias = sum(grad_out). weight None means gamma = 1 (its gradient is
    still returned). Pass running_mean and running_var for the gradient of
    evaluation mode, a fixed affine map: grad_x = grad_out * gamma / sqrt(running_var + eps).

    >>> x = np.arange(8.0).reshape(2, 1, 2, 2)
    >>> gx, gw, gb = batch_norm2d_backward(np.ones_like(x), x, None)
    >>> float(np.abs(gx).max()) < 1e-12, gw.round(12), gb      # a constant upstream gradient is removed
    (True, array([0.]), array([8.]))
    """
    x = as_array(x, "input", 4)
    grad_out = as_array(grad_out, "grad_out", 4).astype(x.dtype, copy=False)
    check_shape(grad_out, x.shape, "grad_out")
    c = x.shape[1]
    weight = _channel_vector(weight, c, "weight")
    gamma = np.ones(c, dtype=x.dtype) if weight is None else weight
    if (running_mean is None) != (running_var is None):
        raise ValueError("pass both running_mean and running_var (evaluation mode) or neither (training mode)")
    if running_mean is not None:
        mean, var = _channel_vector(running_mean, c, "running_mean"), _channel_vector(running_var, c, "running_var")
    else:
        mean, var = x.mean(axis=_AXES), x.var(axis=_AXES)
    inv = _per_channel(1 / np.sqrt(var + eps)).astype(x.dtype)
    x_hat = (x - _per_channel(mean).astype(x.dtype)) * inv
    grad_bias = grad_out.sum(axis=_AXES)
    grad_weight = (grad_out * x_hat).sum(axis=_AXES)
    g = grad_out * _per_channel(gamma).astype(x.dtype)
    if running_mean is not None:
        return g * inv, grad_weight, grad_bias
    grad_x = (g - g.mean(axis=_AXES, keepdims=True) - x_hat * (g * x_hat).mean(axis=_AXES, keepdims=True)) * inv
    return grad_x, grad_weight, grad_bias
