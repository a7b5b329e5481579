"""The transposed-convolution explorer (cnnlab.teach.explorers.transposed), headless:
its plain functions against the kernels and the size arithmetic, then the
explorer driven from Python (state, message, figure, re-render count)."""
import itertools

import matplotlib.pyplot as plt
import numpy as np
import pytest

import cnnlab as cl
from cnnlab import arithmetic
from cnnlab.teach.explorers import TransposedConvExplorer
from cnnlab.teach.explorers import transposed as T

# every setting the sliders allow: i, k, s, p, output_padding, d
SETTINGS = list(itertools.product(range(1, 6), range(1, 5), range(1, 4), range(0, 5), range(0, 4), range(1, 4)))


def _refused(*setting):
    try:
        arithmetic.conv_transpose_output_size(*setting[:2], *setting[2:5], setting[5])
    except ValueError:
        return True
    return False


def test_impossible_exactly_where_arithmetic_refuses():
    for i, k, s, p, op, d in SETTINGS:
        assert (T.impossible(i, k, s, p, op, d) is not None) == _refused(i, k, s, p, op, d), (i, k, s, p, op, d)


@pytest.mark.parametrize("i,k,s,p,op,d", [(3, 3, 2, 1, 0, 1), (3, 3, 2, 1, 1, 1), (2, 4, 3, 0, 0, 1),
                                          (4, 3, 2, 0, 1, 1), (3, 2, 1, 0, 1, 2), (5, 4, 3, 4, 2, 1),
                                          (2, 3, 3, 2, 2, 2), (1, 1, 1, 0, 0, 1)])
def test_overlap_counts_equal_conv_transpose_of_ones(i, k, s, p, op, d):
    sizes = T.transposed_sizes(i, k, s, p, op, d)
    ones = cl.conv_transpose2d(np.ones((1, 1, i, i)), np.ones((1, 1, k, k)), stride=s, padding=p,
                               output_padding=op, dilation=d)[0, 0]
    counts = T.scatter_counts(i, k, s, d, sizes["canvas"])
    lo, hi = sizes["kept"]
    assert sizes["o"] == ones.shape[0] == arithmetic.conv_transpose_output_size(i, k, s, p, op, d)
    assert np.array_equal(counts[lo:hi, lo:hi], ones)
    assert counts.sum() == i * i * k * k  # every copy lands somewhere on the uncropped canvas


def test_sizes_and_forward_conv_over_all_settings():
    for i, k, s, p, op, d in SETTINGS:
        if _refused(i, k, s, p, op, d):
            continue
        sizes, fwd = T.transposed_sizes(i, k, s, p, op, d), T.forward_conv(i, k, s, p, op, d)
        assert sizes["o"] == (i - 1) * s - 2 * p + d * (k - 1) + op + 1 == sizes["kept"][1] - sizes["kept"][0]
        assert sizes["span"] == arithmetic.conv_transpose_output_size(i, k, s, 0, 0, d)
        assert fwd["back"] == arithmetic.conv_output_size(sizes["o"], k, s, p, d)
        assert fwd["back"] == i + op // s  # i, unless output_padding >= stride (allowed below the dilation)


def test_forward_conv_is_the_adjoint(rng):
    i, k, s, p, op, d = 3, 3, 2, 1, 1, 1
    fwd = T.forward_conv(i, k, s, p, op, d)
    w = rng.normal(size=(1, 1, k, k))
    x, z = rng.normal(size=(1, 1, i, i)), rng.normal(size=(1, 1, fwd["o"], fwd["o"]))
    y = cl.conv_transpose2d(x, w, stride=s, padding=p, output_padding=op, dilation=d)
    assert np.isclose((y * z).sum(), (x * cl.conv2d(z, w, **{n: v for n, v in fwd["args"].items()
                                                                if n != "kernel_size"})).sum())


def test_copy_cells_follow_stride_and_dilation():
    mask = T.copy_cells(1, 0, 3, stride=2, dilation=2, canvas=8)
    assert np.array_equal(np.nonzero(mask.any(1))[0], [2, 4, 6]) and np.array_equal(np.nonzero(mask.any(0))[0],
                                                                                      [0, 2, 4])


def test_formula_text():
    assert T.formula(3, 3, 2, 1, 1, 1) == "o = (3−1)·2 − 2·1 + 1·(3−1) + 1 + 1 = 6"


def test_explorer_default_state_and_message():
    w = TransposedConvExplorer()
    st = w.state()
    assert st["valid"] and st["sizes"]["o"] == 5 and st["sizes"]["span"] == 7
    assert "o = (3−1)·2 − 2·1 + 1·(3−1) + 0 + 1 = 5" in w.message.value
    assert "conv2d(kernel_size=3, stride=2, padding=1, dilation=1), which maps 5×5 back to 3×3" in w.message.value
    assert len(st["copies"]) == 2 and st["copies"][1][:3, 2:5].all()
    assert w.renders == 1 and w.fig._suptitle.get_text().endswith("= 5")


def test_explorer_output_padding_changes_size_and_redraws():
    w = TransposedConvExplorer()
    n = w.renders
    w.output_padding.value = 1
    st = w.state()
    assert st["sizes"]["o"] == 6 and "output 6×6" in w.message.value and w.renders == n + 1
    assert "output_padding adds 1" in w.message.value
    assert np.array_equal(st["output_counts"], cl.conv_transpose2d(
        np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), stride=2, padding=1, output_padding=1)[0, 0])


def test_explorer_impossible_output_padding_clears_the_figure():
    w = TransposedConvExplorer()
    w.output_padding.value = 2  # >= stride 2 and >= dilation 1
    st = w.state()
    assert not st["valid"] and "Impossible setting" in w.message.value and "output_padding=2" in w.message.value
    assert "o = " not in w.message.value  # the formula is cleared
    assert all(not a.images for a in w.fig.axes)  # no scatter drawn, only the message
    assert any("output_padding=2" in t.get_text() for t in w.fig.axes[0].texts)
    w.dilation.value = 3  # now below the dilation: possible again, but not the adjoint of an i-sized conv
    st = w.state()
    assert st["valid"] and st["forward"]["back"] == 4 and "not 3×3" in w.message.value


def test_explorer_negative_size_message():
    w = TransposedConvExplorer(size=1, kernel_size=1, stride=1, padding=0)
    w.padding.value = 1
    assert not w.state()["valid"] and "less than 1" in w.message.value


def test_explorer_static_figure_and_bad_arguments():
    fig = TransposedConvExplorer(size=2, kernel_size=4, stride=3, padding=0).static_figure()
    assert len(fig.axes) == 2 and fig._suptitle.get_text().endswith("= 7")
    plt.close(fig)
    with pytest.raises(ValueError, match="output_padding"):
        TransposedConvExplorer(output_padding=7)
