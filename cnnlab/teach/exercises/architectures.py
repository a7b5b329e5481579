"""Notebook 09: batch normalisation in training mode, max unpooling, and the
weight count of an Inception module."""
import numpy as np

from ...functional import norm as N
from ...functional import pool as P
from ...nn import specs
from ...nn.blocks import BatchNorm2d, MaxUnpool2d
from ._core import SEED, Exercise, Mistake, check, size_reader

# --- batch norm, training mode ---------------------------------------------------------------


def batch_norm_forward_cases(rng=None):
    """(x, gamma, beta, eps) tuples: x (N, C, H, W), gamma and beta (C,)."""
    rng = np.random.default_rng(SEED + 90) if rng is None else rng
    specs_ = [((4, 3, 2, 3), 1e-5),     # W == C: gamma broadcast along W does not fail, it is wrong
              ((2, 2, 3, 4), 0.5),      # a large eps: forgetting it shows
              ((1, 3, 4, 3), 1e-5),     # one image: the statistics are over H and W only
              ((5, 1, 2, 3), 0.1),      # one channel
              ((3, 4, 1, 1), 1e-3)]     # 1x1 maps: the statistics are over the batch only
    cases = []
    for shape, eps in specs_:
        c = shape[1]
        x = rng.normal(rng.uniform(-2, 2, (1, c, 1, 1)), rng.uniform(0.5, 3, (1, c, 1, 1)), shape)
        cases.append((x, rng.uniform(0.5, 2, c).round(2), rng.normal(0, 1, c).round(2), eps))
    return cases


def _bn(x, gamma, beta, eps, axes=(0, 2, 3), ddof=0, sqrt_of_var=True, beta_first=False, last_axis=False):
    """Batch norm in training mode, or what a slip gives."""
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=ddof)
    x_hat = (x - mean) / (np.sqrt(var + eps) if sqrt_of_var else np.sqrt(var) + eps)
    g, b = (gamma, beta) if last_axis else (gamma[:, None, None], beta[:, None, None])
    return (x_hat + b) * g if beta_first else x_hat * g + b


def check_batch_norm_forward(fn):
    """Check `fn(x, gamma, beta, eps) -> out`: batch normalisation in training
    mode. x (N, C, H, W); gamma, beta (C,) -> out (N, C, H, W) with, per
    channel c, the mean and the (biased) variance of x[:, c] over N, H and W:
    out = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c]. Notebook 09, section 2.
    """
    return check(fn, Exercise(
        cases=batch_norm_forward_cases(), expected=_bn,
        label=lambda x, g, b, eps: f"x {x.shape}, eps {eps}",
        shape_hint="out has x's shape (N, C, H, W).",
        value_hint="mean = x.mean(axis=(0, 2, 3), keepdims=True), var = x.var(axis=(0, 2, 3), keepdims=True), "
                   "then (x - mean) / np.sqrt(var + eps) * gamma[:, None, None] + beta[:, None, None].",
        oracle="cnnlab.batch_norm2d(..., training=True)",
        mistakes=[
            Mistake(lambda x, g, b, eps: _bn(x, g, b, eps, ddof=1),
                    "you normalised with the unbiased variance (ddof=1). Hint: the batch is normalised with its own "
                    "biased variance (ddof=0); n/(n-1) enters only the running estimate."),
            Mistake(lambda x, g, b, eps: _bn(x, g, b, eps, axes=(1, 2, 3)),
                    "you took the statistics of each image over all its channels (that is layer normalisation). "
                    "Hint: batch norm keeps one mean and variance per channel, over axes (0, 2, 3)."),
            Mistake(lambda x, g, b, eps: _bn(x, g, b, eps, axes=(2, 3)),
                    "you took the statistics of each image and channel separately (instance normalisation). Hint: "
                    "batch norm pools the whole batch: axes (0, 2, 3)."),
            Mistake(lambda x, g, b, eps: _bn(x, g, b, eps, axes=(0,)),
                    "you normalised every pixel position over the batch alone. Hint: a channel's statistics are over "
                    "the batch and all positions, axes (0, 2, 3)."),
            Mistake(lambda x, g, b, eps: _bn(x, g, b, 0.0),
                    "you left out eps. Hint: divide by np.sqrt(var + eps)."),
            Mistake(lambda x, g, b, eps: _bn(x, g, b, eps, sqrt_of_var=False),
                    "you divided by std + eps. Hint: eps goes under the square root, np.sqrt(var + eps)."),
            Mistake(lambda x, g, b, eps: _bn(x, g, b, eps, beta_first=True),
                    "you added beta before scaling by gamma. Hint: out = x_hat * gamma + beta."),
            Mistake(lambda x, g, b, eps: _bn(x, g, b, eps, last_axis=True) if x.shape[3] == x.shape[1] else None,
                    "gamma and beta were broadcast along the last axis (W). Hint: index them per channel, "
                    "gamma[:, None, None]."),
        ],
        forbidden=[(N.batch_norm2d, "cnnlab.batch_norm2d"), (BatchNorm2d.forward, "cnnlab.nn.blocks.BatchNorm2d")]))


# --- max unpooling ---------------------------------------------------------------------------

def max_unpool_cases(rng=None):
    """(x, indices, size) tuples: x and indices (N, C, h, w) from a max pooling
    of an (N, C, H, W) map, indices flat into each H*W plane; size = (H, W)."""
    rng = np.random.default_rng(SEED + 91) if rng is None else rng
    specs_ = [((1, 1, 4, 4), 2, 2),     # the notebook's example
              ((2, 3, 4, 6), 2, 2),     # a batch, non-square maps
              ((1, 2, 6, 4), 3, 3),     # 3x3 windows
              ((2, 1, 5, 5), 2, 2),     # floor mode: the last row and column were never pooled
              ((1, 2, 6, 6), 3, 3)]
    cases = []
    for shape, k, s in specs_:
        m = rng.permutation(int(np.prod(shape))).reshape(shape).astype(float) + 1
        pooled, idx = P.max_pool2d(m, k, s, return_indices=True)
        cases.append((pooled, idx, shape[2:]))
    return cases


def _unpool(x, idx, size, mode="right"):
    n, c = x.shape[:2]
    h, w = size
    out = np.zeros((n, c, h, w))
    flat, vals = idx.reshape(n * c, -1), x.reshape(n * c, -1)
    if mode == "swapped":      # row and column from the wrong division
        rows, cols = flat % h, flat // h
        if rows.max() >= h or cols.max() >= w:
            return None
        for p in range(n * c):
            out.reshape(n * c, h, w)[p, rows[p], cols[p]] = vals[p]
        return out
    if mode == "global":       # flat indices into the whole array, not per plane
        out.reshape(-1)[flat.reshape(-1)] = vals.reshape(-1)
        return out
    np.put_along_axis(out.reshape(n * c, h * w), flat, vals, axis=1)
    return out


def _upsampled(x, idx, size):
    """The pooled values copied to their whole window (nearest upsampling)."""
    h, w = size
    k = h // x.shape[2]
    out = np.zeros((*x.shape[:2], h, w))
    out[:, :, :x.shape[2] * k, :x.shape[3] * k] = x.repeat(k, axis=2).repeat(k, axis=3)
    return out


def _top_left(x, idx, size):
    h, w = size
    k = h // x.shape[2]
    out = np.zeros((*x.shape[:2], h, w))
    out[:, :, :x.shape[2] * k:k, :x.shape[3] * k:k] = x
    return out


def check_max_unpool(fn):
    """Check `fn(x, indices, size) -> out`: max unpooling (DeconvNet). x and
    indices (N, C, h, w), indices[n, c, i, j] the flat position in the
    H x W plane that pooled value x[n, c, i, j] came from (what
    `max_pool2d(..., return_indices=True)` returns); size = (H, W). out is
    (N, C, H, W), zero except out[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j].
    Notebook 09, section 4.
    """
    return check(fn, Exercise(
        cases=max_unpool_cases(), expected=_unpool,
        label=lambda x, idx, size: f"x {x.shape}, output size {tuple(size)}",
        shape_hint="out is (N, C, H, W) with (H, W) = size: the size of the map that was pooled.",
        value_hint="per plane (n, c): row = index // W, column = index % W; every other cell stays 0.",
        oracle="cnnlab.max_unpool2d",
        mistakes=[
            Mistake(_upsampled, "you copied each value to its whole window (nearest upsampling). Hint: unpooling "
                                "puts it only where the maximum was, at its index; the rest of the window is 0."),
            Mistake(_top_left, "you put every value at the top-left corner of its window. Hint: use the indices: "
                               "they say where in the window the maximum was."),
            Mistake(lambda x, idx, size: _unpool(x, idx, size, "swapped"),
                    "rows and columns are swapped. Hint: a flat index into an H x W plane is row * W + column, so "
                    "row = index // W and column = index % W."),
            Mistake(lambda x, idx, size: _unpool(x, idx, size, "global"),
                    "you used the indices as positions in the whole (N, C, H, W) array. Hint: they count within each "
                    "H x W plane; handle each (n, c) plane separately (or add the offset (n * C + c) * H * W)."),
        ],
        forbidden=[(P.max_unpool2d, "cnnlab.max_unpool2d"), (MaxUnpool2d.forward, "cnnlab.nn.blocks.MaxUnpool2d")]))


# --- the weights of an Inception module ---------------------------------------------------------

def inception_params_cases(rng=None):
    """(c_in, c1, c3r, c3, c5r, c5, pool_proj) tuples: GoogLeNet's Table 1 and random modules."""
    rng = np.random.default_rng(SEED + 92) if rng is None else rng
    cases = [(192, 64, 96, 128, 16, 32, 32),     # 3a
             (256, 128, 128, 192, 32, 96, 64),   # 3b
             (832, 384, 192, 384, 48, 128, 128),  # 5b
             (3, 1, 1, 1, 1, 1, 1)]
    return cases + [tuple(int(v) for v in rng.integers(1, 65, 7)) for _ in range(2)]


def _inception(c_in, c1, c3r, c3, c5r, c5, pp):
    total = specs.totals(specs.summary((c_in, 8, 8), [specs.inception(c1, c3r, c3, c5r, c5, pp)]))
    return total.params, total.shape[0]


def check_inception_params(fn):
    """Check `fn(c_in, c1, c3r, c3, c5r, c5, pool_proj) -> (weights, maps)`:
    the number of weights (no biases) of a GoogLeNet Inception module with
    1x1 reductions, and the number of maps it outputs. Branches: a 1x1
    convolution to c1 maps; a 1x1 reduction to c3r maps, then 3x3 to c3; a
    1x1 reduction to c5r, then 5x5 to c5; 3x3 max pooling (stride 1), then a
    1x1 projection to pool_proj maps. The outputs are concatenated.
    Notebook 09, section 1.
    """
    return check(fn, Exercise(
        cases=inception_params_cases(), expected=_inception, read=size_reader("weights", "maps"),
        label=lambda *a: "c_in={}, c1={}, c3r={}, c3={}, c5r={}, c5={}, pool_proj={}".format(*a),
        outputs=("weights", "maps"), shape_hint="return two ints.",
        value_hint="a k x k convolution from a to b maps has a * b * k * k weights; add the six convolutions; "
                   "the maps are c1 + c3 + c5 + pool_proj.",
        oracle="cnnlab.nn.specs.inception",
        mistakes=[
            Mistake(lambda ci, c1, c3r, c3, c5r, c5, pp: (_inception(ci, c1, c3r, c3, c5r, c5, pp)[0] - ci * pp, None),
                    "you left out the pooling branch's 1x1 projection (c_in * pool_proj weights), as the CNN Q&A "
                    "chapter does. Hint: max pooling has no weights, but the 1x1 convolution after it has."),
            Mistake(lambda ci, c1, c3r, c3, c5r, c5, pp: (ci * c1 + ci * c3 * 9 + ci * c5 * 25, None),
                    "you counted the naive module, without the 1x1 reductions. Hint: the 3x3 and 5x5 convolutions "
                    "see c3r and c5r maps, not c_in; add the reductions' c_in * c3r and c_in * c5r weights."),
            Mistake(lambda ci, c1, c3r, c3, c5r, c5, pp: (_inception(ci, c1, c3r, c3, c5r, c5, pp)[0]
                                                          + c1 + c3r + c3 + c5r + c5 + pp, None),
                    "you counted the biases. Hint: count the weights only (the papers' convention)."),
            Mistake(lambda ci, c1, c3r, c3, c5r, c5, pp: (None, c1 + c3 + c5 + ci),
                    "your map count passes the pooled input through (the naive module's c_in maps). Hint: the 1x1 "
                    "projection after the pooling outputs pool_proj maps."),
            Mistake(lambda ci, c1, c3r, c3, c5r, c5, pp: (None, c1 + c3r + c3 + c5r + c5 + pp),
                    "your map count includes the reductions. Hint: only the last layer of each branch is "
                    "concatenated: c1 + c3 + c5 + pool_proj."),
            Mistake(lambda ci, c1, c3r, c3, c5r, c5, pp: (ci * c1 + ci * c3r * 9 + c3r * c3 * 9 + ci * c5r * 25
                                                          + c5r * c5 * 25 + ci * pp, None),
                    "you gave the 1x1 reductions the k x k size of the convolution after them. Hint: a 1x1 "
                    "convolution from a to b maps has a * b weights."),
        ],
        forbidden=[(specs.inception, "cnnlab.nn.specs.inception"), (specs.summary, "cnnlab.nn.specs.summary")]))
