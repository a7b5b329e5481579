"""Optimizers, the training loop, determinism and checkpoints."""
import numpy as np
import pytest

from cnnlab import data
from cnnlab.nn import models, optim, train


@pytest.fixture(scope="module")
def small_mnist():
    x, y = data.load_mnist("train")
    idx = data.balanced_subset(y, 30, np.random.default_rng(0))
    return data.pad_to_32(data.to_float(x[idx])), y[idx]


def test_sgd_matches_the_update_rule():
    p, g = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    opt = optim.SGD([("p", p, g)], lr=0.1, momentum=0.9, weight_decay=0.01)
    opt.step()
    v1 = g + 0.01 * np.array([1.0, -2.0])
    np.testing.assert_allclose(p, [1.0, -2.0] - 0.1 * v1)
    before = p.copy()
    opt.step()
    np.testing.assert_allclose(p, before - 0.1 * (0.9 * v1 + g + 0.01 * before))
    with pytest.raises(ValueError, match="lr > 0"):
        optim.SGD([], lr=0)


def test_adam_minimises_a_quadratic():
    p = np.array([3.0, -4.0])
    g = np.zeros(2)
    opt = optim.Adam([("p", p, g)], lr=0.1)
    for _ in range(500):
        g[...] = 2 * p
        opt.step()
    assert np.abs(p).max() < 1e-2


def test_schedule():
    opt = optim.SGD([], lr=1.0)
    sched = optim.MultiStepLR(opt, [2, 4], 0.5)
    lrs = []
    for _ in range(5):
        sched.step()
        lrs.append(opt.lr)
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]
    assert optim.step_lr(optim.SGD([], lr=1.0), 3).lr_at(7) == pytest.approx(0.1 ** 2)


def run(small_mnist, epochs, **kw):
    model = models.lenet5(np.random.default_rng(0))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = train.fit(model, opt, small_mnist, epochs, batch_size=32, seed=3, progress=False,
                        scheduler=optim.MultiStepLR(opt, [2], 0.5), **kw)
    return model, history


def test_training_learns_and_is_deterministic(small_mnist):
    m1, h1 = run(small_mnist, 3)
    m2, h2 = run(small_mnist, 3)
    assert h1["loss"][-1] < h1["loss"][0]
    for (n, p, _), (_, q, _) in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p, q)  # bit-identical


def test_resume_equals_uninterrupted(small_mnist, tmp_path):
    straight, h_straight = run(small_mnist, 3)
    ckpt = tmp_path / "run.npz"
    run(small_mnist, 1, checkpoint=ckpt)  # "interrupted" after one epoch
    resumed, h_resumed = run(small_mnist, 3, checkpoint=ckpt, resume=True)
    for (n, p, _), (_, q, _) in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p, q, err_msg=n)
    assert h_resumed["loss"] == h_straight["loss"]
    assert not (tmp_path / "run.npz.tmp").exists()


def test_checkpoint_round_trip_and_validation(small_mnist, tmp_path):
    model, history = run(small_mnist, 1)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    path = tmp_path / "m.npz"
    train.save_checkpoint(path, model, opt, 1, history)
    other = models.lenet5(np.random.default_rng(5))
    meta = train.load_checkpoint(path, other, optim.SGD(other.parameters(), lr=0.5, momentum=0.9))
    assert meta["epoch"] == 1 and meta["model"] == "lenet5" and meta["history"]["loss"] == history["loss"]
    np.testing.assert_array_equal(other.state_dict()["C1.weight"], model.state_dict()["C1.weight"])
    with pytest.raises(ValueError, match="holds a 'lenet5' model, not 'lenet5_1998'"):
        train.load_checkpoint(path, models.lenet5_1998())
    with pytest.raises(ValueError, match="optimizer state"):
        train.load_checkpoint(path, other, optim.SGD(other.parameters(), lr=0.1))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train.load_checkpoint(tmp_path / "none.npz", other)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        train.load_checkpoint(tmp_path / "bad.npz", other)
    np.savez(tmp_path / "pickled.npz", obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        train.load_checkpoint(tmp_path / "pickled.npz", other)  # never unpickles


def test_evaluate_and_confusion(small_mnist):
    model, _ = run(small_mnist, 2)
    x, y = small_mnist
    loss, acc = train.evaluate(model, x, y)
    preds = train.predict(model, x)
    assert acc == pytest.approx((preds == y).mean())
    cm = train.confusion_matrix(y, preds)
    assert cm.sum() == len(y) and np.trace(cm) == (preds == y).sum()
    assert cm.sum(axis=1).tolist() == [30] * 10


def test_predict_and_evaluate_restore_the_mode(small_mnist):
    model = models.lenet5(np.random.default_rng(0))
    x, y = small_mnist
    for fn in (lambda: train.predict(model, x[:20]), lambda: train.evaluate(model, x[:20], y[:20])):
        for mode in (True, False):
            model.train(mode)
            fn()
            assert model.training is mode and all(layer.training is mode for _, layer in model.layers)
