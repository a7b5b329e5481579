"""The widgets in a real browser: JupyterLab from this environment, driven by
headless Chromium through Playwright.

Each test opens a notebook (a copy in a temporary folder, so the committed
one is never saved over), runs all cells, moves the controls of an explorer
and checks that the formula or verdict on screen and the figure change.
Screenshots go to test-output/browser/ (ignored by git). Skipped, with the
reason, when Playwright or Chromium is missing (`make browser-deps`).
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright missing: run `make browser-deps`")

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-output" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Offline machine: Chromium must not try to reach Google's services.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "cnnlab-browser-test"

if CHROMIUM is None:
    pytest.skip("no Chromium found: run `make browser-deps` (Debian's chromium package)", allow_module_level=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free localhost port, serving copies of the notebooks."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    shutil.copytree(ROOT / "notebooks", root)
    # Render every cell (no virtual scrolling, so widgets far down exist in the DOM) and fetch no news.
    settings = base / "settings"
    for plugin, value in (("@jupyterlab/notebook-extension/tracker", '{"windowingMode": "none"}'),
                          ("@jupyterlab/apputils-extension/notification", '{"fetchNews": "false"}')):
        target = settings / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(value)
    port = free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(base / "config"), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), MPLBACKEND="module://matplotlib_inline.backend_inline")
    log = open(base / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--allow-root",
         "--LabApp.expose_app_in_browser=True", f"--LabApp.workspaces_dir={base / 'workspaces'}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; log:\n{(base / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:  # always shut the server down, also when a test failed
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    yield page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{request.node.name}-final.png"), full_page=False)
    page.close()


def run_notebook(page, lab, name):
    """Open `name` in JupyterLab, wait for its kernel, run all cells and wait until they are done."""
    # a workspace of its own, reset, so no tab of an earlier test comes back
    page.goto(f"{lab}/lab/workspaces/{Path(name).stem}/tree/{name}?token={TOKEN}&reset")
    page.wait_for_function(
        """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                   const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
                   return k && k.status === 'idle'; }""", timeout=120_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        """() => { const w = window.jupyterapp.shell.currentWidget;
                   const k = w.sessionContext.session.kernel;
                   const busy = [...document.querySelectorAll('.jp-InputArea-prompt')]
                                .some(p => p.textContent.includes('*'));
                   return k.status === 'idle' && !busy; }""", timeout=300_000)


def explorer(page, label):
    """The widget box that holds a slider labelled `label` (the outermost VBox of an explorer)."""
    slider = page.locator(".widget-slider", has_text=label).first
    slider.wait_for(timeout=60_000)
    slider.scroll_into_view_if_needed()
    return slider.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][last()]")


def set_slider(box, label, value):
    """Type a value into the slider's editable readout, as a person can."""
    readout = box.locator(".widget-slider", has_text=label).locator(".widget-readout")
    readout.click()
    readout.press("Control+A")
    readout.type(str(value))
    readout.press("Enter")


def figure_src(box):
    img = box.locator(".widget-output img").first
    img.wait_for(timeout=30_000)
    return img.get_attribute("src")


def wait_for_text(box, text, timeout=30_000):
    box.locator(".widget-html-content", has_text=text).first.wait_for(timeout=timeout)


def wait_for_new_figure(page, before):
    """Until every figure of the explorers differs from `before` (the figure re-rendered)."""
    page.wait_for_function("(before) => [...document.querySelectorAll('.widget-output img')]"
                           ".every(i => i.src !== before)", arg=before, timeout=30_000)


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_arithmetic_explorer(lab, page):
    run_notebook(page, lab, "02_conv_arithmetic.ipynb")
    box = explorer(page, "stride s")
    wait_for_text(box, "o = floor((6 + 2·1 − 3)/2) + 1 = 3")
    before = figure_src(box)
    shot(page, "arithmetic-before")
    set_slider(box, "stride s", 1)
    wait_for_text(box, "o = floor((6 + 2·1 − 3)/1) + 1 = 6")
    set_slider(box, "padding p", 0)
    wait_for_text(box, "o = floor((6 + 2·0 − 3)/1) + 1 = 4")
    wait_for_new_figure(page, before)
    assert figure_src(box) != before  # the figure was re-rendered
    set_slider(box, "kernel k", 7)  # larger than the padded input: a message, not a traceback
    wait_for_text(box, "Invalid setting")
    assert box.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
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
