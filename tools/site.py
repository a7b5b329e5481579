"""Static HTML edition of the course: one page per notebook plus an index.

    python -m tools.site [--out site] [--no-execute] [--timeout 3600]

Each notebook is executed (unless --no-execute, which exports the committed
outputs), with the widget state stored, and exported with nbconvert's lab
template: figures are inlined as PNG data, the widget state is embedded so
that the widgets draw their default view, and every widget carries a note
that live interaction needs JupyterLab. Every widget in the course is
followed by a static figure of its default setting, so the pages read well
offline even where the widget scripts (loaded from a CDN) are unavailable.
"""
import argparse
import html
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
LIVE_NOTE = ("<p class='cnnlab-live-note'><em>Interactive widget: live interaction needs JupyterLab "
             "(<code>make lab</code>); below it is a static figure of its default setting.</em></p>")


def notebook_title(nb):
    """The first Markdown heading of a notebook, without the #s."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return "Untitled"


def execute(nb, cwd, timeout):
    """Run every cell in a fresh kernel, keeping the widget state (nbclient)."""
    from nbclient import NotebookClient
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def mark_widgets(nb):
    """Put the live-interaction note in front of every widget view output."""
    note = nbformat.v4.new_output("display_data", data={"text/html": LIVE_NOTE})
    for cell in nb.cells:
        if cell.cell_type == "code":
            outs = []
            for out in cell.outputs:
                outs += [note, out] if WIDGET_MIME in out.get("data", {}) else [out]
            cell.outputs = outs
    return nb


def nav(pages, i):
    prev = f"<a href='{pages[i - 1][0]}'>&larr; {html.escape(pages[i - 1][1])}</a>" if i > 0 else ""
    nxt = f"<a href='{pages[i + 1][0]}'>{html.escape(pages[i + 1][1])} &rarr;</a>" if i + 1 < len(pages) else ""
    return (f"<nav class='cnnlab-nav' style='display:flex;justify-content:space-between;padding:.5em 1em;"
            f"border-bottom:1px solid #ddd'>{prev}<a href='index.html'>Course index</a>{nxt}</nav>")


# Widget renderer, its AMD loader and MathJax, vendored from the npm registry so that
# the pages draw their widgets and formulas offline; without npm the pages fall back to a CDN.
# (npm spec, tarball name prefix, path in the package, name under _static)
VENDOR = [("@jupyter-widgets/html-manager@1", "jupyter-widgets-html-manager-", "dist", "html-manager"),
          ("requirejs@2", "requirejs-", "require.js", "require.js"),
          ("mathjax@2", "mathjax-", ".", "mathjax")]
# MathJax 2 without its unminified copy and the fonts the CommonHTML output does not use.
SKIP = shutil.ignore_patterns("unpacked", "test", "Asana-Math", "Gyre-*", "Latin-Modern", "Neo-Euler", "STIX*",
                              "png", "svg", "eot", "otf")
SETTINGS = {"require_js_url": "_static/require.js", "widget_renderer_url": "_static/html-manager/embed-amd.js",
            "mathjax_url": "_static/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"}


def npm_vendor(static, packages, ignore=SKIP):
    """Copy `packages` ((npm spec, tarball name prefix, path in the package, name under
    `static`), as in VENDOR) from the npm registry into the folder `static`: `npm pack` into
    a temporary folder, extracted there, the path copied (folders without the `ignore`d
    names). A package already under `static` is kept. Returns True when all are in place,
    False (after a message) when npm is missing or fails."""
    static = Path(static)
    missing = [v for v in packages if not (static / v[3]).exists()]
    if not missing:
        return True
    npm = shutil.which("npm")
    if npm is None:
        print("npm not found: the pages will load their scripts from a CDN")
        return False
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run([npm, "pack", "--silent", *(v[0] for v in missing)], cwd=tmp, check=True,
                           capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError) as err:
            print(f"npm pack failed ({err}): the pages will load their scripts from a CDN")
            return False
        static.mkdir(parents=True, exist_ok=True)
        for _, prefix, src_name, dst_name in missing:
            tgz = next(Path(tmp).glob(prefix + "*.tgz"))
            with tarfile.open(tgz) as tar:
                tar.extractall(Path(tmp) / tgz.stem, filter="data")
            src, part = Path(tmp) / tgz.stem / "package" / src_name, static / f".{dst_name}.part"
            shutil.rmtree(part, ignore_errors=True)
            if src.is_dir():
                shutil.copytree(src, part, ignore=ignore)
            else:
                shutil.copy(src, part)
            part.replace(static / dst_name)  # whole or not at all: a half copy is never taken as done
    return True


def vendor_scripts(out):
    """Copy the widget renderer, require.js and MathJax into `out`/_static via
    `npm pack`. Returns exporter settings pointing at them, or {} (CDN) when npm fails."""
    return SETTINGS if npm_vendor(Path(out) / "_static", VENDOR) else {}


def hide_markers(nb):
    """Drop nbgrader's solution markers from the Markdown cells (they would render as
    headings); the answers stay, as in the instructor edition."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "SOLUTION" in cell.source:
            cell.source = "\n".join(line for line in cell.source.split("\n")
                                    if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    return nb


def export(nb, navbar, scripts=None):
    """The notebook as one lab-template HTML page with `navbar` on top; `scripts`
    are HTMLExporter settings (e.g. local renderer URLs from `vendor_scripts`)."""
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter(template_name="lab", **(scripts or {})).from_notebook_node(hide_markers(mark_widgets(nb)))
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + navbar, body, count=1)


def index_page(pages, slides=None):
    """The course index; `slides` is the address of the lecture decks' index (tools/slides.py), if built."""
    items = "\n".join(f"<li><a href='{name}'>{html.escape(title)}</a></li>" for name, title in pages)
    decks = (f"<p class='cnnlab-slides'>Lecture mode: <a href='{slides}'>the notebooks as reveal.js slide decks</a> "
             "(<code>make slides</code>).</p>" if slides else "")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>cnnlab: the course</title></head>"
            "<body style='font-family:sans-serif;max-width:50em;margin:2em auto'>"
            "<h1>cnnlab: convolutional neural networks from first principles</h1>"
            "<p>Static edition of the notebooks, with their figures and outputs. The widgets need a "
            f"live kernel: run <code>make lab</code> to use them in JupyterLab.</p>{decks}"
            f"<ol>\n{items}\n</ol></body></html>")


def build(out=ROOT / "site", notebooks=ROOT / "notebooks", run=True, timeout=3600, vendor=True):
    """Export every notebook to `out`/NN_name.html and write `out`/index.html.
    run=False exports the stored outputs; vendor=False skips copying the
    offline scripts (the pages then use CDN URLs). Returns the (file name, title) pages."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = sorted(Path(notebooks).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks in {notebooks}")
    nbs = [nbformat.read(p, as_version=4) for p in paths]
    pages = [(p.with_suffix(".html").name, notebook_title(nb)) for p, nb in zip(paths, nbs)]
    scripts = vendor_scripts(out) if vendor else {}
    for i, (path, nb) in enumerate(zip(paths, nbs)):
        if run:
            print(f"executing {path.name}", flush=True)
            execute(nb, path.parent, timeout)
        (out / pages[i][0]).write_text(export(nb, nav(pages, i), scripts), encoding="utf-8")
    slides = "slides/index.html" if (out / "slides" / "index.html").exists() else None  # `make slides`
    (out / "index.html").write_text(index_page(pages, slides), encoding="utf-8")
    (out / "pages.json").write_text(json.dumps(pages, indent=1))
    return pages


def main(argv=None):
    parser = argparse.ArgumentParser(description="Export the course notebooks to static HTML.")
    parser.add_argument("--out", default=str(ROOT / "site"))
    parser.add_argument("--notebooks", default=str(ROOT / "notebooks"))
    parser.add_argument("--no-execute", action="store_true", help="export the committed outputs as they are")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    pages = build(args.out, args.notebooks, run=not args.no_execute, timeout=args.timeout)
    print(f"wrote {len(pages)} pages and index.html to {args.out}")


if __name__ == "__main__":
    main()
