"""Notebook 06: LeNet-5's trainable subsampling (S2, S4) and the sparse C3 layer's counts."""
import numpy as np

from ... import reference
from ...functional import arithmetic as A
from ...functional import pool as F
from ...nn.layers import SparseConv2d, Subsample2d
from ...nn.models import C3_TABLE
from ._core import SEED, Exercise, Mistake, check, gradient_check, size_reader

# --- trainable subsampling --------------------------------------------------------------


def _subsample_specs(rng):
    return [((1, 1, 4, 4), 2),    # one map, weight 1, bias 0 in the forward cases: plain window sums
            ((2, 3, 6, 6), 2),    # three maps (as many as output columns: weight must broadcast over H, W)
            ((1, 2, 5, 7), 2),    # sides not divisible by k: the last row and column are dropped
            ((1, 2, 6, 9), 3),
            ((int(rng.integers(1, 4)), 4, 8, 6), 2)]


def subsample2d_forward_cases(rng=None):
    """(x, weight, bias, k) tuples: x (N, C, H, W), weight and bias (C,)."""
    rng = np.random.default_rng(SEED + 60) if rng is None else rng
    cases = []
    for n, (shape, k) in enumerate(_subsample_specs(rng)):
        c = shape[1]
        weight = np.ones(c) if n == 0 else rng.integers(1, 4, c) * rng.choice([-1.0, 1.0], c)
        bias = np.zeros(c) if n == 0 else rng.integers(1, 4, c) * rng.choice([-1.0, 1.0], c)
        cases.append((rng.integers(-3, 4, shape).astype(float), weight.astype(float), bias.astype(float), k))
    return cases


def _window_sums(x, k):
    return reference.avg_pool2d(x, k) * (k * k)


def _per_map(v):
    return np.asarray(v)[:, None, None]


def _subsample(x, weight, bias, k):
    return _window_sums(x, k) * _per_map(weight) + _per_map(bias)


def check_subsample2d_forward(fn):
    """Check `fn(x, weight, bias, k) -> out`: LeNet-5's trainable subsampling.

    x (N, C, H, W), weight (C,), bias (C,), k an int -> out (N, C, H // k, W // k):
    the sum of each non-overlapping k x k window of map c (stride k; leftover
    rows and columns are dropped), times weight[c], plus bias[c].
    Notebook 06, section 2.
    """
    return check(fn, Exercise(
        cases=subsample2d_forward_cases(), expected=_subsample,
        label=lambda x, w, b, k: f"x {x.shape}, k {k}",
        shape_hint="out is (N, C, H // k, W // k): the windows do not overlap and a partial window is dropped.",
        value_hint="out[n, c, i, j] = weight[c] * x[n, c, i*k:(i+1)*k, j*k:(j+1)*k].sum() + bias[c].",
        oracle="cnnlab.nn.layers.Subsample2d's formula (k*k times cnnlab.reference.avg_pool2d)",
        mistakes=[
            Mistake(lambda x, w, b, k: reference.avg_pool2d(x, k) * _per_map(w) + _per_map(b),
                    "you averaged the windows. Hint: LeNet's subsampling *sums* the k x k inputs (the average "
                    "times k*k), then scales the sum by weight[c]."),
            Mistake(lambda x, w, b, k: reference.max_pool2d(x, k) * _per_map(w) + _per_map(b),
                    "you took the max of each window. Hint: LeNet's subsampling sums the window."),
            Mistake(lambda x, w, b, k: _window_sums(x, k) * _per_map(w),
                    "the bias is missing. Hint: add bias[c] to every cell of map c."),
            Mistake(lambda x, w, b, k: (_window_sums(x, k) + _per_map(b)) * _per_map(w),
                    "you added the bias before scaling. Hint: out = weight[c] * sum + bias[c]."),
            Mistake(lambda x, w, b, k: _window_sums(x, k) * w + b,
                    "weight and bias broadcast along the last axis (W), not over the maps. Hint: reshape them "
                    "to (C, 1, 1), weight[:, None, None], so that weight[c] scales all of map c."),
            Mistake(lambda x, w, b, k: reference.avg_pool2d(x, k, stride=1),
                    "your windows overlap (stride 1). Hint: the windows are k x k with stride k: "
                    "out is (N, C, H // k, W // k).", by_shape=True),
        ],
        forbidden=[(Subsample2d.forward, "cnnlab.nn.layers.Subsample2d"),
                   (F.avg_pool2d, "cnnlab.avg_pool2d"), (reference.avg_pool2d, "cnnlab.reference.avg_pool2d")]))


def subsample2d_backward_cases(rng=None):
    """(dout, x, weight, k) tuples: dout (N, C, H // k, W // k), x (N, C, H, W), weight (C,)."""
    rng = np.random.default_rng(SEED + 61) if rng is None else rng
    cases = []
    for shape, k in _subsample_specs(rng):
        c = shape[1]
        weight = rng.integers(1, 4, c) * rng.choice([-1.0, 1.0], c)
        dout = rng.integers(-3, 4, (shape[0], c, shape[2] // k, shape[3] // k)).astype(float)
        cases.append((dout, rng.integers(-3, 4, shape).astype(float), weight.astype(float), k))
    return cases


def _upsample(values, x, k):
    """values (N, C, H // k, W // k) copied to every cell of their window, in x's shape."""
    out = np.zeros_like(x)
    oh, ow = values.shape[2:]
    out[:, :, :oh * k, :ow * k] = np.repeat(np.repeat(values, k, axis=2), k, axis=3)
    return out


def _subsample_backward(dout, x, weight, k):
    return (_upsample(dout * _per_map(weight), x, k), (dout * _window_sums(x, k)).sum(axis=(0, 2, 3)),
            dout.sum(axis=(0, 2, 3)))


def _subsample_backward_gradcheck(fn):
    rng = np.random.default_rng(SEED + 62)
    x, weight, bias = rng.standard_normal((2, 2, 4, 5)), rng.standard_normal(2), rng.standard_normal(2)
    dout = rng.standard_normal((2, 2, 2, 2))
    return gradient_check(fn, (dout, x, weight, 2), lambda x, w, b: _subsample(x, w, b, 2),
                          {"dx": x, "dweight": weight, "dbias": bias}, upstream=dout)


def check_subsample2d_backward(fn):
    """Check `fn(dout, x, weight, k) -> (dx, dweight, dbias)`: the backward pass
    of `check_subsample2d_forward`'s layer.

    dout (N, C, H // k, W // k), x (N, C, H, W), weight (C,) -> dx (N, C, H, W):
    every cell of window (i, j) of map c gets weight[c] * dout[n, c, i, j]
    (dropped cells get 0); dweight (C,): the sum over n, i, j of dout times the
    window sums; dbias (C,): the sum of dout over n, i, j. Notebook 06, section 2.
    """
    return check(fn, Exercise(
        cases=subsample2d_backward_cases(), expected=_subsample_backward,
        label=lambda d, x, w, k: f"x {x.shape}, k {k}",
        outputs=("dx", "dweight", "dbias"),
        shape_hint="dx has x's shape; dweight and dbias have one entry per map, (C,).",
        value_hint="dx = weight[c] * dout copied to its k x k window; dweight[c] = sum(dout[:, c] * window sums); "
                   "dbias[c] = dout[:, c].sum().",
        oracle="cnnlab.nn.layers.Subsample2d's backward formulas",
        mistakes=[
            Mistake(lambda d, x, w, k: (_upsample(d, x, k), None, None),
                    "dx is not multiplied by weight[c]. Hint: out = weight[c] * sum + bias[c], so each window "
                    "cell gets weight[c] * dout."),
            Mistake(lambda d, x, w, k: (_upsample(d * _per_map(w), x, k) / (k * k), None, None),
                    "dx is divided by k*k (as in average pooling). Hint: the layer sums its window, so each cell "
                    "gets weight[c] * dout, undivided."),
            Mistake(lambda d, x, w, k: (None, (d * reference.avg_pool2d(x, k)).sum(axis=(0, 2, 3)), None),
                    "dweight uses the window averages. Hint: the weight multiplies the window *sums*: "
                    "dweight[c] = sum(dout[:, c] * sums[:, c])."),
            Mistake(lambda d, x, w, k: (None, (d[-1:] * _window_sums(x[-1:], k)).sum(axis=(0, 2, 3)),
                                        d[-1:].sum(axis=(0, 2, 3))),
                    "dweight and dbias hold only the last image's share. Hint: weight and bias are shared by the "
                    "whole batch: sum over n too."),
            Mistake(lambda d, x, w, k: (None, np.zeros(d.shape[:2]), None),
                    "dweight is (N, C): not summed over the batch. Hint: sum over axes (0, 2, 3).", by_shape=True),
            Mistake(lambda d, x, w, k: (None, None, np.zeros(d.shape[:2])),
                    "dbias is (N, C): not summed over the batch. Hint: dbias = dout.sum(axis=(0, 2, 3)).",
                    by_shape=True),
            Mistake(lambda d, x, w, k: (np.zeros((*d.shape[:2], d.shape[2] * k, d.shape[3] * k)), None, None),
                    "dx is (H // k * k, W // k * k), an upsampled dout. Hint: dx has x's shape: the rows and "
                    "columns the layer dropped get a zero gradient.", by_shape=True),
        ],
        forbidden=[(Subsample2d.backward, "cnnlab.nn.layers.Subsample2d.backward"),
                   (F.avg_pool2d_backward, "cnnlab.avg_pool2d_backward"),
                   (reference.avg_pool2d_backward, "cnnlab.reference.avg_pool2d_backward")],
        gradcheck=_subsample_backward_gradcheck))


# --- C3: a sparse connection table ------------------------------------------------------------

def sparse_conv_params_cases(rng=None):
    """(table, k, out_size) tuples: table (C_in, C_out) booleans, k an int,
    out_size (oH, oW). The first is LeNet-5's C3."""
    rng = np.random.default_rng(SEED + 63) if rng is None else rng
    random_table = rng.random((4, 5)) < 0.5
    random_table[rng.integers(0, 4, 5), np.arange(5)] = True   # every output map sees at least one input
    return [(C3_TABLE, 5, (10, 10)),
            (np.ones((6, 16), bool), 5, (10, 10)),              # a dense C3
            (np.eye(3, dtype=bool), 3, (4, 4)),                 # one input per output: depthwise
            (np.array([[True, False], [True, True], [False, True]]), 2, (3, 5)),  # non-square output
            (random_table, 3, (6, 4))]


def _sparse_counts(table, k, out_size):
    params = int(np.sum(table)) * k * k + table.shape[1]
    return params, params * out_size[0] * out_size[1]


def check_sparse_conv_params(fn):
    """Check `fn(table, k, out_size) -> (params, connections)`: the trainable
    parameters and connections of LeNet-5's sparse C3 layer.

    table (C_in, C_out) booleans (table[i, j]: output map j sees input map i),
    k x k kernels, one bias per output map, out_size = (oH, oW):
    params = (number of True entries) * k * k + C_out; every output unit is
    wired to its kernels' inputs plus its bias, so connections = params * oH * oW.
    For C3 (`cnnlab.nn.models.C3_TABLE`, k = 5, out (10, 10)): (1516, 151600).
    Notebook 06, section 3.
    """
    return check(fn, Exercise(
        cases=sparse_conv_params_cases(), expected=_sparse_counts, read=size_reader("params", "connections"),
        label=lambda t, k, o: f"table {t.shape} with {int(np.sum(t))} connections, k {k}, out {o}",
        outputs=("params", "connections"),
        shape_hint="return two ints.",
        value_hint="params = table.sum() * k * k + C_out; connections = params * oH * oW.",
        oracle="cnnlab.nn.layers.SparseConv2d.summary_row's count",
        mistakes=[
            Mistake(lambda t, k, o: (t.size * k * k + t.shape[1], None),
                    "you counted every pair of maps. Hint: only the True entries of the table are kernels: "
                    "np.sum(table) * k * k weights."),
            Mistake(lambda t, k, o: (int(np.sum(t)) * k * k, int(np.sum(t)) * k * k * o[0] * o[1]),
                    "the biases are missing. Hint: each output map has one bias: + C_out = table.shape[1]."),
            Mistake(lambda t, k, o: (int(np.sum(t)) * (k * k + 1), None),
                    "you gave every kernel a bias. Hint: there is one bias per output *map*: + table.shape[1]."),
            Mistake(lambda t, k, o: (int(np.sum(t)) * k * k + t.shape[0], None),
                    "you counted C_in biases. Hint: the table is (C_in, C_out): the output maps are its columns, "
                    "table.shape[1]."),
            Mistake(lambda t, k, o: (None, int(np.sum(t)) * k * k * o[0] * o[1]),
                    "your connections leave out the biases. Hint: every output unit also has a connection to its "
                    "map's bias: connections = params * oH * oW."),
        ],
        forbidden=[(SparseConv2d.summary_row, "cnnlab.nn.layers.SparseConv2d.summary_row"),
                   (A.conv_params, "cnnlab.arithmetic.conv_params"),
                   (A.conv_connections, "cnnlab.arithmetic.conv_connections")]))
