"""The channels explorer of notebook 03, driven headlessly: its counts equal
cnnlab.arithmetic, its connection mask is what a grouped cl.conv2d really
computes, invalid group counts give a message, and every change redraws."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

import cnnlab as cl
from cnnlab import arithmetic
from cnnlab.teach.explorers import ChannelsExplorer
from cnnlab.teach.explorers import channels as ch

SETTINGS = [(8, 16, 4, 3, 32), (8, 8, 8, 3, 12), (6, 12, 3, 5, 20), (3, 4, 1, 1, 9), (16, 16, 16, 7, 8),
            (12, 8, 2, 2, 10), (5, 15, 5, 3, 16)]


def _titles(fig):
    return [a.get_title() for a in fig.axes] + [fig._suptitle.get_text() if fig._suptitle else ""]


def test_default_state_and_message():
    w = ChannelsExplorer()
    st = w.state()
    assert st["valid"] and st["weight_shape"] == (16, 2, 3, 3) and st["weight"].shape == (16, 2, 3, 3)
    assert st["parameters"] == arithmetic.conv_params(8, 16, (3, 3), groups=4) == 304
    assert "parameters: 288 weights + 16 biases = 304" in w.message.value
    assert "PyTorch weight shape (C_out, C_in/groups, kH, kW) = (16, 2, 3, 3)" in w.message.value
    assert "with groups = 1: 1,168 parameters" in w.message.value
    assert w.renders == 1 and any("304 parameters" in t for t in _titles(w.fig))


@pytest.mark.parametrize("c_in, c_out, g, k, size", SETTINGS)
def test_counts_equal_arithmetic(c_in, c_out, g, k, size):
    counts = ch.channel_counts(c_in, c_out, g, k, size)
    o = arithmetic.conv_output_size(size, k)
    y = cl.conv2d(np.ones((1, c_in, size, size)), np.ones(ch.grouped_weight_shape(c_in, c_out, g, k)), groups=g)
    assert y.shape == (1, c_out, o, o) and counts["out_size"] == o
    assert counts["weights"] == arithmetic.conv_params(c_in, c_out, (k, k), groups=g, bias=False)
    assert counts["parameters"] == arithmetic.conv_params(c_in, c_out, (k, k), groups=g) == counts["weights"] + c_out
    assert counts["macs"] == arithmetic.conv_connections(c_in, c_out, (k, k), (o, o), groups=g, bias=False)
    assert counts["dense_parameters"] == arithmetic.conv_params(c_in, c_out, (k, k))
    assert counts["dense_macs"] == arithmetic.conv_connections(c_in, c_out, (k, k), (o, o), bias=False)
    # every multiply-add is one connection of the mask times one kernel tap at one output pixel
    assert counts["macs"] == ch.connection_mask(c_in, c_out, g).sum() * k * k * o * o
    assert counts["weights"] == int(np.prod(ch.grouped_weight_shape(c_in, c_out, g, k)))


@pytest.mark.parametrize("c_in, c_out, g, k, size", SETTINGS)
def test_mask_is_what_a_grouped_conv_reads(c_in, c_out, g, k, size):
    """Perturb input channel c: exactly the output channels the mask marks for c change."""
    rng = np.random.default_rng(c_in * 100 + c_out + g)
    x = rng.standard_normal((1, c_in, size, size))
    weight = rng.uniform(0.5, 1.5, ch.grouped_weight_shape(c_in, c_out, g, k))   # no zero weights
    base = cl.conv2d(x, weight, groups=g)
    mask = ch.connection_mask(c_in, c_out, g)
    for c in range(c_in):
        bumped = x.copy()
        bumped[0, c] += rng.uniform(0.5, 1.5, (size, size))
        changed = np.abs(cl.conv2d(bumped, weight, groups=g) - base).max(axis=(0, 2, 3)) > 1e-9
        assert np.array_equal(changed, mask[:, c]), c


@pytest.mark.parametrize("c_in, c_out, g, k, size", SETTINGS)
def test_dense_weight_is_the_grouped_conv(c_in, c_out, g, k, size):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, c_in, size, size))
    weight = rng.standard_normal(ch.grouped_weight_shape(c_in, c_out, g, k))
    dense = ch.dense_weight(weight, g)
    assert dense.shape == (c_out, c_in, k, k)
    assert np.allclose(cl.conv2d(x, weight, groups=g), cl.conv2d(x, dense))
    nonzero = np.abs(dense).sum(axis=(2, 3)) > 0
    assert np.array_equal(nonzero, ch.connection_mask(c_in, c_out, g))


def test_state_dense_matches_the_drawn_weight():
    w = ChannelsExplorer(in_channels=6, out_channels=12, groups=3)
    st = w.state()
    assert np.array_equal(st["dense"], ch.dense_weight(st["weight"], 3))
    assert np.array_equal(st["mask"], ch.connection_mask(6, 12, 3)) and st["mask"].sum() == 12 * 2


def test_allowed_groups_are_what_conv_params_accepts():
    for c_in, c_out in [(8, 16), (8, 12), (7, 5), (16, 16), (1, 9)]:
        accepted = []
        for g in range(1, 17):
            try:
                arithmetic.conv_params(c_in, c_out, (3, 3), groups=g)
                accepted.append(g)
            except ValueError:
                pass
        assert ch.allowed_groups(c_in, c_out) == accepted
        assert all(ch.groups_problem(c_in, c_out, g) is None for g in accepted)


def test_invalid_groups_give_a_message_and_a_redraw():
    w = ChannelsExplorer()
    before = w.renders
    w.groups.value = 3
    st = w.state()
    assert not st["valid"] and w.renders == before + 1
    assert "Invalid setting" in w.message.value and "Allowed here: 1, 2, 4, 8." in w.message.value
    assert any("must divide both" in t.get_text() for t in w.fig.axes[0].texts)
    with pytest.raises(ValueError, match="must divide both"):
        ch.connection_mask(8, 16, 3)
    w.groups.value = 8
    assert w.state()["valid"] and w.renders == before + 2


def test_depthwise_is_named_and_counted():
    w = ChannelsExplorer(in_channels=8, out_channels=8, groups=8, kernel_size=3, size=32)
    st = w.state()
    assert st["depthwise"] and "depthwise convolution (groups = C_in)" in w.message.value
    assert "depth multiplier" not in w.message.value
    assert st["weights"] == arithmetic.conv_params(8, 8, (3, 3), groups=8, bias=False) == 8 * 9
    assert np.array_equal(st["mask"], np.eye(8, dtype=bool))
    w.c_out.value = 16
    assert "depth multiplier 2" in w.message.value
    w.groups.value = 1
    assert not w.state()["depthwise"] and "standard convolution" in w.message.value


def test_each_control_redraws():
    w = ChannelsExplorer()
    for control, value in [(w.c_in, 4), (w.c_out, 8), (w.groups, 2), (w.kernel_size, 5), (w.size, 20)]:
        before = w.renders
        control.value = value
        assert w.renders == before + 1
    st = w.state()
    assert st["params"] == dict(c_in=4, c_out=8, groups=2, k=5, size=20) and st["out_size"] == 16
    assert f"output 16×16): {st['macs']:,}" in w.message.value


def test_static_figure_and_bad_start_values():
    fig = ChannelsExplorer().static_figure()
    assert any("grid of 3×3 kernels" in t for t in _titles(fig))
    plt.close(fig)
    with pytest.raises(ValueError, match="groups must be an int"):
        ChannelsExplorer(groups=0)


def test_weight_shape_is_pytorchs():
    torch = pytest.importorskip("torch")
    for c_in, c_out, g, k, _ in SETTINGS:
        layer = torch.nn.Conv2d(c_in, c_out, k, groups=g)
        assert tuple(layer.weight.shape) == ch.grouped_weight_shape(c_in, c_out, g, k)
        assert sum(p.numel() for p in layer.parameters()) == ch.channel_counts(c_in, c_out, g, k, 16)["parameters"]
