"""Autoencoders and greedy layer-wise pretraining (notebook 08).

Before ReLU and scaled initialisations, deep sigmoid networks were trained in
two stages (Hinton & Salakhutdinov 2006; Bengio et al. 2007): every hidden
layer is first trained, on its own and without labels, as the encoder of a
one-layer autoencoder that reconstructs the layer's input; the encoders are
then stacked and the whole network is fine-tuned with labels. This module has
what that takes, on the `Layer` protocol of `cnnlab.nn.layers`:

* `MSELoss`: the reconstruction loss, with the protocol of `SoftmaxCrossEntropy`;
* `TiedLinear`: a decoder that reuses its encoder's weight transposed (its
  weight gradient is *added* into the encoder's);
* `Upsample2d` (and the kernels `upsample2d` / `upsample2d_backward`):
  nearest or bilinear upsampling, for the resize-convolution decoders;
* `Reshape`; the builders `deep_mlp` (registered in `models.MODELS`),
  `dense_autoencoder` and `conv_autoencoder` (in `AUTOENCODERS`: they output
  images, not class scores);
* `fit_reconstruction` (a deterministic training loop with a reconstruction
  target) and `greedy_pretrain`;
* `stride_peaks` and `phase_means`: the checkerboard of a decoder, as peaks of
  the spectrum at the stride's frequencies and as unequal means per phase;
* `PretrainRun` and `AutoencoderRun`: `runner.Run`s that bring their own
  training procedure, so that `python -m cnnlab experiment NAME` runs them and
  stores their results like every other run.
"""
import base64
import dataclasses
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import data
from .._checks import as_array, ntuple
from ..functional.losses import mse, mse_backward
from . import models, optim, runner, train
from .layers import Activation, Conv2d, ConvTranspose2d, Flatten, Layer, Linear
from .models import Sequential

UPSAMPLE_MODES = ("nearest", "bilinear")

# --- upsampling kernels ---------------------------------------------------------------------


def _interp_matrix(n, factor):
    """(n*factor, n) bilinear interpolation matrix of one axis, align_corners=False
    (PyTorch's default): output cell j samples input position (j + 0.5)/f - 0.5,
    clamped to the edge cells."""
    src = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0, None)
    lo = np.minimum(np.floor(src).astype(int), n - 1)
    hi = np.minimum(lo + 1, n - 1)
    frac = src - lo
    m = np.zeros((n * factor, n))
    rows = np.arange(n * factor)
    np.add.at(m, (rows, lo), 1 - frac)
    np.add.at(m, (rows, hi), frac)
    return m


def _mode(mode):
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"mode must be one of {UPSAMPLE_MODES}, got {mode!r}")
    return mode


def upsample2d(x, scale_factor, mode="nearest"):
    """Upsample (N, C, H, W) -> (N, C, H*f, W*f), as `torch.nn.functional.interpolate`
    with an integer scale factor: 'nearest' repeats every pixel f x f times,
    'bilinear' interpolates separably (align_corners=False).

    >>> upsample2d(np.array([[[[1.0, 2.0]]]]), 2)[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.]])
    """
    x = as_array(x, "x", 4)
    f = ntuple(scale_factor, 1, "scale_factor")[0]
    n, c, h, w = x.shape
    if _mode(mode) == "nearest":
        out = np.empty((n, c, h * f, w * f), dtype=x.dtype)
        for a in range(f):  # f^2 strided copies: faster than repeat or a broadcast reshape
            for b in range(f):
                out[:, :, a::f, b::f] = x
        return out
    mh, mw = (_interp_matrix(size, f).astype(x.dtype) for size in (h, w))
    return mh @ x @ mw.T  # rows, then columns: (Hf, H) @ (.., H, W) @ (W, Wf)


def upsample2d_backward(grad_out, x, scale_factor, mode="nearest"):
    """Gradient of `upsample2d` in x: 'nearest' sums each f x f block of
    grad_out (every input pixel was copied into its block); 'bilinear' applies
    the transposed interpolation matrices, M_h^T grad M_w.

    >>> upsample2d_backward(np.ones((1, 1, 4, 4)), np.zeros((1, 1, 2, 2)), 2)[0, 0]
    array([[4., 4.],
           [4., 4.]])
    """
    x = as_array(x, "x", 4)
    f = ntuple(scale_factor, 1, "scale_factor")[0]
    g = as_array(grad_out, "grad_out", 4)
    n, c, h, w = x.shape
    if g.shape != (n, c, h * f, w * f):
        raise ValueError(f"grad_out must have shape {(n, c, h * f, w * f)}, got {g.shape}")
    if _mode(mode) == "nearest":
        out = g[:, :, 0::f, 0::f].copy()
        for a in range(f):
            for b in range(f):
                if a or b:
                    out += g[:, :, a::f, b::f]
        return out
    mh, mw = (_interp_matrix(size, f).astype(g.dtype) for size in (h, w))
    return mh.T @ g @ mw


# --- the loss and the layers ------------------------------------------------------------------


class MSELoss:
    """Loss: squared error between an output and a target of the same shape.
    reduction 'mean' averages over every element (torch.nn.MSELoss);
    'batchmean' sums over each example's elements and averages over the
    batch (the squared error per image, independent of the image size's
    effect on the step). `backward()` returns dLoss/dOutput.

    >>> loss = MSELoss()
    >>> loss.forward(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]]))
    5.0
    >>> loss.backward()
    array([[1., 3.]])
    """

    REDUCTIONS = ("mean", "batchmean")

    def __init__(self, reduction="mean"):
        if reduction not in self.REDUCTIONS:
            raise ValueError(f"reduction must be one of {self.REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def forward(self, output, target):
        self.output, self.target = output, target
        if self.reduction == "mean":
            return float(mse(output, target))
        return float(mse(output, target, reduction="sum")) / len(output)

    def backward(self):
        if self.reduction == "mean":
            grad = mse_backward(self.output, self.target)
        else:
            grad = mse_backward(self.output, self.target, reduction="sum") / len(self.output)
        return grad.astype(self.output.dtype, copy=False)

    @staticmethod
    def predict(outputs):
        """The reconstruction is the prediction."""
        return outputs


class TiedLinear(Layer):
    """The decoder of a tied-weight autoencoder: h (N, out) -> h W + c (N, in),
    where W (out, in) is the weight of `encoder` (a `Linear`), used transposed,
    and c (in,) is this layer's own bias. The weight belongs to the encoder:
    `parameters()` lists only the bias, and `backward` *adds* dLoss/dW into
    `encoder.grads['weight']`, so that after one backward pass through encoder
    and decoder that gradient holds both uses of W.

    >>> enc = Linear(3, 2)
    >>> TiedLinear(enc)(np.zeros((4, 2), np.float32)).shape
    (4, 3)
    """

    def __init__(self, encoder, dtype=np.float32):
        super().__init__()
        if not isinstance(encoder, Linear):
            raise TypeError(f"encoder must be a Linear layer, got {type(encoder).__name__}")
        self.encoder = encoder
        self.params["bias"] = np.zeros(encoder.params["weight"].shape[1], dtype=dtype)
        self.grads["bias"] = np.zeros_like(self.params["bias"])

    def weight(self):
        return self.encoder.params["weight"]

    def forward(self, h):
        w = self.weight()
        if h.ndim != 2 or h.shape[1] != w.shape[0]:
            raise ValueError(f"TiedLinear expects input (N, {w.shape[0]}), got {h.shape}")
        self.h = h
        return h @ w + self.params["bias"]

    def backward(self, grad, input_grad=True):
        self.encoder.grads["weight"] += self.h.T @ grad  # (out, N) @ (N, in): shaped like W
        self.grads["bias"] += grad.sum(axis=0)
        return grad @ self.weight().T if input_grad else None

    def summary_row(self, in_shape, out_shape):
        return self.params["bias"].size, self.params["bias"].size * (in_shape[1] + 1)

    def __repr__(self):
        return "TiedLinear"


class Upsample2d(Layer):
    """Nearest or bilinear upsampling by an integer factor: (N, C, H, W) ->
    (N, C, H*f, W*f); no parameters. With a stride-1 convolution after it, the
    resize-convolution of Odena et al. (2016) (notebook 04).

    >>> Upsample2d(2)(np.zeros((1, 3, 7, 7), np.float32)).shape
    (1, 3, 14, 14)
    """

    def __init__(self, scale_factor=2, mode="nearest"):
        super().__init__()
        self.scale_factor, self.mode = ntuple(scale_factor, 1, "scale_factor")[0], _mode(mode)

    def forward(self, x):
        self.x = x
        return upsample2d(x, self.scale_factor, self.mode)

    def backward(self, grad, input_grad=True):
        return upsample2d_backward(grad, self.x, self.scale_factor, self.mode) if input_grad else None

    def __repr__(self):
        return f"Upsample2d({self.scale_factor}, {self.mode})"


class Reshape(Layer):
    """(N, ...) -> (N, *shape): turns a flat reconstruction back into an image.

    >>> Reshape((1, 28, 28))(np.zeros((2, 784))).shape
    (2, 1, 28, 28)
    """

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(x.shape[0], *self.shape)

    def backward(self, grad, input_grad=True):
        return grad.reshape(self.in_shape) if input_grad else None


# --- networks ---------------------------------------------------------------------------------


def deep_mlp(depth=6, width=256, activation="sigmoid", rng=None):
    """A deep fully connected classifier on 1x28x28: Flatten, then `depth`
    hidden layers H1..Hd of `width` units, each Linear + activation, and 10
    outputs (softmax cross-entropy). The network of notebook 08."""
    rng = rng if rng is not None else np.random.default_rng(0)
    layers, n_in = [("flat", Flatten())], 784
    for i in range(1, depth + 1):
        layers += [(f"H{i}", Linear(n_in, width, rng=rng)), (f"a{i}", Activation(activation))]
        n_in = width
    layers.append(("out", Linear(n_in, 10, rng=rng)))
    return Sequential(layers, (1, 28, 28), name=f"deep_mlp_{activation}")


def _one_layer_autoencoder(encoder, activation="sigmoid", tied=True, output="sigmoid", rng=None):
    """[encoder, activation, decoder, output activation] on flat inputs; the
    encoder (a Linear) is used as it is, not copied."""
    n_in = encoder.params["weight"].shape[1]
    decoder = TiedLinear(encoder) if tied else Linear(encoder.params["weight"].shape[0], n_in, rng=rng)
    layers = [("enc", encoder), ("act", Activation(activation)), ("dec", decoder)]
    if output:
        layers.append(("out", Activation(output)))
    return Sequential(layers, (n_in,), loss=MSELoss("batchmean"), name="autoencoder")


def dense_autoencoder(hidden=256, tied=True, activation="sigmoid", rng=None):
    """A one-hidden-layer autoencoder of 1x28x28 digits: Flatten, Linear
    784 -> hidden + activation (the code), a decoder (TiedLinear, or a Linear
    of its own when tied=False) + sigmoid, Reshape to 1x28x28; loss: squared
    error per image (`MSELoss('batchmean')`)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    inner = _one_layer_autoencoder(Linear(784, hidden, rng=rng), activation, tied, "sigmoid", rng)
    return Sequential([("flat", Flatten()), *inner.layers, ("image", Reshape((1, 28, 28)))], (1, 28, 28),
                      loss=MSELoss("batchmean"), name="dense_autoencoder")


def conv_autoencoder(decoder="transposed", channels=(16, 32), rng=None):
    """A convolutional autoencoder of 1x28x28 digits. Encoder: two 3x3
    convolutions with stride 2 and padding 1 (28 -> 14 -> 7), ReLU after each.
    Decoder, back to 28x28 in two steps of 2x, ReLU between them and a linear
    output (so that nothing hides the pattern the decoder draws):

    * 'transposed': 3x3 transposed convolutions, stride 2, padding 1,
      output_padding 1 (kernel 3 is not divisible by stride 2: uneven overlap);
    * 'nearest' / 'bilinear': resize-convolution, upsampling by 2 then a 3x3
      convolution with padding 1.

    Loss: squared error per image (`MSELoss('batchmean')`)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    c1, c2 = channels
    layers = [("E1", Conv2d(1, c1, 3, stride=2, padding=1, rng=rng)), ("e1", Activation("relu")),
              ("E2", Conv2d(c1, c2, 3, stride=2, padding=1, rng=rng)), ("e2", Activation("relu"))]
    if decoder == "transposed":
        layers += [("D1", ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1, rng=rng)),
                   ("d1", Activation("relu")),
                   ("D2", ConvTranspose2d(c1, 1, 3, stride=2, padding=1, output_padding=1, rng=rng))]
    elif decoder in UPSAMPLE_MODES:
        layers += [("U1", Upsample2d(2, decoder)), ("D1", Conv2d(c2, c1, 3, padding=1, rng=rng)),
                   ("d1", Activation("relu")),
                   ("U2", Upsample2d(2, decoder)), ("D2", Conv2d(c1, 1, 3, padding=1, rng=rng))]
    else:
        raise ValueError(f"decoder must be 'transposed', 'nearest' or 'bilinear', got {decoder!r}")
    return Sequential(layers, (1, 28, 28), loss=MSELoss("batchmean"), name=f"conv_autoencoder_{decoder}")


models.MODELS["deep_mlp"] = deep_mlp
# Autoencoders output images, not class scores: they have a registry of their own.
AUTOENCODERS = {"dense_autoencoder": dense_autoencoder, "conv_autoencoder": conv_autoencoder}


# --- training with a reconstruction target ----------------------------------------------------------


def reconstruction_error(model, x, batch_size=1000):
    """Mean loss of `model` reconstructing x (its own target), in eval mode."""
    was_training = model.training
    model.eval()
    total = sum(model.loss.forward(model.forward(x[i:i + batch_size]), x[i:i + batch_size]) * len(x[i:i + batch_size])
                for i in range(0, len(x), batch_size))
    model.train(was_training)
    return total / len(x)


def fit_reconstruction(model, optimizer, x, epochs, batch_size=64, val=None, seed=0, checkpoint=None,
                       resume=False, progress=False, steps=None):
    """Train `model` to reconstruct x (the input is the target), like
    `train.fit`: minibatch order of epoch e from a generator seeded (seed, e),
    an optional checkpoint after every epoch (resumed with resume=True).
    steps: stop after that many minibatches (the first steps of a run), and
    return their mean loss instead of the history.
    Returns {'loss', 'val_loss', 'seconds'}: one entry per epoch."""
    history = {"loss": [], "val_loss": [], "seconds": []}
    start = 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        meta = train.load_checkpoint(checkpoint, model, optimizer)
        start, history = meta["epoch"], {k: meta["history"][k] for k in history}
    model.train()
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        batches = data.minibatches(len(x), batch_size, np.random.default_rng([seed, epoch]))
        if steps is not None:
            batches = batches[:steps]
        bar = tqdm(total=len(x), desc=f"epoch {epoch + 1}/{epochs}", unit="img", disable=not progress,
                   mininterval=1.0)
        losses = []
        for idx in batches:
            losses.append(model.loss.forward(model.forward(x[idx]), x[idx]))
            model.zero_grad()
            model.backward(model.loss.backward(), input_grad=False)
            optimizer.step()
            bar.update(len(idx))
        bar.close()
        if steps is not None:
            return float(np.mean(losses))
        history["loss"].append(float(np.mean(losses)))
        history["val_loss"].append(float(reconstruction_error(model, val)) if val is not None else float("nan"))
        history["seconds"].append(time.perf_counter() - t0)
        if checkpoint is not None:
            train.save_checkpoint(checkpoint, model, optimizer, epoch + 1, history)
    return history


def _forward_in_batches(layers, x, batch_size=1000):
    out = []
    for i in range(0, len(x), batch_size):
        h = x[i:i + batch_size]
        for layer in layers:
            h = layer.forward(h)
        out.append(h)
    return np.concatenate(out)


def hidden_layers(model):
    """Names of the layers greedy pretraining trains: every Linear followed
    by an Activation (the hidden layers; the output layer is not one)."""
    names = [n for n, _ in model.layers]
    return [n for i, (n, layer) in enumerate(model.layers)
            if isinstance(layer, Linear) and i + 1 < len(names) and isinstance(model.layers[i + 1][1], Activation)]


def greedy_pretrain(model, x, epochs=1, lr=0.01, momentum=0.9, batch_size=64, tied=True, seed=0, val=None,
                    progress=False, steps=None):
    """Greedy layer-wise pretraining of `model`'s hidden layers, in place.

    For each hidden layer in turn (`hidden_layers`), the inputs x (and val)
    are passed through the layers below it, already pretrained; the layer and
    its activation become the encoder of a one-layer autoencoder (decoder:
    `TiedLinear`, or a Linear of its own when tied=False, then a sigmoid), which
    is trained for `epochs` epochs to reconstruct them (squared error per
    example, SGD with momentum). The encoder *is* the model's layer, so the
    model ends up with the pretrained weights; labels are never used.
    steps: only the first `steps` minibatches of the first layer, and return
    their mean loss (what `PretrainRun.prefix_loss` checks).

    Returns one dict per hidden layer: its name, history (`fit_reconstruction`)
    and the trained autoencoder (a Sequential of flat inputs)."""
    layers = dict(model.layers)
    names = [n for n, _ in model.layers]
    model.eval()
    out, codes, codes_val = [], x, val
    done = 0
    for i, name in enumerate(hidden_layers(model)):
        below = [layers[n] for n in names[done:names.index(name)]]
        codes = _forward_in_batches(below, codes)
        codes_val = _forward_in_batches(below, codes_val) if val is not None else None
        done = names.index(name)
        activation = layers[names[done + 1]].name
        ae = _one_layer_autoencoder(layers[name], activation, tied, "sigmoid",
                                    rng=np.random.default_rng([seed, 100 + i]))
        opt = optim.SGD(ae.parameters(), lr=lr, momentum=momentum)
        history = fit_reconstruction(ae, opt, codes, epochs, batch_size, val=codes_val, seed=seed + 1000 * (i + 1),
                                     progress=progress, steps=steps)
        if steps is not None:
            model.train()
            return history
        out.append({"layer": name, "history": history, "autoencoder": ae})
    model.train()
    return out


# --- the checkerboard's share of the spectrum -------------------------------------------------------


def stride_peaks(images, stride=2):
    """Peaks of the mean power spectrum of `images` (N, H, W) at the
    frequencies of a pattern that repeats every `stride` pixels: for each
    non-zero bin (a, b) of the lattice spaced (H/stride, W/stride) - for
    stride 2 the Nyquist bins (0, W/2), (H/2, 0), (H/2, W/2) - the power there
    divided by the mean power of its 8 neighbouring bins. About 1 (or less)
    for a smooth spectrum, far above 1 for a checkerboard. Returns
    {(a, b): ratio}; H and W must be divisible by stride.

    >>> board = np.indices((8, 8)).sum(axis=0) % 2 + np.random.default_rng(0).random((3, 8, 8))
    >>> stride_peaks(board)[(4, 4)] > 10
    True
    """
    images = np.asarray(images, dtype=float)
    h, w = images.shape[-2:]
    if h % stride or w % stride:
        raise ValueError(f"image sides {h}x{w} must be divisible by stride {stride}")
    power = (np.abs(np.fft.fft2(images)) ** 2).reshape(-1, h, w).mean(axis=0)
    peaks = {}
    for a in range(0, h, h // stride):
        for b in range(0, w, w // stride):
            if a or b:
                around = [power[(a + da) % h, (b + db) % w] for da in (-1, 0, 1) for db in (-1, 0, 1) if da or db]
                peaks[(a, b)] = float(power[a, b] / np.mean(around))
    return peaks


def phase_means(images, stride=2):
    """(stride, stride) means of images[..., a::stride, b::stride] over every
    image and cell: the mean of the cells of each phase (row mod stride,
    column mod stride). Unequal phase means are a checkerboard (notebook 04's
    phase sums).

    >>> phase_means(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[1., 2.],
           [3., 4.]])
    """
    images = np.asarray(images, dtype=float)
    return np.array([[images[..., a::stride, b::stride].mean() for b in range(stride)] for a in range(stride)])


# --- compact arrays in the results JSON -------------------------------------------------------------


def pack(array, dtype="float16"):
    """An array as a small JSON-able dict: shape, dtype and the raw bytes in base64
    (float16 by default: plenty for images and filters, a quarter of the text of
    a list of numbers). `unpack` inverts it."""
    a = np.ascontiguousarray(np.asarray(array), dtype=dtype)
    return {"shape": list(a.shape), "dtype": dtype, "base64": base64.b64encode(a.tobytes()).decode("ascii")}


def unpack(packed):
    """The array stored by `pack` (as float32 when it was stored in a float type)."""
    a = np.frombuffer(base64.b64decode(packed["base64"]), dtype=packed["dtype"]).reshape(packed["shape"])
    return a.astype(np.float32) if a.dtype.kind == "f" else a.copy()


# --- runs that bring their own procedure ------------------------------------------------------------


def layer_signals(model, x, y):
    """What reaches each layer with a weight, in one forward and backward pass
    of `model` on (x, y) with its loss: {'spread': {name: how much the layer's
    output varies between the examples (its std over the batch, averaged over
    the units)}, 'grad_norm': {name: ||dLoss/dW||}}. A deep sigmoid net at
    initialisation loses both on the way through its layers (notebook 08,
    section 2). The gradients are zeroed afterwards; the weights are unchanged."""
    spread, h = {}, x
    for name, layer in model.layers:
        h = layer.forward(h)
        if "weight" in layer.params:
            spread[name] = float(h.reshape(len(h), -1).std(axis=0).mean())
    model.loss.forward(h, y)
    model.zero_grad()
    model.backward(model.loss.backward())
    norms = {name: float(np.linalg.norm(layer.grads["weight"])) for name, layer in model.layers
             if "weight" in layer.params}
    model.zero_grad()
    return {"spread": spread, "grad_norm": norms}


def _grad_norms(model, x, y):
    return layer_signals(model, x, y)["grad_norm"]


def _entry(run, seconds, wall, prefix, **fields):
    return {"name": run.name, "config": dataclasses.asdict(run), "training_key": run.training_key(),
            **dict(run.reference), **fields, "seconds": round(seconds, 1), "wall_seconds": round(wall),
            "prefix": prefix}


@dataclasses.dataclass(frozen=True)
class PretrainRun(runner.Run):
    """A run whose network (model, model_args, init as declared) is first
    pretrained greedily, layer by layer, as autoencoders of the same training
    images (`greedy_pretrain`: pretrain_epochs per hidden layer, SGD with
    pretrain_lr and the run's momentum and batch size; labels unused), then
    fine-tuned with labels exactly like a plain `runner.Run` (`train.fit`,
    checkpointed, scored once on the test set). pretrain_images > 0 pretrains
    on that many training images instead (unlabelled: a superset of the
    labelled ones, never the validation split). Its prefix is the mean loss of
    the first steps of the first autoencoder."""
    pretrain_epochs: int = 1
    pretrain_lr: float = 0.01
    tied: bool = True
    pretrain_images: int = 0

    def _pretrain(self, model, x, x_val, progress=False, steps=None):
        return greedy_pretrain(model, x, self.pretrain_epochs, self.pretrain_lr, self.momentum, self.batch_size,
                               self.tied, self.seed, val=x_val, progress=progress, steps=steps)

    def unlabelled(self, model, train_x):
        """The images the autoencoders are trained on."""
        if not self.pretrain_images:
            return train_x
        images, _ = data.load_mnist("train")
        return model.prepare(images[runner.split(self.pretrain_images, self.val_images)[0]])

    def prefix_loss(self, steps=runner.PREFIX_STEPS):
        model = runner.build(self)
        (x, _), _, _ = runner.datasets(self, model)
        return self._pretrain(model, self.unlabelled(model, x), None, steps=steps)

    def execute(self, checkpoints=runner.CHECKPOINTS, progress=True):
        if self.members != 1:
            raise ValueError("a PretrainRun trains one network (members=1)")
        t0 = time.perf_counter()
        model = runner.build(self)
        train_data, val_data, (x_test, y_test) = runner.datasets(self, model)
        at_init = _grad_norms(model, train_data[0][:256], train_data[1][:256])
        t_pre = time.perf_counter()
        layers = self._pretrain(model, self.unlabelled(model, train_data[0]), val_data[0], progress)
        pre_seconds = time.perf_counter() - t_pre
        first = layers[0]["autoencoder"]
        shown = val_data[0][:8].reshape(8, -1)
        first.eval()
        features = first.layers[0][1].params["weight"][:49]
        pretraining = {
            "seconds": round(pre_seconds, 1),
            "layers": [{"layer": p["layer"], "loss": p["history"]["loss"], "val_loss": p["history"]["val_loss"]}
                       for p in layers],
            "inputs": pack(shown.reshape(8, 28, 28)),
            "reconstructions": pack(first.forward(shown).reshape(8, 28, 28)),
            "features": pack(features.reshape(-1, 28, 28)),
            "grad_norms_random": at_init,
            "grad_norms_pretrained": _grad_norms(model, train_data[0][:256], train_data[1][:256]),
        }
        opt, sched = runner._optimizer(self, model)
        path = Path(checkpoints) / f"{self.training_key()}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        history = train.fit(model, opt, train_data, self.epochs, self.batch_size, val_data=val_data, seed=self.seed,
                            scheduler=sched, checkpoint=path, resume=True, progress=progress)
        _, acc = train.evaluate(model, x_test, y_test)
        seconds = pre_seconds + sum(history["seconds"])
        return _entry(self, seconds, time.perf_counter() - t0,
                      {"steps": runner.PREFIX_STEPS, "mean_loss": self.prefix_loss(),
                       "of": "the first steps of the first layer's autoencoder"},
                      test_accuracy=round(100 * acc, 2), train_images=len(train_data[1]),
                      val_images=self.val_images, epochs=self.epochs, history=history, members=None,
                      pretraining=pretraining, finetune_seconds=round(sum(history["seconds"]), 1))


@dataclasses.dataclass(frozen=True)
class AutoencoderRun(runner.Run):
    """A run that trains an autoencoder of `AUTOENCODERS` (model, model_args)
    to reconstruct the training images (`fit_reconstruction`, SGD with the
    run's settings, checkpointed and resumable), reports the reconstruction
    loss on the validation split per epoch and, once, on the test set, and
    stores the trained weights (small: a few thousand parameters) so that a
    notebook can rebuild the network and reconstruct images itself."""

    def build(self):
        if self.model not in AUTOENCODERS:
            raise ValueError(f"unknown autoencoder {self.model!r}; choose one of {sorted(AUTOENCODERS)}")
        model = AUTOENCODERS[self.model](rng=np.random.default_rng(self.seed), **dict(self.model_args))
        if self.init:
            runner.initialise(model, self.init, np.random.default_rng([self.seed, 1]))
        return model

    def _data(self, model):
        images, _ = data.load_mnist("train")
        train_idx, val_idx = runner.split(self.train_images, self.val_images)
        return model.prepare(images[train_idx]), model.prepare(images[val_idx])

    def prefix_loss(self, steps=runner.PREFIX_STEPS):
        model = self.build()
        x, _ = self._data(model)
        opt = optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        return fit_reconstruction(model, opt, x, 1, self.batch_size, seed=self.seed, steps=steps)

    def execute(self, checkpoints=runner.CHECKPOINTS, progress=True):
        t0 = time.perf_counter()
        model = self.build()
        x, x_val = self._data(model)
        opt = optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        path = Path(checkpoints) / f"{self.training_key()}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        history = fit_reconstruction(model, opt, x, self.epochs, self.batch_size, val=x_val, seed=self.seed,
                                     checkpoint=path, resume=True, progress=progress)
        test_images, _ = data.load_mnist("test")
        x_test = model.prepare(test_images)
        model.eval()
        recon = np.concatenate([model.forward(x_test[i:i + 1000]) for i in range(0, len(x_test), 1000)])
        return _entry(self, sum(history["seconds"]), time.perf_counter() - t0,
                      {"steps": runner.PREFIX_STEPS, "mean_loss": self.prefix_loss()},
                      test_accuracy=None, test_loss=round(float(reconstruction_error(model, x_test)), 4),
                      test_error_phase_means=np.round(phase_means(recon - x_test, 2), 6).tolist(),
                      test_stride_peaks={f"{a},{b}": round(v, 3) for (a, b), v in stride_peaks(recon[:, 0]).items()},
                      train_images=len(x), val_images=self.val_images, epochs=self.epochs, history=history,
                      members=None, weights={name: pack(p, "float32") for name, p in model.state_dict().items()})


def load_autoencoder(entry):
    """The trained network of a stored `AutoencoderRun` result entry, in eval mode."""
    config = entry["config"]
    model = AUTOENCODERS[config["model"]](rng=np.random.default_rng(config["seed"]),
                                          **{k: tuple(v) if isinstance(v, list) else v
                                             for k, v in config["model_args"]})
    model.load_state_dict({name: unpack(p) for name, p in entry["weights"].items()})
    return model.eval()


__all__ = ["MSELoss", "TiedLinear", "Upsample2d", "Reshape", "upsample2d", "upsample2d_backward", "deep_mlp",
           "dense_autoencoder", "conv_autoencoder", "AUTOENCODERS", "fit_reconstruction", "reconstruction_error",
           "greedy_pretrain", "hidden_layers", "layer_signals", "stride_peaks", "phase_means", "pack",
           "unpack", "PretrainRun", "AutoencoderRun", "load_autoencoder"]
