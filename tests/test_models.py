"""Model tables computed from the layers, and whole-model gradients."""
import numpy as np
import pytest

from cnnlab import data
from cnnlab.gradcheck import numerical_gradient, rel_error
from cnnlab.nn import models

PAPER_TABLE = [("C1", 6, "28x28", 156, 122_304), ("S2", 6, "14x14", 12, 5_880), ("C3", 16, "10x10", 1_516, 151_600),
               ("S4", 16, "5x5", 32, 2_000), ("C5", 120, "1x1", 48_120, 48_120), ("F6", 84, "-", 10_164, 10_164),
               ("output", 10, "-", 0, 840)]


def test_lenet5_1998_reproduces_the_paper_table():
    assert models.lenet5_1998().summary() == PAPER_TABLE
    assert "60,000" in models.lenet5_1998().summary_table()  # the famous total


def test_c3_table_matches_the_paper():
    syllabus = """X...XXX..XXXX.XX
XX...XXX..XXXX.X
XXX...XXX..X.XXX
.XXX..XXXX..X.XX
..XXX..XXXX.XX.X
...XXX..XXXX.XXX"""
    expect = np.array([[c == "X" for c in row] for row in syllabus.splitlines()])
    np.testing.assert_array_equal(models.C3_TABLE, expect)
    counts = models.C3_TABLE.sum(axis=0)
    assert counts.tolist() == [3] * 6 + [4] * 9 + [6]  # 6 take 3 maps, 9 take 4, one takes all


def test_simplified_lenet_counts():
    rows = {r[0]: r for r in models.simplified_lenet().summary()}
    assert rows["L1"][1:] == (6, "13x13", 156, 26_364)
    assert rows["L2"][1:3] == (50, "5x5")
    assert rows["L3"][3] == 125_100 and rows["L4"][3] == 1_010


def test_rbf_codes_are_plus_minus_one_bitmaps():
    codes = models.rbf_codes()
    assert codes.shape == (10, 84) and set(np.unique(codes)) == {-1.0, 1.0}
    assert len({c.tobytes() for c in codes}) == 10
    d = ((codes[:, None] - codes[None]) ** 2).sum(axis=2)
    assert d[~np.eye(10, dtype=bool)].min() >= 4 * 8  # every pair differs in at least 8 pixels


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_models_run_and_backpropagate(name, rng):
    model = models.build(name, rng)
    x = rng.standard_normal((2, *model.input_shape)).astype(np.float32)
    out = model.forward(x)
    assert out.shape == (2, 10)
    model.loss.forward(out, np.array([3, 7]))
    model.zero_grad()
    gx = model.backward(model.loss.backward())
    assert gx.shape == x.shape and all(np.isfinite(g).all() for _, _, g in model.parameters())


def test_whole_model_gradient_in_float64(rng):
    model = models.lenet5_1998(rng).astype(np.float64)
    x, y = rng.standard_normal((2, 1, 32, 32)), np.array([1, 4])
    model.loss.forward(model.forward(x), y)
    model.zero_grad()
    model.backward(model.loss.backward())
    bias, grad = dict((n, (p, g)) for n, p, g in model.parameters())["F6.bias"]
    num = numerical_gradient(lambda _: model.loss.forward(model.forward(x), y), bias)  # perturbs bias in place
    assert rel_error(num, grad) < 1e-6


@pytest.mark.parametrize("name,shape,background", [("lenet5", (1, 32, 32), 0.0), ("lenet5_1998", (1, 32, 32), -0.1),
                                                   ("simplified_lenet", (1, 29, 29), 0.0), ("mlp", (1, 28, 28), 0.0)])
def test_models_prepare_their_own_input(name, shape, background):
    model = models.build(name)
    images = np.zeros((3, 28, 28), np.uint8)
    images[:, 10:15, 10:15] = 255
    x = model.prepare(images)
    assert x.shape == (3, *shape) and x.dtype == np.float32
    assert np.isclose(x[0, 0, 0, 0], background) and np.isclose(x.max(), 1.175 if background else 1.0)
    np.testing.assert_array_equal(x[:, :, :28, :28].max(), x.max())
    assert data.to_float(images).shape == (3, 1, 28, 28)


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        models.build("vgg")


def test_state_dict_round_trip_and_checks(rng):
    a, b = models.lenet5(np.random.default_rng(1)), models.lenet5(np.random.default_rng(2))
    b.load_state_dict(a.state_dict())
    for (n, p, _), (_, q, _) in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q)
    state = a.state_dict()
    state["C1.weight"] = np.zeros((6, 1, 3, 3))
    with pytest.raises(ValueError, match=r"parameter C1.weight has shape \(6, 1, 5, 5\)"):
        b.load_state_dict(state)
    with pytest.raises(ValueError, match=r"missing \['C1.bias'\]"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "C1.bias"})
