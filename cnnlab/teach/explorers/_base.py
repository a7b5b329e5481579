"""The plumbing every explorer shares (ipywidgets + matplotlib).

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


class Explorer:
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
        if in_notebook():  # headless (tests): keep the figure, show nothing
            with self.out:
                self.out.clear_output(wait=True)
                display(self.fig)
        plt.close(self.fig)

    def static_figure(self):
        """The current (default) setting drawn as a plain Figure, not closed."""
        return self.draw(self.state())

    def _ipython_display_(self):
        display(self.widget)


def draw_message(axes, message):
    """Blank `axes` and write an impossible setting's message (HTML bold tags
    stripped) on the first one: what the explorers draw instead of a figure."""
    for a in axes:
        a.axis("off")
    axes[0].text(0, 0.5, message.replace("<b>", "").replace("</b>", ""), wrap=True, color="tab:red", fontsize=10,
                 transform=axes[0].transAxes)


def in_notebook():
    try:
        from IPython import get_ipython
        return get_ipython() is not None
    except ImportError:  # pragma: no cover
        return False


def slider(description, value, lo, hi):
    # IntSlider would silently clamp an out-of-range start value: refuse it instead.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{description} must be an int in [{lo}, {hi}], got {value!r}")
    return W.IntSlider(value=value, min=lo, max=hi, description=description, continuous_update=False,
                       style={"description_width": "initial"})
