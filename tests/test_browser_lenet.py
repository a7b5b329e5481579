"""The LeNet-5 inspector (notebook 06) in a real browser (fixtures and helpers:
tests/browser_support.py): draw a stroke with the mouse on its ipycanvas
canvas and see the prediction, the probabilities and the feature maps change;
clear it; pick a test 7. Screenshots go to test-output/browser/."""
import nbformat
import pytest
from browser_support import explorer, figure_src, run_notebook, shot, wait_for_new_figure, wait_for_text

pytestmark = pytest.mark.browser

NOTEBOOK = "lenet_inspector_browser.ipynb"


@pytest.fixture
def inspector_notebook(lab_root):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                                           "language": "python", "name": "python3"}})
    nb.cells = [nbformat.v4.new_code_cell("from cnnlab.teach.explorers import LeNetInspector"),
                nbformat.v4.new_code_cell("w = LeNetInspector(); w")]
    nbformat.write(nb, lab_root / NOTEBOOK)
    return NOTEBOOK


def _message(box):
    return box.locator(".widget-html-content", has_text="prediction").first.inner_text()


def _canvas_ink(canvas):
    """The sum of the red channel of the canvas's pixels (the ink shown)."""
    return canvas.evaluate("c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                           " let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s; }")


def test_lenet_inspector_draw_and_pick(lab, page, inspector_notebook):
    run_notebook(page, lab, inspector_notebook)
    box = explorer(page, "shift right")
    wait_for_text(box, "prediction: 7")
    wait_for_text(box, "test image #0 (label 7)")
    before_msg, before_fig = _message(box), figure_src(box)
    canvas = box.locator("canvas.cnnlab-draw")
    canvas.wait_for(timeout=30_000)
    assert _canvas_ink(canvas) == 0
    bb = canvas.bounding_box()
    assert 270 <= bb["width"] <= 290 and 270 <= bb["height"] <= 290  # 28 cells shown 10x
    shot(page, "lenet-before")

    # a vertical stroke down the middle: a "1"
    x = bb["x"] + 0.5 * bb["width"]
    page.mouse.move(x, bb["y"] + 0.2 * bb["height"])
    page.mouse.down()
    for i in range(1, 13):
        page.mouse.move(x, bb["y"] + (0.2 + 0.05 * i) * bb["height"], steps=2)
    page.mouse.up()
    wait_for_text(box, "pre-processed like MNIST")
    wait_for_new_figure(page, before_fig)
    after_msg, after_fig = _message(box), figure_src(box)
    assert after_msg != before_msg and "prediction: 7" not in after_msg  # the probabilities changed
    assert after_fig != before_fig  # the feature maps and bars were redrawn
    assert _canvas_ink(canvas) > 0  # the stroke is shown on the canvas
    assert box.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    shot(page, "lenet-drawn")

    box.locator("button", has_text="clear").click()
    wait_for_text(box, "The canvas is empty")
    wait_for_new_figure(page, after_fig)
    page.wait_for_function("c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                           " return d.every((v, i) => i % 4 === 3 || v === 0); }",
                           arg=canvas.element_handle(), timeout=10_000)
    shot(page, "lenet-cleared")

    cleared_fig = figure_src(box)
    box.locator(".widget-dropdown", has_text="pick").locator("select").select_option(label="a test 7")
    wait_for_text(box, "test image #0 (label 7)")
    wait_for_text(box, "prediction: 7")
    wait_for_new_figure(page, cleared_fig)
    shot(page, "lenet-test-7")
