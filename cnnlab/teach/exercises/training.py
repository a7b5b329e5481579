"""Notebook 07: inverted dropout, and per-layer gradient norms."""
import copy
from collections.abc import Mapping

import numpy as np

from ...nn import optim, train
from ...nn.layers import Activation, Conv2d, Dropout, Flatten, Linear, MaxPool2d, SparseConv2d, Subsample2d
from ...nn.models import Sequential
from ._core import SEED, Exercise, Mistake, Unreadable, as_float_array, check, gradient_check

# --- inverted dropout ----------------------------------------------------------------------


def _dropout_cases(rng):
    """(array, p, u) tuples; the first has u == p in two places (those units are kept)."""
    u0 = np.array([[0.1, 0.5, 0.9, 0.3], [0.7, 0.2, 0.5, 0.6]])
    cases = [(np.arange(1.0, 9.0).reshape(2, 4), 0.5, u0),
             (rng.standard_normal((3, 4)), 0.2, rng.random((3, 4))),
             (rng.standard_normal((2, 3, 4, 4)), 0.8, rng.random((2, 3, 4, 4))),   # an NCHW batch
             (rng.standard_normal((2, 5)), 0.0, rng.random((2, 5))),               # p = 0: nothing is dropped
             (rng.standard_normal((5, 6)), 0.3, rng.random((5, 6)))]
    return cases


def dropout_forward_cases(rng=None):
    """(x, p, u) tuples: x any shape, p in [0, 1), u uniform draws in [0, 1) of x's shape."""
    return _dropout_cases(np.random.default_rng(SEED + 70) if rng is None else rng)


def dropout_backward_cases(rng=None):
    """(dout, p, u) tuples, as `dropout_forward_cases` with dout for x."""
    return _dropout_cases(np.random.default_rng(SEED + 71) if rng is None else rng)


def _dropout(x, p, u):
    return x * (u >= p) / (1 - p)


def _dropout_mistakes():
    inverted = ("your mask is inverted: you kept the units with u < p, so each unit survives with probability p "
                "instead of 1 - p. Hint: keep where u >= p.")
    return [
        Mistake(lambda x, p, u: x * (u >= p),
                "the kept units are not scaled. Hint: inverted dropout divides the survivors by 1 - p, so the "
                "expected value of every unit is unchanged and evaluation needs no rescaling."),
        Mistake(lambda x, p, u: x * (u < p) / (1 - p), inverted),
        Mistake(lambda x, p, u: x * (u < p) / p if p else None, inverted),
        Mistake(lambda x, p, u: x * (u < p), inverted),
        Mistake(lambda x, p, u: x * (u >= p) * (1 - p),
                "you multiplied the kept units by 1 - p. Hint: divide by 1 - p (multiplying by the keep "
                "probability at test time is the original, non-inverted dropout)."),
        Mistake(lambda x, p, u: x * (u >= p) / p if p else None,
                "you divided by p. Hint: divide by the keep probability, 1 - p."),
        Mistake(lambda x, p, u: x * (u > p) / (1 - p),
                "you dropped the units with u == p. Hint: keep where u >= p (u is uniform on [0, 1), so "
                "P(u >= p) = 1 - p exactly)."),
    ]


def check_dropout_forward(fn):
    """Check `fn(x, p, u) -> out`: inverted dropout with the uniform draws given.

    x any shape, p the drop probability in [0, 1), u uniform draws in [0, 1)
    of x's shape -> out = x * (u >= p) / (1 - p): a unit is kept where u >= p
    and kept units are scaled by 1 / (1 - p). Notebook 07, section 7.
    """
    return check(fn, Exercise(
        cases=dropout_forward_cases(), expected=_dropout,
        label=lambda x, p, u: f"x {x.shape}, p {p}",
        shape_hint="out has x's shape.",
        value_hint="out = x * (u >= p) / (1 - p).",
        oracle="the inverted-dropout formula of cnnlab.nn.layers.Dropout",
        mistakes=_dropout_mistakes(),
        forbidden=[(Dropout.forward, "cnnlab.nn.layers.Dropout")]))


def _dropout_backward_gradcheck(fn):
    rng = np.random.default_rng(SEED + 72)
    x, dout, u = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.random((3, 4))
    return gradient_check(fn, (dout, 0.4, u), lambda x: _dropout(x, 0.4, u), {"dx": x}, upstream=dout)


def check_dropout_backward(fn):
    """Check `fn(dout, p, u) -> dx`: the backward pass of `check_dropout_forward`'s
    dropout. dout, u of one shape, p in [0, 1) -> dx = dout * (u >= p) / (1 - p):
    the gradient flows only through the kept units, with the same scale.
    Notebook 07, section 7.
    """
    return check(fn, Exercise(
        cases=dropout_backward_cases(), expected=_dropout,
        label=lambda d, p, u: f"dout {d.shape}, p {p}",
        shape_hint="dx has dout's shape.",
        value_hint="dx = dout * (u >= p) / (1 - p): the forward multiplies by that mask, so the backward does too.",
        oracle="the inverted-dropout formula of cnnlab.nn.layers.Dropout",
        mistakes=[Mistake(lambda d, p, u: d,
                          "you passed dout through unchanged (as in evaluation mode). Hint: in training the forward "
                          "multiplies by mask / (1 - p), so the backward multiplies dout by the same.")]
                 + _dropout_mistakes(),
        forbidden=[(Dropout.forward, "cnnlab.nn.layers.Dropout"), (Dropout.backward, "cnnlab.nn.layers.Dropout")],
        gradcheck=_dropout_backward_gradcheck))


# --- gradient norms per layer --------------------------------------------------------------

def _plain_net(rng):
    """conv - tanh - max pool - conv - relu - linear on 1x8x8."""
    return Sequential([("conv1", Conv2d(1, 2, 3, padding=1, rng=rng)), ("act1", Activation("tanh")),
                       ("pool1", MaxPool2d(2)), ("conv2", Conv2d(2, 3, 3, rng=rng)), ("act2", Activation("relu")),
                       ("flat", Flatten()), ("fc", Linear(12, 4, rng=rng))], (1, 8, 8), name="small_cnn")


def _lenet_like(rng):
    """LeNet-5's layer types in miniature on 1x7x7: a trainable subsampling
    layer (weight (C,)) and a sparse convolution also have a 'weight'."""
    table = np.array([[1, 0, 1, 1], [1, 1, 0, 1], [0, 1, 1, 1]], bool)
    return Sequential([("C1", Conv2d(1, 3, 3, rng=rng)), ("a1", Activation("lecun_tanh")),
                       ("S2", Subsample2d(3)), ("a2", Activation("sigmoid")),
                       ("C3", SparseConv2d(table, 2, rng=rng)), ("flat", Flatten()),
                       ("F4", Linear(4, 3, rng=rng))], (1, 7, 7), name="small_lenet")


def grad_norms_cases(rng=None):
    """(model, x, y) tuples: small float64 `Sequential` models whose gradients
    already hold the values of an earlier batch (as after a training step),
    a batch x and its labels y."""
    rng = np.random.default_rng(SEED + 73) if rng is None else rng
    cases = []
    for build in (_plain_net, _lenet_like):
        model = build(rng).astype(np.float64)
        size = model.input_shape
        model.loss.forward(model.forward(rng.standard_normal((3, *size))), np.zeros(3, int))
        model.backward(model.loss.backward())  # an earlier batch's gradients, left in place
        classes = model.layers[-1][1].params["weight"].shape[0]
        cases.append((model, rng.standard_normal((5, *size)), rng.integers(0, classes, 5)))
    return cases


def _weight_layers(model, x=None, y=None):
    return [name for name, layer in model.layers if "weight" in layer.params]


def _norms(model, x, y, zero_grad="before", upstream="loss", of="grads", power=1):
    """The gradient norms, or what a slip gives: zero_grad 'before', 'never' or
    'after' the backward; upstream 'loss' or 'ones'; norms `of` the 'grads'
    or the 'params'; raised to `power`."""
    model = copy.deepcopy(model)  # the case's model stays as it is
    out = model.forward(x)
    model.loss.forward(out, y)
    grad = model.loss.backward() if upstream == "loss" else np.ones_like(out)
    if zero_grad == "before":
        model.zero_grad()
    model.backward(grad)
    if zero_grad == "after":
        model.zero_grad()
    return tuple(float(np.linalg.norm(getattr(layer, of)["weight"])) ** power
                 for name, layer in model.layers if "weight" in layer.params)


def _read_norms(result, model, x, y):
    names = _weight_layers(model)
    if not isinstance(result, Mapping):
        raise Unreadable(f"your function returned {type(result).__name__}, expected a dict {{layer name: norm}}.")
    if set(result) != set(names):
        raise Unreadable(f"your dict has the keys {sorted(result, key=str)}; expected one entry per layer with a "
                         f"'weight' parameter, named as in model.layers: {names}.")
    values = [as_float_array(result[name]) for name in names]
    if any(v is None for v in values):
        raise Unreadable("the values of your dict must be numbers (the norms, e.g. float(np.linalg.norm(g))).")
    return values


def check_grad_norms(fn):
    """Check `fn(model, x, y) -> {layer_name: float}`: the L2 norm of each
    layer's weight gradient after one forward and backward pass.

    model is a `cnnlab.nn.models.Sequential` (its `layers` are (name, layer)
    pairs; its gradients may hold values from an earlier step), x a batch,
    y its int labels. Run the forward pass and the model's loss
    (`model.loss.forward(out, y)`), zero the gradients, backpropagate
    `model.loss.backward()`, and return {name: np.linalg.norm(layer.grads['weight'])}
    for every layer with a 'weight' parameter. The checker builds small
    deterministic float64 models itself. Notebook 07, section 1.
    """
    return check(fn, Exercise(
        cases=grad_norms_cases(), expected=_norms, read=_read_norms,
        label=lambda model, x, y: f"model {model.name} ({', '.join(_weight_layers(model))}), x {x.shape}",
        outputs=_weight_layers,
        shape_hint="each value is one number, the norm of that layer's weight gradient.",
        value_hint="forward, model.loss.forward(out, y), model.zero_grad(), model.backward(model.loss.backward()), "
                   "then float(np.linalg.norm(layer.grads['weight'])).",
        oracle="the gradients of cnnlab's layers",
        mistakes=[
            Mistake(lambda m, x, y: _norms(m, x, y, zero_grad="never"),
                    "the gradients still hold an earlier step's values: backward *adds* (+=) into layer.grads. "
                    "Hint: call model.zero_grad() before model.backward(...)."),
            Mistake(lambda m, x, y: _norms(m, x, y, zero_grad="after"),
                    "all your norms are 0: you zeroed the gradients after the backward pass. Hint: call "
                    "model.zero_grad() before model.backward(...)."),
            Mistake(lambda m, x, y: _norms(m, x, y, power=2),
                    "you returned the squared norms. Hint: the L2 norm is the square root of the sum of squares, "
                    "np.linalg.norm(g)."),
            Mistake(lambda m, x, y: _norms(m, x, y, of="params"),
                    "you measured the weights themselves. Hint: the gradient is layer.grads['weight'] "
                    "(layer.params['weight'] holds the weights)."),
            Mistake(lambda m, x, y: _norms(m, x, y, upstream="ones"),
                    "you backpropagated ones instead of the loss gradient. Hint: call model.loss.forward(out, y), "
                    "then model.backward(model.loss.backward())."),
        ],
        forbidden=[(train.gradient_norms, "cnnlab.nn.train.gradient_norms")]))


# --- SGD with momentum and weight decay (notebook 07, section 3) ---------------------------------------------

def sgd_step_cases(rng=None):
    """(p, g, v, lr, momentum, weight_decay) tuples: parameters, gradients and velocities of one shape."""
    rng = np.random.default_rng(SEED + 80) if rng is None else rng
    settings = [(0.1, 0.9, 0.0), (0.05, 0.9, 5e-4), (0.5, 0.0, 0.01), (0.01, 0.5, 0.1), (0.2, 0.99, 0.0)]
    shapes = [(3,), (2, 3), (4, 1, 2, 2), (5,), (3, 3)]
    return [(rng.standard_normal(s), rng.standard_normal(s), rng.standard_normal(s), lr, mu, wd)
            for s, (lr, mu, wd) in zip(shapes, settings)]


def _sgd(p, g, v, lr, mu, wd, decay=1.0):
    v_new = mu * v + g + decay * wd * p   # decay=2: the mistake of differentiating wd * ||p||^2
    return p - lr * v_new, v_new


def check_sgd_step(fn):
    """Check `fn(p, g, v, lr, momentum, weight_decay) -> (p_new, v_new)`: one step
    of SGD with momentum and weight decay, as `torch.optim.SGD` and
    `cnnlab.nn.optim.SGD`: d = g + weight_decay * p (the gradient of the penalty
    weight_decay/2 * ||p||^2 added to the loss), v_new = momentum * v + d,
    p_new = p - lr * v_new. Arrays of one shape; floats. Notebook 07, section 3.
    """
    return check(fn, Exercise(
        cases=sgd_step_cases(), expected=lambda *c: _sgd(*c),
        label=lambda p, g, v, lr, mu, wd: f"shape {p.shape}, lr {lr}, momentum {mu}, weight decay {wd}",
        outputs=("p_new", "v_new"),
        shape_hint="p_new and v_new have the parameter's shape.",
        value_hint="d = g + weight_decay * p; v_new = momentum * v + d; p_new = p - lr * v_new.",
        oracle="cnnlab.nn.optim.SGD (PyTorch's update)",
        mistakes=[
            Mistake(lambda p, g, v, lr, mu, wd: _sgd(p, g, v, lr, mu, wd, decay=2.0) if wd else None,
                    "your weight decay is twice too strong: you added 2 * weight_decay * p, the gradient of "
                    "weight_decay * ||p||^2. Hint: weight_decay is the lambda of the penalty lambda/2 * ||p||^2, "
                    "whose gradient is lambda * p."),
            Mistake(lambda p, g, v, lr, mu, wd: _sgd(p, g, v, lr, mu, 0.0) if wd else None,
                    "weight decay is missing. Hint: add weight_decay * p to the gradient before the momentum."),
            Mistake(lambda p, g, v, lr, mu, wd: (p - lr * (g + wd * p), v) if mu else None,
                    "the velocity is ignored: this is plain SGD. Hint: v_new = momentum * v + d, then step with "
                    "v_new."),
            Mistake(lambda p, g, v, lr, mu, wd: (p - lr * (mu * v + g + wd * p), v) if mu else None,
                    "you stepped with the right velocity but returned the old one. Hint: return v_new, the "
                    "optimiser keeps it for the next step."),
            Mistake(lambda p, g, v, lr, mu, wd: (p - lr * (g + wd * p), mu * v + g + wd * p) if mu else None,
                    "you stepped with the gradient instead of the new velocity. Hint: p_new = p - lr * v_new."),
            Mistake(lambda p, g, v, lr, mu, wd: (p + lr * (mu * v + g + wd * p), mu * v + g + wd * p),
                    "your step goes uphill. Hint: subtract lr * v_new from p."),
        ],
        forbidden=[(optim.SGD.step, "cnnlab.nn.optim.SGD.step")]))
