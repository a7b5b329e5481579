"""Notebook 02: the size arithmetic of convolution and pooling, and receptive fields."""
import math

import numpy as np

from ...functional import arithmetic as A
from ._core import SEED, Exercise, Mistake, check, size_reader


def _label(names):
    return lambda *case: ", ".join(f"{n}={v}" for n, v in zip(names, case))


def _span(k, d):
    return d * (k - 1) + 1


# --- convolution output size -----------------------------------------------------------

def conv_output_size_cases(rng=None):
    """(i, k[, s[, p[, d]]]) tuples, some relying on the defaults s=1, p=0, d=1."""
    rng = np.random.default_rng(SEED + 20) if rng is None else rng
    cases = [(5, 3), (32, 5),      # defaults; LeNet's C1
             (7, 3, 2),            # stride 2, exact division
             (6, 3, 2),            # (6 - 3) / 2 = 1.5: the floor matters
             (5, 4, 1, 2),         # padding per side
             (6, 3, 2, 1),         # (6 + 2 - 3) / 2 = 2.5
             (224, 7, 2, 3),       # the ResNet stem
             (7, 3, 1, 0, 2),      # dilation 2: a 3-tap kernel spans 5 cells
             (10, 3, 3, 1, 2)]
    while len(cases) < 12:
        i, k, s, p, d = (int(v) for v in (rng.integers(5, 31), rng.integers(1, 6), rng.integers(1, 4),
                                          rng.integers(0, 3), rng.integers(1, 4)))
        if _span(k, d) <= i + 2 * p:
            cases.append((i, k, s, p, d))
    return cases


def _conv_size(i, k, s=1, p=0, d=1):
    return A.conv_output_size(i, k, s, p, d)


def _conv_size_mistakes():
    return [
        Mistake(lambda i, k, s=1, p=0, d=1: math.ceil((i + 2 * p - _span(k, d)) / s) + 1,
                "you rounded up (ceil). Hint: a convolution only counts windows that fit entirely inside the padded "
                "input: o = (i + 2p - k') // s + 1, rounding down."),
        # the dilation slips before the generic ones: they show only when d > 1, where they may coincide
        Mistake(lambda i, k, s=1, p=0, d=1: (i + 2 * p - k) // s + 1,
                "you forgot the dilation. Hint: a dilated kernel spans k' = d(k - 1) + 1 cells; use k' for k."),
        Mistake(lambda i, k, s=1, p=0, d=1: (i + 2 * p - d * k) // s + 1,
                "you used d*k for the dilated kernel's span. Hint: d - 1 gaps sit between each pair of the k "
                "taps, so k' = d(k - 1) + 1."),
        Mistake(lambda i, k, s=1, p=0, d=1: (i + 2 * p - _span(k, d)) // s,
                "you forgot the + 1. Hint: (i + 2p - k') // s counts the steps between window positions; the "
                "first window adds one more output."),
        Mistake(lambda i, k, s=1, p=0, d=1: i + 2 * p - _span(k, d) + 1,
                "you ignored the stride. Hint: the window moves s cells at a time: divide by s (with //)."),
        Mistake(lambda i, k, s=1, p=0, d=1: (i + p - _span(k, d)) // s + 1,
                "you added the padding once. Hint: p is per side, so the padded input has i + 2p cells."),
    ]


def check_conv_output_size(fn):
    """Check `fn(i, k, s=1, p=0, d=1) -> int`: the output length of a
    convolution along one axis, with input length i, kernel size k, stride s,
    padding p per side and dilation d: o = (i + 2p - d(k - 1) - 1) // s + 1.
    Notebook 02, "The general formula" and "Dilation"."""
    return check(fn, Exercise(
        cases=conv_output_size_cases(), expected=_conv_size, read=size_reader(),
        label=_label("i k s p d".split()),
        shape_hint="return one int.",
        value_hint="o = floor((i + 2p - k') / s) + 1 with the dilated span k' = d(k - 1) + 1.",
        oracle="cnnlab.arithmetic.conv_output_size",
        mistakes=_conv_size_mistakes(),
        forbidden=[(A.conv_output_size, "cnnlab.arithmetic.conv_output_size")]))


# --- pooling output size -------------------------------------------------------------------

def pool_output_size_cases(rng=None):
    """(i, k, s[, ceil_mode]) tuples; ceil_mode is passed only when True."""
    rng = np.random.default_rng(SEED + 21) if rng is None else rng
    cases = [(4, 2, 2), (5, 2, 2),   # floor mode drops the last, partial window
             (5, 2, 2, True),        # ceil mode keeps it
             (6, 3, 2), (6, 3, 2, True),
             (6, 2, 2, True),        # windows fit exactly: ceil and floor agree
             (6, 2, 3, True),        # a third window would start at 6, outside the input: PyTorch drops it
             (8, 2, 4, True), (112, 3, 2, True)]
    while len(cases) < 12:
        k = int(rng.integers(1, 5))
        i, s = int(rng.integers(k, 20)), int(rng.integers(1, 5))
        cases.append((i, k, s, True) if rng.random() < 0.5 else (i, k, s))
    return cases


def _pool_size(i, k, s, ceil_mode=False):
    return A.pool_output_size(i, k, s, ceil_mode=ceil_mode)


def _pool_size_mistakes():
    return [
        Mistake(lambda i, k, s, ceil_mode=False: None if ceil_mode else math.ceil((i - k) / s) + 1,
                "you rounded up although ceil_mode is False. Hint: by default a pooling layer drops the last, "
                "partial window: o = (i - k) // s + 1."),
        Mistake(lambda i, k, s, ceil_mode=False: (i - k) // s + 1 if ceil_mode else None,
                "you ignored ceil_mode=True. Hint: in ceil mode a partial window at the end also counts: "
                "o = ceil((i - k) / s) + 1 (then apply PyTorch's last-window rule)."),
        Mistake(lambda i, k, s, ceil_mode=False: math.ceil((i - k) / s) + 1 if ceil_mode else None,
                "you forgot PyTorch's ceil-mode rule: the last window must start inside the input. Hint: after "
                "o = ceil((i - k) / s) + 1, drop the last window if its start (o - 1) * s is >= i."),
        Mistake(lambda i, k, s, ceil_mode=False: (i - k) // s + 2 if ceil_mode else None,
                "you computed ceil(a / s) as a // s + 1, which is one too many when s divides a. Hint: use "
                "math.ceil(a / s) or -(-a // s)."),
        Mistake(lambda i, k, s, ceil_mode=False: (i - k) // s,
                "you forgot the + 1. Hint: (i - k) // s counts the steps; the first window adds one output."),
    ]


def check_pool_output_size(fn):
    """Check `fn(i, k, s, ceil_mode=False) -> int`: the output length of a
    pooling window of size k and stride s along an axis of length i, without
    padding. Floor mode: o = (i - k) // s + 1. Ceil mode, PyTorch's rule:
    o = ceil((i - k) / s) + 1, minus one if the last window would start at or
    beyond the end of the input ((o - 1) * s >= i). Notebook 02, "Pooling: floor or ceil"."""
    return check(fn, Exercise(
        cases=pool_output_size_cases(), expected=_pool_size, read=size_reader(),
        label=_label(["i", "k", "s", "ceil_mode"]),
        shape_hint="return one int.",
        value_hint="floor mode: (i - k) // s + 1; ceil mode: ceil((i - k) / s) + 1, minus 1 if (o - 1) * s >= i.",
        oracle="cnnlab.arithmetic.pool_output_size",
        mistakes=_pool_size_mistakes(),
        forbidden=[(A.pool_output_size, "cnnlab.arithmetic.pool_output_size")]))


# --- receptive field ------------------------------------------------------------------------

def receptive_field_cases(rng=None):
    """([(kernel, stride), ...],) tuples: stacks of layers, input side first."""
    rng = np.random.default_rng(SEED + 22) if rng is None else rng
    stacks = [[(3, 1)], [(3, 1), (3, 1)],
              [(3, 1), (3, 1), (2, 2)],               # the last layer's stride does not matter
              [(2, 2), (3, 1)],                       # a stride multiplies what every later layer adds
              [(5, 1), (2, 2), (5, 1), (2, 2), (5, 1)],  # LeNet-5 up to C5: 32, the whole input
              [(7, 2), (3, 2), (3, 1), (3, 1)]]
    for depth in (3, 5):
        stacks.append([(int(k), int(s)) for k, s in zip(rng.integers(1, 6, depth), rng.integers(1, 4, depth))])
    return [(stack,) for stack in stacks]


def _rf(layers):
    return A.receptive_field(layers)[-1][0]


def _rf_variant(layers, start=1, extra=-1, own_stride=False):
    """The receptive field computed with a classic slip: rf starting at `start`,
    each layer adding (k + extra) * jump, the jump updated before (own_stride)."""
    rf, jump = start, 1
    for k, s in layers:
        jump = jump * s if own_stride else jump
        rf += (k + extra) * jump
        jump = jump if own_stride else jump * s
    return rf


def check_receptive_field(fn):
    """Check `fn(layers) -> int`: the receptive field (in input cells, along one
    axis) of one unit after a stack of layers, given as a list of (kernel,
    stride) pairs from the input on. Starting from r = 1 and jump j = 1, each
    layer adds (k - 1) * j, then multiplies j by its stride.
    Notebook 02, "Receptive fields of stacked layers"."""
    return check(fn, Exercise(
        cases=receptive_field_cases(), expected=_rf, read=size_reader(),
        label=lambda layers: f"layers {layers}",
        shape_hint="return one int, the receptive field after the last layer.",
        value_hint="r = 1, j = 1; for each (k, s): r += (k - 1) * j, then j *= s.",
        oracle="cnnlab.arithmetic.receptive_field",
        mistakes=[
            Mistake(lambda layers: sum(k - 1 for k, _ in layers) + 1,
                    "you ignored the strides. Hint: after a stride-s layer neighbouring units are s input cells "
                    "apart, so a later layer adds (k - 1) * j cells, j the product of the strides before it."),
            Mistake(lambda layers: _rf_variant(layers, own_stride=True),
                    "you multiplied the jump by a layer's stride before adding that layer's (k - 1) * j. Hint: a "
                    "layer's own stride only affects the layers after it: add (k - 1) * j first, then j *= s."),
            Mistake(lambda layers: _rf_variant(layers, extra=0),
                    "each layer adds k * j. Hint: a k-tap kernel widens the field by k - 1 cells (times the jump); "
                    "start at r = 1 for the single input cell."),
            Mistake(lambda layers: _rf_variant(layers, start=0, extra=0),
                    "each layer adds k * j, starting from 0. Hint: start at r = 1 (one cell) and add (k - 1) * j."),
        ],
        forbidden=[(A.receptive_field, "cnnlab.arithmetic.receptive_field")]))
