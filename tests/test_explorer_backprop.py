"""The backpropagation explorer of notebook 05, headless: its plain functions
against cnnlab.conv2d_backward for every cell, the worked example's entry
[1, 0], and the controls (state, message, redraws)."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

import cnnlab as cl
from cnnlab.teach import explorers
from cnnlab.teach.explorers import backprop as bp

SETTINGS = [(n, s, p) for n in (2, 3, 4, 5, 8) for s in (1, 2, 3) for p in (0, 1, 2)]


def _grads(n, s, p):
    x, kernels, deltas, worked = bp.example(n, s, p)
    gx, gw, _ = cl.conv2d_backward(deltas[None], x[None, None], kernels[:, None], stride=s, padding=p)
    return x, kernels, deltas, gx[0, 0], gw[:, 0]


@pytest.mark.parametrize("n, s, p", SETTINGS)
def test_terms_add_up_to_the_library_gradients(n, s, p):
    x, kernels, deltas, gx, gw = _grads(n, s, p)
    for (a, b), want in np.ndenumerate(gx):
        terms = bp.input_cell_terms(a, b, deltas, kernels, s, p)
        assert np.isclose(sum(t["delta_value"] * t["weight"] for t in terms), want)
        for t in terms:  # each term is a real delta times a real tap, with the index rule u = a + p - i*s
            assert t["tap"] == (a + p - t["delta"][0] * s, b + p - t["delta"][1] * s)
            assert t["delta_value"] == deltas[(t["map"], *t["delta"])] and t["weight"] == kernels[(t["map"], *t["tap"])]
    for (f, u, v), want in np.ndenumerate(gw):
        terms = bp.kernel_tap_terms(u, v, x, deltas[f], s, p)
        assert len(terms) == deltas[f].size  # every delta meets one (padded-)input cell
        assert np.isclose(sum(t["delta_value"] * t["input_value"] for t in terms), want)


@pytest.mark.parametrize("n, s, p", SETTINGS)
def test_full_correlation_canvas_gives_every_entry(n, s, p):
    x, kernels, deltas, gx, _ = _grads(n, s, p)
    canvases = [bp.full_correlation_canvas(d, 2, s, p, x.shape) for d in deltas]
    assert all(c.shape == (n + 2 * p + 1,) * 2 for c in canvases)  # H + 2p + k - 1: every window fits
    for (a, b), want in np.ndenumerate(gx):
        got = sum((c[a + p:a + p + 2, b + p:b + p + 2] * k[::-1, ::-1]).sum() for c, k in zip(canvases, kernels))
        assert np.isclose(got, want)


def test_worked_example_entry_1_0():
    x, kernels, deltas, worked = bp.example()
    assert worked and np.array_equal(deltas, [bp.D1, bp.D2]) and np.array_equal(x, bp.MAGIC3)
    terms = bp.input_cell_terms(1, 0, deltas, kernels)
    assert [(t["delta_value"], t["weight"]) for t in terms] == [(1, .2), (2, .1), (2, .1), (1, -.3)]
    w = explorers.BackpropExplorer()
    st = w.state()
    assert st["cell"] == (1, 0) and np.isclose(st["value"], 0.3)
    assert np.array_equal(np.argwhere(st["taps"]), [[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 0]])
    assert np.array_equal(np.argwhere(st["reach"]), [[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 0]])
    lines = w.message.value.split("<br>")
    assert lines[0] == "input gradient dX[1, 0] = 0.3 (cnnlab.conv2d_backward: 0.3)"
    assert lines[2] == "= 1·0.2 + 2·0.1 + 2·0.1 + 1·(−0.3)"
    assert "dK1[0, 1] = x[0, 1]·D1[0, 0] + x[0, 2]·D1[0, 1] + x[1, 1]·D1[1, 0] + x[1, 2]·D1[1, 1] = 43" in lines[4]
    assert w.renders == 1


def test_controls_redraw_and_clamp():
    w = explorers.BackpropExplorer()
    n = w.renders
    w.col.value = 1  # the centre (1, 1): all four taps of both kernels
    st = w.state()
    assert np.isclose(st["value"], 1.9) and st["taps"].all() and w.renders == n + 1
    assert "dX[1, 1] = 1.9" in w.message.value
    w.size.value = 8
    w.row.value = 7
    w.size.value = 4
    assert w.row.max == 3 and w.row.value == 3 and w.state()["cell"] == (3, 1)
    w.kernel_map.value, w.tap_u.value = 1, 1
    st = w.state()
    assert st["kernel_map"] == 1 and st["tap"] == (1, 1) and "dK2[1, 1]" in w.message.value


def test_seeded_deltas_are_announced_and_unread_cells_get_zero():
    w = explorers.BackpropExplorer(size=8, stride=3, padding=0, row=7, col=7)
    st = w.state()  # (8 - 2) // 3 + 1 = 3 outputs: windows start at 0, 3, 6, so row 7 is read (6 + 1)
    assert not st["worked"] and st["deltas"].shape == (2, 3, 3) and "seeded integers" in w.message.value
    w.size.value = 7  # windows at 0, 3; rows 5 and 6 are never read
    w.row.value = 6
    st = w.state()
    assert st["terms"] == [] and st["value"] == 0 and st["grad_x"][6].max() == 0 == st["grad_x"][6].min()
    assert "no output window reads this cell" in w.message.value


def test_static_figure_and_bad_arguments():
    fig = explorers.BackpropExplorer().static_figure()
    titles = [a.get_title() for a in fig.axes]
    assert "dX[1, 0] = 0.3" in titles and "dK1[0, 1] = 43" in titles and len(fig.axes) == 13
    plt.close(fig)
    with pytest.raises(ValueError, match="kernel_map"):
        explorers.BackpropExplorer(kernel_map=2)
    with pytest.raises(ValueError, match="input size"):
        explorers.BackpropExplorer(size=9)
