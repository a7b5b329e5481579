"""Notebook 05: the backpropagation explorer (which deltas and kernel taps make one gradient entry).

The plain functions below compute, for a convolution of one input map with
F kernels (stride s, padding p per side), the products that add up to one
input-gradient entry dX[a, b] and to one kernel-gradient entry dK_f[u, v],
and the full-correlation view of dX (the delta dilated by s, padded, and the
kernel rotated by 180 degrees). Their sums equal `cnnlab.conv2d_backward`
(tests/test_explorer_backprop.py holds them equal for every cell).
"""
import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.gridspec import GridSpec

from ...functional.arithmetic import conv_output_size
from ...functional.conv import conv2d_backward
from .. import viz
from ._base import Explorer, slider

# The worked example of notebook 05, section 3 (the CNN blog chapters, problem 3): a 3x3 input map feeds
# two output maps through K1 and K2, whose deltas are D1 and D2.
K1 = np.array([[0.1, 0.2], [0.2, 0.4]])
K2 = np.array([[-0.3, 0.1], [0.1, 0.2]])
D1 = np.array([[1.0, 3.0], [2.0, 2.0]])
D2 = np.array([[2.0, 1.0], [1.0, 1.0]])
# The example gives no input values; the kernel gradient needs some: MATLAB's magic(3).
MAGIC3 = np.array([[8.0, 1.0, 6.0], [3.0, 5.0, 7.0], [4.0, 9.0, 2.0]])


def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def example(size=3, stride=1, padding=0):
    """(x (H, W), kernels (2, 2, 2), deltas (2, oH, oW), worked) for a size x size
    input: the worked example's K1, K2 always; D1, D2 when the output is 2x2
    (else seeded integer deltas); magic(3) as the input when size is 3 (else
    seeded integers). worked: whether the deltas are D1 and D2."""
    kernels = np.stack([K1, K2])
    o = conv_output_size(size, 2, stride, padding)
    worked = o == 2
    rng = np.random.default_rng(1000 + 10 * size + o)
    deltas = np.stack([D1, D2]) if worked else rng.integers(-2, 4, (2, o, o)).astype(float)
    x = MAGIC3.copy() if size == 3 else rng.integers(0, 10, (size, size)).astype(float)
    return x, kernels, deltas, worked


def input_cell_terms(a, b, deltas, kernels, stride=1, padding=0):
    """The products that add up to dX[a, b] of the input map, one input map
    and F output maps: deltas (F, oH, oW), kernels (F, kH, kW). Output (i, j)
    of map f read input cell (a, b) with tap (u, v) = (a + p - i*s, b + p - j*s)
    if that tap exists. Returns a list of dicts with keys map, delta (i, j),
    tap (u, v), delta_value, weight."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    _, kh, kw = kernels.shape
    terms = []
    for f in range(deltas.shape[0]):
        for i in range(deltas.shape[1]):
            for j in range(deltas.shape[2]):
                u, v = a + ph - i * sh, b + pw - j * sw
                if 0 <= u < kh and 0 <= v < kw:
                    terms.append(dict(map=f, delta=(i, j), tap=(u, v), delta_value=float(deltas[f, i, j]),
                                      weight=float(kernels[f, u, v])))
    return terms


def kernel_tap_terms(u, v, x, delta, stride=1, padding=0):
    """The products that add up to dK[u, v] of one output map: every output
    (i, j) meets the padded-input cell (i*s + u, j*s + v), i.e. input cell
    (i*s + u - p, j*s + v - p). x (H, W), delta (oH, oW). Returns a list of
    dicts with keys delta (i, j), cell (row, col) of the input, in_padding,
    delta_value, input_value (0 in the padding)."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    terms = []
    for i in range(delta.shape[0]):
        for j in range(delta.shape[1]):
            r, c = i * sh + u - ph, j * sw + v - pw
            inside = 0 <= r < x.shape[0] and 0 <= c < x.shape[1]
            terms.append(dict(delta=(i, j), cell=(r, c), in_padding=not inside, delta_value=float(delta[i, j]),
                              input_value=float(x[r, c]) if inside else 0.0))
    return terms


def full_correlation_canvas(delta, kernel_size, stride=1, padding=0, input_size=None):
    """The delta as the full correlation sees it: s - 1 zeros inserted between
    its entries, k - 1 zeros around it, and on the bottom/right r more, where
    r = (H + 2p - k) mod s counts the padded-input rows no window read.
    Then dX[a, b] = sum(canvas[a+p : a+p+k, b+p : b+p+k] * rot180(kernel))
    for every input cell. input_size (H, W) is needed for r (default: r = 0)."""
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size), _pair(stride), _pair(padding)
    oh, ow = delta.shape
    dil = np.zeros(((oh - 1) * sh + 1, (ow - 1) * sw + 1))
    dil[::sh, ::sw] = delta
    if input_size is None:
        rh = rw = 0
    else:
        h, w = _pair(input_size)
        rh, rw = h + 2 * ph - kh - (oh - 1) * sh, w + 2 * pw - kw - (ow - 1) * sw
    return np.pad(dil, ((kh - 1, kh - 1 + rh), (kw - 1, kw - 1 + rw)))


def _num(v, factor=False):
    """A number as the message writes it: 4 significant digits, with a real
    minus sign; in parentheses when negative and a `factor` of a product."""
    s = f"{v:.4g}".replace("-", "−")
    return f"({s})" if factor and v < 0 else s


class BackpropExplorer(Explorer):
    """One input cell (a, b) and one kernel tap (u, v) of a map -> the output
    deltas and kernel taps that meet in dX[a, b], the full correlation with
    the rotated kernel that computes it, and the input cells and deltas that
    meet in dK[u, v]. The example: K1, K2, D1, D2 of notebook 05, section 3
    (a 3x3 input, two 2x2 kernels); stride and padding can be changed.

    BackpropExplorer(size=3, stride=1, padding=0, row=1, col=0, kernel_map=0, tap=(0, 1))."""

    K = 2  # the kernels of the worked example are 2x2

    def __init__(self, size=3, stride=1, padding=0, row=1, col=0, kernel_map=0, tap=(0, 1)):
        self.size, self.stride = slider("input size", size, 2, 8), slider("stride s", stride, 1, 3)
        self.padding = slider("padding p", padding, 0, 2)
        self.row, self.col = slider("input row", row, 0, 7), slider("input col", col, 0, 7)
        if kernel_map not in (0, 1):
            raise ValueError(f"kernel_map must be 0 (K1) or 1 (K2), got {kernel_map!r}")
        self.kernel_map = W.Dropdown(options=[("K1", 0), ("K2", 1)], value=kernel_map, description="dK of")
        self.tap_u, self.tap_v = slider("tap u", tap[0], 0, self.K - 1), slider("tap v", tap[1], 0, self.K - 1)
        controls = [self.size, self.stride, self.padding, self.row, self.col, self.kernel_map, self.tap_u,
                    self.tap_v]
        layout = W.HBox([W.VBox(controls[:3]), W.VBox(controls[3:5]), W.VBox(controls[5:])])
        self._wire(controls, layout)

    def state(self):
        """Everything drawn, as data: valid, message, x, kernels, deltas, worked,
        grad_x and grad_w (cnnlab.conv2d_backward), cell (a, b), terms and value
        of dX[a, b], reach (F, oH, oW) and taps (F, k, k) masks, canvases (one per
        map) and rotated kernels, kernel_map, tap (u, v), tap_terms and tap_value
        of dK[u, v], read (H, W) mask of the input cells that tap reads."""
        n, s, p, k = self.size.value, self.stride.value, self.padding.value, self.K
        try:
            x, kernels, deltas, worked = example(n, s, p)
            gx, gw, _ = conv2d_backward(deltas[None], x[None, None], kernels[:, None], stride=s, padding=p)
        except ValueError as err:
            return dict(valid=False, message=f"<b>Invalid setting:</b> {err}")
        self._hold = True  # clamp the cell sliders to the input without recursive redraws
        self.row.max = self.col.max = n - 1
        self._hold = False
        a, b = self.row.value, self.col.value
        f, tap = self.kernel_map.value, (self.tap_u.value, self.tap_v.value)
        terms = input_cell_terms(a, b, deltas, kernels, s, p)
        reach, taps = np.zeros(deltas.shape, bool), np.zeros(kernels.shape, bool)
        for t in terms:
            reach[(t["map"], *t["delta"])] = taps[(t["map"], *t["tap"])] = True
        tap_terms = kernel_tap_terms(*tap, x, deltas[f], s, p)
        read = np.zeros(x.shape, bool)
        for t in tap_terms:
            if not t["in_padding"]:
                read[t["cell"]] = True
        st = dict(valid=True, x=x, kernels=kernels, deltas=deltas, worked=worked, grad_x=gx[0, 0],
                  grad_w=gw[:, 0], cell=(a, b), terms=terms, value=sum(t["delta_value"] * t["weight"] for t in terms),
                  reach=reach, taps=taps, kernel_map=f, tap=tap, tap_terms=tap_terms, read=read,
                  tap_value=sum(t["delta_value"] * t["input_value"] for t in tap_terms),
                  canvases=[full_correlation_canvas(d, k, s, p, x.shape) for d in deltas],
                  rotated=kernels[:, ::-1, ::-1], stride=s, padding=p)
        st["message"] = self._message(st)
        return st

    def _message(self, st):
        (a, b), f, (u, v) = st["cell"], st["kernel_map"], st["tap"]
        name = [f"K{m + 1}" for m in range(2)]
        delta = [f"D{m + 1}" for m in range(2)]
        lines = []
        if st["terms"]:
            symbols = " + ".join(f"{delta[t['map']]}[{t['delta'][0]}, {t['delta'][1]}]·"
                                 f"{name[t['map']]}[{t['tap'][0]}, {t['tap'][1]}]" for t in st["terms"])
            numbers = " + ".join(f"{_num(t['delta_value'], True)}·{_num(t['weight'], True)}" for t in st["terms"])
            lines += [f"input gradient dX[{a}, {b}] = {_num(st['value'])} "
                      f"(cnnlab.conv2d_backward: {_num(st['grad_x'][a, b])})",
                      f"= {symbols}", f"= {numbers}",
                      "taps that reach it: " + ", ".join(f"{name[t['map']]}[{t['tap'][0]}, {t['tap'][1]}]"
                                                         for t in st["terms"])]
        else:
            lines.append(f"input gradient dX[{a}, {b}] = 0: no output window reads this cell "
                         f"(cnnlab.conv2d_backward: {_num(st['grad_x'][a, b])})")
        used = [t for t in st["tap_terms"] if not t["in_padding"]]
        products = " + ".join(f"x[{t['cell'][0]}, {t['cell'][1]}]·{delta[f]}[{t['delta'][0]}, {t['delta'][1]}]"
                              for t in used) or "0 (the tap only ever read padding)"
        lines.append(f"kernel gradient d{name[f]}[{u}, {v}] = {products} = {_num(st['tap_value'])} "
                     f"(cnnlab.conv2d_backward: {_num(st['grad_w'][f, u, v])})")
        if not st["worked"]:
            lines.append(f"deltas: seeded integers (the worked example's D1, D2 need a 2×2 output; "
                         f"this one is {st['deltas'].shape[1]}×{st['deltas'].shape[2]})")
        return "\n".join(lines)

    @staticmethod
    def _canvas_words(st):
        s = st["stride"]
        words = "1 around" if s == 1 else f"{s - 1} between entries, 1 around"
        extra = st["canvases"][0].shape[0] - (st["deltas"].shape[1] - 1) * s - 3
        return words + (f", +{extra} bottom/right" if extra else "")

    def draw(self, st):
        """Figure, three rows: the deltas and taps that reach dX[a, b]; the full
        correlation with the rotated kernels; the input cells and deltas of dK[u, v]."""
        fig = plt.figure(figsize=(14, 9.5))
        if not st["valid"]:
            fig.text(0.05, 0.5, st["message"].replace("<b>", "").replace("</b>", ""), color="tab:red")
            return fig
        # fixed margins instead of tight_layout, which costs seconds on these many small artists
        gs = GridSpec(3, 6, figure=fig, height_ratios=[1, 1.3, 1], left=0.02, right=0.98, bottom=0.02, top=0.9,
                      wspace=0.3, hspace=0.55)
        (a, b), s, p = st["cell"], st["stride"], st["padding"]
        h, w = st["x"].shape
        cell = np.zeros(st["x"].shape, bool)
        cell[a, b] = True
        blue, orange, green = "tab:blue", "tab:orange", "tab:green"
        viz.grid_diagram(st["x"].shape, ax=fig.add_subplot(gs[0, 0]), highlight=[cell], colors=(blue,),
                         title=f"input: cell ({a}, {b})")
        for m in range(2):
            viz.grid_diagram(st["deltas"][m].shape, ax=fig.add_subplot(gs[0, 1 + 2 * m]), highlight=[st["reach"][m]],
                             colors=(orange,), values=st["deltas"][m], title=f"D{m + 1}: deltas that reach it")
            viz.grid_diagram((self.K, self.K), ax=fig.add_subplot(gs[0, 2 + 2 * m]), highlight=[st["taps"][m]],
                             colors=(green,), values=st["kernels"][m], title=f"K{m + 1}: taps used")
        viz.grid_diagram(st["x"].shape, ax=fig.add_subplot(gs[0, 5]), highlight=[cell], colors=(blue,),
                         values=st["grad_x"].round(4), title=f"dX[{a}, {b}] = {_num(st['value'])}")
        for m in range(2):
            canvas = st["canvases"][m]
            window = np.zeros(canvas.shape, bool)
            window[a + p:a + p + self.K, b + p:b + p + self.K] = True
            viz.grid_diagram(canvas.shape, ax=fig.add_subplot(gs[1, 3 * m:3 * m + 2]), highlight=[window],
                             colors=(blue,), values=canvas, alpha=0.35,
                             title=f"D{m + 1} padded for the full correlation\n(zeros: {self._canvas_words(st)});\n"
                                   f"blue: the window of dX[{a}, {b}]")
            viz.grid_diagram((self.K, self.K), ax=fig.add_subplot(gs[1, 3 * m + 2]), values=st["rotated"][m],
                             highlight=[st["taps"][m][::-1, ::-1]], colors=(green,),
                             title=f"rot180(K{m + 1}):\nmultiplies the window")
        f, (u, v) = st["kernel_map"], st["tap"]
        padded = np.zeros((h + 2 * p, w + 2 * p))
        padded[p:p + h, p:p + w] = st["x"]
        shade = np.ones(padded.shape, bool)
        shade[p:p + h, p:p + w] = False
        read = np.zeros(padded.shape, bool)
        for t in st["tap_terms"]:
            read[t["cell"][0] + p, t["cell"][1] + p] = True
        viz.grid_diagram(padded.shape, ax=fig.add_subplot(gs[2, 0:2]), highlight=[read], colors=(orange,),
                         values=padded, shade=shade,
                         title=("padded input" if p else "input") + f": the cells tap ({u}, {v}) reads")
        viz.grid_diagram(st["deltas"][f].shape, ax=fig.add_subplot(gs[2, 2:4]),
                         highlight=[np.ones(st["deltas"][f].shape, bool)], colors=(orange,), alpha=0.25,
                         values=st["deltas"][f], title=f"D{f + 1}: every delta meets one cell")
        tap = np.zeros((self.K, self.K), bool)
        tap[u, v] = True
        viz.grid_diagram((self.K, self.K), ax=fig.add_subplot(gs[2, 4:6]), highlight=[tap], colors=(green,),
                         values=st["grad_w"][f].round(4), title=f"dK{f + 1}[{u}, {v}] = {_num(st['tap_value'])}")
        fig.suptitle(f"conv of a {h}×{w} input with K1, K2 (2×2), stride {s}, padding {p}", fontsize=12)
        return fig
