"""Notebook 06: the LeNet-5 inspector (draw a digit, or pick a test image, and watch the trained network).

A drawing pad in the spirit of Harley's interactive LeNet visualisation
(A. W. Harley, "An Interactive Node-Link Visualization of Convolutional
Neural Networks", ISVC 2015) with CNN Explainer's "bring your own input"
(Z. J. Wang et al., IEEE VIS 2020), on the trained modern LeNet-5 shipped in
data/models/lenet5.npz (`cnnlab.nn.models.pretrained("lenet5")`).

A drawing is prepared the way MNIST's digits were (LeCun, Bottou, Bengio &
Haffner 1998, section III-A): the bounding box of the ink is scaled to fit a
20x20 box keeping its aspect ratio (the interpolation leaves grey levels at the
edges), then the result is placed in the 28x28 field so that its centre of
mass sits at the centre. `mnist_preprocess` does exactly that; without it a
small or off-centre drawing looks nothing like what the network was trained on.

The plain functions come first (tested headless, usable without widgets):
`stroke` (ink a line on a 28x28 canvas), `mnist_preprocess`, `transform_digit`
(shift and blur), `forward_all` (every layer's output and the class
probabilities), `first_test_index` and `tile` (feature maps in one grid).

Drawing uses ipycanvas's `Canvas`: ipywidgets has no widget that reports mouse
events, and ipycanvas ships its JavaScript inside its wheel, so it works in
JupyterLab 4 with no network. The canvas *is* the 28x28 grid (displayed 10x
enlarged, pixelated): what you see is exactly the array that is pre-processed.
The network's view is recomputed when a stroke ends (mouse up), not on every
mouse move, so drawing stays fluid.
"""
import functools

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from scipy import ndimage

from ... import data
from ...functional.losses import softmax
from .. import viz
from ._base import Explorer, slider

FIELD = 28  # MNIST's image size
BOX = 20  # the box MNIST scaled every digit into
DISPLAY_SCALE = 10  # on-screen pixels per canvas cell
MAP_LAYERS = ("C1", "S2", "C3", "S4")  # the feature maps the inspector shows
NO_DIGIT = -1  # the dropdown's "—": the input is a drawing or a test image that is not the first of its class


def stroke(canvas, p0, p1, width=2.0):
    """Ink the segment p0 -> p1 ((x, y) in cell units: cell (r, c) covers
    [c, c+1) x [r, r+1)) onto `canvas` (H, W floats in [0, 1]) in place,
    with a pen `width` cells wide and a one-cell soft edge (anti-aliased, like
    the grey edges of MNIST's strokes). Ink only accumulates (maximum).
    Returns the canvas.

    >>> stroke(np.zeros((5, 5)), (2.5, 0.5), (2.5, 4.5), width=1.0)[2]  # a vertical line, 1 cell wide
    array([0., 0., 1., 0., 0.])
    """
    h, w = canvas.shape
    ys, xs = np.mgrid[0:h, 0:w] + 0.5  # cell centres
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    t = ((xs - x0) * dx + (ys - y0) * dy) / (dx * dx + dy * dy) if dx or dy else np.zeros_like(xs)
    t = np.clip(t, 0.0, 1.0)
    dist = np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy))
    np.maximum(canvas, np.clip(width / 2 + 0.5 - dist, 0.0, 1.0), out=canvas)
    return canvas


def _resample_matrix(n_in, n_out):
    """(n_out, n_in) weights of a linear (triangle) filter whose width grows
    with the shrink factor, so that shrinking averages (anti-aliasing) and
    enlarging interpolates; each row sums to 1 (every output centre lies
    within half a cell of an input centre, so no row is all zero)."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale
    weights = np.clip(1 - np.abs(np.arange(n_in)[None, :] + 0.5 - centres[:, None]) / support, 0, None)
    return weights / weights.sum(1, keepdims=True)


def ink_box(image, threshold=0.0):
    """(top, bottom, left, right) of the cells brighter than `threshold`
    (bottom and right exclusive), or None for an empty image."""
    ink = np.asarray(image) > threshold
    if not ink.any():
        return None
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    return int(rows[0]), int(rows[-1] + 1), int(cols[0]), int(cols[-1] + 1)


def mnist_preprocess(canvas, box=BOX, field=FIELD):
    """A drawing (H, W) -> a uint8 (28, 28) digit prepared like MNIST's
    (LeCun et al. 1998, section III-A): the bounding box of the ink is scaled
    so that its longer side is `box` (20) cells, keeping the aspect ratio
    (linear interpolation, anti-aliased when shrinking); the result is placed
    in the `field` x `field` (28x28) image so that its centre of mass lands on
    cell (14, 14), the centre MNIST's digits have (translation by whole cells);
    the brightest cell becomes 255. Accepts floats (ink > 0) or uint8.
    Raises ValueError for an empty canvas (no ink).

    >>> pen = stroke(np.zeros((28, 28)), (3.5, 3.5), (3.5, 9.5))  # a short line in a corner
    >>> d = mnist_preprocess(pen)
    >>> top, bottom, _, _ = ink_box(d); bottom - top  # scaled up to the 20-cell box
    20
    >>> [round(float(c)) for c in ndimage.center_of_mass(d.astype(float))]
    [14, 14]
    """
    a = np.asarray(canvas, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"canvas must be a 2-D (H, W) array, got shape {a.shape}")
    found = ink_box(a)
    if found is None:
        raise ValueError("the canvas is empty: there is no ink to pre-process")
    top, bottom, left, right = found
    crop = a[top:bottom, left:right]
    h, w = crop.shape
    s = box / max(h, w)
    nh, nw = max(1, min(box, round(h * s))), max(1, min(box, round(w * s)))
    scaled = _resample_matrix(h, nh) @ crop @ _resample_matrix(w, nw).T
    cy, cx = ndimage.center_of_mass(scaled)
    centre = field // 2
    oy, ox = round(centre - cy), round(centre - cx)  # where the scaled box's corner goes
    big = np.zeros((field + 2 * box, field + 2 * box))  # room for boxes pushed past the border
    big[box + oy:box + oy + nh, box + ox:box + ox + nw] = scaled
    out = big[box:box + field, box:box + field]
    return np.round(255 * out / out.max()).astype(np.uint8)


def transform_digit(image, dy=0, dx=0, blur=0.0):
    """A uint8 (28, 28) digit shifted by (dy, dx) whole cells (vacated cells
    black, ink pushed over the border lost) and blurred by a Gaussian of
    standard deviation `blur` cells (0: none). Returns uint8 (28, 28)."""
    out = data.shift(np.asarray(image, dtype=np.uint8), int(dy), int(dx))
    if blur > 0:
        out = np.clip(np.round(ndimage.gaussian_filter(out.astype(float), blur, mode="constant")), 0, 255)
    return out.astype(np.uint8)


def forward_all(model, x):
    """Run `model` (a `Sequential`) on x layer by layer and keep everything:
    {"input": x, <layer name>: its output, ..., "probs": softmax of the last
    output}. The last layer's output equals `model.forward(x)`."""
    maps = {"input": x}
    for name, layer in model.layers:
        x = layer.forward(x)
        maps[name] = x
    maps["probs"] = softmax(x.astype(np.float64), axis=1)
    return maps


def first_test_index(digit, labels=None):
    """The index of the first MNIST test image of class `digit` (0-9)."""
    labels = data.load_mnist("test")[1] if labels is None else labels
    found = np.flatnonzero(np.asarray(labels) == digit)
    if not found.size:
        raise ValueError(f"no test image of class {digit!r}")
    return int(found[0])


def tile(maps, ncols, gap=1):
    """Feature maps (K, H, W) as one 2-D array: a grid of `ncols` columns with
    `gap` cells of NaN between maps (drawn in the background colour).

    >>> tile(np.ones((3, 2, 2)), ncols=2).shape
    (5, 5)
    """
    maps = np.asarray(maps, dtype=float)
    k, h, w = maps.shape
    nrows = -(-k // ncols)
    out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), np.nan)
    for i, m in enumerate(maps):
        r, c = divmod(i, ncols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = m
    return out


@functools.lru_cache(maxsize=1)
def trained_lenet5():
    """The shipped, trained modern LeNet-5 (loaded and checksum-verified once per process)."""
    from ...nn.models import pretrained
    return pretrained("lenet5")


def _canvas_widget():
    from ipycanvas import Canvas
    size = f"{FIELD * DISPLAY_SCALE}px"
    canvas = Canvas(width=FIELD, height=FIELD, layout=W.Layout(width=size, height=size))
    canvas.add_class("cnnlab-draw")
    return canvas


# The canvas is 28x28 cells shown 10x larger: keep the cells square-edged and show a pen.
_CANVAS_CSS = ("<style>.cnnlab-draw { image-rendering: pixelated; cursor: crosshair; "
               "border: 1px solid #888; touch-action: none; }</style>")


class LeNetInspector(Explorer):
    """Draw a digit with the mouse on the 28x28 canvas (or pick a test image
    by `index`, or "a test 7" (`digit`) from the dropdown; shift and blur it with the
    sliders) and see what the trained LeNet-5 computes: the padded 32x32
    input, the C1 and S2 feature maps, the C3 and S4 maps, the ten class
    probabilities and the top prediction.

    A drawing is pre-processed like MNIST (`mnist_preprocess`: ink's bounding
    box scaled into 20x20 keeping the aspect ratio, centre of mass moved to the
    centre of the 28x28 field) before the shift and blur are applied.

    Set the controls from Python (`w.digit.value = 3`, `w.index.value = 42`,
    `w.shift_x.value = 2`, `w.blur.value = 1.0`, `w.source.value = "drawing"`)
    or draw from Python with `w.add_stroke([(x, y), ...])` (cell units)."""

    def __init__(self, digit=7, index=None, model=None, pen_width=2.0):
        self.model = model if model is not None else trained_lenet5()
        self.images, self.labels = data.load_mnist("test")
        self.firsts = [first_test_index(d, self.labels) for d in range(10)]
        if index is None:
            if digit not in range(10):
                raise ValueError(f"digit must be one of 0-9, got {digit!r}")
            index = self.firsts[digit]
        elif not 0 <= index < len(self.images):
            raise ValueError(f"index must be in [0, {len(self.images) - 1}], got {index!r}")
        digit = next((d for d in range(10) if self.firsts[d] == index), NO_DIGIT)
        self.pen_width = pen_width
        self.ink = np.zeros((FIELD, FIELD))  # the drawing: the canvas's 28x28 cells, ink in [0, 1]
        self._pen = None  # last pen position while the mouse button is down
        self.source = W.ToggleButtons(options=["test image", "drawing"], value="test image", description="input")
        self.digit = W.Dropdown(options=[("—", NO_DIGIT)] + [(f"a test {d}", d) for d in range(10)], value=digit,
                                description="pick")
        self.index = W.BoundedIntText(value=index, min=0, max=len(self.images) - 1,
                                      description="test index", style={"description_width": "initial"},
                                      layout=W.Layout(width="180px"))
        self.shift_x, self.shift_y = slider("shift right", 0, -6, 6), slider("shift down", 0, -6, 6)
        self.blur = W.FloatSlider(value=0.0, min=0.0, max=2.0, step=0.25, description="blur σ",
                                  continuous_update=False, style={"description_width": "initial"})
        self.clear = W.Button(description="clear", icon="eraser", layout=W.Layout(width="100px"))
        self.clear.on_click(lambda _: self.clear_drawing())
        self.digit.observe(self._pick_digit, names="value")
        self.source.observe(self._sync_digit, names="value")
        self.index.observe(self._pick_index, names="value")
        self.canvas = _canvas_widget()
        self.canvas.on_mouse_down(self._mouse_down)
        self.canvas.on_mouse_move(self._mouse_move)
        self.canvas.on_mouse_up(self._mouse_up)
        self.canvas.on_mouse_out(self._mouse_up)
        self.canvas.on_client_ready(self._paint)
        note = W.HTML("draw a digit (mouse), or pick a test image<br>"
                      "drawings are pre-processed like MNIST:<br>20×20 box, centre of mass centred")
        pad = W.VBox([W.HTML(_CANVAS_CSS), self.canvas, W.HBox([self.clear])])
        controls = W.VBox([self.source, self.digit, self.index, self.shift_x, self.shift_y, self.blur, note])
        self._wire([self.source, self.shift_x, self.shift_y, self.blur], W.HBox([pad, controls]))
        self._paint()

    # --- the drawing pad -------------------------------------------------
    def _paint(self):
        """Show the ink array on the canvas (white ink on black, like MNIST)."""
        grey = np.round(255 * self.ink).astype(np.uint8)
        rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255)])
        self.canvas.put_image_data(rgba, 0, 0)

    def _mouse_down(self, x, y):
        self._pen = (x, y)
        stroke(self.ink, self._pen, self._pen, self.pen_width)
        self._paint()

    def _mouse_move(self, x, y):
        if self._pen is None:
            return
        stroke(self.ink, self._pen, (x, y), self.pen_width)
        self._pen = (x, y)
        self._paint()

    def _mouse_up(self, x, y):
        if self._pen is None:
            return
        self._mouse_move(x, y)
        self._pen = None
        self._use_drawing()

    def add_stroke(self, points):
        """Draw a polyline through `points` ((x, y) in cell units, 0-28) as one
        stroke of the mouse, then show the network's view of the drawing."""
        points = list(points)
        if not points:
            raise ValueError("a stroke needs at least one point")
        self._mouse_down(*points[0])
        for p in points[1:]:
            self._mouse_move(*p)
        self._mouse_up(*points[-1])

    def clear_drawing(self):
        """Wipe the canvas (the view is redrawn if the input is the drawing)."""
        self.ink[...] = 0.0
        self._pen = None
        self._paint()
        if self.source.value == "drawing":
            self._refresh()

    def _use_drawing(self):
        self._hold = True
        self.source.value = "drawing"
        self.digit.value = NO_DIGIT
        self._hold = False
        self._refresh()

    # --- picking a test image --------------------------------------------
    def _pick_digit(self, change):
        if change["new"] == NO_DIGIT or self._hold:
            return
        self._hold = True
        self.index.value = self.firsts[change["new"]]
        self.source.value = "test image"
        self._hold = False
        self._refresh()

    def _sync_digit(self, change):
        """The dropdown names the test image shown ("—" for a drawing); the redraw follows in `_changed`."""
        if self._hold:
            return
        self._hold = True
        first = [d for d in range(10) if self.firsts[d] == self.index.value]
        self.digit.value = first[0] if first and change["new"] == "test image" else NO_DIGIT
        self._hold = False

    def _pick_index(self, change):
        if self._hold:
            return
        self._hold = True
        first = [d for d in range(10) if self.firsts[d] == change["new"]]
        self.digit.value = first[0] if first else NO_DIGIT
        self.source.value = "test image"
        self._hold = False
        self._refresh()

    # --- what is shown ---------------------------------------------------
    def raw_digit(self):
        """The 28x28 digit before shift and blur: the picked test image, or the
        pre-processed drawing (None when the canvas is empty)."""
        if self.source.value == "test image":
            return self.images[self.index.value]
        return None if ink_box(self.ink) is None else mnist_preprocess(self.ink)

    def state(self):
        """Everything drawn, as data: valid, message, source, label (the test
        label, None for a drawing), raw (the 28x28 image before pre-processing:
        the canvas or the test image), digit (uint8 28x28 fed to the network,
        after shift and blur), maps (`forward_all`: input (1, 1, 32, 32), every
        layer's output), probs (10,), prediction, confidence."""
        drawing = self.source.value == "drawing"
        label = None if drawing else int(self.labels[self.index.value])
        raw = self.ink.copy() if drawing else self.images[self.index.value]
        base = dict(source=self.source.value, label=label, raw=raw)
        digit = self.raw_digit()
        if digit is None:
            return dict(valid=False, message="<b>The canvas is empty:</b> draw a digit with the mouse "
                        "(or pick a test image) to see a prediction.", **base)
        digit = transform_digit(digit, self.shift_y.value, self.shift_x.value, self.blur.value)
        maps = forward_all(self.model, self.model.prepare(digit[None]))
        probs = maps["probs"][0]
        pred = int(probs.argmax())
        runner_up = int(np.argsort(probs)[-2])
        what = ("your drawing, pre-processed like MNIST (20×20 box, centre of mass at the centre)" if drawing
                else f"test image #{self.index.value} (label {label})")
        moved = [f"shifted ({self.shift_x.value:+d} right, {self.shift_y.value:+d} down)"] * bool(
            self.shift_x.value or self.shift_y.value) + [f"blurred (σ = {self.blur.value:g})"] * (self.blur.value > 0)
        lines = [f"input: {what}" + (", " + " and ".join(moved) if moved else ""),
                 f"<b>prediction: {pred}</b> (p = {probs[pred]:.1%}); next: {runner_up} (p = {probs[runner_up]:.1%})"]
        return dict(valid=True, message="\n".join(lines), digit=digit, maps=maps, probs=probs, prediction=pred,
                    confidence=float(probs[pred]), **base)

    def draw(self, st):
        """Figure: input (32x32, the 28x28 field outlined), C1 and S2 maps
        (top), the digit before pre-processing, C3 and S4 maps (bottom) and the
        class probabilities as labelled bars (right)."""
        if not st["valid"]:
            fig, ax = plt.subplots(figsize=(13, 1.6))
            ax.axis("off")
            ax.text(0.5, 0.5, st["message"].replace("<b>", "").replace("</b>", ""), ha="center", va="center",
                    wrap=True, color="tab:red", fontsize=13, transform=ax.transAxes)
            return fig
        fig = plt.figure(figsize=(13, 6.4), layout="constrained")
        gs = fig.add_gridspec(2, 4, width_ratios=[1.0, 1.3, 1.3, 1.1])
        maps = st["maps"]
        ax = fig.add_subplot(gs[0, 0])
        viz.heatmap(maps["input"][0, 0], ax=ax, signed=False, colorbar=False,
                    title="input 32×32\n(dashed: the 28×28 digit)")
        ax.add_patch(Rectangle((1.5, 1.5), FIELD, FIELD, fill=False, ls="--", lw=1, ec="tab:orange"))
        ax = fig.add_subplot(gs[1, 0])
        viz.heatmap(st["raw"], ax=ax, signed=False, colorbar=False,
                    title="your drawing (canvas)" if st["label"] is None else f"test image (label {st['label']})")
        for (r, c), name in zip([(0, 1), (0, 2), (1, 1), (1, 2)], MAP_LAYERS):
            self._draw_maps(fig.add_subplot(gs[r, c]), name, maps[name][0])
        self._draw_probs(fig.add_subplot(gs[:, 3]), st["probs"], st["label"])
        fig.suptitle(f"LeNet-5 predicts {st['prediction']} (p = {st['confidence']:.1%}); "
                     "feature maps: one colour scale per layer", fontsize=13)
        return fig

    @staticmethod
    def _draw_maps(ax, name, maps):
        k, h, w = maps.shape
        grid = tile(maps, ncols=3 if k == 6 else 4)
        signed = name.startswith("C")  # convolution outputs, before ReLU
        if signed:
            bound = np.nanmax(np.abs(grid)) or 1.0
            cmap, lims = plt.get_cmap(viz.SIGNED_CMAP).with_extremes(bad="0.55"), dict(vmin=-bound, vmax=bound)
        else:
            cmap = plt.get_cmap(viz.IMAGE_CMAP).with_extremes(bad="white")
            lims = dict(vmin=0, vmax=np.nanmax(grid) or 1.0)
        im = ax.imshow(grid, cmap=cmap, **lims)
        prev = {"S2": "C1", "S4": "C3"}.get(name)
        what = "conv 5×5, before ReLU" if signed else f"max pool 2×2 of ReLU({prev})"
        ax.set_title(f"{name}: {k} maps {h}×{w}\n{what}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.03)

    @staticmethod
    def _draw_probs(ax, probs, label):
        pred = int(np.argmax(probs))
        ax.barh(np.arange(10), probs, color=["tab:blue" if c == pred else "0.7" for c in range(10)])
        for c, p in enumerate(probs):
            ax.text(p + 0.02, c, f"{p:.1%}", va="center", fontsize=9)
        ax.set_yticks(np.arange(10), [str(c) for c in range(10)], fontsize=11)
        if label is not None:
            tick = ax.get_yticklabels()[label]
            tick.set_fontweight("bold")
            tick.set_color("tab:green")
        ax.invert_yaxis()
        ax.set(xlim=(0, 1.3), xlabel="probability (softmax)", ylabel="class")
        ax.set_title("class probabilities\n(blue: prediction" + ("; green: label)" if label is not None else ")"),
                     fontsize=10)
        ax.set_xticks([0, 0.5, 1.0])
        ax.spines[["top", "right"]].set_visible(False)
