"""The building blocks of the networks after LeNet (notebook 09), with the
`Layer` protocol of `cnnlab.nn.layers`:

* `BatchNorm2d` - batch normalisation (Ioffe & Szegedy, 2015), with running
  statistics used in evaluation;
* `MaxUnpool2d` - DeconvNet's unpooling (Zeiler & Fergus, 2013): values go
  back to the cells a paired `MaxPool2d` took its maxima from;
* `Residual` - the residual block of He et al. (2016): two 3x3 convolutions
  plus an identity or 1x1-projection shortcut, whose backward pass sums the
  gradients of both paths;
* `Network` - a `Sequential` whose state (what checkpoints store) also holds
  the running statistics of its batch-norm layers, so that a resumed or
  reloaded network evaluates exactly as the one that was trained;
* `bilinear_upsampling_weight` - FCN's initialisation of a transposed
  convolution as bilinear interpolation (Long, Shelhamer & Darrell, 2015).
"""
import numpy as np

from ..functional.norm import batch_norm2d, batch_norm2d_backward
from ..functional.pool import max_unpool2d, max_unpool2d_backward
from .layers import Activation, Conv2d, Layer, MaxPool2d
from .models import Sequential


def running_state(layer):
    """[(name, array)] of the running statistics a layer keeps (its own and
    its sub-layers'): what must be saved besides the parameters."""
    own = getattr(layer, "running_state", None)
    return own() if callable(own) else []


class BatchNorm2d(Layer):
    """Batch normalisation over (N, C, H, W) -> (N, C, H, W), as
    `torch.nn.BatchNorm2d`: weight (gamma, ones) and bias (beta, zeros) of
    shape (C,) when affine; buffers running_mean (zeros) and running_var
    (ones). In training it normalises with the batch statistics and updates
    the running ones (`cnnlab.batch_norm2d`); in evaluation it uses the
    running statistics.

    >>> bn = BatchNorm2d(2)
    >>> y = bn(np.random.default_rng(0).normal(3.0, 2.0, (8, 2, 4, 4)))
    >>> y.mean(axis=(0, 2, 3)).round(6) + 0.0, y.std(axis=(0, 2, 3)).round(3)
    (array([0., 0.]), array([1., 1.]))
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, dtype=np.float32):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        if affine:
            self.params = {"weight": np.ones(num_features, dtype=dtype), "bias": np.zeros(num_features, dtype=dtype)}
            self.grads = {n: np.zeros_like(p) for n, p in self.params.items()}
        self.buffers = {"running_mean": np.zeros(num_features, dtype=dtype),
                        "running_var": np.ones(num_features, dtype=dtype)}

    def running_state(self):
        return [(name, self.buffers[name]) for name in ("running_mean", "running_var")]

    def forward(self, x):
        self.x = x
        return batch_norm2d(x, self.buffers["running_mean"], self.buffers["running_var"], self.params.get("weight"),
                            self.params.get("bias"), training=self.training, momentum=self.momentum, eps=self.eps)

    def backward(self, grad, input_grad=True):
        running = {} if self.training else {"running_mean": self.buffers["running_mean"],
                                            "running_var": self.buffers["running_var"]}
        gx, gw, gb = batch_norm2d_backward(grad, self.x, self.params.get("weight"), self.eps, **running)
        if self.params:
            self._add_grads(gw, gb)
        return gx if input_grad else None

    def summary_row(self, in_shape, out_shape):
        return sum(p.size for p in self.params.values()), int(np.prod(out_shape[1:]))

    def __repr__(self):
        return f"BatchNorm2d({self.buffers['running_mean'].size})"


class MaxUnpool2d(Layer):
    """Max unpooling paired with a `MaxPool2d` layer (DeconvNet's switches):
    (N, C, h, w) -> (N, C, H, W), each value written back to the cell the
    pooling layer's last forward took its maximum from, zeros elsewhere;
    (H, W) is that pooling layer's input size. Arguments as `cnnlab.max_unpool2d`.

    >>> pool = MaxPool2d(2)
    >>> x = np.array([[[[1., 3], [4, 2]]]])
    >>> MaxUnpool2d(pool)(pool(x))
    array([[[[0., 0.],
             [4., 0.]]]])
    """

    def __init__(self, pool):
        super().__init__()
        if not isinstance(pool, MaxPool2d):
            raise TypeError(f"MaxUnpool2d needs the MaxPool2d layer whose indices it uses, got {type(pool).__name__}")
        self.pool = pool
        self.conf = {k: pool.conf[k] for k in ("kernel_size", "stride", "padding")}

    def forward(self, x):
        self.indices = self.pool.indices
        return max_unpool2d(x, self.indices, **self.conf, output_size=self.pool.x.shape[2:])

    def backward(self, grad, input_grad=True):
        return max_unpool2d_backward(grad, self.indices, **self.conf) if input_grad else None


class Residual(Layer):
    """A residual block (He et al., 2016): x (N, C_in, H, W) -> (N, C_out, H/s, W/s),

        out = act(F(x) + shortcut(x)),   F = conv3x3(s) - [bn] - act - conv3x3 - [bn]

    The shortcut is the identity when the shapes agree, else a 1x1
    convolution with stride s (the "projection", followed by batch norm
    when batch_norm). Its backward pass runs both paths back and adds their
    input gradients: the identity path hands the block's output gradient to
    its input unchanged.

    preactivation=True is the block of He et al.'s follow-up paper ("identity
    mappings"): out = F(x) + shortcut(x) with F = [bn] - act - conv3x3(s) -
    [bn] - act - conv3x3, so no activation touches the identity path.
    skip=False removes the shortcut: the same layers as a plain stack, for
    comparisons. With batch_norm the convolutions have no bias (the
    normalisation would cancel it).

    >>> block = Residual(4, 8, stride=2, rng=np.random.default_rng(0))
    >>> block(np.ones((2, 4, 6, 6), np.float32)).shape, [n for n, _, _ in block.parameters()][:3]
    ((2, 8, 3, 3), ['conv1.weight', 'bn1.weight', 'bn1.bias'])
    """

    def __init__(self, in_channels, out_channels, stride=1, activation="relu", batch_norm=True, preactivation=False,
                 skip=True, rng=None, dtype=np.float32):
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng(0)
        bias = not batch_norm

        def norm(name, c):
            return [(name, BatchNorm2d(c, dtype=dtype))] if batch_norm else []
        conv1 = ("conv1", Conv2d(in_channels, out_channels, 3, stride, 1, bias=bias, rng=rng, dtype=dtype))
        conv2 = ("conv2", Conv2d(out_channels, out_channels, 3, 1, 1, bias=bias, rng=rng, dtype=dtype))
        if preactivation:
            self.body = [*norm("bn1", in_channels), ("act1", Activation(activation)), conv1,
                         *norm("bn2", out_channels), ("act2", Activation(activation)), conv2]
        else:
            self.body = [conv1, *norm("bn1", out_channels), ("act1", Activation(activation)), conv2,
                         *norm("bn2", out_channels)]
        self.skip = skip
        self.shortcut = []
        if skip and (in_channels != out_channels or stride != 1):
            self.shortcut = [("proj", Conv2d(in_channels, out_channels, 1, stride, bias=bias, rng=rng, dtype=dtype)),
                             *norm("proj_bn", out_channels)]
        self.out_act = None if preactivation else Activation(activation)

    def sublayers(self):
        """[(name, layer)]: the branch, the shortcut, then the output activation."""
        return self.body + self.shortcut + ([("act_out", self.out_act)] if self.out_act else [])

    def forward(self, x):
        self.shapes = {}  # (input shape, output shape) of every sub-layer, for summary_row
        h = x
        for name, layer in self.body:
            self.shapes[name] = (h.shape, None)
            h = layer.forward(h)
            self.shapes[name] = (self.shapes[name][0], h.shape)
        if self.skip:
            s = x
            for name, layer in self.shortcut:
                self.shapes[name] = (s.shape, None)
                s = layer.forward(s)
                self.shapes[name] = (self.shapes[name][0], s.shape)
            h = h + s
        return self.out_act.forward(h) if self.out_act else h

    def backward(self, grad, input_grad=True):
        if self.out_act:
            grad = self.out_act.backward(grad)
        g = grad
        for i, (_, layer) in enumerate(reversed(self.body)):
            g = layer.backward(g, input_grad=input_grad or i < len(self.body) - 1)
        if not self.skip:
            return g
        s = grad
        for i, (_, layer) in enumerate(reversed(self.shortcut)):
            s = layer.backward(s, input_grad=input_grad or i < len(self.shortcut) - 1)
        return g + s if input_grad else None

    def parameters(self):
        return [(f"{n}.{k}", p, g) for n, layer in self.sublayers() for k, p, g in layer.parameters()]

    def running_state(self):
        return [(f"{n}.{k}", b) for n, layer in self.sublayers() for k, b in running_state(layer)]

    def zero_grad(self):
        for _, layer in self.sublayers():
            layer.zero_grad()

    def train(self, mode=True):
        self.training = mode
        for _, layer in self.sublayers():
            layer.train(mode)
        return self

    def astype(self, dtype):
        for _, layer in self.sublayers():
            layer.astype(dtype)
        return self

    def summary_row(self, in_shape, out_shape):
        """(parameters, connections) of the block's weight layers, from the shapes of the last forward."""
        params = sum(p.size for _, p, _ in self.parameters())
        connections = sum(layer.summary_row(*self.shapes[name])[1] for name, layer in self.body + self.shortcut
                          if isinstance(layer, Conv2d))
        return params, connections

    def __repr__(self):
        kind = "Residual" if self.skip else "Plain"
        return f"{kind}(" + ", ".join(f"{n}={layer!r}" for n, layer in self.sublayers()) + ")"


class Network(Sequential):
    """A `Sequential` whose `state_dict` also holds the running statistics of
    its layers (batch norm's running mean and variance, named like
    'bn1.running_mean'), so that checkpoints (`train.save_checkpoint`) keep
    them and a resumed run continues exactly; `summary` runs in evaluation
    mode, so it never touches them."""

    def running_state(self):
        return [(f"{n}.{k}", b) for n, layer in self.layers for k, b in running_state(layer)]

    def state_dict(self):
        return {**super().state_dict(), **dict(self.running_state())}

    def summary(self):
        was = self.training
        self.eval()
        try:
            return super().summary()
        finally:
            self.train(was)


def bilinear_upsampling_weight(channels, factor, dtype=np.float32):
    """Weight (C, C, k, k) of a transposed convolution (stride=factor,
    padding=factor // 2, k = 2 factor - factor % 2) that upsamples each of
    C channels by bilinear interpolation, channel c only to channel c (FCN's
    initialisation of its upsampling layers). Away from the border it equals
    bilinear interpolation with align_corners=False.

    >>> bilinear_upsampling_weight(1, 2)[0, 0]
    array([[0.0625, 0.1875, 0.1875, 0.0625],
           [0.1875, 0.5625, 0.5625, 0.1875],
           [0.1875, 0.5625, 0.5625, 0.1875],
           [0.0625, 0.1875, 0.1875, 0.0625]], dtype=float32)
    """
    if int(factor) != factor or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    size = 2 * factor - factor % 2
    centre = factor - 1 if size % 2 else factor - 0.5
    taps = 1 - np.abs(np.arange(size) - centre) / factor
    weight = np.zeros((channels, channels, size, size), dtype=dtype)
    weight[np.arange(channels), np.arange(channels)] = np.outer(taps, taps)
    return weight


__all__ = ["BatchNorm2d", "MaxUnpool2d", "Residual", "Network", "bilinear_upsampling_weight", "running_state"]
