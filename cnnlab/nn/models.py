"""Networks built from `cnnlab.nn.layers`: LeNet-5 (modern and as in the
1998 paper), the simplified stride-2 LeNet, and the small nets of the MNIST
generalisation ladder. `Sequential.summary()` computes the layer table
(maps, size, trainable parameters, connections) from the layers themselves
(notebook 06, section 1).
"""
import numpy as np

from .. import data
from .layers import (
    RBF,
    Activation,
    AvgPool2d,
    Conv2d,
    Dropout,
    Flatten,
    Layer,
    Linear,
    MaxPool2d,
    RBFLoss,
    SoftmaxCrossEntropy,
    SparseConv2d,
    Subsample2d,
)


class Sequential(Layer):
    """Layers applied in order, with the `Layer` protocol itself.

    layers: (name, layer) pairs; input_shape: one example, e.g. (1, 32, 32);
    loss: SoftmaxCrossEntropy (default) or RBFLoss; scale: how `prepare`
    turns uint8 MNIST digits into inputs ('unit' [0, 1] or LeCun's 'lecun')."""

    def __init__(self, layers, input_shape, loss=None, name="model", scale="unit"):
        super().__init__()
        self.layers = [(n, layer) for n, layer in layers]
        self.input_shape = tuple(input_shape)
        self.loss = loss if loss is not None else SoftmaxCrossEntropy()
        self.name, self.scale = name, scale

    def prepare(self, images):
        """uint8 digits (N, 28, 28) -> the float input (N, *input_shape) this
        model expects: scaled, and padded with background to its size
        (2 cells each side for 32x32, 1 after for 29x29)."""
        x = data.to_float(images, self.scale)
        extra = self.input_shape[-1] - x.shape[-1]
        if extra == 4:
            return data.pad_to_32(x)
        return np.pad(x, [(0, 0), (0, 0), (0, extra), (0, extra)], constant_values=x.min()) if extra else x

    def forward(self, x):
        for _, layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, grad, input_grad=True):
        """Backpropagate dLoss/dOutput; returns dLoss/dInput. With input_grad=False
        the first layer skips that last, unused gradient (training never needs
        the gradient of the images) and None is returned."""
        for i, (_, layer) in enumerate(reversed(self.layers)):
            grad = layer.backward(grad, input_grad=input_grad or i < len(self.layers) - 1)
        return grad

    def parameters(self):
        """[(name, param, grad)] with names like 'C1.weight', in layer order."""
        return [(f"{n}.{k}", p, g) for n, layer in self.layers for k, p, g in layer.parameters()]

    def astype(self, dtype):
        for _, layer in self.layers:
            layer.astype(dtype)
        return self

    def state_dict(self):
        return {name: p for name, p, _ in self.parameters()}

    def load_state_dict(self, state):
        """Copy arrays into the parameters; names and shapes must match exactly."""
        own = self.state_dict()
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"state does not fit {self.name}: missing {missing}, unexpected {unexpected}")
        for name, p in own.items():
            if np.shape(state[name]) != p.shape:
                raise ValueError(f"parameter {name} has shape {p.shape}, state has {np.shape(state[name])}")
            p[...] = state[name]

    def zero_grad(self):
        for _, layer in self.layers:
            layer.zero_grad()

    def train(self, mode=True):
        self.training = mode
        for _, layer in self.layers:
            layer.train(mode)
        return self

    def reseed(self, *key):
        """Give every stochastic layer (dropout) a generator derived from `key`,
        so a run resumed at an epoch draws exactly what the original drew."""
        for i, (_, layer) in enumerate(self.layers):
            if isinstance(layer, Dropout):
                layer.rng = np.random.default_rng([*key, i])

    def predict(self, outputs):
        return self.loss.predict(outputs)

    def summary(self):
        """Rows (name, maps, size, params, connections) for every layer with
        weights or connections, computed by running a dummy example through."""
        x = np.zeros((1, *self.input_shape), dtype=np.float32)
        rows = []
        for name, layer in self.layers:
            y = layer.forward(x)
            row = layer.summary_row(x.shape, y.shape)
            if row is not None:
                size = "x".join(map(str, y.shape[2:])) if y.ndim == 4 else "-"
                rows.append((name, y.shape[1], size, *row))
            x = y
        return rows

    def summary_table(self):
        """The summary as aligned text."""
        head = ("layer", "maps", "size", "params", "connections")
        lines = [f"{head[0]:<8}{head[1]:>6}{head[2]:>8}{head[3]:>10}{head[4]:>13}"]
        for name, maps, size, params, conns in self.summary():
            lines.append(f"{name:<8}{maps:>6}{size:>8}{params:>10,}{conns:>13,}")
        total = sum(r[3] for r in self.summary())
        lines.append(f"{'total':<8}{'':>6}{'':>8}{total:>10,}")
        return "\n".join(lines)

    def __repr__(self):
        return f"{self.name}(" + ", ".join(f"{n}={layer!r}" for n, layer in self.layers) + ")"


def lenet5(rng=None, activation="relu"):
    """Modern LeNet-5 on 1x32x32: conv6@5x5-act-maxpool-conv16@5x5-act-maxpool-
    120-84-10 with softmax cross-entropy (the network PyTorch tutorials train)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    return Sequential([
        ("C1", Conv2d(1, 6, 5, rng=rng)), ("a1", Activation(activation)), ("S2", MaxPool2d(2)),
        ("C3", Conv2d(6, 16, 5, rng=rng)), ("a3", Activation(activation)), ("S4", MaxPool2d(2)),
        ("flat", Flatten()),
        ("C5", Linear(400, 120, rng=rng)), ("a5", Activation(activation)),
        ("F6", Linear(120, 84, rng=rng)), ("a6", Activation(activation)),
        ("out", Linear(84, 10, rng=rng))], (1, 32, 32), name="lenet5")


# LeNet-5's C3 connection table (rows: S2 maps 0-5, columns: C3 maps 0-15).
C3_TABLE = np.array([[c in cols for c in range(16)] for cols in (
    {0, 4, 5, 6, 9, 10, 11, 12, 14, 15},
    {0, 1, 5, 6, 7, 10, 11, 12, 13, 15},
    {0, 1, 2, 6, 7, 8, 11, 13, 14, 15},
    {1, 2, 3, 6, 7, 8, 9, 12, 14, 15},
    {2, 3, 4, 7, 8, 9, 10, 12, 13, 15},
    {3, 4, 5, 8, 9, 10, 11, 13, 14, 15})])

# Stylised 7x12 digit bitmaps for the RBF codes ('#' = +1, '.' = -1).
DIGIT_BITMAPS = {
    0: ["..###..", ".#...#.", "#.....#", "#.....#", "#.....#", "#.....#",
        "#.....#", "#.....#", "#.....#", "#.....#", ".#...#.", "..###.."],
    1: ["...#...", "..##...", ".#.#...", "...#...", "...#...", "...#...",
        "...#...", "...#...", "...#...", "...#...", "...#...", ".#####."],
    2: [".#####.", "#.....#", "......#", "......#", ".....#.", "....#..",
        "...#...", "..#....", ".#.....", "#......", "#......", "#######"],
    3: [".#####.", "#.....#", "......#", "......#", "......#", "..####.",
        "......#", "......#", "......#", "......#", "#.....#", ".#####."],
    4: ["....##.", "...#.#.", "..#..#.", ".#...#.", "#....#.", "#....#.",
        "#######", ".....#.", ".....#.", ".....#.", ".....#.", ".....#."],
    5: ["#######", "#......", "#......", "#......", "######.", "......#",
        "......#", "......#", "......#", "......#", "#.....#", ".#####."],
    6: ["..####.", ".#.....", "#......", "#......", "######.", "#.....#",
        "#.....#", "#.....#", "#.....#", "#.....#", "#.....#", ".#####."],
    7: ["#######", "......#", "......#", ".....#.", ".....#.", "....#..",
        "....#..", "...#...", "...#...", "..#....", "..#....", "..#...."],
    8: [".#####.", "#.....#", "#.....#", "#.....#", ".#...#.", "..###..",
        ".#...#.", "#.....#", "#.....#", "#.....#", "#.....#", ".#####."],
    9: [".#####.", "#.....#", "#.....#", "#.....#", "#.....#", ".######",
        "......#", "......#", "......#", ".....#.", "....#..", ".###..."],
}


def rbf_codes():
    """(10, 84) array of +-1 codes: digit d's 7x12 bitmap, row-major."""
    return np.array([[1.0 if ch == "#" else -1.0 for row in DIGIT_BITMAPS[d] for ch in row] for d in range(10)],
                    dtype=np.float32)


def lenet5_1998(rng=None):
    """LeNet-5 as in LeCun, Bottou, Bengio & Haffner (1998): scaled tanh after
    every layer up to F6, trainable subsampling S2/S4, the sparse C3 table, C5
    as a convolution, F6 with 84 units and Euclidean RBF outputs on fixed
    7x12 bitmaps, trained with the paper's RBF loss (eq. 9)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    act = "lecun_tanh"
    return Sequential([
        ("C1", Conv2d(1, 6, 5, rng=rng)), ("a1", Activation(act)),
        ("S2", Subsample2d(6)), ("a2", Activation(act)),
        ("C3", SparseConv2d(C3_TABLE, 5, rng=rng)), ("a3", Activation(act)),
        ("S4", Subsample2d(16)), ("a4", Activation(act)),
        ("C5", Conv2d(16, 120, 5, rng=rng)), ("a5", Activation(act)),
        ("flat", Flatten()),
        ("F6", Linear(120, 84, rng=rng)), ("a6", Activation(act)),
        ("output", RBF(rbf_codes()))], (1, 32, 32), loss=RBFLoss(), name="lenet5_1998", scale="lecun")


def simplified_lenet(rng=None, activation="tanh"):
    """The simplified LeNet of Simard et al. (2003) without subsampling layers:
    29x29 input, 6 maps 13x13 and 50 maps 5x5 by 5x5 convolutions with stride
    2, 100 fully connected units, 10 outputs."""
    rng = rng if rng is not None else np.random.default_rng(0)
    return Sequential([
        ("L1", Conv2d(1, 6, 5, stride=2, rng=rng)), ("a1", Activation(activation)),
        ("L2", Conv2d(6, 50, 5, stride=2, rng=rng)), ("a2", Activation(activation)),
        ("flat", Flatten()),
        ("L3", Linear(1250, 100, rng=rng)), ("a3", Activation(activation)),
        ("L4", Linear(100, 10, rng=rng))], (1, 29, 29), name="simplified_lenet")


def mlp(hidden=100, rng=None, activation="sigmoid"):
    """Rung 1 of the ladder: 784 -> hidden -> 10 (Nielsen's 97.8% network)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    return Sequential([("flat", Flatten()), ("H", Linear(784, hidden, rng=rng)), ("a", Activation(activation)),
                       ("out", Linear(hidden, 10, rng=rng))], (1, 28, 28), name="mlp")


def conv_net(n_conv=1, activation="sigmoid", hidden=(100,), dropout=0.0, rng=None):
    """Rungs 2-7 of Nielsen's generalisation ladder (Neural Networks and Deep
    Learning, ch. 6): n_conv conv-pool stages (20 then 40 maps, 5x5, max-pool 2)
    on 1x28x28, fully connected hidden layers of the sizes in `hidden` (an int
    is one layer), each followed by dropout with probability `dropout` if > 0,
    and 10 outputs."""
    rng = rng if rng is not None else np.random.default_rng(0)
    layers, c, size = [], 1, 28
    for i, maps in enumerate((20, 40)[:n_conv]):
        layers += [(f"C{i + 1}", Conv2d(c, maps, 5, rng=rng)), (f"a{i + 1}", Activation(activation)),
                   (f"P{i + 1}", MaxPool2d(2))]
        c, size = maps, (size - 4) // 2
    layers.append(("flat", Flatten()))
    width = c * size * size
    for i, units in enumerate((hidden,) if isinstance(hidden, int) else hidden):
        suffix = "" if i == 0 else str(i + 1)
        layers += [(f"H{suffix}", Linear(width, units, rng=rng)), (f"aH{suffix}", Activation(activation))]
        if dropout:
            layers.append((f"drop{suffix}", Dropout(dropout, rng=rng)))
        width = units
    layers.append(("out", Linear(width, 10, rng=rng)))
    return Sequential(layers, (1, 28, 28), name=f"conv_net{n_conv}")


def ufldl_cnn(rng=None):
    """The UFLDL tutorial's CNN exercise: 20 filters 9x9, sigmoid, 2x2 mean
    pooling, softmax on 1x28x28 (the CNN blog chapters report 95.76 % for
    their solution of it after 3 epochs; notebook 07, section 10)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    return Sequential([("C1", Conv2d(1, 20, 9, rng=rng)), ("a1", Activation("sigmoid")), ("P1", AvgPool2d(2)),
                       ("flat", Flatten()), ("out", Linear(20 * 10 * 10, 10, rng=rng))], (1, 28, 28),
                      name="ufldl_cnn")


def struct_net(rng=None):
    """The compact "layers as structs" script of the CNN chapter in
    Zhang Junchao's lecture slides: 20 maps 5x5 - avg pool 2 - 10 maps 5x5 -
    avg pool 2 - softmax, ReLU after each convolution, on 1x28x28."""
    rng = rng if rng is not None else np.random.default_rng(0)
    return Sequential([
        ("C1", Conv2d(1, 20, 5, rng=rng)), ("a1", Activation("relu")), ("P1", AvgPool2d(2)),
        ("C2", Conv2d(20, 10, 5, rng=rng)), ("a2", Activation("relu")), ("P2", AvgPool2d(2)),
        ("flat", Flatten()), ("out", Linear(160, 10, rng=rng))], (1, 28, 28), name="struct_net")


MODELS = {"lenet5": lenet5, "lenet5_1998": lenet5_1998, "simplified_lenet": simplified_lenet, "mlp": mlp,
          "conv_net": conv_net, "struct_net": struct_net, "ufldl_cnn": ufldl_cnn}


def pretrained(name="lenet5"):
    """A network with the trained weights shipped in data/models/NAME.npz
    (checksum-verified; data/models/README.md records how they were trained
    and their test accuracy)."""
    from . import train
    model = build(name)
    train.load_checkpoint(data.trained_model_path(name), model)
    return model.eval()


def build(name, rng=None):
    """A model by name (see MODELS)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name](rng=rng)


__all__ = ["Sequential", "Layer", "MODELS", "build", "lenet5", "lenet5_1998", "simplified_lenet", "mlp",
           "conv_net", "struct_net", "ufldl_cnn", "C3_TABLE", "rbf_codes"]
