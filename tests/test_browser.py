"""The widgets and the offline editions in a real browser (fixtures and helpers:
tests/browser_support.py). Each explorer test opens a notebook in JupyterLab,
runs all cells, moves the controls and checks that the text and the figure on
screen change. Screenshots go to test-output/browser/ (ignored by git)."""
import pytest
from browser_support import (
    ROOT,
    explorer,
    figure_src,
    run_notebook,
    set_slider,
    shot,
    wait_for_new_figure,
    wait_for_text,
)

pytestmark = pytest.mark.browser


def test_arithmetic_explorer(lab, page):
    run_notebook(page, lab, "02_conv_arithmetic.ipynb")
    box = explorer(page, "stride s")
    wait_for_text(box, "o = floor((6 + 2·1 − 3)/2) + 1 = 3")
    wait_for_text(box, "selected output (0, 0): reads padded rows 0–2 × columns 0–2")
    assert box.locator(".cnnlab-output-cell").count() == 9  # one button per cell of the 3x3 output
    before = figure_src(box)
    shot(page, "arithmetic-before")
    # click an output cell: it is selected, and its footprint on the padded input moves
    cell = box.locator(".cnnlab-output-cell[title='output (2, 1)']")
    cell.click()
    wait_for_text(box, "selected output (2, 1): reads padded rows 4–6 × columns 2–4")
    wait_for_new_figure(page, before)
    assert "mod-info" in cell.get_attribute("class")  # the clicked cell is the blue one
    assert "mod-info" not in box.locator(".cnnlab-output-cell[title='output (0, 0)']").get_attribute("class")
    shot(page, "arithmetic-clicked")
    # a width dilation of its own: the width formula and the (gapped) columns of the footprint change
    box.locator(".widget-checkbox", has_text="separate W sliders").locator("input").check()
    set_slider(box, "dilation W", 2)
    wait_for_text(box, "W: k' = 2·(3−1)+1 = 5; o = floor((6 + 2·1 − 5)/2) + 1 = 2")
    wait_for_text(box, "selected output (2, 1): reads padded rows 4–6 × columns 2, 4, 6")
    page.wait_for_function("(n) => document.querySelectorAll('.cnnlab-output-cell').length === n", arg=6)
    shot(page, "arithmetic-width-dilation")
    # an impossible kernel: a message, and neither the old formula nor the old figure stays
    set_slider(box, "padding p", 0)
    wait_for_text(box, "o = floor((6 + 2·0 − 3)/2) + 1 = 2")
    figure_src(box)
    set_slider(box, "kernel k", 7)  # larger than the (unpadded) height 6
    wait_for_text(box, "Invalid setting")
    box.locator(".widget-output img").first.wait_for(state="detached", timeout=30_000)
    assert box.locator(".widget-html-content", has_text="o = floor").count() == 0
    box.locator(".cnnlab-output-cell").first.wait_for(state="hidden", timeout=30_000)
    assert box.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    shot(page, "arithmetic-invalid")
    set_slider(box, "kernel k", 3)  # possible again: formula and figure come back
    wait_for_text(box, "o = floor((6 + 2·0 − 3)/2) + 1 = 2")
    figure_src(box)
    shot(page, "arithmetic-after")


def test_checkerboard_explorer(lab, page):
    run_notebook(page, lab, "04_transposed_conv_checkerboard.ipynb")
    box = explorer(page, "layers")
    wait_for_text(box, "Uneven")
    before = figure_src(box)
    shot(page, "checkerboard-before")
    box.locator(".widget-dropdown", has_text="upsampling").locator("select").select_option("nearest")
    wait_for_text(box, "Even: away from the border")
    wait_for_new_figure(page, before)
    shot(page, "checkerboard-after")


def test_filter_playground(lab, page):
    run_notebook(page, lab, "01_edge_detection.ipynb")
    dropdown = page.locator(".widget-dropdown", has_text="filter").first
    dropdown.wait_for(timeout=60_000)
    dropdown.scroll_into_view_if_needed()
    box = dropdown.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][last()]")
    wait_for_text(box, "filter: sobel_x")
    before = figure_src(box)
    shot(page, "playground-before")
    dropdown.locator("select").select_option("laplacian")
    wait_for_text(box, "filter: laplacian")
    wait_for_new_figure(page, before)
    centre = box.locator(".widget-text input").nth(4)  # the middle of the 3x3 grid
    centre.fill("-5")
    centre.press("Enter")
    wait_for_text(box, "filter: custom")
    shot(page, "playground-after")


def test_static_site_renders_offline(browser, tmp_path):
    """The HTML edition draws its widgets and formulas from vendored scripts, with no network."""
    from tools import site
    pages = site.build(tmp_path, ROOT / "notebooks", run=False, vendor=True)
    if not (tmp_path / "_static" / "require.js").exists():
        pytest.skip("npm could not vendor the widget scripts (no npm or no registry)")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.route("http*://**", lambda route: route.abort())  # prove that nothing is fetched from the web
    page.goto((tmp_path / "02_conv_arithmetic.html").as_uri())
    page.locator(".widget-slider", has_text="stride s").first.wait_for(timeout=60_000)
    page.locator(".mjx-chtml").first.wait_for(timeout=60_000)  # MathJax typeset the formulas
    assert page.locator(".cnnlab-live-note").count() >= 1
    page.locator(".widget-slider", has_text="stride s").first.scroll_into_view_if_needed()
    shot(page, "static-site-02")
    page.goto((tmp_path / "index.html").as_uri())
    assert page.locator("a").count() == len(pages)
    page.close()


def test_slides_render_offline(browser, tmp_path):
    """A lecture deck (tools/slides.py) draws its slides, figures and formulas from vendored
    scripts with no network, and the right arrow key moves to the next slide."""
    from tools import slides
    decks = slides.build(tmp_path / "slides", ROOT / "notebooks")
    if not (tmp_path / "_static" / "reveal.js").exists():
        pytest.skip("npm could not vendor reveal.js (no npm or no registry)")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    fetched = []
    page.route("http*://**", lambda route: (fetched.append(route.request.url), route.abort()))
    page.goto((tmp_path / "slides" / decks[0][0]).as_uri())
    page.wait_for_function("() => window.Reveal && window.Reveal.isReady()", timeout=60_000)
    page.locator(".reveal .slides > section.present").first.wait_for(state="visible", timeout=30_000)
    assert page.locator(".reveal .slides section img[src^='data:image/png']").count() >= 1  # the figures
    page.locator("mjx-container, .MathJax, .MathJax_CHTML").first.wait_for(state="attached", timeout=60_000)
    shot(page, "slides-01-before")
    before = page.evaluate("Reveal.getIndices()")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("(h) => Reveal.getIndices().h !== h", arg=before["h"], timeout=10_000)
    assert page.evaluate("Reveal.getIndices()")["h"] == before["h"] + 1
    page.wait_for_timeout(1000)  # the slide transition
    shot(page, "slides-01-after")
    assert fetched == []  # nothing was even asked of the web
    page.close()
