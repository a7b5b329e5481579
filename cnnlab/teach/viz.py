"""Plotting helpers shared by the notebooks and the widgets (matplotlib).

Conventions: images and feature maps use `IMAGE_CMAP` (grey); signed
quantities (kernels, gradients, filter responses) use `SIGNED_CMAP` centred
on zero so that white means 0; counts use `COUNT_CMAP`. Every helper draws
into a given Axes when one is passed and returns what it drew.
"""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

IMAGE_CMAP = "gray"
SIGNED_CMAP = "RdBu_r"
COUNT_CMAP = "viridis"


def _axes(ax, figsize=(4, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def heatmap(values, ax=None, title=None, cmap=None, signed=None, colorbar=True, annotate=False, fmt="{:g}"):
    """Show a 2-D array as an image with a colourbar.

    signed=None picks a zero-centred diverging map when the array has both
    signs. annotate=True writes each value in its cell (small arrays)."""
    values = np.asarray(values)
    ax = _axes(ax)
    if signed is None:
        signed = values.min() < 0 < values.max()
    kwargs = {}
    if signed:
        bound = np.abs(values).max() or 1.0
        kwargs = dict(vmin=-bound, vmax=bound)
    im = ax.imshow(values, cmap=cmap or (SIGNED_CMAP if signed else IMAGE_CMAP), **kwargs)
    if annotate:
        for (r, c), v in np.ndenumerate(values):
            red, green, blue, _ = im.cmap(im.norm(v))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # text contrasts with the cell colour
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return im


def image_grid(images, titles=None, ncols=8, cmap=IMAGE_CMAP, size=1.6, suptitle=None, signed=False):
    """Show a stack of 2-D images (K, H, W) in a grid; returns the Figure."""
    images = np.asarray(images)
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            img = images[i]
            if signed:
                bound = np.abs(img).max() or 1.0
                ax.imshow(img, cmap=SIGNED_CMAP, vmin=-bound, vmax=bound)
            else:
                ax.imshow(img, cmap=cmap)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def kernel_grid(weight, ncols=8, suptitle=None, size=1.2):
    """Show conv weights (C_out, C_in, kH, kW) as a grid of kernels, one row per
    output channel's first input channel when C_in > 1 (signed colours)."""
    weight = np.asarray(weight)
    kernels = weight[:, 0] if weight.ndim == 4 else weight
    return image_grid(kernels, titles=[f"#{i}" for i in range(len(kernels))], ncols=ncols,
                      suptitle=suptitle, signed=True, size=size)


def grid_diagram(shape, ax=None, highlight=(), colors=("tab:orange",), values=None, shade=None,
                 title=None, alpha=0.55, fmt="{:g}"):
    """Draw a (rows, cols) grid of cells, as in convolution-arithmetic figures.

    highlight: a sequence of cell sets, each a boolean mask or a list of
    (row, col) pairs, filled with the matching colour of `colors`.
    values: optional array written into the cells. shade: optional boolean
    mask drawn hatched in grey (e.g. padding). Returns the Axes."""
    rows, cols = shape
    ax = _axes(ax, figsize=(0.45 * cols + 0.5, 0.45 * rows + 0.5))
    if shade is not None:
        for r, c in zip(*np.nonzero(shade)):
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor="0.88", edgecolor="none", hatch="//"))
    for cells, color in zip(highlight, colors * len(highlight)):
        cells = np.asarray(cells)
        pairs = zip(*np.nonzero(cells)) if cells.dtype == bool else (tuple(rc) for rc in cells)
        for r, c in pairs:
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor=color, edgecolor="none", alpha=alpha))
    for r in range(rows + 1):
        ax.plot([0, cols], [r, r], color="0.3", lw=0.8)
    for c in range(cols + 1):
        ax.plot([c, c], [0, rows], color="0.3", lw=0.8)
    if values is not None:
        for (r, c), v in np.ndenumerate(np.asarray(values)):
            ax.text(c + 0.5, r + 0.5, fmt.format(v), ha="center", va="center", fontsize=8)
    ax.set_xlim(-0.05, cols + 0.05)
    ax.set_ylim(rows + 0.05, -0.05)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax
