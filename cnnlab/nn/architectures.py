"""The small networks of notebook 09, registered in `models.MODELS` so that
the experiment runner can build them by name:

* `resnet_mnist` - a small residual network with batch normalisation;
* `deep_sigmoid` - a deep sigmoid conv net (9 convolutions + a classifier),
  with or without residual connections around its pairs of convolutions;
* `bn_net` - a small conv net with or without batch normalisation;

and, for section 5 (CNNs beyond images), a synthetic text task with a 1-D
convolutional classifier and a bag-of-words baseline.
"""
import numpy as np

from . import models
from .blocks import BatchNorm2d, Network, Residual
from .layers import Activation, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d


def _rng(rng):
    return rng if rng is not None else np.random.default_rng(0)


def resnet_mnist(width=8, rng=None):
    """A residual network for 1x28x28 digits: a 3x3 stem (width maps, batch
    norm, ReLU) and 2x2 max pooling to 14x14, three residual blocks (width
    maps at 14x14, 2 width at 7x7, 4 width at 4x4, each block down-sampling
    with a stride-2 convolution and a 1x1 projection), global average
    pooling and a linear classifier: the ResNet recipe in miniature."""
    rng = _rng(rng)
    w = width
    return Network([
        ("stem", Conv2d(1, w, 3, padding=1, bias=False, rng=rng)), ("bn0", BatchNorm2d(w)),
        ("a0", Activation("relu")), ("pool", MaxPool2d(2)),
        ("res1", Residual(w, w, rng=rng)), ("res2", Residual(w, 2 * w, stride=2, rng=rng)),
        ("res3", Residual(2 * w, 4 * w, stride=2, rng=rng)),
        ("gap", AvgPool2d(4)), ("flat", Flatten()), ("fc", Linear(4 * w, 10, rng=rng))], (1, 28, 28),
        name="resnet_mnist")


def deep_sigmoid(residual=False, blocks=4, width=8, rng=None):
    """A deep sigmoid network on 1x28x28: a 3x3 stride-2 stem convolution to
    width maps at 14x14, then `blocks` blocks of sigmoid - conv3x3 - sigmoid
    - conv3x3, a last sigmoid, 2x2 max pooling and a linear classifier. With
    4 blocks it is nine conv-sigmoid layers and a linear one: 10 weight
    layers. With residual=True each block adds its input to its output,
    x + F(x) (pre-activation `Residual` blocks): the same layers, plus an
    identity path that no sigmoid touches."""
    rng = _rng(rng)
    layers = [("stem", Conv2d(1, width, 3, stride=2, padding=1, rng=rng))]
    layers += [(f"block{i + 1}", Residual(width, width, activation="sigmoid", batch_norm=False, preactivation=True,
                                          skip=residual, rng=rng)) for i in range(blocks)]
    layers += [("a_out", Activation("sigmoid")), ("pool", MaxPool2d(2)), ("flat", Flatten()),
               ("fc", Linear(width * 49, 10, rng=rng))]
    return Network(layers, (1, 28, 28), name="deep_sigmoid_residual" if residual else "deep_sigmoid_plain")


def bn_net(batch_norm=False, activation="relu", rng=None):
    """A small conv net on 1x28x28, with or without batch normalisation after
    each convolution: conv 8@5x5 - [bn] - ReLU - max pool 2 - conv 16@5x5 -
    [bn] - ReLU - max pool 2 - linear 10. With batch norm the convolutions
    have no bias (the normalisation removes it)."""
    rng = _rng(rng)
    norm = (lambda name, c: [(name, BatchNorm2d(c))]) if batch_norm else (lambda name, c: [])
    return Network([
        ("C1", Conv2d(1, 8, 5, bias=not batch_norm, rng=rng)), *norm("bn1", 8), ("a1", Activation(activation)),
        ("P1", MaxPool2d(2)),
        ("C2", Conv2d(8, 16, 5, bias=not batch_norm, rng=rng)), *norm("bn2", 16), ("a2", Activation(activation)),
        ("P2", MaxPool2d(2)),
        ("flat", Flatten()), ("out", Linear(16 * 4 * 4, 10, rng=rng))], (1, 28, 28),
        name="bn_net" if batch_norm else "plain_net")


models.MODELS.update({"resnet_mnist": resnet_mnist, "deep_sigmoid": deep_sigmoid, "bn_net": bn_net})


def weight_gradient_norms(model, x, y):
    """{parameter name: ||dLoss/dW||} of every convolution and linear weight
    (batch norm's scales left out), in layer order, after one forward and
    backward pass on (x, y). Works through residual blocks, whose weights
    are named like 'block1.conv1.weight'. Parameters are not changed."""
    model.loss.forward(model.forward(x), y)
    model.zero_grad()
    model.backward(model.loss.backward())
    return {name: float(np.linalg.norm(g)) for name, p, g in model.parameters() if name.endswith("weight")
            and p.ndim > 1}


# --- a text task for 1-D convolutions (section 5) ------------------------------------------------

def key_ngram_task(n, length=20, vocab=10, key=(1, 2, 3), rng=None):
    """A synthetic text-classification task: is the key n-gram (tokens in
    this order, side by side) anywhere in the sequence?

    Every sequence holds each key token exactly once, at random positions
    among filler tokens (the other vocab - len(key) tokens, uniform). In
    class 1 the key tokens stand together in key order, anywhere; in class 0
    they stand apart or in another order (half the negatives are the key's
    tokens side by side but permuted). Both classes therefore have the same
    distribution of token counts: a bag of words cannot do better than
    chance, only word order tells them apart.

    Returns (tokens (n, length) int, labels (n,) int), half of each class.
    """
    rng = _rng(rng)
    key = np.asarray(key)
    fillers = np.setdiff1d(np.arange(vocab), key)
    k = len(key)
    tokens = rng.choice(fillers, size=(n, length))
    labels = np.arange(n) % 2
    for i in range(n):
        if labels[i] == 1 or rng.random() < 0.5:  # a contiguous run: the key itself, or a permutation of it
            order = key if labels[i] == 1 else _other_order(key, rng)
            start = rng.integers(0, length - k + 1)
            tokens[i, start:start + k] = order
        else:  # scattered: the key tokens at k random positions that are not k in a row in key order
            while True:
                where = np.sort(rng.choice(length, size=k, replace=False))
                order = rng.permutation(key)
                if not (np.all(np.diff(where) == 1) and np.array_equal(order, key)):
                    break
            tokens[i, where] = order
    perm = rng.permutation(n)
    return tokens[perm], labels[perm]


def _other_order(key, rng):
    while True:
        order = rng.permutation(key)
        if not np.array_equal(order, key):
            return order


def one_hot(tokens, vocab):
    """(N, L) ints -> (N, vocab, 1, L) float32 one-hot codes: each token a
    channel vector, the sequence along the width (a 1-D signal in NCHW)."""
    tokens = np.asarray(tokens)
    out = np.zeros((tokens.shape[0], vocab, 1, tokens.shape[1]), dtype=np.float32)
    np.put_along_axis(out, tokens[:, None, None, :], 1.0, axis=1)
    return out


def text_cnn(vocab=10, length=20, embed=8, filters=16, width=3, rng=None):
    """A 1-D CNN text classifier (in the style of Kim 2014), on one-hot
    input (N, vocab, 1, length): an embedding (a bias-free 1x1 convolution:
    one embed-vector per token), `filters` convolutions of `width` tokens
    (narrow: length - width + 1 positions), ReLU, max pooling over all
    positions, and a linear layer to 2 classes."""
    rng = _rng(rng)
    return Network([
        ("embed", Conv2d(vocab, embed, 1, bias=False, rng=rng)),
        ("conv", Conv2d(embed, filters, (1, width), rng=rng)), ("act", Activation("relu")),
        ("maxpool", MaxPool2d((1, length - width + 1))), ("flat", Flatten()),
        ("out", Linear(filters, 2, rng=rng))], (vocab, 1, length), name="text_cnn")


def bag_of_words(vocab=10, length=20, embed=8, hidden=16, rng=None):
    """The order-blind baseline on the same input: the mean of the token
    embeddings (a function of the token counts only), a hidden ReLU layer
    and a linear layer to 2 classes."""
    rng = _rng(rng)
    return Network([
        ("embed", Conv2d(vocab, embed, 1, bias=False, rng=rng)), ("mean", AvgPool2d((1, length))),
        ("flat", Flatten()), ("hidden", Linear(embed, hidden, rng=rng)), ("act", Activation("relu")),
        ("out", Linear(hidden, 2, rng=rng))], (vocab, 1, length), name="bag_of_words")


__all__ = ["resnet_mnist", "deep_sigmoid", "bn_net", "weight_gradient_norms", "key_ngram_task", "one_hot",
           "text_cnn", "bag_of_words"]
