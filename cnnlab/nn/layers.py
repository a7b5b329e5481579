"""Layers: thin wrappers around the kernels of `cnnlab.functional`, in the
style of the CS231n assignments, with one protocol (`Layer`):

    forward(x)                      caches what backward needs, returns the output
    backward(grad, input_grad=True) adds dLoss/dParameter into `grads`, returns
                                    dLoss/dInput (None when input_grad=False)
    parameters()                    [(name, parameter, gradient)]: optimizers
                                    update the parameters in place
    train() / eval()                switch `training` (dropout, saved columns)
    zero_grad(), astype(dtype)

Parameters live in `layer.params` (name -> array) with matching
`layer.grads`; fixed arrays (a connection mask, RBF codes) in
`layer.buffers`. Arrays are NCHW, float32 by default. No layer computes a
convolution itself: each calls the public kernel functions. Notebook 05
checks every layer's gradients (`cnnlab.gradcheck.check_layer`), 06 builds
LeNet-5 from them.
"""
import numpy as np

from .._checks import ntuple
from ..engine.conv import ConvCache
from ..functional import arithmetic
from ..functional.activations import ACTIVATIONS
from ..functional.conv import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from ..functional.losses import cross_entropy, cross_entropy_backward, softmax
from ..functional.pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward, max_pool2d_winners


def _uniform(rng, shape, fan_in, dtype):
    """PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)


class Layer:
    """Base class: no parameters; subclasses define forward and backward.

    Shapes are documented per layer: x (N, ...) in, (N, ...) out; `grad`
    has the output's shape and backward returns the input's shape."""

    def __init__(self):
        self.params, self.grads, self.buffers = {}, {}, {}
        self.training = True

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define forward(x)")

    def backward(self, grad, input_grad=True):
        raise NotImplementedError(f"{type(self).__name__} must define backward(grad, input_grad=True)")

    def parameters(self):
        """[(name, parameter, gradient)] for this layer's trainable arrays."""
        return [(name, p, self.grads[name]) for name, p in self.params.items()]

    def zero_grad(self):
        for g in self.grads.values():
            g.fill(0)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    def astype(self, dtype):
        """Convert parameters, gradients and buffers in place of the old arrays
        (e.g. float64 for a gradient check); returns the layer."""
        self.params = {k: v.astype(dtype) for k, v in self.params.items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.buffers = {k: v.astype(dtype) for k, v in self.buffers.items()}
        return self

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


class Conv2d(Layer):
    """2-d convolution: x (N, C_in, H, W) -> (N, C_out, H_out, W_out);
    weight (C_out, C_in/groups, kH, kW), bias (C_out,). Other arguments as
    `cnnlab.conv2d`. In training the im2col columns are kept for backward
    (a `ConvCache`), as autograd keeps its saved tensors.

    >>> Conv2d(1, 6, 5)(np.zeros((2, 1, 32, 32), np.float32)).shape
    (2, 6, 28, 28)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, rng=None, dtype=np.float32):
        super().__init__()
        k = ntuple(kernel_size, 2, "kernel_size")
        self._init_params((out_channels, in_channels // groups, *k), in_channels // groups * k[0] * k[1],
                          out_channels if bias else 0, rng, dtype)
        self.conf = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        self.cache = ConvCache()

    def weight(self):
        """The kernel the convolution uses (subclasses may constrain it)."""
        return self.params["weight"]

    def forward(self, x):
        self.x = x
        if not self.training:  # evaluation keeps no columns
            self.cache.clear()
        return conv2d(x, self.weight(), self.params.get("bias"), **self.conf,
                      cache=self.cache if self.training else None)

    def backward(self, grad, input_grad=True):
        gx, gw, gb = conv2d_backward(grad, self.x, self.weight(), **self.conf, cache=self.cache,
                                     output_mask=(input_grad, True, "bias" in self.params))
        self._add_grads(gw, gb)
        return gx

    def summary_row(self, in_shape, out_shape):
        w = self.params["weight"]
        return (sum(p.size for p in self.params.values()),
                arithmetic.conv_connections(in_shape[1], w.shape[0], w.shape[2:], out_shape[2:],
                                            self.conf["groups"], "bias" in self.params))


class ConvTranspose2d(Layer):
    """Transposed convolution: x (N, C_in, H, W) -> (N, C_out, H_out, W_out);
    weight (C_in, C_out/groups, kH, kW) as in PyTorch. Arguments as
    `cnnlab.conv_transpose2d`.

    >>> ConvTranspose2d(4, 2, 4, stride=2, padding=1)(np.zeros((1, 4, 5, 5), np.float32)).shape
    (1, 2, 10, 10)
    """

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

    def backward(self, grad, input_grad=True):
        gx, gw, gb = conv_transpose2d_backward(grad, self.x, self.params["weight"], **self.conf,
                                               output_mask=(input_grad, True, "bias" in self.params))
        self._add_grads(gw, gb)
        return gx

    def summary_row(self, in_shape, out_shape):
        w = self.params["weight"]
        return sum(p.size for p in self.params.values()), in_shape[1] * int(np.prod(in_shape[2:])) * w[0].size


class SparseConv2d(Conv2d):
    """A convolution in which output map j only sees the input maps i with
    table[i, j] True (LeNet-5's C3; table (C_in, C_out)). One dense conv2d
    whose absent kernels are held at zero by a fixed mask (buffer 'mask'),
    so their gradients are masked too; only real connections count as
    parameters. Each kernel is drawn with its own fan-in (the maps it sees)."""

    def __init__(self, table, kernel_size, rng=None, dtype=np.float32):
        table = np.asarray(table, dtype=bool)
        super().__init__(table.shape[0], table.shape[1], kernel_size, rng=rng, dtype=dtype)
        self.buffers["mask"] = table.T[:, :, None, None].astype(dtype)  # (C_out, C_in, 1, 1)
        fan_in = table.sum(axis=0)[:, None, None, None] * self.params["weight"][0, 0].size
        bound = 1 / np.sqrt(fan_in)
        # the base class's draw used the dense fan-in: rescale the same uniform draw to each kernel's own
        dense_bound = 1 / np.sqrt(self.params["weight"][0].size)
        self.params["weight"][...] = self.params["weight"] / dense_bound * bound * self.buffers["mask"]

    def weight(self):
        return self.params["weight"] * self.buffers["mask"]

    def backward(self, grad, input_grad=True):
        gx = super().backward(grad, input_grad)
        self.grads["weight"] *= self.buffers["mask"]
        return gx

    def summary_row(self, in_shape, out_shape):
        k = self.params["weight"][0, 0].size
        links = int(self.buffers["mask"].sum())
        params = links * k + self.params["bias"].size
        return params, params * int(np.prod(out_shape[2:]))


class MaxPool2d(Layer):
    """Max pooling: (N, C, H, W) -> (N, C, H_out, W_out); the winning tap of
    every window in the forward is reused in backward. Arguments as `cnnlab.max_pool2d`.

    >>> MaxPool2d(2)(np.zeros((1, 6, 28, 28))).shape
    (1, 6, 14, 14)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.conf = dict(kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode)

    def forward(self, x):
        self.x = x
        out, self.winners = max_pool2d_winners(x, **self.conf)
        return out

    def backward(self, grad, input_grad=True):
        return max_pool2d_backward(grad, self.x, winners=self.winners, **self.conf) if input_grad else None

    @property
    def indices(self):
        """The flat H*W argmax of the last forward, as `max_pool2d(..., return_indices=True)`
        (for `MaxUnpool2d`; made on demand, training needs only the winners)."""
        return max_pool2d(self.x, return_indices=True, **self.conf)[1]

    def summary_row(self, in_shape, out_shape):
        k = ntuple(self.conf["kernel_size"], 2, "kernel_size")
        return 0, int(np.prod(out_shape[1:])) * k[0] * k[1]


class AvgPool2d(Layer):
    """Average pooling: (N, C, H, W) -> (N, C, H_out, W_out). Arguments as `cnnlab.avg_pool2d`.

    >>> AvgPool2d(2)(np.ones((1, 1, 4, 4)))[0, 0]
    array([[1., 1.],
           [1., 1.]])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.conf = dict(kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad)

    def forward(self, x):
        self.x = x
        return avg_pool2d(x, **self.conf)

    def backward(self, grad, input_grad=True):
        return avg_pool2d_backward(grad, self.x, **self.conf) if input_grad else None

    def summary_row(self, in_shape, out_shape):
        k = ntuple(self.conf["kernel_size"], 2, "kernel_size")
        return 0, int(np.prod(out_shape[1:])) * k[0] * k[1]


class Subsample2d(Layer):
    """LeNet-5's S2/S4: (N, C, H, W) -> (N, C, H/k, W/k). Each map's k x k
    windows are summed, multiplied by a trainable per-map coefficient
    (weight (C,)) and shifted by a trainable per-map bias (C,). A small
    coefficient makes it a blur; a large one (after the squashing function)
    a noisy OR or AND of the window. Notebook 06, section 2.

    >>> Subsample2d(6)(np.ones((1, 6, 28, 28), np.float32))[0, 0, :2, :2]  # weight 1, bias 0: window sums
    array([[4., 4.],
           [4., 4.]], dtype=float32)
    """

    def __init__(self, channels, kernel_size=2, dtype=np.float32):
        super().__init__()
        self.k = kernel_size
        self.params = {"weight": np.ones(channels, dtype=dtype), "bias": np.zeros(channels, dtype=dtype)}
        self.grads = {n: np.zeros_like(p) for n, p in self.params.items()}

    def forward(self, x):
        self.x = x
        self.sums = avg_pool2d(x, self.k) * (self.k * self.k)
        return self.sums * self.params["weight"][:, None, None] + self.params["bias"][:, None, None]

    def backward(self, grad, input_grad=True):
        self.grads["weight"] += (grad * self.sums).sum(axis=(0, 2, 3))
        self.grads["bias"] += grad.sum(axis=(0, 2, 3))
        if not input_grad:
            return None
        scaled = grad * (self.params["weight"][:, None, None] * (self.k * self.k))
        return avg_pool2d_backward(scaled, self.x, self.k)

    def summary_row(self, in_shape, out_shape):
        return 2 * out_shape[1], int(np.prod(out_shape[1:])) * (self.k * self.k + 1)


class Linear(Layer):
    """Fully connected: x (N, in) -> (N, out) = x W^T + b; weight (out, in) as in PyTorch.

    >>> Linear(400, 120)(np.zeros((2, 400), np.float32)).shape
    (2, 120)
    """

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float32):
        super().__init__()
        self._init_params((out_features, in_features), in_features, out_features if bias else 0, rng, dtype)

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.params["weight"].shape[1]:
            raise ValueError(f"Linear expects input (N, {self.params['weight'].shape[1]}), got {x.shape}")
        self.x = x
        out = x @ self.params["weight"].T
        return out + self.params["bias"] if "bias" in self.params else out

    def backward(self, grad, input_grad=True):
        self._add_grads(grad.T @ self.x, grad.sum(axis=0))
        return grad @ self.params["weight"] if input_grad else None

    def summary_row(self, in_shape, out_shape):
        n = sum(p.size for p in self.params.values())
        return n, n


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W).

    >>> Flatten()(np.zeros((2, 16, 5, 5))).shape
    (2, 400)
    """

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad, input_grad=True):
        return grad.reshape(self.shape) if input_grad else None


class Activation(Layer):
    """An elementwise nonlinearity from `cnnlab.functional.activations`, by
    name: any shape in, the same shape out.

    >>> Activation("relu")(np.array([[-1.0, 2.0]]))
    array([[0., 2.]])
    """

    def __init__(self, name, **kwargs):
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}")
        self.name, self.kwargs = name, kwargs
        self.f, self.df = ACTIVATIONS[name]

    def forward(self, x):
        self.x = x
        return self.f(x, **self.kwargs).astype(x.dtype, copy=False)

    def backward(self, grad, input_grad=True):
        if not input_grad:
            return None
        d = self.df(self.x, **self.kwargs).astype(grad.dtype, copy=False)
        return np.multiply(d, grad, out=d)  # the derivative is a fresh array: reuse it, one temporary less

    def __repr__(self):
        return f"Activation({self.name})"


class Dropout(Layer):
    """Inverted dropout, any shape: in training, zero each unit with
    probability p and scale the survivors by 1/(1-p); in evaluation, the
    identity. `rng` draws the masks (`Sequential.reseed` sets it per epoch).
    Notebook 07, section 7.

    >>> Dropout(0.5).eval()(np.ones((1, 4)))
    array([[1., 1., 1., 1.]])
    """

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

    def backward(self, grad, input_grad=True):
        if not input_grad:
            return None
        return grad if self.mask is None else grad * self.mask


class RBF(Layer):
    """LeNet-5's output layer: x (N, D) -> (N, K), unit i outputs the squared
    Euclidean distance between the input and its fixed code c_i (buffer
    'codes', (K, D)), so the smallest output is the predicted class.
    Notebook 06, section 4.

    >>> RBF(np.array([[1.0, 1.0], [-1.0, -1.0]]))(np.array([[1.0, 0.0]]))
    array([[1., 5.]])
    """

    def __init__(self, codes):
        super().__init__()
        self.buffers["codes"] = np.asarray(codes, dtype=np.float32)

    def forward(self, x):
        self.x = x
        diff = x[:, None, :] - self.buffers["codes"][None]
        return (diff ** 2).sum(axis=2)

    def backward(self, grad, input_grad=True):
        if not input_grad:
            return None
        # d/dx sum_i g_i |x - c_i|^2 = 2 sum_i g_i (x - c_i)
        return 2 * (grad.sum(axis=1, keepdims=True) * self.x - grad @ self.buffers["codes"])

    def summary_row(self, in_shape, out_shape):
        return 0, self.buffers["codes"].size


class SoftmaxCrossEntropy:
    """Loss: mean softmax cross-entropy of logits (N, K) against int labels (N,);
    `backward()` returns dLoss/dLogits."""

    def forward(self, logits, labels):
        self.logits, self.labels = logits, labels
        return float(cross_entropy(logits, labels))

    def backward(self):
        return cross_entropy_backward(self.logits, self.labels).astype(self.logits.dtype)

    @staticmethod
    def predict(outputs):
        return outputs.argmax(axis=1)

    @staticmethod
    def probabilities(outputs):
        """Class probabilities (N, K): the softmax of the logits."""
        return softmax(outputs)


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

    @staticmethod
    def probabilities(outputs):
        """Class probabilities (N, K) from the penalties: softmax(-y), the
        normalised e^-y_i of the loss (without its e^-j rejection term)."""
        return softmax(-outputs)
