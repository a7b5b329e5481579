"""The explorers in cnnlab.widgets, driven headlessly: set controls from
Python, check the recomputed state, the text shown and that the figure was redrawn."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

import cnnlab as cl
from cnnlab.teach import explorers, geometry
from cnnlab.teach.explorers import arithmetic as arithmetic_explorer


def _titles(fig):
    return [a.get_title() for a in fig.axes] + [fig._suptitle.get_text() if fig._suptitle else ""]


def test_conv_explorer_default_and_formula():
    w = explorers.ConvArithmeticExplorer()
    st = w.state()
    assert st["valid"] and not st["cleared"] and st["out_shape"] == (3, 3)
    assert "o = floor((5 + 2·1 − 3)/2) + 1 = 3" in w.message.value
    assert st["footprint"].sum() == 9 and st["footprint"][:3, :3].all()
    assert "selected output (0, 0): reads padded rows 0–2 × columns 0–2" in w.message.value
    assert w.renders == 1 and any(t.startswith("output 3×3") for t in _titles(w.fig))


def test_conv_explorer_updates_on_stride_change():
    w = explorers.ConvArithmeticExplorer()
    before = w.renders
    w.stride.value = 1
    st = w.state()
    assert st["out_shape"] == (5, 5) == cl.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), padding=1).shape[2:]
    assert w.renders == before + 1 and any(t.startswith("output 5×5") for t in _titles(w.fig))
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


def test_cell_at_maps_points_of_the_output_grid():
    assert arithmetic_explorer.cell_at(0.0, 0.0, (3, 2)) == (0, 0)
    assert arithmetic_explorer.cell_at(1.99, 2.5, (3, 2)) == (2, 1)
    for x, y in [(2.0, 0.5), (0.5, 3.0), (-0.1, 0.5), (None, None)]:  # right of, below, left of, off the axes
        assert arithmetic_explorer.cell_at(x, y, (3, 2)) is None


def test_selected_window_taps_and_footprint():
    rows, cols, mask = arithmetic_explorer.selected_window((2, 1), (3, 3), (8, 8), 3, stride=2)
    assert rows.tolist() == [4, 5, 6] and cols.tolist() == [2, 3, 4]
    assert np.array_equal(mask, geometry.footprint_2d((2, 1), (8, 8), 3, 2))
    rows, cols, _ = arithmetic_explorer.selected_window((0, 1), (3, 2), (7, 8), (3, 3), (2, 2), (1, 2))
    assert rows.tolist() == [0, 1, 2] and cols.tolist() == [2, 4, 6]  # width dilation 2: gapped columns
    # a ceil-mode pooling window hanging over the edge: its taps past the padded grid are dropped
    o = cl.max_pool2d(np.ones((1, 1, 6, 6)), 3, 2, ceil_mode=True).shape[2:]
    rows, _, mask = arithmetic_explorer.selected_window((2, 2), o, (6, 6), 3, 2)
    assert rows.tolist() == [4, 5] and mask.sum() == 4
    with pytest.raises(ValueError, match="outside the 3×3 output"):
        arithmetic_explorer.selected_window((3, 0), (3, 3), (8, 8), 3, 2)


def test_conv_explorer_click_an_output_cell():
    w = explorers.ConvArithmeticExplorer(size=6, kernel_size=3, stride=2, padding=1)
    buttons = w.picker.children
    assert len(buttons) == 9 and w.picker.layout.grid_template_columns == "repeat(3, 22px)"
    assert [b.button_style for b in buttons].count("info") == 1 and buttons[0].button_style == "info"
    n = w.renders
    cell = buttons[2 * 3 + 1]
    assert cell.tooltip == "output (2, 1)"
    cell.click()
    st = w.state()
    assert w.renders == n + 1 and st["selected"] == (2, 1) == (w.out_row.value, w.out_col.value)
    assert [r.tolist() for r in st["window"]] == [[4, 5, 6], [2, 3, 4]]
    assert np.array_equal(st["footprint"], geometry.footprint_2d((2, 1), (8, 8), 3, 2))
    assert "selected output (2, 1): reads padded rows 4–6 × columns 2–4" in w.message.value
    assert cell.button_style == "info" and buttons[0].button_style == ""
    assert cell.style.button_color == arithmetic_explorer.SELECTED_COLOR and buttons[0].style.button_color is None
    assert any(t.endswith("selected: (2, 1)") for t in _titles(w.fig))
    w.stride.value = 1  # a larger output: more buttons, the selection kept
    assert len(w.picker.children) == 36 and w.picker.children[2 * 6 + 1].button_style == "info"


def test_conv_explorer_click_on_a_live_figure():
    from matplotlib.backend_bases import MouseEvent
    w = explorers.ConvArithmeticExplorer(size=6, kernel_size=3, stride=2, padding=1)
    fig = w.static_figure()
    fig.canvas.draw()
    out_ax = fig.axes[1]
    x, y = out_ax.transData.transform((1.5, 2.5))  # the centre of output cell (2, 1)
    fig.canvas.callbacks.process("button_press_event", MouseEvent("button_press_event", fig.canvas, x, y, 1))
    assert w.state()["selected"] == (2, 1)
    x, y = fig.axes[0].transData.transform((0.5, 0.5))  # a click on the input grid selects nothing
    fig.canvas.callbacks.process("button_press_event", MouseEvent("button_press_event", fig.canvas, x, y, 1))
    assert w.state()["selected"] == (2, 1)
    plt.close(fig)


def test_conv_explorer_large_output_has_no_click_grid():
    w = explorers.ConvArithmeticExplorer(size=12, kernel_size=1, stride=1, padding=4)
    assert w.state()["out_shape"] == (20, 20) and w.picker.layout.display == "none"
    assert "too large to click" in w.picker_note.value
    w.select(19, 18)
    assert "selected output (19, 18): reads padded rows 19 × columns 18" in w.message.value
    w.padding.value = 0
    assert w.picker.layout.display is None and len(w.picker.children) == 144


def test_conv_explorer_dilation_and_per_axis():
    w = explorers.ConvArithmeticExplorer(size=7, kernel_size=3, stride=1, padding=0, dilation=2)
    assert w.state()["out_shape"] == (3, 3) and "k' = 2·(3−1)+1 = 5" in w.message.value
    w.per_axis.value = True
    w.size_w.value = 9
    st = w.state()
    assert st["out_shape"] == (3, 5) and st["padded_shape"] == (7, 9) and st["params"]["d"] == (2, 2)
    assert "o = floor((9 + 2·0 − 5)/1) + 1 = 5" in w.message.value.split("<br>")[2]
    w.dilation_w.value = 1  # the width's own dilation
    assert w.state()["out_shape"] == (3, 7) and "o = floor((9 + 2·0 − 3)/1) + 1 = 7" in w.message.value


def test_conv_explorer_width_dilation():
    w = explorers.ConvArithmeticExplorer(size=6, kernel_size=3, stride=2, padding=1)
    assert w.dilation_w.disabled
    w.dilation_w.value = 2  # ignored while the explorer is square
    assert w.state()["out_shape"] == (3, 3)
    w.per_axis.value = True
    st = w.state()
    want = cl.conv2d(np.ones((1, 1, 6, 6)), np.ones((1, 1, 3, 3)), stride=2, padding=1, dilation=(1, 2)).shape[2:]
    assert not w.dilation_w.disabled and st["params"]["d"] == (1, 2) and st["out_shape"] == want == (3, 2)
    assert "W: k' = 2·(3−1)+1 = 5; o = floor((6 + 2·1 − 5)/2) + 1 = 2" in w.message.value
    w.select(1, 1)
    assert [r.tolist() for r in w.state()["window"]] == [[2, 3, 4], [2, 4, 6]]
    assert "columns 2, 4, 6" in w.message.value
    assert w.fig._suptitle.get_text().startswith("H: ") and "\nW: k' = 2" in w.fig._suptitle.get_text()


def test_conv_explorer_invalid_setting_clears_formula_and_figure():
    w = explorers.ConvArithmeticExplorer(size=6, kernel_size=3, stride=1, padding=0)
    assert len(w.picker.children) == 16 and w.fig is not None
    n = w.renders
    w.kernel_size.value = 7
    st = w.state()
    assert not st["valid"] and st["cleared"] and st["formulas"] == () and st["out_shape"] is None
    assert "Invalid setting" in w.message.value and "larger than" in w.message.value
    assert "o = floor" not in w.message.value and "output 4×4" not in w.message.value  # no stale formula
    assert w.fig is None and w.renders == n + 1  # no stale figure either
    assert w.picker.layout.display == "none" and w.picker_note.value == ""
    fig = w.static_figure()  # drawn on its own, an impossible setting shows its message only
    assert any("larger than" in t.get_text() for t in fig.axes[0].texts) and not fig.axes[1].patches
    plt.close(fig)
    w.kernel_size.value = 3  # valid again: all of it comes back
    assert w.fig is not None and "o = floor((6 + 2·0 − 3)/1) + 1 = 4" in w.message.value
    assert w.picker.layout.display is None


def test_conv_explorer_pool_ceil_mode():
    w = explorers.ConvArithmeticExplorer(size=6, kernel_size=3, stride=2, padding=0)
    w.pool.value = True
    assert w.state()["out_shape"] == (2, 2)
    w.ceil_mode.value = True
    st = w.state()
    want = cl.max_pool2d(np.ones((1, 1, 6, 6)), 3, 2, ceil_mode=True).shape[2:]
    assert st["out_shape"] == want == (3, 3) and "ceil((6 + 2·0 − 3)/2) + 1 = 3" in w.message.value
    w.select(2, 2)  # the last window hangs over the edge: it reads only the cells that exist
    assert "reads padded rows 4–5 × columns 4–5" in w.message.value and w.state()["footprint"].sum() == 4
    w.padding.value = 2
    assert not w.state()["valid"] and "half the kernel_size" in w.message.value and w.fig is None


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
    width = [w.size_w, w.kernel_size_w, w.stride_w, w.padding_w, w.dilation_w]
    assert all(s.disabled for s in width)
    w.per_axis.value = True
    assert not any(s.disabled for s in width)
