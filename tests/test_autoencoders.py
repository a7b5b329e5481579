"""Autoencoders and greedy layer-wise pretraining (cnnlab.nn.autoencoders):
every new layer gradient-checked, the tied weight's shared gradient, the
upsampling kernels, and the pretraining and autoencoder runs on tiny cases."""
import json

import numpy as np
import pytest

import cnnlab as cl
from cnnlab.gradcheck import check_backward, check_layer, numerical_gradient, rel_error
from cnnlab.nn import autoencoders as A
from cnnlab.nn import models, runner
from cnnlab.nn.layers import Activation, Linear
from cnnlab.nn.models import Sequential

TOL = 1e-6


def small_tied(rng, n_in=5, n_hidden=3):
    enc = Linear(n_in, n_hidden, rng=rng).astype(np.float64)
    dec = A.TiedLinear(enc, dtype=np.float64)
    dec.params["bias"][...] = rng.standard_normal(n_in)
    return enc, dec


@pytest.mark.parametrize("mode", A.UPSAMPLE_MODES)
@pytest.mark.parametrize("shape, f", [((2, 3, 4, 5), 2), ((1, 2, 3, 3), 3)])
def test_upsample_kernel_matches_its_definition_and_its_backward_checks(mode, shape, f, rng):
    x = rng.standard_normal(shape)
    up = A.upsample2d(x, f, mode)
    if mode == "nearest":                                   # a Kronecker product with ones
        assert np.array_equal(up, np.kron(x, np.ones((f, f))))
    else:  # the known example and PyTorch parity are in tests/test_geometry.py
        assert up.shape[2:] == (shape[2] * f, shape[3] * f)
        assert np.allclose(A.upsample2d(np.ones(shape), f, mode), 1.0)   # interpolation weights sum to 1
    assert A.upsample2d(x.astype(np.float32), f, mode).dtype == np.float32
    errors = check_backward(A.upsample2d, A.upsample2d_backward, x, f, mode=mode)
    assert errors["x"] < TOL


@pytest.mark.parametrize("mode", A.UPSAMPLE_MODES)
def test_upsample_layer_gradient(mode, rng):
    errors = check_layer(A.Upsample2d(2, mode).astype(np.float64), rng.standard_normal((2, 2, 3, 4)))
    assert errors["input"] < TOL


def test_upsample_rejects_bad_arguments(rng):
    with pytest.raises(ValueError, match="mode must be one of"):
        A.Upsample2d(2, "cubic")
    with pytest.raises(ValueError, match="grad_out must have shape"):
        A.upsample2d_backward(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), 2)


def test_reshape_layer_gradient(rng):
    errors = check_layer(A.Reshape((1, 2, 3)), rng.standard_normal((4, 6)))
    assert errors["input"] < TOL


def test_tied_linear_alone_checks_input_and_bias(rng):
    enc, dec = small_tied(rng)
    errors = check_layer(dec, rng.standard_normal((4, 3)))
    assert set(errors) == {"input", "bias"} and max(errors.values()) < TOL
    assert [name for name, _, _ in dec.parameters()] == ["bias"]  # the weight is the encoder's


def test_tied_linear_adds_its_weight_gradient_into_the_encoder(rng):
    enc, dec = small_tied(rng)
    h, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 5))
    enc.grads["weight"][...] = 1.0  # backward adds, it does not overwrite
    dec.forward(h)
    dec.backward(g)
    assert np.allclose(enc.grads["weight"], 1.0 + h.T @ g)
    w = enc.params["weight"]
    num = numerical_gradient(lambda v: h @ v, w.copy(), g)  # the decoder's use of W alone
    assert rel_error(num, h.T @ g) < TOL


def test_tied_autoencoder_gradient_is_the_sum_of_both_uses(rng):
    enc, dec = small_tied(rng)
    ae = Sequential([("enc", enc), ("act", Activation("sigmoid")), ("dec", dec), ("out", Activation("sigmoid"))],
                    (5,), loss=A.MSELoss())
    x = rng.random((6, 5))
    errors = check_layer(ae, x)  # perturbing enc.weight moves encoder and decoder at once
    assert set(errors) == {"input", "enc.weight", "enc.bias", "dec.bias"} and max(errors.values()) < TOL
    # the same network with an untied copy of W: the tied gradient is the sum of the two copies' gradients
    untied = Linear(3, 5).astype(np.float64)
    untied.params["weight"][...] = enc.params["weight"].T
    untied.params["bias"][...] = dec.params["bias"]
    enc2 = Linear(5, 3).astype(np.float64)
    enc2.params["weight"][...], enc2.params["bias"][...] = enc.params["weight"], enc.params["bias"]
    twin = Sequential([("enc", enc2), ("act", Activation("sigmoid")), ("dec", untied), ("out", Activation("sigmoid"))],
                      (5,), loss=A.MSELoss())
    for net in (ae, twin):
        net.zero_grad()
        net.loss.forward(net.forward(x), x)
        net.backward(net.loss.backward())
    assert np.allclose(enc.grads["weight"], enc2.grads["weight"] + untied.grads["weight"].T)
    assert np.allclose(dec.grads["bias"], untied.grads["bias"])


def test_tied_linear_follows_its_encoder_through_astype():
    enc = Linear(4, 2)
    dec = A.TiedLinear(enc)
    enc.astype(np.float64)
    dec.astype(np.float64)
    out = dec.forward(np.ones((1, 2)))
    assert out.dtype == np.float64 and dec.weight() is enc.params["weight"]
    with pytest.raises(TypeError, match="encoder must be a Linear"):
        A.TiedLinear(Activation("relu"))


@pytest.mark.parametrize("reduction", A.MSELoss.REDUCTIONS)
def test_mse_loss_value_and_gradient(reduction, rng):
    out, target = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    loss = A.MSELoss(reduction)
    value = loss.forward(out, target)
    want = float(((out - target) ** 2).mean() if reduction == "mean" else ((out - target) ** 2).sum() / 3)
    assert np.isclose(value, want) and isinstance(value, float)
    num = numerical_gradient(lambda o: A.MSELoss(reduction).forward(o, target), out.copy())
    assert rel_error(num, loss.backward()) < TOL
    assert loss.predict(out) is out
    with pytest.raises(ValueError, match="reduction must be one of"):
        A.MSELoss("sum")


def test_builders_shapes_and_registries(rng):
    assert models.MODELS["deep_mlp"] is A.deep_mlp
    net = A.deep_mlp(depth=3, width=8, rng=rng)
    assert net.forward(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)
    assert A.hidden_layers(net) == ["H1", "H2", "H3"]
    for tied in (True, False):
        ae = A.dense_autoencoder(16, tied=tied, rng=rng)
        assert ae.forward(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 1, 28, 28)
        assert ("dec.weight" in ae.state_dict()) == (not tied)
    for decoder in ("transposed", *A.UPSAMPLE_MODES):
        ae = A.conv_autoencoder(decoder, (2, 3), rng=rng)
        x = rng.random((2, 1, 28, 28)).astype(np.float32)
        out = ae.forward(x)
        assert out.shape == x.shape
        ae.loss.forward(out, x)
        ae.backward(ae.loss.backward())
    with pytest.raises(ValueError, match="decoder must be"):
        A.conv_autoencoder("pixelshuffle")


def test_layer_signals_of_a_deep_sigmoid_net_vanish_downwards(rng):
    net = A.deep_mlp(depth=4, width=32, rng=rng)
    x, y = rng.random((64, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 64)
    before = {n: p.copy() for n, p in net.state_dict().items()}
    signals = A.layer_signals(net, x, y)
    assert list(signals["grad_norm"]) == list(signals["spread"]) == ["H1", "H2", "H3", "H4", "out"]
    g, s = signals["grad_norm"], signals["spread"]
    assert g["H1"] < g["H2"] < g["H3"] < g["H4"] < g["out"] and s["H4"] < s["H1"]
    assert all(np.array_equal(before[n], p) for n, p in net.state_dict().items())
    assert all(not gr.any() for _, _, gr in net.parameters())


def test_conv_autoencoder_gradient_in_float64(rng):
    for decoder in ("transposed", "nearest"):
        ae = A.conv_autoencoder(decoder, (2, 2), rng=rng).astype(np.float64)
        x = rng.random((1, 1, 28, 28))
        errors = check_layer(ae, x)
        assert max(errors.values()) < 1e-5, (decoder, errors)


def tiny_data(n=120, seed=0):
    images, labels = cl.data.load_mnist("train")
    idx = runner.split(n, 50)[0]
    return cl.data.to_float(images[idx]), labels[idx]


def test_greedy_pretraining_trains_each_hidden_layer_without_labels():
    x, _ = tiny_data()
    net = A.deep_mlp(depth=3, width=16, rng=np.random.default_rng(0))
    before = {n: p.copy() for n, p in net.state_dict().items()}
    layers = A.greedy_pretrain(net, x, epochs=3, lr=0.05, batch_size=20, seed=0, val=x[:30])
    assert [p["layer"] for p in layers] == ["H1", "H2", "H3"]
    after = net.state_dict()
    for name in ("H1", "H2", "H3"):
        assert not np.allclose(before[f"{name}.weight"], after[f"{name}.weight"])  # pretrained in place
    assert np.array_equal(before["out.weight"], after["out.weight"])  # the classifier layer is left alone
    for p in layers:
        loss = p["history"]["loss"]
        assert len(loss) == 3 and loss[-1] < loss[0]
        enc = p["autoencoder"].layers[0][1]
        assert enc is dict(net.layers)[p["layer"]] and p["autoencoder"].layers[2][1].encoder is enc
    # the second autoencoder reconstructs the first layer's codes (its input has the first layer's width)
    assert layers[1]["autoencoder"].layers[2][1].forward(np.zeros((1, 16), np.float32)).shape == (1, 16)
    again = A.deep_mlp(depth=3, width=16, rng=np.random.default_rng(0))
    A.greedy_pretrain(again, x, epochs=3, lr=0.05, batch_size=20, seed=0, val=x[:30])
    assert all(np.array_equal(after[n], p) for n, p in again.state_dict().items())  # deterministic
    first = A.deep_mlp(depth=3, width=16, rng=np.random.default_rng(0))
    steps = A.greedy_pretrain(first, x, epochs=3, lr=0.05, batch_size=20, seed=0, steps=2)
    assert isinstance(steps, float) and steps > 0


def test_untied_pretraining_gives_a_decoder_of_its_own():
    x, _ = tiny_data(60)
    net = A.deep_mlp(depth=2, width=8, rng=np.random.default_rng(0))
    layers = A.greedy_pretrain(net, x, epochs=1, tied=False, batch_size=20)
    dec = layers[0]["autoencoder"].layers[2][1]
    assert isinstance(dec, Linear) and dec.params["weight"].shape == (784, 8)


def test_fit_reconstruction_resumes_exactly(tmp_path):
    x, _ = tiny_data(80)

    def fresh():
        model = A.dense_autoencoder(8, rng=np.random.default_rng(1))
        return model, cl.nn.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    straight, opt = fresh()
    h = A.fit_reconstruction(straight, opt, x, 2, 16, val=x[:20], seed=3)
    assert len(h["loss"]) == len(h["val_loss"]) == 2
    ckpt = tmp_path / "ae.npz"
    half, opt = fresh()
    A.fit_reconstruction(half, opt, x, 1, 16, val=x[:20], seed=3, checkpoint=ckpt)
    resumed, opt = fresh()
    h2 = A.fit_reconstruction(resumed, opt, x, 2, 16, val=x[:20], seed=3, checkpoint=ckpt, resume=True)
    assert np.allclose(h2["loss"], h["loss"])
    for (name, p, _), (_, q, _) in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p, q, err_msg=name)


def test_stride_peaks_and_phase_means(rng):
    board = np.indices((8, 8)).sum(axis=0) % 2 * 1.0
    noise = rng.standard_normal((50, 8, 8))
    peaks = A.stride_peaks(noise + board)
    assert set(peaks) == {(0, 4), (4, 0), (4, 4)} and peaks[(4, 4)] > 10 > max(peaks[(0, 4)], peaks[(4, 0)])
    assert max(A.stride_peaks(noise).values()) < 2
    assert set(A.stride_peaks(noise, 4)) == {(a, b) for a in (0, 2, 4, 6) for b in (0, 2, 4, 6)} - {(0, 0)}
    assert np.allclose(A.phase_means(board), [[0, 1], [1, 0]])
    assert np.allclose(A.phase_means(np.ones((3, 8, 8)), 4), 1)
    with pytest.raises(ValueError, match="divisible by stride"):
        A.stride_peaks(np.ones((6, 6)), 4)


def test_pack_round_trip(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    packed = A.pack(a, "float32")
    assert json.loads(json.dumps(packed)) == packed
    np.testing.assert_array_equal(A.unpack(packed), a)
    assert np.allclose(A.unpack(A.pack(a)), a, atol=1e-2)  # float16 by default


TINY = dict(model="deep_mlp", model_args=(("activation", "sigmoid"), ("depth", 2), ("width", 16)), train_images=200,
            val_images=100, epochs=2, batch_size=50, lr=0.1)


@pytest.fixture
def dirs(tmp_path):
    return dict(results=tmp_path / "results", checkpoints=tmp_path / "ckpt")


def test_pretraining_runs_through_the_runner_and_verify(dirs):
    experiment = runner.Experiment("tiny_pretraining", "", (
        runner.Run(name="random", **TINY),
        A.PretrainRun(name="pretrained", pretrain_epochs=1, pretrain_lr=0.05, **TINY),
        A.PretrainRun(name="more unlabelled", pretrain_epochs=1, pretrain_lr=0.05, pretrain_images=300, **TINY)))
    out = runner.run_experiment(experiment, **dirs, progress=False, log=lambda *a: None)
    stored = json.loads((dirs["results"] / "tiny_pretraining.json").read_text())
    assert stored == json.loads(json.dumps(out)) and stored["complete"]
    random, pretrained, more = stored["runs"]
    assert random["config"]["model"] == pretrained["config"]["model"] and pretrained["config"]["tied"]
    pre = pretrained["pretraining"]
    assert [p["layer"] for p in pre["layers"]] == ["H1", "H2"] and len(pre["layers"][0]["loss"]) == 1
    assert A.unpack(pre["reconstructions"]).shape == (8, 28, 28) and A.unpack(pre["features"]).shape == (16, 28, 28)
    assert set(pre["grad_norms_random"]) == {"H1", "H2", "out"}
    assert len(pretrained["history"]["val_acc"]) == 2 and 0 <= pretrained["test_accuracy"] <= 100
    assert more["prefix"]["mean_loss"] != pretrained["prefix"]["mean_loss"]  # other images, other first steps
    for name in ("random", "pretrained", "more unlabelled"):
        want, fresh = runner.verify(experiment, stored, name)
        assert abs(want - fresh) <= 0.02 * want
    stored["runs"][1]["prefix"]["mean_loss"] *= 1.5
    with pytest.raises(AssertionError, match="do not come from this code"):
        runner.verify(experiment, stored, "pretrained")


def test_autoencoder_runs_store_weights_that_rebuild_the_network(dirs):
    run = A.AutoencoderRun(name="ae", model="conv_autoencoder", train_images=100, val_images=50, epochs=1,
                           model_args=(("channels", (2, 2)), ("decoder", "nearest")), batch_size=25, lr=1e-3)
    experiment = runner.Experiment("tiny_ae", "", (run,))
    logged = []
    out = runner.run_experiment(experiment, **dirs, progress=False, log=logged.append)
    assert "test accuracy" not in logged[-1]
    (entry,) = json.loads(json.dumps(out))["runs"]
    assert entry["test_accuracy"] is None and entry["test_loss"] > 0 and set(entry["test_stride_peaks"]) == {
        "0,14", "14,0", "14,14"} and np.shape(entry["test_error_phase_means"]) == (2, 2)
    model = A.load_autoencoder(entry)
    trained = run.build()
    trained.load_state_dict(train_state(dirs, run))
    x = np.random.default_rng(0).random((2, 1, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(model.forward(x), trained.eval().forward(x))
    runner.verify(experiment, out, "ae")
    with pytest.raises(ValueError, match="unknown autoencoder"):
        A.AutoencoderRun(name="x", model="lenet5").build()


def train_state(dirs, run):
    with np.load(dirs["checkpoints"] / f"{run.training_key()}.npz") as f:
        return {k[6:]: f[k] for k in f.files if k.startswith("param/")}
