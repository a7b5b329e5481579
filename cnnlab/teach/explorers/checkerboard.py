"""Notebook 04: the checkerboard explorer (transposed convolution vs resize-convolution)."""
import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from .. import geometry, viz
from ._base import Explorer, slider


class CheckerboardExplorer(Explorer):
    """Kernel size, stride, upsampling method and depth -> overlap map and the
    output for a constant input, with a verdict on its evenness."""

    METHODS = ("transposed", "nearest", "bilinear")

    def __init__(self, kernel_size=3, stride=2, method="transposed", layers=1, kernel="ones", size=8):
        self.kernel_size, self.stride = slider("kernel k", kernel_size, 1, 7), slider("stride s", stride, 1, 4)
        if method not in self.METHODS:
            raise ValueError(f"method must be one of {self.METHODS}, got {method!r}")
        if kernel not in ("ones", "random"):
            raise ValueError(f"kernel must be 'ones' or 'random', got {kernel!r}")
        self.method = W.Dropdown(options=self.METHODS, value=method, description="upsampling")
        self.layers = slider("layers", layers, 1, 3)
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


