"""Notebook 08: the reconstruction loss, a tied-weight sigmoid autoencoder
forward and backward, and the backward pass of nearest upsampling."""
import numpy as np

from ...functional import activations as act
from ...functional import losses as L
from ...nn import autoencoders as AE
from ...nn.layers import Linear
from ._core import SEED, Exercise, Mistake, check, gradient_check

# --- the reconstruction loss ----------------------------------------------------------------


def mse_loss_cases(rng=None):
    """(output, target) pairs of the same shape: a batch of flat vectors or of images."""
    rng = np.random.default_rng(SEED + 80) if rng is None else rng
    return [(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]])),          # loss (1 + 9) / 2 = 5, grad (1, 3)
            (np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([[0.5, 0.5], [0.0, 1.0]])),
            (rng.random((3, 5)), rng.random((3, 5))),
            (rng.random((2, 1, 4, 4)), rng.random((2, 1, 4, 4))),        # images: every element counts
            (rng.standard_normal((4, 6)), rng.standard_normal((4, 6)))]


def _mse(out, target):
    return L.mse(out, target), L.mse_backward(out, target)


def _mse_gradcheck(fn):
    rng = np.random.default_rng(SEED + 81)
    out, target = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    return gradient_check(fn, (out, target), lambda o: L.mse(o, target), {"grad": out}, pick=lambda r: r[1])


def check_mse_loss(fn):
    """Check `fn(output, target) -> (loss, grad)`: the mean squared error
    and its gradient in the output.

    output and target have the same shape (N, ...) -> loss, a float: the mean
    of (output - target)^2 over *every* element (torch.nn.MSELoss); grad, the
    output's shape: 2 (output - target) / output.size. Notebook 08, section 3.
    """
    return check(fn, Exercise(
        cases=mse_loss_cases(), expected=_mse,
        label=lambda o, t: f"output {o.shape}",
        outputs=("loss", "grad"),
        shape_hint="the loss is one number; grad has the output's shape.",
        value_hint="loss = np.mean((output - target) ** 2); grad = 2 * (output - target) / output.size.",
        oracle="cnnlab.mse and cnnlab.mse_backward",
        mistakes=[
            Mistake(lambda o, t: (np.zeros(o.shape), None),
                    "you returned the squared error of every element as the loss. Hint: the loss is one number, "
                    "their mean.", by_shape=True),
            Mistake(lambda o, t: (None, (o - t) / o.size),
                    "grad is half the right value: the derivative of (o - t)^2 is 2 (o - t). Hint: grad = "
                    "2 * (output - target) / output.size."),
            Mistake(lambda o, t: (None, 2 * (t - o) / o.size),
                    "grad has the wrong sign. Hint: increasing an output above its target increases the loss, so "
                    "grad = 2 * (output - target) / output.size."),
            Mistake(lambda o, t: (((o - t) ** 2).sum() / len(o), 2 * (o - t) / len(o)),
                    "you averaged over the N examples only (the squared error per example). Hint: this loss "
                    "averages over every element: divide by output.size, not len(output)."),
            Mistake(lambda o, t: (None, 2 * (o - t)),
                    "grad is not divided by the number of elements. Hint: the loss is a mean, so every element's "
                    "share is divided by output.size."),
            Mistake(lambda o, t: (((o - t) ** 2).sum(), None),
                    "the loss is the sum of the squared errors. Hint: take their mean, np.mean((output - target) "
                    "** 2)."),
            Mistake(lambda o, t: (np.abs(o - t).mean(), None),
                    "the loss is the mean *absolute* error. Hint: square the differences, (output - target) ** 2."),
        ],
        forbidden=[(L.mse, "cnnlab.mse"), (L.mse_backward, "cnnlab.mse_backward"),
                   (AE.MSELoss.forward, "cnnlab.nn.autoencoders.MSELoss"),
                   (AE.MSELoss.backward, "cnnlab.nn.autoencoders.MSELoss.backward")],
        gradcheck=_mse_gradcheck))


# --- a tied-weight sigmoid autoencoder ----------------------------------------------------------


def tied_autoencoder_forward_cases(rng=None):
    """(x, W, b, c) tuples: x (N, n_in) in [0, 1], W (n_hidden, n_in), b (n_hidden,), c (n_in,).
    The first has n_hidden == n_in, where using W the wrong way round keeps the shapes."""
    rng = np.random.default_rng(SEED + 82) if rng is None else rng
    cases = []
    for n, n_in, n_hidden in ((2, 3, 3), (3, 5, 2), (4, 6, 4), (1, 4, 1), (5, 8, 3)):
        cases.append((rng.random((n, n_in)), rng.standard_normal((n_hidden, n_in)), rng.standard_normal(n_hidden),
                      rng.standard_normal(n_in)))
    return cases


def tied_autoencoder_backward_cases(rng=None):
    """The (x, W, b, c) tuples of `tied_autoencoder_forward_cases`."""
    return tied_autoencoder_forward_cases(rng)


def _layers(w, b, c):
    """The library's tied autoencoder with these parameters (float64)."""
    enc = Linear(w.shape[1], w.shape[0]).astype(np.float64)
    enc.params["weight"][...], enc.params["bias"][...] = w, b
    dec = AE.TiedLinear(enc, dtype=np.float64)
    dec.params["bias"][...] = c
    return enc, dec


def _forward(x, w, b, c):
    enc, dec = _layers(w, b, c)
    h = act.sigmoid(enc.forward(x))
    return h, act.sigmoid(dec.forward(h))


def _sig(z):
    return 1 / (1 + np.exp(-z))


def check_tied_autoencoder_forward(fn):
    """Check `fn(x, W, b, c) -> (h, r)`: a sigmoid autoencoder with tied weights.

    x (N, n_in), W (n_hidden, n_in) the encoder's weight, b (n_hidden,) the
    encoder's bias, c (n_in,) the decoder's own bias -> the code
    h = sigmoid(x W^T + b), (N, n_hidden), and the reconstruction
    r = sigmoid(h W + c), (N, n_in): the decoder uses the same W, transposed.
    Notebook 08, section 3.
    """
    return check(fn, Exercise(
        cases=tied_autoencoder_forward_cases(), expected=_forward,
        label=lambda x, w, b, c: f"x {x.shape}, W {w.shape}",
        outputs=("h", "r"),
        shape_hint="h is (N, n_hidden) = x @ W.T; r is (N, n_in) = h @ W, the input's shape.",
        value_hint="h = sigmoid(x @ W.T + b); r = sigmoid(h @ W + c), with sigmoid(z) = 1 / (1 + exp(-z)).",
        oracle="cnnlab.nn.layers.Linear, cnnlab.nn.autoencoders.TiedLinear and cnnlab.sigmoid",
        mistakes=[
            Mistake(lambda x, w, b, c: (None, _sig(x @ w.T + b) @ w + c),
                    "r is not squashed. Hint: the decoder's output goes through a sigmoid too, r = sigmoid(h @ W + c) "
                    "(the inputs are pixels in [0, 1])."),
            Mistake(lambda x, w, b, c: (x @ w.T + b, _sig((x @ w.T + b) @ w + c)),
                    "h is not squashed. Hint: the code is h = sigmoid(x @ W.T + b)."),
            Mistake(lambda x, w, b, c: (_sig(x @ w + b), _sig(_sig(x @ w + b) @ w.T + c)),
                    "you used W the wrong way round: W is (n_hidden, n_in), the encoder computes x @ W.T and the "
                    "decoder h @ W."),
            Mistake(lambda x, w, b, c: (None, _sig(_sig(x @ w.T + b) @ w.T + c)),
                    "the decoder uses W.T again. Hint: tied weights mean the decoder uses the *transpose* of the "
                    "encoder's matrix: r = sigmoid(h @ W + c)."),
            Mistake(lambda x, w, b, c: (None, _sig(_sig(x @ w.T + b) @ w)),
                    "the decoder's bias c is missing. Hint: r = sigmoid(h @ W + c)."),
        ],
        forbidden=[(AE.TiedLinear.forward, "cnnlab.nn.autoencoders.TiedLinear"),
                   (Linear.forward, "cnnlab.nn.layers.Linear")]))


def _loss(x, w, b, c):
    """The course's reconstruction loss: the squared error per example, averaged over the batch."""
    return float(((_forward(x, w, b, c)[1] - x) ** 2).sum() / len(x))


def _backward(x, w, b, c, part="both", output_slope=True, per="example"):
    """(dW, db, dc) of `_loss`; part 'encoder'/'decoder' keeps one use of W only."""
    h, r = _forward(x, w, b, c)
    d_r = 2 * (r - x) / (len(x) if per == "example" else x.size)
    d_out = d_r * r * (1 - r) if output_slope else d_r
    d_h = d_out @ w.T * h * (1 - h)
    dw = {"both": d_h.T @ x + h.T @ d_out, "encoder": d_h.T @ x, "decoder": h.T @ d_out}[part]
    return dw, d_h.sum(axis=0), d_out.sum(axis=0)


def _tied_gradcheck(fn):
    rng = np.random.default_rng(SEED + 83)
    x, w, b, c = rng.random((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2), rng.standard_normal(4)
    return gradient_check(fn, (x, w, b, c), lambda w, b, c: _loss(x, w, b, c), {"dW": w, "db": b, "dc": c})


def check_tied_autoencoder_backward(fn):
    """Check `fn(x, W, b, c) -> (dW, db, dc)`: the gradients of the tied
    autoencoder's reconstruction loss.

    The forward pass is `check_tied_autoencoder_forward`'s (h = sigmoid(x W^T + b),
    r = sigmoid(h W + c)); the loss is the squared error per example averaged
    over the batch, L = sum((r - x)^2) / N, the loss of the course's
    autoencoders (`MSELoss('batchmean')`). dW (n_hidden, n_in) must hold *both*
    uses of W, the encoder's and the decoder's; db (n_hidden,); dc (n_in,).
    Notebook 08, section 3.
    """
    return check(fn, Exercise(
        cases=tied_autoencoder_backward_cases(), expected=_backward,
        label=lambda x, w, b, c: f"x {x.shape}, W {w.shape}",
        outputs=("dW", "db", "dc"),
        shape_hint="dW has W's shape (n_hidden, n_in); db is (n_hidden,); dc is (n_in,).",
        value_hint="d_out = 2 (r - x) / N * r (1 - r); d_h = d_out @ W.T * h (1 - h); dc = d_out.sum(0); "
                   "db = d_h.sum(0); dW = d_h.T @ x + h.T @ d_out.",
        oracle="the backward passes of cnnlab's Linear, TiedLinear, sigmoid and MSELoss('batchmean')",
        mistakes=[
            Mistake(lambda x, w, b, c: (_backward(x, w, b, c, "decoder")[0], None, None),
                    "dW holds only the decoder's use of W. Hint: W is used twice, by the encoder too: add "
                    "d_h.T @ x to h.T @ d_out."),
            Mistake(lambda x, w, b, c: (_backward(x, w, b, c, "encoder")[0], None, None),
                    "dW holds only the encoder's use of W. Hint: the decoder uses W as well (transposed): add "
                    "h.T @ d_out to d_h.T @ x."),
            Mistake(lambda x, w, b, c: _backward(x, w, b, c, output_slope=False),
                    "the sigmoid of the output is left out of the chain. Hint: multiply dL/dr by r (1 - r) before "
                    "going on: d_out = 2 (r - x) / N * r * (1 - r)."),
            Mistake(lambda x, w, b, c: _backward(x, w, b, c, per="element"),
                    "your gradients are those of the mean over every element. Hint: this loss is the squared error "
                    "per *example*, sum((r - x)^2) / N: divide by N = len(x), not x.size."),
            Mistake(lambda x, w, b, c: tuple(g / 2 for g in _backward(x, w, b, c)),
                    "your gradients are half the right ones. Hint: the derivative of (r - x)^2 is 2 (r - x): "
                    "dL/dr = 2 (r - x) / N."),
            Mistake(lambda x, w, b, c: tuple(g * len(x) for g in _backward(x, w, b, c)),
                    "your gradients are not divided by N. Hint: the loss is averaged over the batch: "
                    "dL/dr = 2 (r - x) / N."),
        ],
        forbidden=[(AE.TiedLinear.backward, "cnnlab.nn.autoencoders.TiedLinear.backward"),
                   (Linear.backward, "cnnlab.nn.layers.Linear.backward"),
                   (AE.MSELoss.backward, "cnnlab.nn.autoencoders.MSELoss.backward"),
                   (L.mse_backward, "cnnlab.mse_backward")],
        gradcheck=_tied_gradcheck))


# --- nearest upsampling, backward ----------------------------------------------------------------


def upsample_backward_cases(rng=None):
    """(dout, f) pairs: dout (N, C, H*f, W*f), the gradient of a nearest upsampling by f."""
    rng = np.random.default_rng(SEED + 84) if rng is None else rng
    return [(np.arange(16.0).reshape(1, 1, 4, 4), 2),
            (rng.integers(-3, 4, (2, 3, 6, 6)).astype(float), 2),
            (rng.integers(-3, 4, (1, 2, 4, 8)).astype(float), 2),   # non-square
            (rng.standard_normal((2, 1, 6, 9)), 3),
            (rng.standard_normal((1, 2, 3, 3)), 1)]                 # f = 1: the identity


def _nearest_backward(g, f):
    n, c, hf, wf = g.shape
    return AE.upsample2d_backward(g, np.zeros((n, c, hf // f, wf // f)), f)


def _upsample_gradcheck(fn):
    rng = np.random.default_rng(SEED + 85)
    x, g = rng.standard_normal((1, 2, 3, 2)), rng.standard_normal((1, 2, 6, 4))
    return gradient_check(fn, (g, 2), lambda x: AE.upsample2d(x, 2), {"dx": x}, upstream=g)


def check_upsample_backward(fn):
    """Check `fn(dout, f) -> dx`: the backward pass of nearest upsampling.

    The forward copies every input pixel x[n, c, i, j] into the f x f block
    out[n, c, i*f:(i+1)*f, j*f:(j+1)*f]. dout (N, C, H*f, W*f) -> dx
    (N, C, H, W): each input pixel collects the *sum* of dout over its block.
    Notebook 08, section 4.
    """
    return check(fn, Exercise(
        cases=upsample_backward_cases(), expected=_nearest_backward,
        label=lambda g, f: f"dout {g.shape}, f {f}",
        shape_hint="dx is (N, C, H, W) = (N, C, dout.shape[2] // f, dout.shape[3] // f).",
        value_hint="dx[n, c, i, j] = dout[n, c, i*f:(i+1)*f, j*f:(j+1)*f].sum(): e.g. "
                   "dout.reshape(N, C, H, f, W, f).sum(axis=(3, 5)).",
        oracle="cnnlab.nn.autoencoders.upsample2d_backward",
        mistakes=[
            Mistake(lambda g, f: _nearest_backward(g, f) / (f * f),
                    "you averaged each block. Hint: the pixel was copied f*f times and every copy sends its "
                    "gradient back, so they add up: take the sum."),
            Mistake(lambda g, f: g[:, :, ::f, ::f],
                    "you kept one cell of each block. Hint: all f*f copies of the pixel receive gradient: sum "
                    "the whole block."),
            Mistake(lambda g, f: g.reshape(g.shape[0], g.shape[1], g.shape[2] // f, g.shape[3] // f, f, f
                                           ).sum(axis=(4, 5)),
                    "your blocks are not the f x f squares. Hint: reshape to (N, C, H, f, W, f) - rows split "
                    "into (H, f), columns into (W, f) - and sum over axes 3 and 5."),
            Mistake(lambda g, f: np.zeros(g.shape), "dx has dout's shape. Hint: the gradient has the *input's* "
                    "shape, (N, C, H, W): sum each f x f block into one cell.", by_shape=True),
        ],
        forbidden=[(AE.upsample2d_backward, "cnnlab.nn.autoencoders.upsample2d_backward"),
                   (AE.Upsample2d.backward, "cnnlab.nn.autoencoders.Upsample2d.backward")],
        gradcheck=_upsample_gradcheck))
