"""Networks on paper: parameters, multiply-adds and activation memory of a
network from its layer specifications alone, with no weights allocated
(notebook 09, section 1).

A spec describes one layer (or one block of layers) without its input size;
`summary` walks a list of specs from an input shape and returns one `Row`
per spec:

    >>> rows = summary((1, 32, 32), [conv(6, 5), pool(2), conv(16, 5), pool(2), fc(120), fc(84), fc(10)])
    >>> [(r.name, r.shape, r.params) for r in rows[:2]]
    [('conv1', (6, 28, 28), 156), ('pool1', (6, 14, 14), 0)]
    >>> totals(rows).params, totals(rows).macs
    (61706, 416520)

Shapes are (C, H, W) for feature maps and (n,) after a fully connected
layer (which flattens its input). Counts are per image:

* params: trainable numbers (weights and biases; batch norm's scale and shift);
* macs: multiply-adds of the weight layers, a bias not counted (what the
  papers call "mult-adds", and often "FLOPs"); pooling, activations and
  batch norm count none;
* activations: numbers in the layer's output (for a block, in the outputs of
  the layers inside it), what a forward pass must keep for the backward
  pass (notebook 09 converts them to bytes).

The convolution counts are `cnnlab.arithmetic.conv_params` and
`conv_connections(..., bias=False)`, the sizes `conv_output_size` and
`pool_output_size`: one source of truth with the kernels.
"""
import math
from collections import namedtuple
from dataclasses import dataclass

from ..functional import arithmetic

Row = namedtuple("Row", "name shape params macs activations")


def _positions(shape):
    return math.prod(shape[1:]) if len(shape) == 3 else 1


def _need_maps(shape, what):
    if len(shape) != 3:
        raise ValueError(f"{what} needs a (C, H, W) input, got {shape} (after a fully connected layer?)")
    return shape


def _walk(shape, specs):
    """Apply specs in order: (output shape, params, macs, activations)."""
    params = macs = activations = 0
    for spec in specs:
        p, m = spec.count(shape)
        params, macs, activations = params + p, macs + m, activations + spec.activations(shape)
        shape = spec.out_shape(shape)
    return shape, params, macs, activations


class Spec:
    """One layer or block: `out_shape(shape)`, `count(shape) -> (params, macs)`,
    `activations(shape)` (the numbers it outputs; a block: the outputs of the
    layers inside it) and, for blocks, `parts(shape) -> [(name, spec, input shape)]`."""
    kind = "layer"
    name = None

    def parts(self, shape):
        return []

    def activations(self, shape):
        return math.prod(self.out_shape(shape))


@dataclass(frozen=True)
class Conv(Spec):
    c_out: int
    k: object
    s: object = 1
    p: object = 0
    d: object = 1
    groups: int = 1
    bias: bool = True
    depthwise: bool = False
    name: str = None
    kind = "conv"

    def _args(self, shape):
        c_in = _need_maps(shape, "a convolution")[0]
        c_out, groups = (c_in, c_in) if self.depthwise else (self.c_out, self.groups)
        k = _pair(self.k)
        return c_in, c_out, groups, k

    def out_shape(self, shape):
        _, c_out, _, k = self._args(shape)
        size = [arithmetic.conv_output_size(i, ki, si, pi, di)
                for i, ki, si, pi, di in zip(shape[1:], k, _pair(self.s), _pair(self.p), _pair(self.d))]
        return (c_out, *size)

    def count(self, shape):
        c_in, c_out, groups, k = self._args(shape)
        out = self.out_shape(shape)[1:]
        return (arithmetic.conv_params(c_in, c_out, k, groups, self.bias),
                arithmetic.conv_connections(c_in, c_out, k, out, groups, bias=False))


@dataclass(frozen=True)
class Local(Conv):
    """Locally connected: a convolution's windows with a kernel (and a bias) per output position."""
    kind = "local"

    def count(self, shape):
        params, macs = super().count(shape)
        return params * _positions(self.out_shape(shape)), macs


@dataclass(frozen=True)
class Pool(Spec):
    k: object
    s: object = None
    p: object = 0
    mode: str = "max"
    ceil: bool = False
    name: str = None
    kind = "pool"

    def out_shape(self, shape):
        c = _need_maps(shape, "pooling")[0]
        strides = _pair(self.s) if self.s is not None else (None, None)
        return (c, *[arithmetic.pool_output_size(i, k, s, p, ceil_mode=self.ceil)
                     for i, k, s, p in zip(shape[1:], _pair(self.k), strides, _pair(self.p))])

    def count(self, shape):
        return 0, 0


@dataclass(frozen=True)
class GlobalPool(Spec):
    mode: str = "avg"
    name: str = None
    kind = "gap"

    def out_shape(self, shape):
        return (_need_maps(shape, "global pooling")[0], 1, 1)

    def count(self, shape):
        return 0, 0


@dataclass(frozen=True)
class FC(Spec):
    n: int
    bias: bool = True
    name: str = None
    kind = "fc"

    def out_shape(self, shape):
        return (self.n,)

    def count(self, shape):
        n_in = math.prod(shape)
        return self.n * n_in + (self.n if self.bias else 0), self.n * n_in


@dataclass(frozen=True)
class BN(Spec):
    name: str = None
    kind = "bn"

    def out_shape(self, shape):
        return shape

    def count(self, shape):
        return 2 * shape[0], 0


@dataclass(frozen=True)
class Block(Spec):
    """Specs applied in sequence, reported as one row (e.g. a VGG stage)."""
    specs: tuple
    name: str = None
    kind = "block"

    def parts(self, shape):
        out = []
        for i, spec in enumerate(self.specs):
            out.append((spec.name or f"{spec.kind}{i + 1}", spec, shape))
            shape = spec.out_shape(shape)
        return out

    def out_shape(self, shape):
        return _walk(shape, self.specs)[0]

    def count(self, shape):
        return _walk(shape, self.specs)[1:3]

    def activations(self, shape):
        return _walk(shape, self.specs)[3]


@dataclass(frozen=True)
class Branches(Spec):
    """Parallel branches on one input, concatenated along the channels (an
    Inception module). An empty branch passes the input through."""
    branches: tuple
    labels: tuple
    name: str = None
    kind = "inception"

    def parts(self, shape):
        out = []
        for label, branch in zip(self.labels, self.branches):
            s = shape
            for i, spec in enumerate(branch):
                out.append((f"{label}" + (f".{i + 1}" if len(branch) > 1 else ""), spec, s))
                s = spec.out_shape(s)
        return out

    def out_shape(self, shape):
        outs = [_walk(shape, b)[0] if b else shape for b in self.branches]
        if len({o[1:] for o in outs}) != 1:
            raise ValueError(f"branches give different map sizes {[o[1:] for o in outs]}: they cannot be concatenated")
        return (sum(o[0] for o in outs), *outs[0][1:])

    def count(self, shape):
        counts = [_walk(shape, b)[1:3] for b in self.branches]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def activations(self, shape):
        return sum(_walk(shape, b)[3] for b in self.branches)


@dataclass(frozen=True)
class Residual(Spec):
    """A main branch plus a shortcut (identity, or a projection when given), added."""
    main: tuple
    shortcut: tuple = ()
    name: str = None
    kind = "residual"

    def parts(self, shape):
        return (Branches((self.main,), ("main",)).parts(shape)
                + (Branches((self.shortcut,), ("shortcut",)).parts(shape) if self.shortcut else []))

    def out_shape(self, shape):
        out = _walk(shape, self.main)[0]
        skip = _walk(shape, self.shortcut)[0] if self.shortcut else shape
        if out != skip:
            raise ValueError(f"residual branch gives {out} but the shortcut {skip}: add a projection")
        return out

    def count(self, shape):
        main, skip = _walk(shape, self.main), _walk(shape, self.shortcut)
        return main[1] + skip[1], main[2] + skip[2]

    def activations(self, shape):
        return _walk(shape, self.main)[3] + _walk(shape, self.shortcut)[3]


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# --- the spec language ---------------------------------------------------------------------------

def conv(c_out, k, s=1, p=0, d=1, groups=1, bias=True, name=None):
    """A k x k convolution to c_out maps, stride s, padding p (per side), dilation d."""
    return Conv(c_out, k, s, p, d, groups, bias, name=name)


def dwconv(k, s=1, p=0, bias=True, name=None):
    """A depthwise convolution: one k x k kernel per input channel (groups = C_in)."""
    return Conv(None, k, s, p, 1, 1, bias, depthwise=True, name=name)


def local(c_out, k, s=1, p=0, bias=True, name=None):
    """A locally connected layer: conv's geometry, unshared weights and biases."""
    return Local(c_out, k, s, p, 1, 1, bias, name=name)


def pool(k, s=None, p=0, mode="max", ceil=False, name=None):
    """Max (or 'avg') pooling, k x k, stride s (default k)."""
    return Pool(k, s, p, mode, ceil, name=name)


def gap(name=None):
    """Global average pooling: (C, H, W) -> (C, 1, 1)."""
    return GlobalPool(name=name)


def fc(n, bias=True, name=None):
    """A fully connected layer to n units; flattens its input."""
    return FC(n, bias, name=name)


def bn(name=None):
    """Batch normalisation: 2 parameters (scale, shift) per channel."""
    return BN(name=name)


def block(*specs, name=None):
    """Specs in sequence, summarised as one row."""
    return Block(tuple(specs), name=name)


def inception(c1, c3r, c3, c5r, c5, pool_proj, reduce=True, bias=False, name=None):
    """GoogLeNet's Inception module (Szegedy et al. 2015, Table 1's columns):
    a 1x1 branch (c1 maps), a 3x3 branch (c3 maps, after a 1x1 reduction to
    c3r), a 5x5 branch (c5, after a reduction to c5r) and a 3x3 max pooling
    branch (stride 1) followed by a 1x1 projection to pool_proj maps. With
    reduce=False the naive module: no 1x1 reductions and no projection, so
    the pooling branch passes all C_in maps through. bias=False counts
    weights only, as the papers do."""
    mp = pool(3, 1, 1)
    if reduce:
        branches = ((conv(c1, 1, bias=bias),), (conv(c3r, 1, bias=bias), conv(c3, 3, p=1, bias=bias)),
                    (conv(c5r, 1, bias=bias), conv(c5, 5, p=2, bias=bias)), (mp, conv(pool_proj, 1, bias=bias)))
    else:
        branches = ((conv(c1, 1, bias=bias),), (conv(c3, 3, p=1, bias=bias),), (conv(c5, 5, p=2, bias=bias),), (mp,))
    return Branches(branches, ("1x1", "3x3", "5x5", "pool"), name=name)


def _norm(with_bn):
    return (bn(),) if with_bn else ()


def _projection(c_out, s, with_bn, bias):
    return (conv(c_out, 1, s, bias=bias), *_norm(with_bn))


def basic(c_out, s=1, with_bn=False, bias=False, project=None, name=None):
    """ResNet's basic block: two 3x3 convolutions (the first with stride s)
    plus a shortcut; project=True (default: whenever s != 1, which the
    caller must set when the channels change) adds a 1x1 projection."""
    main = (conv(c_out, 3, s, 1, bias=bias), *_norm(with_bn), conv(c_out, 3, 1, 1, bias=bias), *_norm(with_bn))
    project = s != 1 if project is None else project
    return Residual(main, _projection(c_out, s, with_bn, bias) if project else (), name=name)


def bottleneck(c_mid, c_out, s=1, with_bn=False, bias=False, project=None, stride_on="1x1", name=None):
    """ResNet's bottleneck: 1x1 to c_mid maps, 3x3 at c_mid, 1x1 up to c_out,
    plus a shortcut (a 1x1 projection with stride s when project, default
    s != 1; set it where the channels change). The stride sits on the first
    1x1 as in He et al. (2016); stride_on='3x3' is torchvision's "v1.5"."""
    s1, s3 = (s, 1) if stride_on == "1x1" else (1, s)
    main = (conv(c_mid, 1, s1, bias=bias), *_norm(with_bn), conv(c_mid, 3, s3, 1, bias=bias), *_norm(with_bn),
            conv(c_out, 1, bias=bias), *_norm(with_bn))
    project = s != 1 if project is None else project
    return Residual(main, _projection(c_out, s, with_bn, bias) if project else (), name=name)


def separable(c_out, k=3, s=1, p=1, with_bn=False, bias=False, name=None):
    """A depthwise separable convolution (Xception, MobileNet): a depthwise
    k x k convolution with stride s, then a pointwise 1x1 to c_out maps."""
    return Block((dwconv(k, s, p, bias=bias), *_norm(with_bn), conv(c_out, 1, bias=bias), *_norm(with_bn)),
                 name=name)


# --- summaries ---------------------------------------------------------------------------------

def _rows(name, spec, shape, expand):
    parts = spec.parts(shape) if expand else []
    if not parts:
        params, macs = spec.count(shape)
        return [Row(name, spec.out_shape(shape), params, macs, spec.activations(shape))]
    return [row for part, sub, sub_in in parts for row in _rows(f"{name}/{part}", sub, sub_in, expand)]


def summary(input_shape, specs, expand=False):
    """One `Row` (name, output shape, params, macs, activations) per spec,
    walking `specs` from `input_shape` ((C, H, W) of one image). Unnamed
    specs are named by kind and count (conv1, pool1, fc1, ...). expand=True
    lists the layers inside blocks instead, named block/part."""
    shape, rows, seen = tuple(input_shape), [], {}
    for spec in specs:
        seen[spec.kind] = seen.get(spec.kind, 0) + 1
        rows += _rows(spec.name or f"{spec.kind}{seen[spec.kind]}", spec, shape, expand)
        shape = spec.out_shape(shape)
    return rows


def totals(rows):
    """A Row with the sums of params, macs and activations (shape: the last row's)."""
    return Row("total", rows[-1].shape if rows else (), sum(r.params for r in rows), sum(r.macs for r in rows),
               sum(r.activations for r in rows))


def activation_bytes(input_shape, rows, bytes_per_number=4, include_input=True):
    """Memory of one forward pass's activations: every row's output (and the
    input image) at bytes_per_number (4 for float32), the CS231n notes' tally."""
    return bytes_per_number * (sum(r.activations for r in rows) + (math.prod(input_shape) if include_input else 0))


def table(rows, total=True):
    """The rows as aligned text (with a total line)."""
    head = f"{'layer':<16}{'output':>16}{'params':>14}{'MACs':>17}{'activations':>14}"
    lines = [head]
    for r in rows + ([totals(rows)] if total else []):
        shape = "x".join(map(str, r.shape)) if r.name != "total" else ""
        lines.append(f"{r.name:<16}{shape:>16}{r.params:>14,}{r.macs:>17,}{r.activations:>14,}")
    return "\n".join(lines)


# --- published architectures, as (input shape, specs) ------------------------------------------

def lenet5():
    """The modern LeNet-5 of notebook 06 (`cnnlab.nn.models.lenet5`)."""
    return (1, 32, 32), [conv(6, 5), pool(2), conv(16, 5), pool(2), fc(120), fc(84), fc(10)]


def alexnet():
    """Krizhevsky et al. (2012), one image on both GPUs: conv2, conv4 and conv5
    see only their own GPU's half of the maps (groups=2). The paper's 224x224
    input does not give its 55x55 conv1 maps; 227x227 does."""
    return (3, 227, 227), [
        conv(96, 11, 4), pool(3, 2), conv(256, 5, p=2, groups=2), pool(3, 2), conv(384, 3, p=1),
        conv(384, 3, p=1, groups=2), conv(256, 3, p=1, groups=2), pool(3, 2), fc(4096), fc(4096), fc(1000)]


def zfnet():
    """Zeiler & Fergus (2013): AlexNet with a 7x7 stride-2 first layer, a
    stride-2 second layer and no GPU split (pooling rounds up, as in Caffe)."""
    return (3, 224, 224), [
        conv(96, 7, 2, 1), pool(3, 2, ceil=True), conv(256, 5, 2), pool(3, 2, ceil=True), conv(384, 3, p=1),
        conv(384, 3, p=1), conv(256, 3, p=1), pool(3, 2), fc(4096), fc(4096), fc(1000)]


def vgg16():
    """Simonyan & Zisserman (2014), configuration D: 13 3x3 convolutions in
    five stages, each closed by 2x2 max pooling, then three fully connected layers."""
    stages = [block(*[conv(c, 3, p=1) for _ in range(n)], pool(2), name=f"stage{i + 1}")
              for i, (c, n) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)])]
    return (3, 224, 224), [*stages, fc(4096), fc(4096), fc(1000)]


def googlenet():
    """Szegedy et al. (2015), Table 1, without the auxiliary classifiers;
    weights only (the table's convention). Pooling rounds up, as in Caffe."""
    mp = pool(3, 2, ceil=True)
    return (3, 224, 224), [
        conv(64, 7, 2, 3, bias=False), mp, conv(64, 1, bias=False), conv(192, 3, p=1, bias=False), mp,
        inception(64, 96, 128, 16, 32, 32, name="3a"), inception(128, 128, 192, 32, 96, 64, name="3b"), mp,
        inception(192, 96, 208, 16, 48, 64, name="4a"), inception(160, 112, 224, 24, 64, 64, name="4b"),
        inception(128, 128, 256, 24, 64, 64, name="4c"), inception(112, 144, 288, 32, 64, 64, name="4d"),
        inception(256, 160, 320, 32, 128, 128, name="4e"), mp,
        inception(256, 160, 320, 32, 128, 128, name="5a"), inception(384, 192, 384, 48, 128, 128, name="5b"),
        gap(), fc(1000, bias=False)]


def resnet50(stride_on="1x1"):
    """He et al. (2016), Table 1's 50-layer network: a 7x7 stem, 3 + 4 + 6 + 3
    bottleneck blocks (batch norm after every convolution, a projection
    shortcut where each stage starts), global average pooling, 1000 outputs."""
    layers = [conv(64, 7, 2, 3, bias=False), bn(), pool(3, 2, 1)]
    for i, (mid, out, n) in enumerate([(64, 256, 3), (128, 512, 4), (256, 1024, 6), (512, 2048, 3)]):
        layers += [bottleneck(mid, out, 1 if i == 0 or j else 2, with_bn=True, project=j == 0, stride_on=stride_on,
                              name=f"res{i + 2}{'abcdef'[j]}") for j in range(n)]
    return (3, 224, 224), [*layers, gap(), fc(1000)]


def mobilenet():
    """Howard et al. (2017), MobileNet v1 (width 1, 224x224): a 3x3 stride-2
    convolution and 13 depthwise separable layers, batch norm after every
    convolution, global average pooling, 1000 outputs."""
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    return (3, 224, 224), [conv(32, 3, 2, 1, bias=False), bn(),
                           *[separable(c, 3, s, 1, with_bn=True) for c, s in plan], gap(), fc(1000)]


def deepface(locally_connected=True):
    """Taigman et al. (2014) on an aligned 152x152 face: C1, M2, C3
    convolutions and pooling, L4-L6 locally connected (or, with
    locally_connected=False, shared convolutions of the same geometry), F7
    and F8 fully connected (4030 identities)."""
    lc = local if locally_connected else conv
    return (3, 152, 152), [
        conv(32, 11, name="C1"), pool(3, 2, ceil=True, name="M2"), conv(16, 9, name="C3"), lc(16, 9, name="L4"),
        lc(16, 7, 2, name="L5"), lc(16, 5, name="L6"), fc(4096, name="F7"), fc(4030, name="F8")]


__all__ = ["Row", "summary", "totals", "table", "activation_bytes", "conv", "dwconv", "local", "pool", "gap", "fc",
           "bn", "block", "inception", "basic", "bottleneck", "separable", "lenet5", "alexnet", "zfnet", "vgg16",
           "googlenet", "resnet50", "mobilenet", "deepface"]
