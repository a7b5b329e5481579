"""The backpropagation explorer of notebook 05 in a real browser (fixtures and
helpers: tests/browser_support.py): selecting an input cell changes the taps
that reach it, the products and the gradient value shown, and the figure; a
stride that leaves the cell unread gives it a zero gradient; the kernel-gradient
part follows the chosen kernel. Screenshots go to test-output/browser/."""
import pytest
from browser_support import explorer, figure_src, run_notebook, set_slider, shot, wait_for_new_figure, wait_for_text

pytestmark = pytest.mark.browser


def settled_figure(page, box, old):
    """The figure's src once the kernel has finished redrawing and it differs from `old`. Call it after the
    message shows the new setting: the explorer updates the message first, and this figure takes seconds to
    draw on a loaded machine; the kernel's idle status arrives after the figure on the same channel."""
    page.wait_for_function("""() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel
                                      .status === 'idle'""", timeout=60_000)
    wait_for_new_figure(page, old)
    return figure_src(box)


def show_figure(page, box, name):
    """Scroll the figure into view and take a screenshot once the browser has decoded and painted it."""
    images = box.locator(".widget-output img")
    assert images.count() == 1
    images.first.scroll_into_view_if_needed()
    images.first.evaluate("img => img.decode()")
    page.wait_for_timeout(1000)
    shot(page, name)


def test_backprop_explorer(lab, page):
    run_notebook(page, lab, "05_backprop.ipynb")
    box = explorer(page, "input row")
    wait_for_text(box, "input gradient dX[1, 0] = 0.3 (cnnlab.conv2d_backward: 0.3)")
    wait_for_text(box, "= 1·0.2 + 2·0.1 + 2·0.1 + 1·(−0.3)")
    wait_for_text(box, "taps that reach it: K1[1, 0], K1[0, 0], K2[1, 0], K2[0, 0]")
    before = figure_src(box)
    show_figure(page, box, "backprop-before")

    set_slider(box, "input row", 0)
    set_slider(box, "input col", 2)  # the top-right cell: one tap of each kernel
    wait_for_text(box, "input gradient dX[0, 2] = 0.7 (cnnlab.conv2d_backward: 0.7)")
    wait_for_text(box, "= 3·0.2 + 1·0.1")
    wait_for_text(box, "taps that reach it: K1[0, 1], K2[0, 1]")
    assert box.locator(".widget-html-content", has_text="K1[1, 0]").count() == 0  # the old taps are gone
    changed = settled_figure(page, box, before)
    show_figure(page, box, "backprop-cell-0-2")

    set_slider(box, "stride s", 2)  # one 2x2 window at (0, 0): column 2 is never read
    wait_for_text(box, "dX[0, 2] = 0: no output window reads this cell")
    wait_for_text(box, "deltas: seeded integers")
    strided = settled_figure(page, box, changed)
    show_figure(page, box, "backprop-stride-2")

    set_slider(box, "stride s", 1)
    box.locator(".widget-dropdown", has_text="dK of").locator("select").select_option(label="K2")
    wait_for_text(box, "kernel gradient dK2[0, 1] = x[0, 1]·D2[0, 0] + x[0, 2]·D2[0, 1] + x[1, 1]·D2[1, 0] + "
                       "x[1, 2]·D2[1, 1] = 20")
    settled_figure(page, box, strided)
    assert box.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    show_figure(page, box, "backprop-after")
