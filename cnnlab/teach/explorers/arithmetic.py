"""Notebook 02: the convolution-arithmetic explorer (kernel, stride, padding, dilation)."""
import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from ...functional import arithmetic
from .. import geometry, viz
from ._base import Explorer, slider


class ConvArithmeticExplorer(Explorer):
    """Input size, kernel, stride, padding and dilation -> padded grid, the
    footprint of one output cell, the output grid and the size formula.

    `per_axis` (a Checkbox) unlocks separate width sliders; `pool` switches to
    pooling arithmetic, where `ceil_mode` matters."""

    def __init__(self, size=5, kernel_size=3, stride=2, padding=1, dilation=1):
        self.size, self.kernel_size = slider("input i", size, 1, 12), slider("kernel k", kernel_size, 1, 7)
        self.stride, self.padding = slider("stride s", stride, 1, 4), slider("padding p", padding, 0, 4)
        self.dilation = slider("dilation d", dilation, 1, 3)
        self.per_axis = W.Checkbox(value=False, description="separate W sliders")
        self.size_w, self.kernel_size_w = slider("input W", size, 1, 12), slider("kernel W", kernel_size, 1, 7)
        self.stride_w, self.padding_w = slider("stride W", stride, 1, 4), slider("padding W", padding, 0, 4)
        self.pool = W.Checkbox(value=False, description="pooling")
        self.ceil_mode = W.Checkbox(value=False, description="ceil_mode")
        self.out_row, self.out_col = slider("output row", 0, 0, 11), slider("output col", 0, 0, 11)
        controls = [self.size, self.kernel_size, self.stride, self.padding, self.dilation, self.per_axis,
                    self.size_w, self.kernel_size_w, self.stride_w, self.padding_w, self.pool, self.ceil_mode,
                    self.out_row, self.out_col]
        layout = W.HBox([W.VBox(controls[:5] + [self.out_row, self.out_col]),
                         W.VBox([self.per_axis] + controls[6:10] + [self.pool, self.ceil_mode])])
        self._wire(controls, layout)

    def params(self):
        """Per-axis (H, W) tuples: i, k, s, p, d."""
        sq = not self.per_axis.value
        for w in (self.size_w, self.kernel_size_w, self.stride_w, self.padding_w):
            w.disabled = sq
        def pick(a, b):  # (height, width) values; the width follows the height when square
            return a.value, a.value if sq else b.value
        return dict(i=pick(self.size, self.size_w), k=pick(self.kernel_size, self.kernel_size_w),
                    s=pick(self.stride, self.stride_w), p=pick(self.padding, self.padding_w),
                    d=(self.dilation.value,) * 2)

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
        """Everything drawn, as data: valid, message, out_shape, padded_shape,
        padding (mask), footprint (mask), uncovered (mask of padded cells no
        window reads), formulas (per axis), selected (row, col)."""
        pr = self.params()
        axes = list(zip(pr["i"], pr["k"], pr["s"], pr["p"], pr["d"]))
        try:
            o = tuple(self._sizes(*a) for a in axes)
        except ValueError as err:
            return dict(valid=False, message=f"<b>Invalid setting:</b> {err}", params=pr)
        self._hold = True  # clamp the output-cell sliders without recursive redraws
        self.out_row.max, self.out_col.max = o[0] - 1, o[1] - 1
        self._hold = False
        sel = (self.out_row.value, self.out_col.value)
        padded = tuple(i + 2 * p for i, _, _, p, _ in axes)
        cover = [geometry.covered_1d(oo, n, k, s, d) for oo, n, (_, k, s, _, d) in zip(o, padded, axes)]
        forms = [self.formula(*a, oo) for a, oo in zip(axes, o)]
        fp = geometry.footprint_2d(sel, padded, pr["k"], pr["s"], pr["d"])
        uncovered = ~np.outer(cover[0], cover[1])
        what = "max pool" if self.pool.value else "conv"
        lines = [f"{what}: output {o[0]}×{o[1]}", "H: " + forms[0]]
        if forms[1] != forms[0]:
            lines.append("W: " + forms[1])
        if uncovered.any():
            lines.append(f"{int(uncovered.sum())} padded-input cells are never read (red)")
        return dict(valid=True, message="\n".join(lines), params=pr, out_shape=o, padded_shape=padded,
                    padding=geometry.padded_grid_mask(pr["i"], pr["p"]), footprint=fp, uncovered=uncovered,
                    formulas=forms, selected=sel)

    def draw(self, st):
        """Figure: padded input (padding hatched, footprint blue, never-read red) and output grid."""
        fig, (a0, a1) = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw=dict(width_ratios=[3, 2]))
        if not st["valid"]:
            for a in (a0, a1):
                a.axis("off")
            a0.text(0, 0.5, st["message"].replace("<b>", "").replace("</b>", ""), wrap=True, color="tab:red",
                    fontsize=10, transform=a0.transAxes)
            return fig
        viz.grid_diagram(st["padded_shape"], ax=a0, shade=st["padding"],
                         highlight=[st["uncovered"], st["footprint"]], colors=("tab:red", "tab:blue"),
                         title="padded input (hatched: padding)\nblue: read by the selected output; red: never read")
        sel = np.zeros(st["out_shape"], dtype=bool)
        sel[st["selected"]] = True
        viz.grid_diagram(st["out_shape"], ax=a1, highlight=[sel], colors=("tab:blue",),
                         title=f"output {st['out_shape'][0]}×{st['out_shape'][1]}")
        fig.suptitle(st["formulas"][0], fontsize=11)
        fig.tight_layout()
        return fig


