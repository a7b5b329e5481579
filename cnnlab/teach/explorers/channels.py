"""Notebook 03: the channels explorer (multi-channel, grouped and depthwise convolution as tensors).

The plain functions first (tested headless, usable without widgets), then
the explorer that draws them: which input channels each output channel reads
(a connection diagram) and the weight as a (C_out, C_in) grid of k x k
kernels, with the blocks a grouped convolution never stores greyed out.
"""
import math

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from ...functional import arithmetic
from .. import viz
from ._base import Explorer, draw_message, slider


def allowed_groups(c_in, c_out):
    """The group counts a conv from c_in to c_out channels accepts: the common divisors.

    >>> allowed_groups(8, 12)
    [1, 2, 4]
    """
    common = math.gcd(c_in, c_out)
    return [g for g in range(1, common + 1) if common % g == 0]


def groups_problem(c_in, c_out, groups):
    """None if `groups` is valid for c_in -> c_out channels, else a sentence saying why not."""
    if groups in allowed_groups(c_in, c_out):
        return None
    options = ", ".join(str(g) for g in allowed_groups(c_in, c_out))
    return (f"groups = {groups} must divide both C_in = {c_in} and C_out = {c_out} (each group gets "
            f"C_in/groups input and C_out/groups output channels). Allowed here: {options}.")


def connection_mask(c_in, c_out, groups):
    """(C_out, C_in) booleans: mask[o, c] is True when output channel o reads input channel c.

    Output channel o belongs to group o // (C_out/groups) and reads exactly the
    C_in/groups input channels of that group.

    >>> connection_mask(4, 2, 2).astype(int)
    array([[1, 1, 0, 0],
           [0, 0, 1, 1]])
    """
    problem = groups_problem(c_in, c_out, groups)
    if problem:
        raise ValueError(problem)
    group_of_out = np.arange(c_out) // (c_out // groups)
    group_of_in = np.arange(c_in) // (c_in // groups)
    return group_of_out[:, None] == group_of_in[None, :]


def grouped_weight_shape(c_in, c_out, groups, k):
    """The weight shape of `conv2d(..., groups=groups)` (and PyTorch): (C_out, C_in/groups, k, k)."""
    problem = groups_problem(c_in, c_out, groups)
    if problem:
        raise ValueError(problem)
    return (c_out, c_in // groups, k, k)


def dense_weight(weight, groups):
    """A grouped weight (C_out, C_in/groups, kH, kW) written as the ordinary
    (C_out, C_in, kH, kW) weight it stands for: the kernels of output channel o
    sit in the input channels of o's group, every other block is zero. So
    `conv2d(x, weight, groups=g) == conv2d(x, dense_weight(weight, g))`."""
    weight = np.asarray(weight)
    c_out, per_group = weight.shape[:2]
    c_in = per_group * groups
    dense = np.zeros((c_out, c_in, *weight.shape[2:]), dtype=weight.dtype)
    outs = c_out // groups
    for g in range(groups):
        dense[g * outs:(g + 1) * outs, g * per_group:(g + 1) * per_group] = weight[g * outs:(g + 1) * outs]
    return dense


def channel_counts(c_in, c_out, groups, k, size):
    """Weights, biases, parameters and multiply-adds of a k x k conv (stride 1,
    no padding, with bias) on a size x size input, from `cnnlab.arithmetic`.
    Returns a dict: out_size, weights, biases, parameters (weights + biases),
    macs (multiply-adds, the bias additions not counted) and the same for
    groups = 1 (dense_parameters, dense_macs)."""
    o = arithmetic.conv_output_size(size, k)
    kernel, out = (k, k), (o, o)
    return dict(out_size=o,
                weights=arithmetic.conv_params(c_in, c_out, kernel, groups, bias=False),
                biases=c_out,
                parameters=arithmetic.conv_params(c_in, c_out, kernel, groups),
                macs=arithmetic.conv_connections(c_in, c_out, kernel, out, groups, bias=False),
                dense_parameters=arithmetic.conv_params(c_in, c_out, kernel),
                dense_macs=arithmetic.conv_connections(c_in, c_out, kernel, out, bias=False))


def _group_colors(groups):
    cmap = plt.get_cmap("tab10" if groups <= 10 else "tab20")
    return [cmap(g % cmap.N) for g in range(groups)]


class ChannelsExplorer(Explorer):
    """C_in, C_out, groups, kernel size and input size -> which input channels
    each output channel reads (connection diagram), the weight as a (C_out,
    C_in) grid of k x k kernels (zero blocks grey), PyTorch's weight shape and
    the parameter and multiply-add counts. groups == C_in is depthwise; a
    groups value that does not divide both channel counts gets a message."""

    def __init__(self, in_channels=8, out_channels=16, groups=4, kernel_size=3, size=32):
        self.c_in, self.c_out = slider("C_in", in_channels, 1, 16), slider("C_out", out_channels, 1, 16)
        self.groups = slider("groups", groups, 1, 16)
        self.kernel_size, self.size = slider("kernel k", kernel_size, 1, 7), slider("input size", size, 8, 64)
        controls = [self.c_in, self.c_out, self.groups, self.kernel_size, self.size]
        self._wire(controls, W.HBox([W.VBox(controls[:3]), W.VBox(controls[3:])]))

    def state(self):
        """Everything drawn, as data: valid, message, params (the control
        values); when valid also mask (C_out, C_in), weight_shape, weight (a
        seeded grouped weight of that shape), dense (it as (C_out, C_in, k, k)),
        depthwise, and the counts of `channel_counts`."""
        c_in, c_out, g = self.c_in.value, self.c_out.value, self.groups.value
        k, size = self.kernel_size.value, self.size.value
        params = dict(c_in=c_in, c_out=c_out, groups=g, k=k, size=size)
        problem = groups_problem(c_in, c_out, g)
        if problem:
            return dict(valid=False, message=f"<b>Invalid setting:</b> {problem}", params=params)
        shape = grouped_weight_shape(c_in, c_out, g, k)
        weight = np.random.default_rng(0).standard_normal(shape)
        counts = channel_counts(c_in, c_out, g, k, size)
        depthwise = g == c_in and g > 1
        kind = "standard convolution" if g == 1 else f"grouped convolution, {g} groups"
        if depthwise:
            kind = "depthwise convolution (groups = C_in)" + (
                f", depth multiplier {c_out // c_in}" if c_out > c_in else "")
        o = counts["out_size"]
        lines = [f"{kind}: each output channel reads {c_in // g} of the {c_in} input channels",
                 f"PyTorch weight shape (C_out, C_in/groups, kH, kW) = {shape}",
                 f"parameters: {counts['weights']:,} weights + {counts['biases']} biases = {counts['parameters']:,}",
                 f"multiply-adds on a {size}×{size} input (output {o}×{o}): {counts['macs']:,}"]
        if g > 1:
            lines.append(f"with groups = 1: {counts['dense_parameters']:,} parameters, "
                         f"{counts['dense_macs']:,} multiply-adds (the weights are {g}× fewer)")
        return dict(valid=True, message="\n".join(lines), params=params, mask=connection_mask(c_in, c_out, g),
                    weight_shape=shape, weight=weight, dense=dense_weight(weight, g), depthwise=depthwise,
                    **counts)

    def draw(self, st):
        """Figure: connection diagram (left) and the dense weight grid (right)."""
        fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 4.8), gridspec_kw=dict(width_ratios=[2, 3]))
        if not st["valid"]:
            draw_message((a0, a1), st["message"])
            return fig
        p = st["params"]
        self._draw_connections(a0, st["mask"], p["groups"])
        self._draw_weight(a1, st["dense"], st["mask"], p["groups"])
        fig.suptitle(f"groups = {p['groups']}: weight {st['weight_shape']}, {st['parameters']:,} parameters, "
                     f"{st['macs']:,} multiply-adds on {p['size']}×{p['size']}", fontsize=11)
        fig.tight_layout()
        return fig

    @staticmethod
    def _draw_connections(ax, mask, groups):
        c_out, c_in = mask.shape
        colors = _group_colors(groups)
        def ys(n):  # n nodes spread over the same height, top to bottom
            return np.linspace(1, 0, n) if n > 1 else np.array([0.5])
        y_in, y_out = ys(c_in), ys(c_out)
        per_out = c_out // groups
        for o, c in zip(*np.nonzero(mask)):
            ax.plot([0, 1], [y_in[c], y_out[o]], color=colors[o // per_out], lw=1, alpha=0.7)
        per_in = c_in // groups
        ax.scatter(np.zeros(c_in), y_in, s=40, zorder=3, edgecolor="k",
                   color=[colors[c // per_in] for c in range(c_in)])
        ax.scatter(np.ones(c_out), y_out, s=40, zorder=3, edgecolor="k",
                   color=[colors[o // per_out] for o in range(c_out)])
        for c in range(c_in):
            ax.text(-0.06, y_in[c], str(c), ha="right", va="center", fontsize=7)
        for o in range(c_out):
            ax.text(1.06, y_out[o], str(o), ha="left", va="center", fontsize=7)
        ax.text(0, 1.08, "input\nchannels", ha="center", va="bottom", fontsize=9)
        ax.text(1, 1.08, "output\nchannels", ha="center", va="bottom", fontsize=9)
        ax.set(xlim=(-0.3, 1.3), ylim=(-0.08, 1.25))
        ax.axis("off")
        ax.set_title("which inputs each output reads (colour: group)", fontsize=10)

    @staticmethod
    def _draw_weight(ax, dense, mask, groups):
        c_out, c_in, k, _ = dense.shape
        grid = dense.transpose(0, 2, 1, 3).reshape(c_out * k, c_in * k)       # block (o, c) is kernel W[o, c]
        unused = np.repeat(np.repeat(~mask, k, axis=0), k, axis=1)
        cmap = plt.get_cmap(viz.SIGNED_CMAP).with_extremes(bad="0.82")
        bound = np.abs(dense).max() or 1.0
        ax.imshow(np.ma.masked_array(grid, unused), cmap=cmap, vmin=-bound, vmax=bound,
                  extent=(0, c_in * k, c_out * k, 0), interpolation="nearest")
        for c in range(c_in + 1):
            ax.axvline(c * k, color="white", lw=1.2 if k > 1 else 0.6)
        for o in range(c_out + 1):
            ax.axhline(o * k, color="white", lw=1.2 if k > 1 else 0.6)
        per_in, per_out = c_in // groups, c_out // groups
        for g, color in enumerate(_group_colors(groups)):
            ax.add_patch(Rectangle((g * per_in * k, g * per_out * k), per_in * k, per_out * k, fill=False,
                                   edgecolor=color, lw=2.2))
        ax.set_xticks((np.arange(c_in) + 0.5) * k, [str(c) for c in range(c_in)], fontsize=7)
        ax.set_yticks((np.arange(c_out) + 0.5) * k, [str(o) for o in range(c_out)], fontsize=7)
        ax.set(xlabel="input channel c", ylabel="output channel o")
        ax.set_title(f"weight as a ({c_out}, {c_in}) grid of {k}×{k} kernels W[o, c]\n"
                     "grey: zero blocks, never stored", fontsize=10)
