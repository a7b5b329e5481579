"""Interactive explorers for the notebooks (ipywidgets + matplotlib).

Each explorer keeps its controls as attributes (set them from Python, e.g.
`w.stride.value = 2`), computes everything it shows in `state()` (plain data,
so tests need no browser), redraws its figure into an `ipywidgets.Output` on
every change (`renders` counts redraws, `fig` is the last figure) and offers
`static_figure()`, the default setting as a plain matplotlib figure for places
where widgets are not live. Display one with `display(w)` or `w.widget`.
"""
import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from ..functional import arithmetic
from ..functional.conv import conv2d
from . import filters, geometry, viz


class _Explorer:
    """Shared plumbing: observe controls, redraw the figure into an Output."""

    def _wire(self, controls, layout):
        self.out = W.Output()
        self.message = W.HTML()
        self.renders = 0
        self.fig = None
        self._hold = False
        for c in controls:
            c.observe(self._changed, names="value")
        self.widget = W.VBox([layout, self.message, self.out])
        self._refresh()

    def _changed(self, _change):
        if not self._hold:
            self._refresh()

    def _refresh(self):
        st = self.state()
        self.message.value = st["message"].replace("\n", "<br>")
        self.fig = self.draw(st)
        self.renders += 1
        if _in_notebook():  # headless (tests): keep the figure, show nothing
            with self.out:
                self.out.clear_output(wait=True)
                display(self.fig)
        plt.close(self.fig)

    def static_figure(self):
        """The current (default) setting drawn as a plain Figure, not closed."""
        return self.draw(self.state())

    def _ipython_display_(self):
        display(self.widget)


def _in_notebook():
    try:
        from IPython import get_ipython
        return get_ipython() is not None
    except ImportError:  # pragma: no cover
        return False


def _slider(description, value, lo, hi):
    # IntSlider would silently clamp an out-of-range start value: refuse it instead.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{description} must be an int in [{lo}, {hi}], got {value!r}")
    return W.IntSlider(value=value, min=lo, max=hi, description=description, continuous_update=False,
                       style={"description_width": "initial"})


# --- convolution arithmetic ------------------------------------------------------

class ConvArithmeticExplorer(_Explorer):
    """Input size, kernel, stride, padding and dilation -> padded grid, the
    footprint of one output cell, the output grid and the size formula.

    `per_axis` (a Checkbox) unlocks separate width sliders; `pool` switches to
    pooling arithmetic, where `ceil_mode` matters."""

    def __init__(self, size=5, kernel_size=3, stride=2, padding=1, dilation=1):
        self.size, self.kernel_size = _slider("input i", size, 1, 12), _slider("kernel k", kernel_size, 1, 7)
        self.stride, self.padding = _slider("stride s", stride, 1, 4), _slider("padding p", padding, 0, 4)
        self.dilation = _slider("dilation d", dilation, 1, 3)
        self.per_axis = W.Checkbox(value=False, description="separate W sliders")
        self.size_w, self.kernel_size_w = _slider("input W", size, 1, 12), _slider("kernel W", kernel_size, 1, 7)
        self.stride_w, self.padding_w = _slider("stride W", stride, 1, 4), _slider("padding W", padding, 0, 4)
        self.pool = W.Checkbox(value=False, description="pooling")
        self.ceil_mode = W.Checkbox(value=False, description="ceil_mode")
        self.out_row, self.out_col = _slider("output row", 0, 0, 11), _slider("output col", 0, 0, 11)
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


# --- checkerboard artifacts --------------------------------------------------------

class CheckerboardExplorer(_Explorer):
    """Kernel size, stride, upsampling method and depth -> overlap map and the
    output for a constant input, with a verdict on its evenness."""

    METHODS = ("transposed", "nearest", "bilinear")

    def __init__(self, kernel_size=3, stride=2, method="transposed", layers=1, kernel="ones", size=8):
        self.kernel_size, self.stride = _slider("kernel k", kernel_size, 1, 7), _slider("stride s", stride, 1, 4)
        if method not in self.METHODS:
            raise ValueError(f"method must be one of {self.METHODS}, got {method!r}")
        if kernel not in ("ones", "random"):
            raise ValueError(f"kernel must be 'ones' or 'random', got {kernel!r}")
        self.method = W.Dropdown(options=self.METHODS, value=method, description="upsampling")
        self.layers = _slider("layers", layers, 1, 3)
        self.kernel = W.Dropdown(options=("ones", "random"), value=kernel, description="kernel")
        self.size = size
        controls = [self.kernel_size, self.stride, self.method, self.layers, self.kernel]
        self._wire(controls, W.HBox([W.VBox(controls[:2] + [self.layers]), W.VBox(controls[2:3] + controls[4:])]))

    def weight(self):
        """The (k, k) kernel: all ones, or a fixed random positive kernel (seed 0)."""
        k = self.kernel_size.value
        if self.kernel.value == "ones":
            return np.ones((k, k))
        return np.random.default_rng(0).uniform(0.5, 1.5, (k, k))

    def state(self):
        """counts (ones kernel), output (chosen kernel), both for a constant
        size x size input after all layers; margin; ratio (max/min of the
        output's interior); uneven; message."""
        k, s, method, n = self.kernel_size.value, self.stride.value, self.method.value, self.layers.value
        x = np.ones((1, 1, self.size, self.size))
        counts = geometry.stacked_upsampling(x, np.ones((k, k)), n, s, method)[-1][0, 0]
        output = geometry.stacked_upsampling(x, self.weight(), n, s, method)[-1][0, 0]
        margin = geometry.border_margin(k, s, n, method)
        ratio = geometry.unevenness(output, margin)
        uneven = not (np.isnan(ratio) or ratio < 1 + 1e-9)
        if np.isnan(ratio):
            msg = "The output is too small to judge its interior: raise the stride or lower the kernel size."
        elif uneven:
            msg = (f"Uneven: away from the border some output cells get {ratio:.3g}× as much as others "
                   f"(a checkerboard).")
        else:
            msg = "Even: away from the border a constant input gives a constant output."
        if method == "transposed" and k % s and s > 1:
            msg += f" Kernel size {k} is not divisible by stride {s}."
        return dict(counts=counts, output=output, margin=margin, ratio=ratio, uneven=uneven, message=msg,
                    params=dict(k=k, s=s, method=method, layers=n, kernel=self.kernel.value))

    def draw(self, st):
        """Figure: overlap map (ones kernel) and constant-input output, interior boxed."""
        fig, axes = plt.subplots(1, 2, figsize=(9, 4))
        p = st["params"]
        what = "transposed conv" if p["method"] == "transposed" else f"{p['method']} upsampling + conv"
        viz.heatmap(st["counts"], ax=axes[0], cmap=viz.COUNT_CMAP, signed=False,
                    title="overlap count (ones kernel)")
        viz.heatmap(st["output"], ax=axes[1], cmap=viz.IMAGE_CMAP, signed=False,
                    title=f"output for a constant input ({p['kernel']} kernel)")
        m, h = st["margin"], st["output"].shape[0]
        if h - 2 * m > 0:
            for a in axes:
                a.add_patch(plt.Rectangle((m - 0.5, m - 0.5), h - 2 * m, h - 2 * m, fill=False,
                                          edgecolor="tab:red", lw=1.2))
        fig.suptitle(f"{what}, k={p['k']}, s={p['s']}, {p['layers']} layer(s); red box: interior judged",
                     fontsize=11)
        fig.tight_layout()
        return fig


# --- filter playground ------------------------------------------------------------

class FilterPlayground(_Explorer):
    """A 3x3 kernel typed into a grid of FloatText boxes (or picked from the
    named 3x3 filters in `cnnlab.filters`) applied to `image` (H, W).

    FilterPlayground(image, filter_name='sobel_x', padding='same')."""

    def __init__(self, image, filter_name="sobel_x", padding="same"):
        image = np.asarray(image, dtype=float)
        if image.ndim != 2:
            raise ValueError(f"image must be a 2-D (H, W) array, got shape {image.shape}")
        self.image, self.pad = image, padding
        names = sorted(n for n, f in filters.FILTERS.items() if f.shape == (3, 3))
        if filter_name not in names:
            raise ValueError(f"filter_name must be one of {names}, got {filter_name!r}")
        self.filter = W.Dropdown(options=names + ["custom"], value=filter_name, description="filter")
        kern = filters.get(filter_name)
        self.cells = [[W.FloatText(value=float(kern[r, c]), layout=W.Layout(width="70px")) for c in range(3)]
                      for r in range(3)]
        grid = W.VBox([W.HBox(row) for row in self.cells])
        self.filter.observe(self._pick, names="value")
        self._wire([c for row in self.cells for c in row], W.HBox([self.filter, grid]))

    def _pick(self, change):
        """Fill the grid with the chosen named filter, then redraw once."""
        if change["new"] == "custom":
            return
        kern = filters.get(change["new"])
        self._hold = True
        for (r, c), v in np.ndenumerate(kern):
            self.cells[r][c].value = float(v)
        self._hold = False
        self._refresh()

    def kernel(self):
        """The (3, 3) kernel currently typed into the grid."""
        return np.array([[c.value for c in row] for row in self.cells], dtype=float)

    def state(self):
        """kernel (3, 3), filtered image (cross-correlation, `padding`), message."""
        kern = self.kernel()
        out = conv2d(self.image[None, None], kern[None, None], padding=self.pad)[0, 0]
        named = [n for n in self.filter.options[:-1] if np.array_equal(filters.FILTERS[n], kern)]
        if not named and self.filter.value != "custom":
            self.filter.value = "custom"  # an edited grid is no longer the named filter (_pick ignores this)
        msg = f"filter: {named[0] if named else 'custom'}; response range [{out.min():.3g}, {out.max():.3g}]"
        return dict(kernel=kern, output=out, message=msg)

    def draw(self, st):
        """Figure: image, kernel (values written in), response."""
        fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), gridspec_kw=dict(width_ratios=[3, 2, 3]))
        viz.heatmap(self.image, ax=axes[0], title="image", colorbar=False, signed=False)
        viz.heatmap(st["kernel"], ax=axes[1], title="kernel", annotate=True, fmt="{:.3g}", colorbar=False)
        viz.heatmap(st["output"], ax=axes[2], title="response (cross-correlation)")
        fig.tight_layout()
        return fig
