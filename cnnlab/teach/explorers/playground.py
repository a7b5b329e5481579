"""Notebook 01: the filter playground (a named or hand-typed 3x3 kernel on a photograph)."""
import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from ...functional.conv import conv2d
from .. import filters, viz
from ._base import Explorer


class FilterPlayground(Explorer):
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
