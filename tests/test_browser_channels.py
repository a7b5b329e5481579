"""The channels explorer of notebook 03 in a real browser (fixtures and helpers:
tests/browser_support.py): setting groups changes the parameter count shown to
the value cnnlab.arithmetic gives and redraws the figure, and a group count that
does not divide the channels gives a readable message, not a traceback.
Screenshots go to test-output/browser/."""
import pytest
from browser_support import explorer, figure_src, run_notebook, set_slider, shot, wait_for_new_figure, wait_for_text

from cnnlab import arithmetic

pytestmark = pytest.mark.browser


def counts_line(c_in, c_out, groups, k=3):
    weights = arithmetic.conv_params(c_in, c_out, (k, k), groups=groups, bias=False)
    return f"parameters: {weights:,} weights + {c_out} biases = {arithmetic.conv_params(c_in, c_out, (k, k), groups):,}"


def test_channels_explorer(lab, page):
    run_notebook(page, lab, "03_channels_pooling.ipynb")
    box = explorer(page, "groups")
    wait_for_text(box, counts_line(8, 16, 4))                  # the default: 288 weights + 16 biases = 304
    wait_for_text(box, "(C_out, C_in/groups, kH, kW) = (16, 2, 3, 3)")
    before = figure_src(box)
    shot(page, "channels-before")

    set_slider(box, "groups", 8)                                # groups == C_in: depthwise
    wait_for_text(box, counts_line(8, 16, 8))
    wait_for_text(box, "depthwise convolution (groups = C_in), depth multiplier 2")
    wait_for_text(box, "(C_out, C_in/groups, kH, kW) = (16, 1, 3, 3)")
    wait_for_new_figure(page, before)
    changed = figure_src(box)
    assert changed != before  # the figure was re-rendered
    shot(page, "channels-depthwise")

    set_slider(box, "groups", 3)                                # divides neither 8 nor 16
    wait_for_text(box, "Invalid setting")
    wait_for_text(box, "Allowed here: 1, 2, 4, 8.")
    assert box.locator(".widget-html-content", has_text="parameters:").count() == 0
    assert box.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    wait_for_new_figure(page, changed)
    shot(page, "channels-invalid")

    set_slider(box, "C_in", 6)                                  # 6 -> 12 channels: 3 groups are fine
    set_slider(box, "C_out", 12)
    wait_for_text(box, counts_line(6, 12, 3))
    shot(page, "channels-after")
