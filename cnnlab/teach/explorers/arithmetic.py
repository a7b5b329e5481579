"""Notebook 02: the convolution-arithmetic explorer (kernel, stride, padding, dilation).

The plain functions come first (tested headless): `cell_at` maps a point of
the drawn output grid to the output cell under it, `selected_window` gives
the padded-input cells that one output cell reads. The explorer draws its
figure into an `ipywidgets.Output` as an image, which receives no clicks, so
its output cells are also a grid of small buttons (`picker`): clicking one
selects that cell, like the row/column sliders do (these stay, for the
keyboard and for outputs larger than the grid).
"""
import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from ...functional import arithmetic
from .. import geometry, viz
from ._base import Explorer, draw_message, in_notebook, slider

PICKER_MAX = 16  # the largest output side (rows or columns) the clickable grid shows
SELECTED_COLOR = "#84b4d6"  # the figure's blue: tab:blue at alpha 0.55 on white


def cell_at(x, y, shape):
    """The (row, col) of the `viz.grid_diagram` cell under the point (x, y),
    given in the grid's data coordinates (cell (r, c) spans x in [c, c + 1)
    and y in [r, r + 1)), or None when the point is outside the (rows, cols) grid.

    >>> cell_at(1.5, 0.2, (3, 3)), cell_at(3.0, 0.2, (3, 3))
    ((0, 1), None)
    """
    if x is None or y is None:  # a click outside any axes
        return None
    r, c = int(np.floor(y)), int(np.floor(x))
    return (r, c) if 0 <= r < shape[0] and 0 <= c < shape[1] else None


def selected_window(out_rc, out_shape, padded_shape, k, stride=1, dilation=1):
    """What output cell (r, c) reads: (rows, cols, mask) with the padded-input
    rows and columns of its taps, r*s_H + d_H*arange(k_H) and c*s_W + d_W*arange(k_W)
    (taps past the padded grid dropped, as for a ceil-mode pooling window that
    hangs over the edge), and the boolean (H_p, W_p) mask of its footprint.
    k, stride, dilation: ints or (H, W) pairs. A cell outside `out_shape` is a ValueError.

    >>> rows, cols, mask = selected_window((2, 1), (3, 3), (8, 8), 3, stride=2)
    >>> rows.tolist(), cols.tolist(), int(mask.sum())
    ([4, 5, 6], [2, 3, 4], 9)
    """
    (r, c), (oh, ow) = out_rc, out_shape
    if not (0 <= r < oh and 0 <= c < ow):
        raise ValueError(f"output cell {(r, c)} is outside the {oh}×{ow} output")
    mask = geometry.footprint_2d((r, c), padded_shape, k, stride, dilation)
    return np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0)), mask


def _taps(idx):
    """'4–6' for neighbouring cells, '0, 2, 4' for the gapped taps of a dilated kernel."""
    idx = [int(v) for v in idx]
    if len(idx) > 1 and idx[-1] - idx[0] == len(idx) - 1:
        return f"{idx[0]}–{idx[-1]}"
    return ", ".join(map(str, idx))


class ConvArithmeticExplorer(Explorer):
    """Input size, kernel, stride, padding and dilation -> padded grid, the
    footprint of one output cell, the output grid and the size formula.

    `per_axis` (a Checkbox) unlocks separate width sliders, dilation included;
    `pool` switches to pooling arithmetic, where `ceil_mode` matters. Select the
    output cell whose window is shown by clicking it in `picker` (or with
    `select(row, col)`, or the `out_row`/`out_col` sliders). An impossible
    setting clears the formula, the figure and the picker and says why."""

    def __init__(self, size=5, kernel_size=3, stride=2, padding=1, dilation=1):
        self.size, self.kernel_size = slider("input i", size, 1, 12), slider("kernel k", kernel_size, 1, 7)
        self.stride, self.padding = slider("stride s", stride, 1, 4), slider("padding p", padding, 0, 4)
        self.dilation = slider("dilation d", dilation, 1, 3)
        self.per_axis = W.Checkbox(value=False, description="separate W sliders")
        self.size_w, self.kernel_size_w = slider("input W", size, 1, 12), slider("kernel W", kernel_size, 1, 7)
        self.stride_w, self.padding_w = slider("stride W", stride, 1, 4), slider("padding W", padding, 0, 4)
        self.dilation_w = slider("dilation W", dilation, 1, 3)
        self.pool = W.Checkbox(value=False, description="pooling")
        self.ceil_mode = W.Checkbox(value=False, description="ceil_mode")
        self.out_row, self.out_col = slider("output row", 0, 0, 11), slider("output col", 0, 0, 11)
        self.picker_note = W.HTML()
        self.picker = W.GridBox(layout=W.Layout(grid_gap="2px", width="max-content"))
        self._cells = {}  # (row, col) -> its Button, created when an output first has that cell
        controls = [self.size, self.kernel_size, self.stride, self.padding, self.dilation, self.per_axis,
                    self.size_w, self.kernel_size_w, self.stride_w, self.padding_w, self.dilation_w, self.pool,
                    self.ceil_mode, self.out_row, self.out_col]
        layout = W.HBox([W.VBox(controls[:5] + [self.out_row, self.out_col]),
                         W.VBox([self.per_axis] + controls[6:11] + [self.pool, self.ceil_mode]),
                         W.VBox([self.picker_note, self.picker], layout=W.Layout(margin="0 0 0 12px"))])
        self._wire(controls, layout)

    def params(self):
        """Per-axis (H, W) tuples: i, k, s, p, d."""
        sq = not self.per_axis.value
        for w in (self.size_w, self.kernel_size_w, self.stride_w, self.padding_w, self.dilation_w):
            w.disabled = sq
        def pick(a, b):  # (height, width) values; the width follows the height when square
            return a.value, a.value if sq else b.value
        return dict(i=pick(self.size, self.size_w), k=pick(self.kernel_size, self.kernel_size_w),
                    s=pick(self.stride, self.stride_w), p=pick(self.padding, self.padding_w),
                    d=pick(self.dilation, self.dilation_w))

    def _sizes(self, i, k, s, p, d):
        if self.pool.value:
            return arithmetic.pool_output_size(i, k, s, p, d, ceil_mode=self.ceil_mode.value)
        return arithmetic.conv_output_size(i, k, s, p, d)

    def formula(self, i, k, s, p, d, o):
        """The output-size formula of one axis with the numbers filled in."""
        span = arithmetic.effective_kernel_size(k, d)
        head = "" if d == 1 else f"k' = {d}·({k}−1)+1 = {span}; "
        num = f"{i} + 2·{p} − {span}"
        if self.pool.value and self.ceil_mode.value:
            raw = -(-(i + 2 * p - span) // s) + 1
            note = "" if raw == o else f" (= {raw} − 1: the last window would start in the right padding)"
            return f"{head}o = ceil(({num})/{s}) + 1 = {o}{note}"
        return f"{head}o = floor(({num})/{s}) + 1 = {o}"

    def state(self):
        """Everything drawn, as data: valid, cleared (True when the setting is
        impossible: no formula, figure or clickable grid is shown), message,
        out_shape, padded_shape, padding (mask), footprint (mask), window (the
        padded rows and columns the selected cell reads), uncovered (mask of
        padded cells no window reads), formulas (per axis), selected (row, col)."""
        pr = self.params()
        axes = list(zip(pr["i"], pr["k"], pr["s"], pr["p"], pr["d"]))
        try:
            o = tuple(self._sizes(*a) for a in axes)
        except ValueError as err:
            return dict(valid=False, cleared=True, params=pr, out_shape=None, formulas=(), selected=None,
                        message=f"<b>Invalid setting:</b> {err}. There is no output, so no formula and no "
                                f"figure: change a slider.")
        self._hold = True  # clamp the output-cell sliders without recursive redraws
        self.out_row.max, self.out_col.max = o[0] - 1, o[1] - 1
        self._hold = False
        sel = (self.out_row.value, self.out_col.value)
        padded = tuple(i + 2 * p for i, _, _, p, _ in axes)
        cover = [geometry.covered_1d(oo, n, k, s, d) for oo, n, (_, k, s, _, d) in zip(o, padded, axes)]
        forms = [self.formula(*a, oo) for a, oo in zip(axes, o)]
        rows, cols, fp = selected_window(sel, o, padded, pr["k"], pr["s"], pr["d"])
        uncovered = ~np.outer(cover[0], cover[1])
        what = "max pool" if self.pool.value else "conv"
        lines = [f"{what}: output {o[0]}×{o[1]}", "H: " + forms[0]]
        if forms[1] != forms[0]:
            lines.append("W: " + forms[1])
        lines.append(f"selected output {sel}: reads padded rows {_taps(rows)} × columns {_taps(cols)} (blue)")
        if uncovered.any():
            lines.append(f"{int(uncovered.sum())} padded-input cells are never read (red)")
        return dict(valid=True, cleared=False, message="\n".join(lines), params=pr, out_shape=o,
                    padded_shape=padded, padding=geometry.padded_grid_mask(pr["i"], pr["p"]), footprint=fp,
                    window=(rows, cols), uncovered=uncovered, formulas=forms, selected=sel)

    def select(self, row, col):
        """Select output cell (row, col), as a click on it does (one redraw)."""
        self._hold = True
        try:
            self.out_row.value, self.out_col.value = row, col
        finally:
            self._hold = False
        self._refresh()

    def _cell(self, r, c):
        if (r, c) not in self._cells:
            b = W.Button(description="", tooltip=f"output ({r}, {c})",
                         layout=W.Layout(width="22px", height="22px", padding="0", margin="0"))
            b.add_class("cnnlab-output-cell")
            b.on_click(lambda _button, r=r, c=c: self.select(r, c))
            self._cells[(r, c)] = b
        return self._cells[(r, c)]

    def _sync_picker(self, st):
        """Show one button per output cell (the selected one blue), or hide the grid."""
        o = st["out_shape"]
        if o is None or max(o) > PICKER_MAX:
            self.picker.layout.display = "none"
            self.picker_note.value = "" if o is None else (
                f"output {o[0]}×{o[1]}: too large to click (over {PICKER_MAX} cells a side), "
                f"use the output row/col sliders")
            return
        children = tuple(self._cell(r, c) for r in range(o[0]) for c in range(o[1]))
        if self.picker.children != children:
            self.picker.children = children
        self.picker.layout.grid_template_columns = f"repeat({o[1]}, 22px)"
        self.picker.layout.display = None
        self.picker_note.value = "<b>output cells</b>: click one to see its window"
        for rc, b in self._cells.items():
            chosen = rc == st["selected"]
            b.button_style = "info" if chosen else ""
            b.style.button_color = SELECTED_COLOR if chosen else None

    def _refresh(self):
        """Redraw; an impossible setting clears the figure at once (no stale
        figure or formula stays on screen). The text follows the figure, so
        both change together."""
        st = self.state()
        self._sync_picker(st)
        self.fig = None if st["cleared"] else self.draw(st)
        self.renders += 1
        if in_notebook():  # headless (tests): keep the figure, show nothing
            with self.out:
                self.out.clear_output(wait=self.fig is not None)
                if self.fig is not None:
                    display(self.fig)
        if self.fig is not None:
            plt.close(self.fig)
        self.message.value = st["message"].replace("\n", "<br>")

    def _on_figure_click(self, event, ax, shape):
        """On a live matplotlib canvas: a click on the output grid selects that cell."""
        cell = cell_at(event.xdata, event.ydata, shape) if event.inaxes is ax else None
        if cell is not None:
            self.select(*cell)

    def draw(self, st):
        """Figure: padded input (padding hatched, footprint blue, never-read red) and output grid.
        An impossible setting draws its message only (the live explorer shows no figure then)."""
        fig, (a0, a1) = plt.subplots(1, 2, figsize=(8, 4.2), gridspec_kw=dict(width_ratios=[3, 2]),
                                     layout="constrained")
        if not st["valid"]:
            draw_message((a0, a1), st["message"])
            return fig
        viz.grid_diagram(st["padded_shape"], ax=a0, shade=st["padding"],
                         highlight=[st["uncovered"], st["footprint"]], colors=("tab:red", "tab:blue"),
                         title="padded input (hatched: padding)\nblue: read by the selected output; red: never read")
        sel = np.zeros(st["out_shape"], dtype=bool)
        sel[st["selected"]] = True
        viz.grid_diagram(st["out_shape"], ax=a1, highlight=[sel], colors=("tab:blue",),
                         title=f"output {st['out_shape'][0]}×{st['out_shape'][1]}\nselected: {st['selected']}")
        fh, fw = st["formulas"]
        fig.suptitle(fh if fh == fw else f"H: {fh}\nW: {fw}", fontsize=11)
        fig.canvas.mpl_connect("button_press_event", lambda ev: self._on_figure_click(ev, a1, st["out_shape"]))
        return fig
