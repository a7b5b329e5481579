"""Every layer's backward against central differences (float64)."""
import numpy as np
import pytest
from tolerance import assert_close

from cnnlab import layers as L
from cnnlab.gradcheck import numerical_gradient, rel_error
from cnnlab.models import C3_TABLE, rbf_codes


def check_layer(layer, x, rng):
    """Gradient of sum(g * layer(x)) for the input and every parameter."""
    g = rng.standard_normal(layer.forward(x).shape)
    layer.zero_grad()
    layer.forward(x)
    gx = layer.backward(g)
    assert rel_error(numerical_gradient(layer.forward, x.copy(), g), gx) < 1e-6, "input"
    for name, p in layer.params.items():
        num = numerical_gradient(lambda v, p=p: (p.__setitem__(Ellipsis, v), layer.forward(x))[1], p.copy(), g)
        layer.forward(x)
        assert rel_error(num, layer.grads[name]) < 1e-6, name


def f64(layer):
    layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
    layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
    if hasattr(layer, "mask"):
        layer.mask = layer.mask.astype(np.float64)
    return layer


CASES = {
    "conv": (lambda r: L.Conv2d(3, 4, 3, stride=2, padding=1, rng=r), (2, 3, 7, 7)),
    "conv_groups": (lambda r: L.Conv2d(4, 6, (3, 2), groups=2, dilation=2, rng=r), (2, 4, 8, 7)),
    "conv_transpose": (lambda r: L.ConvTranspose2d(3, 2, 4, stride=2, padding=1, rng=r), (2, 3, 4, 4)),
    "sparse_conv": (lambda r: L.SparseConv2d(C3_TABLE, 3, rng=r), (2, 6, 6, 6)),
    "maxpool": (lambda r: L.MaxPool2d(2), (2, 3, 6, 6)),
    "maxpool_overlap": (lambda r: L.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 7)),
    "avgpool": (lambda r: L.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 7, 7)),
    "subsample": (lambda r: L.Subsample2d(3), (2, 3, 6, 6)),
    "linear": (lambda r: L.Linear(5, 4, rng=r), (3, 5)),
    "flatten": (lambda r: L.Flatten(), (2, 3, 2, 2)),
    "relu": (lambda r: L.Activation("relu"), (3, 7)),
    "lecun_tanh": (lambda r: L.Activation("lecun_tanh"), (3, 7)),
    "sigmoid": (lambda r: L.Activation("sigmoid"), (3, 7)),
    "rbf": (lambda r: L.RBF(rbf_codes()[:, :6].astype(np.float64)), (3, 6)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_gradients(rng, name):
    make, shape = CASES[name]
    layer = f64(make(rng))
    if isinstance(layer, L.Subsample2d):
        layer.params["weight"][...] = rng.standard_normal(3)
    n = int(np.prod(shape))
    x = rng.permutation(n).reshape(shape) * (2.0 / n) - 1  # in [-1, 1), no ties for max pooling
    if isinstance(layer, L.Activation) and layer.name == "relu":
        x = x + 0.05  # keep off the kink at 0
    if isinstance(layer, L.RBF):
        layer.codes = layer.codes.astype(np.float64)
    check_layer(layer, x.astype(np.float64), rng)


def test_sparse_conv_keeps_absent_connections_at_zero(rng):
    layer = L.SparseConv2d(C3_TABLE, 5, rng=rng)
    absent = ~C3_TABLE.T
    assert np.all(layer.params["weight"][absent] == 0)
    layer.forward(rng.standard_normal((2, 6, 14, 14)).astype(np.float32))
    layer.backward(np.ones((2, 16, 10, 10), np.float32))
    assert np.all(layer.grads["weight"][absent] == 0)
    assert layer.summary_row((1, 6, 14, 14), (1, 16, 10, 10)) == (1516, 151600)


def test_dropout(rng):
    d = L.Dropout(0.5, rng=rng)
    x = np.ones((1000, 10))
    y = d.forward(x)
    assert set(np.unique(y)) <= {0.0, 2.0} and abs(y.mean() - 1) < 0.05  # expectation preserved
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), y)  # same mask backwards
    d.training = False
    np.testing.assert_array_equal(d.forward(x), x)
    with pytest.raises(ValueError, match="dropout p must be in"):
        L.Dropout(1.0)


def test_losses(rng):
    z, y = rng.standard_normal((4, 10)), np.array([1, 0, 9, 3])
    for loss in (L.SoftmaxCrossEntropy(), L.RBFLoss()):
        loss.forward(z, y)
        g = loss.backward()
        num = numerical_gradient(lambda v: loss.forward(v, y), z.copy())
        assert rel_error(num, g) < 1e-6, type(loss).__name__
    assert L.RBFLoss.predict(np.array([[3.0, 1.0, 2.0]])).tolist() == [1]  # smallest distance wins


def test_linear_checks_its_input():
    with pytest.raises(ValueError, match=r"Linear expects input \(N, 5\), got \(2, 4\)"):
        L.Linear(5, 3).forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        L.Activation("swish")


def test_conv_layer_reuses_columns_and_can_skip_the_input_gradient(rng):
    import cnnlab as cl
    layer = f64(L.Conv2d(3, 4, 3, padding=1, rng=rng))
    x, g = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 4, 6, 6))
    layer.forward(x)
    assert layer.cols is not None  # kept for the weight gradient
    assert layer.backward(g, input_grad=False) is None
    gx, gw, gb = cl.conv2d_backward(g, x, layer.params["weight"], padding=1)
    assert_close(layer.grads["weight"], gw, 2 * 6 * 6)  # kept columns vs re-unfolded input
    layer.training = False
    layer.forward(x)
    assert layer.cols is None  # evaluation keeps nothing
