"""The explorers in cnnlab.widgets, driven headlessly: set controls from
Python, check the recomputed state, the text shown and that the figure was redrawn."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

import cnnlab as cl
from cnnlab.teach import explorers, geometry


def _titles(fig):
    return [a.get_title() for a in fig.axes] + [fig._suptitle.get_text() if fig._suptitle else ""]


def test_conv_explorer_default_and_formula():
    w = explorers.ConvArithmeticExplorer()
    st = w.state()
    assert st["valid"] and st["out_shape"] == (3, 3)
    assert "o = floor((5 + 2·1 − 3)/2) + 1 = 3" in w.message.value
    assert st["footprint"].sum() == 9 and st["footprint"][:3, :3].all()
    assert w.renders == 1 and "output 3×3" in _titles(w.fig)


def test_conv_explorer_updates_on_stride_change():
    w = explorers.ConvArithmeticExplorer()
    before = w.renders
    w.stride.value = 1
    st = w.state()
    assert st["out_shape"] == (5, 5) == cl.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), padding=1).shape[2:]
    assert w.renders == before + 1 and "output 5×5" in _titles(w.fig)
    assert w.out_row.max == 4


def test_conv_explorer_uncovered_cells_and_selection():
    w = explorers.ConvArithmeticExplorer(size=6, kernel_size=3, stride=2, padding=1)
    st = w.state()
    assert st["out_shape"] == (3, 3)
    assert st["uncovered"][-1].all() and st["uncovered"][:, -1].all() and st["uncovered"].sum() == 15
    assert "15 padded-input cells are never read" in w.message.value
    w.out_row.value, w.out_col.value = 2, 1
    fp = w.state()["footprint"]
    assert np.array_equal(np.argwhere(fp)[[0, -1]], [[4, 2], [6, 4]])


def test_conv_explorer_selection_clamped_when_output_shrinks():
    w = explorers.ConvArithmeticExplorer(stride=1)
    w.out_row.value = 4
    w.stride.value = 2
    assert w.out_row.value == 2 and w.state()["selected"][0] == 2


def test_conv_explorer_dilation_and_per_axis():
    w = explorers.ConvArithmeticExplorer(size=7, kernel_size=3, stride=1, padding=0, dilation=2)
    assert w.state()["out_shape"] == (3, 3) and "k' = 2·(3−1)+1 = 5" in w.message.value
    w.per_axis.value = True
    w.size_w.value = 9
    st = w.state()
    assert st["out_shape"] == (3, 5) and st["padded_shape"] == (7, 9)
    assert "o = floor((9 + 2·0 − 5)/1) + 1 = 5" in w.message.value.split("<br>")[2]


def test_conv_explorer_invalid_setting_shows_message():
    w = explorers.ConvArithmeticExplorer(size=4, kernel_size=3, stride=1, padding=0)
    w.kernel_size.value = 6
    st = w.state()
    assert not st["valid"] and "Invalid setting" in w.message.value and "larger than" in w.message.value
    assert any("larger than" in t.get_text() for t in w.fig.axes[0].texts)


def test_conv_explorer_pool_ceil_mode():
    w = explorers.ConvArithmeticExplorer(size=6, kernel_size=3, stride=2, padding=0)
    w.pool.value = True
    assert w.state()["out_shape"] == (2, 2)
    w.ceil_mode.value = True
    st = w.state()
    want = cl.max_pool2d(np.ones((1, 1, 6, 6)), 3, 2, ceil_mode=True).shape[2:]
    assert st["out_shape"] == want == (3, 3) and "ceil((6 + 2·0 − 3)/2) + 1 = 3" in w.message.value
    w.padding.value = 2
    assert not w.state()["valid"] and "half the kernel_size" in w.message.value


def test_conv_explorer_static_figure():
    w = explorers.ConvArithmeticExplorer()
    fig = w.static_figure()
    assert len(fig.axes) == 2 and fig._suptitle.get_text().endswith("= 3")
    plt.close(fig)


def test_checkerboard_explorer_uneven_then_even():
    w = explorers.CheckerboardExplorer()
    st = w.state()
    assert st["uneven"] and st["ratio"] == 4.0 and "Uneven" in w.message.value
    assert np.array_equal(st["counts"], geometry.overlap_counts_2d(8, 3, 2))
    n = w.renders
    w.kernel_size.value = 4
    assert not w.state()["uneven"] and "Even" in w.message.value and w.renders == n + 1


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_checkerboard_explorer_resize_methods_are_even(method):
    w = explorers.CheckerboardExplorer(method=method, layers=2)
    st = w.state()
    assert not st["uneven"] and st["output"].shape == (32, 32)


def test_checkerboard_explorer_layers_and_random_kernel():
    w = explorers.CheckerboardExplorer(kernel_size=4)
    w.kernel.value = "random"
    assert w.state()["uneven"]  # even overlap counts, but unequal tap sums still stripe the output
    w.kernel.value = "ones"
    w.kernel_size.value = 3
    w.layers.value = 2
    st = w.state()
    assert st["output"].shape == (35, 35) and st["ratio"] == 9.0
    fig = w.static_figure()
    assert "2 layer(s)" in fig._suptitle.get_text()
    plt.close(fig)


def test_filter_playground():
    img = np.zeros((8, 8))
    img[:, 4:] = 1.0
    w = explorers.FilterPlayground(img, "vertical_edge")
    assert np.array_equal(w.kernel(), cl.filters.get("vertical_edge"))
    st = w.state()
    assert st["output"].shape == (8, 8) and np.allclose(st["output"][1:-1, 3:5], -3.0)
    n = w.renders
    w.filter.value = "sobel_y"
    assert np.array_equal(w.kernel(), cl.filters.get("sobel_y")) and w.renders == n + 1
    assert np.allclose(w.state()["output"][1:-1], 0.0) and "sobel_y" in w.message.value
    w.cells[1][1].value = 1.0
    assert "custom" in w.message.value and w.state()["output"][4, 2] == 0.0
    assert w.filter.value == "custom"  # the dropdown follows an edited grid
    fig = w.static_figure()
    assert [a.get_title() for a in fig.axes[:3]] == ["image", "kernel", "response (cross-correlation)"]
    plt.close(fig)


def test_filter_playground_bad_input():
    with pytest.raises(ValueError, match="image"):
        explorers.FilterPlayground(np.ones((1, 4, 4)))
    with pytest.raises(ValueError, match="filter_name"):
        explorers.FilterPlayground(np.ones((4, 4)), "gaussian")


def test_bad_constructor_arguments_raise():
    with pytest.raises(ValueError, match="input i"):
        explorers.ConvArithmeticExplorer(size=20)
    with pytest.raises(ValueError, match="stride s"):
        explorers.CheckerboardExplorer(stride=0)
    with pytest.raises(ValueError, match="method"):
        explorers.CheckerboardExplorer(method="cubic")
    with pytest.raises(ValueError, match="kernel"):
        explorers.CheckerboardExplorer(kernel="gauss")


def test_per_axis_sliders_disabled_until_ticked():
    w = explorers.ConvArithmeticExplorer()
    assert w.size_w.disabled
    w.per_axis.value = True
    assert not w.size_w.disabled
