"""The transposed-convolution explorer of notebook 04 in a real browser (fixtures
and helpers: tests/browser_support.py): moving output_padding changes the size
shown and the figure, and an impossible value gives a readable message, not a
traceback. Screenshots go to test-output/browser/."""
import pytest
from browser_support import explorer, figure_src, run_notebook, set_slider, shot, wait_for_new_figure, wait_for_text

pytestmark = pytest.mark.browser


def test_transposed_conv_explorer(lab, page):
    run_notebook(page, lab, "04_transposed_conv_checkerboard.ipynb")
    box = explorer(page, "output_padding")
    wait_for_text(box, "o = (3−1)·2 − 2·1 + 1·(3−1) + 0 + 1 = 5")
    wait_for_text(box, "which maps 5×5 back to 3×3")
    before = figure_src(box)
    shot(page, "transposed-before")

    set_slider(box, "output_padding", 1)
    wait_for_text(box, "o = (3−1)·2 − 2·1 + 1·(3−1) + 1 + 1 = 6")
    wait_for_text(box, "output 6×6")
    wait_for_new_figure(page, before)
    changed = figure_src(box)
    assert changed != before  # the figure was re-rendered
    shot(page, "transposed-output-padding")

    set_slider(box, "output_padding", 2)  # >= stride 2 and >= dilation 1
    wait_for_text(box, "Impossible setting")
    wait_for_text(box, "must be smaller than the stride (2) or the dilation (1)")
    assert box.locator(".widget-html-content", has_text="o = (").count() == 0  # the formula is cleared
    assert box.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    wait_for_new_figure(page, changed)
    shot(page, "transposed-impossible")

    set_slider(box, "dilation d", 3)  # output_padding 2 < dilation 3: possible again
    wait_for_text(box, "output 11×11")
    shot(page, "transposed-after")
