"""Notebook 04: the transposed-convolution explorer (input size, kernel, stride,
padding, output_padding, dilation).

ezyang's convolution visualizer shows the forward convolution only, and
Dumoulin & Visin's conv_arithmetic animations show seven fixed transposed
cases (one with output_padding, none dilated). This explorer takes any
setting and shows the scatter of kernel copies with their overlap counts, the
cells that padding crops and output_padding keeps, the size formula with the
numbers filled in, and the forward convolution whose adjoint the layer is.

The plain functions below compute everything (one spatial axis, or square
2-d grids); the explorer only wires them to sliders.
"""
import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from ...functional import arithmetic
from ...functional.conv import conv_transpose2d
from .. import viz
from ._base import Explorer, draw_message, slider


def transposed_sizes(i, k, stride=1, padding=0, output_padding=0, dilation=1):
    """The lengths of one axis of a transposed convolution.

    Returns dict(o, span, canvas, kept): o, the output size (from
    `arithmetic.conv_transpose_output_size`, which raises ValueError for an
    impossible setting); span = (i-1)s + d(k-1) + 1, the cells the kernel
    copies cover before cropping; canvas = max(span, p + o), the cells worth
    drawing (output_padding may reach past the span); kept = (p, p + o), the
    slice of the canvas that is the output: padding crops p cells at the start
    and span - p - o at the end."""
    o = arithmetic.conv_transpose_output_size(i, k, stride, padding, output_padding, dilation)
    span = (i - 1) * stride + dilation * (k - 1) + 1
    return dict(o=o, span=span, canvas=max(span, padding + o), kept=(padding, padding + o))


def scatter_counts(i, k, stride=1, dilation=1, canvas=None):
    """(canvas, canvas) int array: how many kernel copies land on each cell of
    the uncropped scatter of an i x i input (the transposed convolution of ones
    with a ones kernel, no padding), zero past its span. Cropped to the output
    it equals `conv_transpose2d` of ones with the padding and output_padding
    (tested)."""
    counts = conv_transpose2d(np.ones((1, 1, i, i)), np.ones((1, 1, k, k)), stride=stride,
                              dilation=dilation)[0, 0].round().astype(int)
    extra = 0 if canvas is None else canvas - counts.shape[0]
    return np.pad(counts, (0, max(extra, 0)))


def copy_cells(a, b, k, stride=1, dilation=1, canvas=None):
    """Boolean (canvas, canvas) mask: the cells where input pixel (a, b)
    stamps its kernel copy, rows a*s + d*arange(k) times the same columns."""
    rows, cols = a * stride + dilation * np.arange(k), b * stride + dilation * np.arange(k)
    n = canvas or int(max(rows.max(), cols.max()) + 1)
    mask = np.zeros((n, n), dtype=bool)
    mask[np.ix_(rows[rows < n], cols[cols < n])] = True
    return mask


def forward_conv(i, k, stride=1, padding=0, output_padding=0, dilation=1):
    """The convolution whose adjoint this transposed convolution is: conv2d
    with the same kernel_size, stride, padding and dilation, applied to an
    input of the transposed output's size o. Returns dict(args, o, back),
    back = that convolution's output size, which is i whenever output_padding
    < stride (with output_padding >= stride, allowed because it is below the
    dilation, it is i + output_padding // stride: the extra cells are ones no
    input of size i reaches)."""
    o = transposed_sizes(i, k, stride, padding, output_padding, dilation)["o"]
    args = dict(kernel_size=k, stride=stride, padding=padding, dilation=dilation)
    return dict(args=args, o=o, back=arithmetic.conv_output_size(o, k, stride, padding, dilation))


def formula(i, k, stride=1, padding=0, output_padding=0, dilation=1):
    """The output-size formula with the numbers filled in, e.g.
    'o = (3−1)·2 − 2·1 + 1·(3−1) + 0 + 1 = 5'."""
    o = transposed_sizes(i, k, stride, padding, output_padding, dilation)["o"]
    return (f"o = ({i}−1)·{stride} − 2·{padding} + {dilation}·({k}−1) + {output_padding} + 1 = {o}")


def impossible(i, k, stride=1, padding=0, output_padding=0, dilation=1):
    """None for a possible setting, else a sentence that says why it is impossible
    (the same settings `arithmetic.conv_transpose_output_size` refuses)."""
    if output_padding >= max(stride, dilation):
        sizes = "only one input size" if stride == 1 else f"{stride} input sizes"
        return (f"output_padding={output_padding} must be smaller than the stride ({stride}) or the dilation "
                f"({dilation}). It picks which input size to restore, and a stride-{stride} convolution maps "
                f"{sizes} to each output size.")
    span = (i - 1) * stride + dilation * (k - 1) + 1
    if span - 2 * padding + output_padding < 1:
        return (f"padding={padding} crops {2 * padding} cells from the {span} cells the kernel copies cover "
                f"(+ output_padding {output_padding}): the output size would be "
                f"{span - 2 * padding + output_padding}, less than 1.")
    return None


class TransposedConvExplorer(Explorer):
    """Input size, kernel, stride, padding, output_padding and dilation -> the
    scatter of kernel copies with overlap counts, the cropped border, the
    output-size formula and the forward convolution it is the adjoint of."""

    def __init__(self, size=3, kernel_size=3, stride=2, padding=1, output_padding=0, dilation=1):
        self.size, self.kernel_size = slider("input i", size, 1, 5), slider("kernel k", kernel_size, 1, 4)
        self.stride, self.padding = slider("stride s", stride, 1, 3), slider("padding p", padding, 0, 4)
        self.output_padding = slider("output_padding", output_padding, 0, 3)
        self.dilation = slider("dilation d", dilation, 1, 3)
        controls = [self.size, self.kernel_size, self.stride, self.padding, self.output_padding, self.dilation]
        self._wire(controls, W.HBox([W.VBox(controls[:3]), W.VBox(controls[3:])]))

    def params(self):
        """The setting as (i, k, s, p, output_padding, d)."""
        return (self.size.value, self.kernel_size.value, self.stride.value, self.padding.value,
                self.output_padding.value, self.dilation.value)

    def state(self):
        """Everything drawn, as data: valid, message, params; when valid also
        sizes (transposed_sizes), counts (scatter_counts over the canvas),
        output_counts (the kept part), copies (masks of the copies of input
        pixels (0, 0) and (0, 1)), formula, forward (forward_conv)."""
        pr = self.params()
        why = impossible(*pr)
        if why is not None:
            return dict(valid=False, params=pr, message=f"<b>Impossible setting:</b> {why}")
        i, k, s, p, op, d = pr
        sizes = transposed_sizes(*pr)
        n, (lo, hi) = sizes["canvas"], sizes["kept"]
        counts = scatter_counts(i, k, s, d, n)
        out = counts[lo:hi, lo:hi]
        copies = [copy_cells(0, b, k, s, d, n) for b in range(min(i, 2))]
        fwd, form = forward_conv(*pr), formula(*pr)
        args = ", ".join(f"{name}={v}" for name, v in fwd["args"].items())
        o = sizes["o"]
        lines = [f"transposed conv: input {i}×{i} → output {o}×{o}", form,
                 f"scatter: {i}×{i} copies of the {k}×{k} kernel cover {sizes['span']}×{sizes['span']} cells; "
                 + (f"padding crops {p} from each side (hatched)" if p else "no padding: nothing is cropped")
                 + (f"; output_padding adds {op} row(s) and column(s) at the bottom/right (green)" if op else ""),
                 f"kernel copies per output cell: {out.min()} to {out.max()}",
                 f"the adjoint of conv2d({args}), which maps {o}×{o} back to "
                 f"{fwd['back']}×{fwd['back']}"]
        if fwd["back"] != i:
            lines[-1] += (f", not {i}×{i}: output_padding {op} ≥ stride {s} adds cells that no input of size {i} "
                          f"reaches (allowed only because it is below the dilation {d})")
        return dict(valid=True, params=pr, sizes=sizes, counts=counts, output_counts=out, copies=copies,
                    formula=form, forward=fwd, message="\n".join(lines))

    def draw(self, st):
        """Figure: the input grid (two pixels coloured) and the uncropped
        scatter with overlap counts, their copies outlined, the cropped border
        hatched and the output boxed. An impossible setting shows its message only."""
        fig, (a0, a1) = plt.subplots(1, 2, figsize=(9, 4.6), gridspec_kw=dict(width_ratios=[1, 2.4]))
        if not st["valid"]:
            draw_message((a0, a1), st["message"])
            return fig
        i, k, s, p, op, d = st["params"]
        colors = ("tab:blue", "tab:orange")
        viz.grid_diagram((i, i), ax=a0, highlight=[[(0, b)] for b in range(len(st["copies"]))], colors=colors,
                         title=f"input {i}×{i}\nthe copies of the coloured\npixels are outlined")
        counts, n, (lo, hi) = st["counts"], st["sizes"]["canvas"], st["sizes"]["kept"]
        a1.imshow(counts, cmap=viz.COUNT_CMAP, vmin=0, vmax=max(counts.max(), 1))
        if n <= 16:
            for (r, c), v in np.ndenumerate(counts):
                a1.text(c, r, str(v), ha="center", va="center", fontsize=7, color="white" if v < 0.5 * counts.max()
                        else "black")
        for r in range(n):
            for c in range(n):
                if not (lo <= r < hi and lo <= c < hi):
                    a1.add_patch(Rectangle((c - .5, r - .5), 1, 1, facecolor="white", alpha=0.55, hatch="//",
                                           edgecolor="0.5", lw=0))
        for mask, color, half in zip(st["copies"], colors, (.42, .3)):  # nested squares: both show where they meet
            for r, c in zip(*np.nonzero(mask)):
                a1.add_patch(Rectangle((c - half, r - half), 2 * half, 2 * half, fill=False, edgecolor=color, lw=1.6))
        if op:
            for r0, c0, h, w in ((hi - op, lo, op, hi - lo), (lo, hi - op, hi - lo, op)):
                a1.add_patch(Rectangle((c0 - .5, r0 - .5), w, h, fill=False, edgecolor="tab:green", lw=1.5, ls="--"))
        a1.add_patch(Rectangle((lo - .5, lo - .5), hi - lo, hi - lo, fill=False, edgecolor="tab:red", lw=2))
        a1.set(xticks=[], yticks=[], xlim=(-.5, n - .5), ylim=(n - .5, -.5),
               title=f"kernel copies per cell; output {hi - lo}×{hi - lo} boxed red, cropped cells hatched")
        a1.title.set_fontsize(9)
        fig.suptitle(st["formula"], fontsize=11)
        fig.tight_layout()
        return fig
