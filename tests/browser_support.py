"""Fixtures and helpers for the browser tests (tests/test_browser*.py): one
JupyterLab server from this environment for the whole session, serving
copies of the notebooks (the committed ones are never saved over), and
headless Chromium driven through Playwright. Registered as a pytest plugin
by conftest.py. The fixtures skip, with the reason, when Playwright or
Chromium is missing (`make browser-deps`)."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-output" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Offline machine: Chromium must not try to reach Google's services.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "cnnlab-browser-test"



def _playwright():
    if CHROMIUM is None:
        pytest.skip("no Chromium found: run `make browser-deps` (Debian's chromium package)")
    return pytest.importorskip("playwright.sync_api", reason="Playwright missing: run `make browser-deps`")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory):
    """The folder JupyterLab serves: a copy of notebooks/ (a test may add notebooks of its own)."""
    root = tmp_path_factory.mktemp("lab") / "notebooks"
    shutil.copytree(ROOT / "notebooks", root)
    return root


@pytest.fixture(scope="session")
def lab(lab_root):
    """A JupyterLab server on a free localhost port, serving `lab_root`."""
    _playwright()
    root, base = lab_root, lab_root.parent
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


@pytest.fixture(scope="session")
def browser():
    with _playwright().sync_playwright() as p:
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


