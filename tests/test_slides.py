"""Lecture mode (tools/slides.py): the slide-type rules, `annotate` (never overwrites,
idempotent) and `build` (offline decks from the committed outputs, and their index)."""
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from tools import site, slides

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def md(source, **metadata):
    return new_markdown_cell(source, metadata=metadata)


def code(source, *mimes, **metadata):
    """A code cell with one display output holding `mimes` (e.g. image/png, a widget view, text/plain)."""
    values = {"image/png": PNG, site.WIDGET_MIME: {"model_id": "m", "version_major": 2, "version_minor": 0}}
    outputs = [new_output("display_data", data={mime: values.get(mime, "<Figure>") for mime in mimes})]
    return new_code_cell(source, outputs=outputs if mimes else [], metadata=metadata)


def lines(n, line="x = 1"):
    return "\n".join([line] * n)


@pytest.mark.parametrize("source, expected", [
    ("# 01 · A chapter\n\nIntro.", "slide"),
    ("## 2. A section", "slide"),
    ("\n## After a blank line", "slide"),
    ("### A part of a section", "subslide"),
    ("#### A minor heading", "-"),
    ("#hashtag, not a heading", "-"),
    ("Some words with $o = i - k + 1$.", "-"),
    (lines(12, "text"), "-"),
    (lines(13, "text"), "subslide"),  # a long explanation gets a slide of its own
])
def test_markdown_rules(source, expected):
    assert slides.slide_type(md(source), code("x = 1")) == expected


@pytest.mark.parametrize("cell, previous, expected", [
    (code("y = f(x)\nprint(y)"), md("text"), "-"),                                      # short code
    (code(lines(15)), md("text"), "-"),
    (code(lines(16)), md("text"), "skip"),                                               # long, nothing to show
    (code(lines(16), "image/png", "text/plain"), md("text"), "-"),                       # long, with its figure
    (code("plt.show()", "image/png"), code(lines(16)), "subslide"),                      # figure after long code
    (code("plt.show()", "image/png"), code(lines(15)), "-"),
    (code("plt.show()", "image/png"), md(lines(20, "text")), "-"),                       # only long *code* counts
    (code("explorer", site.WIDGET_MIME, "text/plain"), md("text"), "-"),          # widget
    (code("explorer", site.WIDGET_MIME), code(lines(16)), "subslide"),
    (code("assert f(1) == 2"), md("text"), "skip"),                                      # verification
    (code("# the bound of the notes\nassert f(1) == 2, f(1)\n\nassert (g(2)\n        == 3)"), None, "skip"),
    (code("# Verification of the table\nprint(table.sum())"), None, "skip"),
    (code("assert f(1) == 2\ny = f(2)"), None, "-"),                                     # also computes
    (code("%timeit f(1)"), None, "-"),                                                   # not Python: not asserts
    (code("# only a comment"), None, "-"),
    (code("plt.show()", "image/png", tags=["remove-cell"]), None, "skip"),
    (md("## A section", tags=["remove-cell"]), None, "skip"),
    (new_raw_cell("raw text"), None, "-"),
])
def test_cell_rules(cell, previous, expected):
    assert slides.slide_type(cell, previous) == expected


def test_the_first_code_cell_is_skipped():
    assert slides.slide_type(code("%matplotlib inline\nimport numpy as np"), md("# T"), first_code=True) == "skip"
    nb = new_notebook(cells=[md("# T"), code("import numpy as np"), code("np.zeros(2)"), code("import math")])
    slides.set_slide_types(nb)
    assert [slides.authored(c) for c in nb.cells] == ["slide", "skip", "-", "-"]


def tiny_notebook(path):
    """A heading with a formula, the imports, a figure, a verification cell."""
    nb = new_notebook(cells=[
        md("# 01 · A tiny deck\n\nThe area: $$a^2$$"),
        code("import math  # IMPORTS-MARKER"),
        md("## The figure"),
        code("plt.imshow(x); plt.show()", "image/png", "text/plain"),
        code("assert math.isclose(2 ** 2, 4)  # VERIFY-MARKER")])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_annotate_keeps_what_an_author_set_and_is_idempotent(tmp_path, capsys):
    path = tmp_path / "01_tiny.ipynb"
    nb = nbformat.read(tiny_notebook(path), as_version=4)
    nb.cells[0].metadata.slideshow = {"slide_type": "notes"}       # authors' choices, against the rules
    nb.cells[4].metadata.slideshow = {"slide_type": "fragment"}
    nb.cells[2].metadata.slideshow = {}                             # the key without a value: set by the rules
    nbformat.write(nb, path)
    original = path.read_bytes()
    counts = slides.annotate([path], dry_run=True)
    assert path.read_bytes() == original                            # a dry run writes nothing
    assert counts[path] == {"notes": 1, "skip": 1, "slide": 1, "-": 1, "fragment": 1}
    assert "3 cell(s) to set" in capsys.readouterr().out
    assert slides.annotate([path]) == counts
    annotated = nbformat.read(path, as_version=4)
    assert [slides.authored(c) for c in annotated.cells] == ["notes", "skip", "slide", "-", "fragment"]
    assert [c.source for c in annotated.cells] == [c.source for c in nb.cells]
    once, mtime = path.read_bytes(), path.stat().st_mtime_ns
    slides.main(["annotate", str(path)])                            # again: nothing to set, nothing written
    assert "0 cell(s) set" in capsys.readouterr().out
    assert path.read_bytes() == once and path.stat().st_mtime_ns == mtime


@pytest.fixture(scope="module")
def static(tmp_path_factory):
    """The decks' scripts, vendored once for the module (npm pack from the registry)."""
    folder = tmp_path_factory.mktemp("static")
    if not slides.vendor_decks(folder, folder):
        pytest.skip("npm could not vendor the decks' scripts (no npm or no registry)")
    return folder


def references(page):
    """The src/href of every script and link tag of an HTML file."""
    text = page.read_text(encoding="utf-8")
    return re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=['"]([^'"]+)""", text)


def test_build_writes_offline_decks_and_an_index(tmp_path, static):
    tiny_notebook(tmp_path / "nb" / "01_tiny.ipynb")
    out = tmp_path / "site" / "slides"
    decks = slides.build(out, tmp_path / "nb", static=static)
    assert decks == [("01_tiny.slides.html", "01 · A tiny deck")]
    deck = out / "01_tiny.slides.html"
    refs = references(deck)
    assert any("reveal.js" in r for r in refs) and any("MathJax.js" in r for r in refs)
    for ref in refs:
        assert not re.match(r"(https?:)?//", ref), f"{ref} is not local"
        assert (out / ref.split("?")[0]).exists(), f"{ref} is missing"
    text = deck.read_text(encoding="utf-8")
    assert not re.search(r"""url\(\s*['"]?(https?:)?//""", text)  # no CSS @import or font from the web
    assert not re.search(r"""from\s+['"]https?:""", text)  # no ES module from a CDN (the Mermaid loader)
    assert "01 · A tiny deck" in text and "$$a^2$$" in text
    assert "data:image/png;base64" in text
    assert "VERIFY-MARKER" not in text and "IMPORTS-MARKER" not in text  # skipped cells
    assert text.count("<section") >= 3  # two slides: an outer and an inner section each
    index = out / "index.html"
    hrefs = re.findall(r"href='([^']+)'", index.read_text(encoding="utf-8"))
    assert [h for h in hrefs if h.endswith(".slides.html")] == [name for name, _ in decks]
    assert all((out / h).exists() for h in hrefs)


def test_build_links_the_html_edition_both_ways(tmp_path):
    nb_dir = tmp_path / "nb"
    tiny_notebook(nb_dir / "01_tiny.ipynb")
    edition = tmp_path / "site"
    site.build(edition, nb_dir, run=False, vendor=False)
    assert "slides/index.html" not in (edition / "index.html").read_text(encoding="utf-8")
    slides.build(edition / "slides", nb_dir, vendor=False)
    assert "href='slides/index.html'" in (edition / "index.html").read_text(encoding="utf-8")
    assert "href='../index.html'" in (edition / "slides" / "index.html").read_text(encoding="utf-8")
    site.build(edition, nb_dir, run=False, vendor=False)  # a rebuilt HTML edition keeps the link
    assert "href='slides/index.html'" in (edition / "index.html").read_text(encoding="utf-8")


def test_build_exports_every_committed_notebook(tmp_path):
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    before = [p.read_bytes() for p in paths]
    decks = slides.build(tmp_path / "slides", NOTEBOOKS, vendor=False)
    assert len(decks) == len(paths) >= 9
    assert [name for name, _ in decks] == [p.stem + ".slides.html" for p in paths]
    for path, (name, title) in zip(paths, decks):
        text = (tmp_path / "slides" / name).read_text(encoding="utf-8")
        assert title != "Untitled" and title in text and "<section" in text
        nb = nbformat.read(path, as_version=4)
        has_png = any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                      for o in c.outputs)
        assert ("data:image/png;base64" in text) == has_png, name
    assert [p.read_bytes() for p in paths] == before  # the rules were applied in memory only


def test_missing_notebooks_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no numbered notebooks"):
        slides.build(tmp_path / "slides", tmp_path, vendor=False)


def test_exercise_solutions_and_checkers_are_not_lectured():
    solution = code("def my_f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION")
    assert slides.slide_type(solution, md("### Exercise")) == "skip"
    assert slides.slide_type(code("exercises.check_conv1x1(my_conv1x1)"), solution) == "skip"
    assert slides.slide_type(md("### BEGIN SOLUTION\nan answer\n### END SOLUTION"), None) == "skip"
