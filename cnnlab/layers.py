"""Layers with forward/backward, in the style of CS231n: `forward` caches what
`backward` needs, `backward` takes dLoss/dOutput, stores parameter gradients
in `grads` and returns dLoss/dInput. Every layer is a thin wrapper around the
kernels in cnnlab (no convolution is written twice).

Parameters live in `layer.params` (name -> array, updated in place by the
optimizers) with matching `layer.grads`. Arrays are NCHW float32 by default.
"""
import numpy as np

from . import arithmetic
from ._checks import ntuple
from .activations import ACTIVATIONS
from .conv import _conv, _conv_backward, conv_transpose2d, conv_transpose2d_backward
from .losses import cross_entropy, cross_entropy_backward
from .pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from .unfold import Scratch


class Layer:
    """Base class: no parameters, identity in shape accounting."""
    training = True

    def __init__(self):
        self.params, self.grads = {}, {}

    def __call__(self, x):
        return self.forward(x)

    def zero_grad(self):
        for g in self.grads.values():
            g.fill(0)

    def _init_params(self, weight_shape, fan_in, bias_size, rng, dtype):
        """PyTorch's default init: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        rng = rng if rng is not None else np.random.default_rng(0)
        self.params["weight"] = _uniform(rng, weight_shape, fan_in, dtype)
        if bias_size:
            self.params["bias"] = _uniform(rng, (bias_size,), fan_in, dtype)
        self.grads = {n: np.zeros_like(p) for n, p in self.params.items()}

    def _add_grads(self, grad_weight, grad_bias):
        self.grads["weight"] += grad_weight
        if "bias" in self.params:
            self.grads["bias"] += grad_bias

    def summary_row(self, in_shape, out_shape):
        """(trainable params, connections) for a model summary, or None to omit the row."""
        return None

    def __repr__(self):
        return type(self).__name__


def _uniform(rng, shape, fan_in, dtype):
    """PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)


class Conv2d(Layer):
    """2-d convolution: (N, C_in, H, W) -> (N, C_out, H', W'); weight (C_out, C_in/groups, k, k)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, rng=None, dtype=np.float32):
        super().__init__()
        k = ntuple(kernel_size, 2, "kernel_size")
        self._init_params((out_channels, in_channels // groups, *k), in_channels // groups * k[0] * k[1],
                          out_channels if bias else 0, rng, dtype)
        self.conf = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        self._cols_memory = Scratch()  # reused every step: same batch size, same columns size

    def weight(self):
        """The kernel the convolution uses (subclasses may constrain it)."""
        return self.params["weight"]

    def forward(self, x):
        # in training, keep the im2col columns: backward needs them for the weight gradient
        self.x = x
        if not self.training:
            self.cols = None
            return _conv(x, self.weight(), self.params.get("bias"), **self.conf, nd=2)
        out, self.cols = _conv(x, self.weight(), self.params.get("bias"), **self.conf, nd=2,
                               memory=self._cols_memory)
        return out

    can_skip_input_grad = True

    def backward(self, grad, input_grad=True):
        """input_grad=False (the first layer of a network) skips dLoss/dInput and returns None."""
        gx, gw, gb = _conv_backward(grad, self.x, self.weight(), **self.conf, nd=2, cols=self.cols,
                                    output_mask=(input_grad, True, "bias" in self.params))
        self.cols = None
        self._add_grads(gw, gb)
        return gx

    def summary_row(self, in_shape, out_shape):
        w = self.params["weight"]
        return (sum(p.size for p in self.params.values()),
                arithmetic.conv_connections(in_shape[1], w.shape[0], w.shape[2:], out_shape[2:],
                                            self.conf["groups"], "bias" in self.params))


class ConvTranspose2d(Layer):
    """Transposed convolution: weight (C_in, C_out/groups, k, k), as in PyTorch."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, dilation=1, bias=True, rng=None, dtype=np.float32):
        super().__init__()
        k = ntuple(kernel_size, 2, "kernel_size")
        self._init_params((in_channels, out_channels // groups, *k), out_channels // groups * k[0] * k[1],
                          out_channels if bias else 0, rng, dtype)
        self.conf = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                         dilation=dilation)

    def forward(self, x):
        self.x = x
        return conv_transpose2d(x, self.params["weight"], self.params.get("bias"), **self.conf)

    def backward(self, grad):
        gx, gw, gb = conv_transpose2d_backward(grad, self.x, self.params["weight"], **self.conf)
        self._add_grads(gw, gb)
        return gx

    def summary_row(self, in_shape, out_shape):
        w = self.params["weight"]
        return sum(p.size for p in self.params.values()), in_shape[1] * int(np.prod(in_shape[2:])) * w[0].size


class SparseConv2d(Conv2d):
    """A convolution in which output map j only sees the input maps i with
    table[i, j] True (LeNet-5's C3). Implemented as one dense conv2d whose
    absent kernels are held at zero by a fixed mask, so their gradients are
    masked too; only real connections count as parameters."""

    def __init__(self, table, kernel_size, rng=None, dtype=np.float32):
        table = np.asarray(table, dtype=bool)
        super().__init__(table.shape[0], table.shape[1], kernel_size, rng=rng, dtype=dtype)
        self.mask = table.T[:, :, None, None].astype(dtype)  # (C_out, C_in, 1, 1)
        fan_in = table.sum(axis=0)[:, None, None, None] * self.params["weight"][0, 0].size
        # re-draw each kernel with its own fan-in (the number of maps it really sees)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.params["weight"][...] = rng.uniform(-1, 1, self.params["weight"].shape) / np.sqrt(fan_in) * self.mask

    def weight(self):
        return self.params["weight"] * self.mask

    def backward(self, grad, input_grad=True):
        gx = super().backward(grad, input_grad)
        self.grads["weight"] *= self.mask
        return gx

    def summary_row(self, in_shape, out_shape):
        k = self.params["weight"][0, 0].size
        links = int(self.mask.sum())
        params = links * k + self.params["bias"].size
        return params, params * int(np.prod(out_shape[2:]))


class MaxPool2d(Layer):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.conf = dict(kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode)

    def forward(self, x):
        self.x = x
        out, self.indices = max_pool2d(x, return_indices=True, **self.conf)
        return out

    def backward(self, grad):
        return max_pool2d_backward(grad, self.x, indices=self.indices, **self.conf)

    def summary_row(self, in_shape, out_shape):
        k = ntuple(self.conf["kernel_size"], 2, "kernel_size")
        return 0, int(np.prod(out_shape[1:])) * k[0] * k[1]


class AvgPool2d(Layer):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.conf = dict(kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad)

    def forward(self, x):
        self.x = x
        return avg_pool2d(x, **self.conf)

    def backward(self, grad):
        return avg_pool2d_backward(grad, self.x, **self.conf)

    def summary_row(self, in_shape, out_shape):
        k = ntuple(self.conf["kernel_size"], 2, "kernel_size")
        return 0, int(np.prod(out_shape[1:])) * k[0] * k[1]


class Subsample2d(Layer):
    """LeNet-5's S2/S4: each map's k x k windows are summed, multiplied by a
    trainable per-map coefficient and shifted by a trainable per-map bias.
    A small coefficient makes it a blur; a large one (after the squashing
    function) a noisy OR or AND of the window."""

    def __init__(self, channels, kernel_size=2, dtype=np.float32):
        super().__init__()
        self.k = kernel_size
        self.params = {"weight": np.ones(channels, dtype=dtype), "bias": np.zeros(channels, dtype=dtype)}
        self.grads = {n: np.zeros_like(p) for n, p in self.params.items()}

    def forward(self, x):
        self.x = x
        self.sums = avg_pool2d(x, self.k) * (self.k * self.k)
        return self.sums * self.params["weight"][:, None, None] + self.params["bias"][:, None, None]

    def backward(self, grad):
        self.grads["weight"] += (grad * self.sums).sum(axis=(0, 2, 3))
        self.grads["bias"] += grad.sum(axis=(0, 2, 3))
        scaled = grad * (self.params["weight"][:, None, None] * (self.k * self.k))
        return avg_pool2d_backward(scaled, self.x, self.k)

    def summary_row(self, in_shape, out_shape):
        return 2 * out_shape[1], int(np.prod(out_shape[1:])) * (self.k * self.k + 1)


class Linear(Layer):
    """Fully connected: (N, in) -> (N, out) = x W^T + b, weight (out, in) as in PyTorch."""

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float32):
        super().__init__()
        self._init_params((out_features, in_features), in_features, out_features if bias else 0, rng, dtype)

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.params["weight"].shape[1]:
            raise ValueError(f"Linear expects input (N, {self.params['weight'].shape[1]}), got {x.shape}")
        self.x = x
        out = x @ self.params["weight"].T
        return out + self.params["bias"] if "bias" in self.params else out

    def backward(self, grad):
        self._add_grads(grad.T @ self.x, grad.sum(axis=0))
        return grad @ self.params["weight"]

    def summary_row(self, in_shape, out_shape):
        n = sum(p.size for p in self.params.values())
        return n, n


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W)."""

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad):
        return grad.reshape(self.shape)


class Activation(Layer):
    """An elementwise nonlinearity from cnnlab.activations, by name."""

    def __init__(self, name, **kwargs):
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}")
        self.name, self.kwargs = name, kwargs
        self.f, self.df = ACTIVATIONS[name]

    def forward(self, x):
        self.x = x
        return self.f(x, **self.kwargs).astype(x.dtype, copy=False)

    def backward(self, grad):
        return grad * self.df(self.x, **self.kwargs).astype(grad.dtype, copy=False)

    def __repr__(self):
        return f"Activation({self.name})"


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability p and
    scale the survivors by 1/(1-p); in evaluation, the identity."""

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout p must be in [0, 1), got {p}")
        self.p, self.rng = p, rng if rng is not None else np.random.default_rng(0)

    def forward(self, x):
        if not self.training or self.p == 0:
            self.mask = None
            return x
        self.mask = (self.rng.random(x.shape) >= self.p).astype(x.dtype) / x.dtype.type(1 - self.p)
        return x * self.mask

    def backward(self, grad):
        return grad if self.mask is None else grad * self.mask


class RBF(Layer):
    """LeNet-5's output layer: unit i outputs the squared Euclidean distance
    between the input (N, D) and its fixed code c_i (D,), so the smallest
    output is the predicted class. The codes are not trained."""

    def __init__(self, codes):
        super().__init__()
        self.codes = np.asarray(codes, dtype=np.float32)

    def forward(self, x):
        self.x = x
        diff = x[:, None, :] - self.codes[None]
        return (diff ** 2).sum(axis=2)

    def backward(self, grad):
        # d/dx sum_i g_i |x - c_i|^2 = 2 sum_i g_i (x - c_i)
        return 2 * (grad.sum(axis=1, keepdims=True) * self.x - grad @ self.codes)

    def summary_row(self, in_shape, out_shape):
        return 0, self.codes.size


class SoftmaxCrossEntropy:
    """Mean softmax cross-entropy of logits (N, K) against int labels (N,)."""

    def forward(self, logits, labels):
        self.logits, self.labels = logits, labels
        return float(cross_entropy(logits, labels))

    def backward(self):
        return cross_entropy_backward(self.logits, self.labels).astype(self.logits.dtype)

    @staticmethod
    def predict(outputs):
        return outputs.argmax(axis=1)


class RBFLoss:
    """LeCun et al. 1998, eq. 9: the RBF output of the correct class, plus a
    competitive term log(e^-j + sum_i e^-y_i) that pushes the wrong classes'
    penalties up (j = 0.1 keeps already-large penalties from being pushed further)."""

    def __init__(self, j=0.1):
        self.j = j

    def forward(self, y, labels):
        self.y, self.labels = y, labels
        n = len(labels)
        z = np.concatenate([np.full((n, 1), -self.j, dtype=y.dtype), -y], axis=1)
        m = z.max(axis=1, keepdims=True)
        self.lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
        self.soft = np.exp(-y - self.lse[:, None])  # e^-y_i / (e^-j + sum e^-y)
        return float(np.mean(y[np.arange(n), labels] + self.lse))

    def backward(self):
        n = len(self.labels)
        grad = -self.soft
        grad[np.arange(n), self.labels] += 1
        return (grad / n).astype(self.y.dtype)

    @staticmethod
    def predict(outputs):
        return outputs.argmin(axis=1)
