"""The static HTML edition: every notebook exports, pages carry their figures
and widget state, and every link between pages resolves."""
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tools import site

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def local_links(page):
    hrefs = re.findall(r"""href=['"]([^'"#]+)""", page.read_text(encoding="utf-8"))
    return [h for h in hrefs if not re.match(r"[a-z]+:", h)]


def check_links(out):
    for page in out.glob("*.html"):
        for href in local_links(page):
            assert (out / href).exists(), f"{page.name} links to missing {href}"


def tiny_course(folder):
    folder.mkdir()
    for i, title in enumerate(["First steps", "Second steps"], start=1):
        nb = new_notebook(cells=[
            new_markdown_cell(f"# {title}\nSome maths: $o = i - k + 1$."),
            new_code_cell("%matplotlib inline\nimport ipywidgets as w, matplotlib.pyplot as plt\n"
                          "w.IntSlider(description='stride', value=2)"),
            new_code_cell("plt.plot([0, 1], [1, 0]); plt.show()")])
        nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"{i:02d}_part.ipynb")


def test_executes_and_exports_a_course(tmp_path):
    tiny_course(tmp_path / "nb")
    pages = site.build(tmp_path / "site", tmp_path / "nb", run=True, timeout=120, vendor=False)
    assert [t for _, t in pages] == ["First steps", "Second steps"]
    out = tmp_path / "site"
    for name, _ in pages:
        text = (out / name).read_text(encoding="utf-8")
        assert "data:image/png;base64" in text  # figure inlined
        assert "application/vnd.jupyter.widget-state+json" in text  # widget state embedded
        assert "cnnlab-live-note" in text and "live interaction needs JupyterLab" in text
        assert "index.html" in text
    index = (out / "index.html").read_text(encoding="utf-8")
    assert all(name in index for name, _ in pages)
    assert "02_part.html" in (out / "01_part.html").read_text(encoding="utf-8")  # next link
    check_links(out)


def test_every_committed_notebook_exports(tmp_path):
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        pytest.skip("no notebooks yet")
    pages = site.build(tmp_path, NOTEBOOKS, run=False, vendor=False)
    assert [name for name, _ in pages] == [p.with_suffix(".html").name for p in paths]
    for path, (name, title) in zip(paths, pages):
        nb = nbformat.read(path, as_version=4)
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert title and title != "Untitled" and title in text
        has_png = any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                      for o in c.outputs)
        assert ("data:image/png;base64" in text) == has_png, name
        if nb.metadata.get("widgets"):
            assert "application/vnd.jupyter.widget-state+json" in text, name
    check_links(tmp_path)


def test_missing_notebooks_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no numbered notebooks"):
        site.build(tmp_path / "site", tmp_path, run=False, vendor=False)


def test_solution_markers_do_not_render_as_headings():
    nb = new_notebook(cells=[new_markdown_cell("### BEGIN SOLUTION\nThe answer.\n### END SOLUTION")])
    assert site.hide_markers(nb).cells[0].source == "The answer."
