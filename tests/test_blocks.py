"""The blocks of notebook 09 (cnnlab.nn.blocks, cnnlab.nn.architectures): gradient checks of
BatchNorm2d, MaxUnpool2d and Residual, parity of the layers with torch.nn, running statistics in
checkpoints, the FCN bilinear initialisation, and the networks and the text task of the notebook."""
import numpy as np
import pytest

import cnnlab as cl
from cnnlab.gradcheck import check_layer
from cnnlab.nn import architectures as A
from cnnlab.nn import models, optim, runner, train
from cnnlab.nn.blocks import BatchNorm2d, MaxUnpool2d, Network, Residual, bilinear_upsampling_weight
from cnnlab.nn.layers import Activation, Conv2d, Flatten, Linear, MaxPool2d
from cnnlab.teach import geometry

from tolerance import assert_close


def smooth_input(rng, shape):
    """Distinct values, away from ReLU's kink at 0 and from max-pooling ties."""
    n = int(np.prod(shape))
    x = rng.permutation(n).reshape(shape) * (2.0 / n) - 1
    return x + np.sign(x) * 0.05


BLOCKS = {
    "identity": dict(in_channels=3, out_channels=3),
    "projection": dict(in_channels=2, out_channels=4, stride=2),
    "no_bn": dict(in_channels=3, out_channels=3, batch_norm=False),
    "preactivation": dict(in_channels=3, out_channels=3, preactivation=True, activation="sigmoid"),
    "preactivation_projection": dict(in_channels=2, out_channels=3, preactivation=True, stride=2),
    "plain": dict(in_channels=3, out_channels=3, skip=False, activation="tanh"),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_residual_block_gradients(rng, name):
    block = Residual(**BLOCKS[name], rng=rng).astype(np.float64)
    errors = check_layer(block, smooth_input(rng, (2, BLOCKS[name]["in_channels"], 5, 5)))
    assert set(errors) == {"input", *(n for n, _, _ in block.parameters())}
    # batch norm's gradient is a difference of nearly equal terms: its smallest entries carry ~1e-5 of the
    # central differences' rounding; a wrong backward is off by O(1)
    assert max(errors.values()) < 1e-4, errors


def test_residual_backward_sums_both_paths(rng):
    block = Residual(3, 3, batch_norm=False, preactivation=True, rng=rng).astype(np.float64)
    plain = Residual(3, 3, batch_norm=False, preactivation=True, skip=False, rng=rng).astype(np.float64)
    for (_, p, _), (_, q, _) in zip(block.parameters(), plain.parameters()):
        q[...] = p                                                   # the same branch weights
    x, g = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((2, 3, 4, 4))
    assert np.allclose(block.forward(x), plain.forward(x) + x)       # x + F(x)
    assert np.allclose(block.backward(g), plain.backward(g) + g)     # the identity path adds g itself
    assert block.backward(g, input_grad=False) is None


@pytest.mark.parametrize("train_mode", [True, False])
def test_batch_norm_layer_gradients(rng, train_mode):
    bn = BatchNorm2d(3).astype(np.float64)
    bn.params["weight"][...], bn.params["bias"][...] = rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    bn.buffers["running_mean"][...], bn.buffers["running_var"][...] = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    bn.train(train_mode)
    x = rng.normal(2.0, 3.0, (4, 3, 3, 3))
    errors = check_layer(bn, x, grad=np.random.default_rng(99).standard_normal(x.shape))
    assert set(errors) == {"input", "weight", "bias"} and max(errors.values()) < 1e-6, errors


def test_max_unpool_layer_gradient_and_pairing(rng):
    pool = MaxPool2d(2)
    x = smooth_input(rng, (2, 3, 6, 7))                              # 7: the last column is dropped by pooling
    unpool = MaxUnpool2d(pool)
    up = unpool.forward(pool.forward(x))
    assert up.shape == x.shape and np.array_equal(up[up != 0], x[up != 0])
    assert max(check_layer(unpool, pool.forward(x)).values()) < 1e-8
    with pytest.raises(TypeError, match="needs the MaxPool2d layer"):
        MaxUnpool2d(Activation("relu"))


def test_batch_norm_layer_train_and_eval(rng):
    bn = BatchNorm2d(2)
    x = rng.normal(5.0, 2.0, (16, 2, 4, 4)).astype(np.float32)
    for _ in range(100):                                             # 0.9^100: the initial estimate is forgotten
        bn.forward(x)
    assert np.allclose(bn.buffers["running_mean"], x.mean(axis=(0, 2, 3)), rtol=1e-3)
    out = bn.eval().forward(x)                                       # running statistics ~ batch statistics now
    assert np.allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-2) and out.dtype == np.float32


@pytest.mark.torch
def test_layers_match_torch_modules(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 3, 6, 6))
    ours = Residual(3, 5, stride=2, rng=rng).astype(np.float64)
    names = dict(ours.sublayers())

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(3, 5, 3, 2, 1, bias=False).double()
            self.bn1, self.bn2, self.proj_bn = (torch.nn.BatchNorm2d(5).double() for _ in range(3))
            self.conv2 = torch.nn.Conv2d(5, 5, 3, 1, 1, bias=False).double()
            self.proj = torch.nn.Conv2d(3, 5, 1, 2, bias=False).double()

        def forward(self, v):
            h = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(v)))))
            return torch.relu(h + self.proj_bn(self.proj(v)))

    theirs = Block()
    with torch.no_grad():
        for name, p, _ in ours.parameters():
            layer, param = name.split(".")
            getattr(getattr(theirs, layer), param).copy_(torch.tensor(p))
    tx = torch.tensor(x, requires_grad=True)
    y = theirs(tx)
    assert_close(ours.forward(x), y.detach().numpy(), 200)
    g = rng.standard_normal(y.shape)
    y.backward(torch.tensor(g))
    assert_close(ours.backward(g), tx.grad.numpy(), 2000)
    for name, _, grad in ours.parameters():
        layer, param = name.split(".")
        assert_close(grad, getattr(getattr(theirs, layer), param).grad.numpy(), 2000, err_msg=name)
    for bn in ("bn1", "bn2", "proj_bn"):                             # the running statistics too
        assert_close(names[bn].buffers["running_var"], getattr(theirs, bn).running_var.numpy(), 200)


def test_network_checkpoints_keep_the_running_statistics(rng, tmp_path):
    model = A.resnet_mnist(width=4, rng=rng)
    x, y = rng.random((32, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 32)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train.fit(model, opt, (x, y), epochs=1, batch_size=16, progress=False)
    state = model.state_dict()
    assert "bn0.running_mean" in state and "res2.proj_bn.running_var" in state
    train.save_checkpoint(tmp_path / "m.npz", model, opt, 1)
    fresh = A.resnet_mnist(width=4, rng=np.random.default_rng(5))
    train.load_checkpoint(tmp_path / "m.npz", fresh)
    assert np.array_equal(model.eval().forward(x), fresh.eval().forward(x))
    with pytest.raises(ValueError, match="missing"):
        fresh.load_state_dict({k: v for k, v in state.items() if "running" not in k})
    before = {k: v.copy() for k, v in model.running_state()}
    model.train()
    model.summary()                                                   # runs in eval mode: statistics untouched
    assert all(np.array_equal(before[k], v) for k, v in model.running_state()) and model.training


def test_bilinear_transposed_convolution_is_bilinear_interpolation(rng):
    x = rng.standard_normal((1, 2, 6, 5))
    for f in (2, 3, 4):
        up = cl.conv_transpose2d(x, bilinear_upsampling_weight(2, f, np.float64), stride=f, padding=f // 2)
        want = geometry.upsample(x, f, "bilinear")
        assert up.shape == want.shape == (1, 2, 6 * f, 5 * f)
        assert np.allclose(up[..., f:-f, f:-f], want[..., f:-f, f:-f])   # equal away from the border
    with pytest.raises(ValueError, match="positive integer"):
        bilinear_upsampling_weight(1, 1.5)


def test_models_are_registered_and_build(rng):
    for name in ("resnet_mnist", "deep_sigmoid", "bn_net"):
        assert name in models.MODELS
    x = rng.random((3, 1, 28, 28)).astype(np.float32)
    for model in (A.resnet_mnist(), A.deep_sigmoid(), A.deep_sigmoid(True), A.bn_net(), A.bn_net(True, "sigmoid")):
        assert model.forward(x).shape == (3, 10), model.name
    plain, res = A.deep_sigmoid(False), A.deep_sigmoid(True)
    weights = [n for n, p, _ in plain.parameters() if n.endswith("weight")]
    assert len(weights) == 10 and weights == [n for n, _, _ in res.parameters() if n.endswith("weight")]
    assert runner.build(runner.Run(name="r", model="bn_net", model_args=(("batch_norm", True),))).name == "bn_net"


def test_residual_connections_keep_the_first_layer_gradient(rng):
    x, y = rng.random((64, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 64)
    plain = A.weight_gradient_norms(A.deep_sigmoid(False), x, y)
    res = A.weight_gradient_norms(A.deep_sigmoid(True), x, y)
    assert list(plain) == list(res) and list(plain)[0] == "stem.weight"
    assert plain["stem.weight"] < 1e-6 < 1e-3 < res["stem.weight"]


def test_key_ngram_task_hides_the_answer_from_a_bag_of_words():
    tokens, labels = A.key_ngram_task(2000, rng=np.random.default_rng(1))
    assert tokens.shape == (2000, 20) and labels.mean() == 0.5
    counts = np.stack([np.bincount(t, minlength=10) for t in tokens])
    assert np.all(counts[:, 1:4] == 1)                               # each key token exactly once, in both classes
    has_key = np.array([any(list(t[i:i + 3]) == [1, 2, 3] for i in range(18)) for t in tokens])
    assert np.array_equal(has_key, labels == 1)
    for c in range(4, 10):                                           # filler counts: the same mean in both classes
        assert abs(counts[labels == 1, c].mean() - counts[labels == 0, c].mean()) < 0.15
    x = A.one_hot(tokens[:5], 10)
    assert x.shape == (5, 10, 1, 20) and np.array_equal(x.argmax(axis=1)[:, 0], tokens[:5])


def test_text_cnn_learns_the_ngram_and_the_bag_of_words_cannot():
    rng = np.random.default_rng(2)
    tokens, labels = A.key_ngram_task(1200, rng=rng)
    x, y = A.one_hot(tokens, 10), labels
    accs = {}
    for build in (A.text_cnn, A.bag_of_words):
        model = build(rng=np.random.default_rng(0))
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        train.fit(model, opt, (x[:1000], y[:1000]), epochs=6, batch_size=32, progress=False)
        accs[model.name] = train.evaluate(model, x[1000:], y[1000:])[1]
    assert accs["text_cnn"] > 0.95 and accs["bag_of_words"] < 0.65, accs


def test_network_summary_counts_blocks():
    model = Network([("res", Residual(2, 4, stride=2)), ("flat", Flatten()), ("fc", Linear(4 * 3 * 3, 3))], (2, 6, 6))
    rows = {r[0]: r for r in model.summary()}
    assert rows["res"][3] == sum(p.size for _, p, _ in model.layers[0][1].parameters())
    conv_connections = cl.arithmetic.conv_connections
    assert rows["res"][4] == (conv_connections(2, 4, (3, 3), (3, 3), bias=False)
                              + conv_connections(4, 4, (3, 3), (3, 3), bias=False)
                              + conv_connections(2, 4, (1, 1), (3, 3), bias=False))
    assert isinstance(model.layers[0][1].body[0][1], Conv2d)
