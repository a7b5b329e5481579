"""Lecture mode: the notebooks as reveal.js slide decks that work offline.

    python -m tools.slides annotate [--dry-run] [notebooks...]
    python -m tools.slides build [--out site/slides] [--notebooks notebooks]

`annotate` sets metadata.slideshow.slide_type (what JupyterLab's property
inspector, nbconvert's slides exporter and RISE read) on every cell of the
given notebooks (default: the numbered ones in notebooks/) that has none. A
value an author set is never overwritten, so running it again changes
nothing; --dry-run only prints the counts. The rules, `slide_type(cell,
previous)`, first match wins ("lines" are those of the source without its
leading and trailing blank lines; a "long" code cell has more than 15):

  - a cell tagged `remove-cell`, an exercise's solution (it holds
    `### BEGIN SOLUTION`) or its checker call (`exercises.check_...`)    -> "skip"
  - markdown starting with `# ` or `## ` (a chapter or section)   -> "slide"
  - markdown starting with `### `                                -> "subslide"
  - other markdown: more than 12 lines -> "subslide", else "-" (continues the slide)
  - the first code cell of the notebook (the imports)            -> "skip"
  - a verification cell: only `assert` statements (and comments),
    or starting with `# verification`                            -> "skip"
  - a code cell with an image (image/*) or widget output         -> "-",
    but "subslide" when the previous cell is a long code cell
  - any other long code cell (long, and no figure to show)       -> "skip"
  - any other cell (a short code cell, a raw cell)               -> "-"

`build` exports one deck per numbered notebook, `out`/NN_name.slides.html,
from the committed outputs (nothing is executed) with nbconvert's
SlidesExporter, applying the rules in memory to cells without a slide_type,
plus `out`/index.html linking the decks. reveal.js, jQuery (the template's
scrolling helper), require.js, MathJax 2 and the widget renderer are vendored
from the npm registry (tools.site.npm_vendor, pinned versions) into `_static`
next to `out` (site/_static, shared with the HTML edition of tools/site.py) and
the decks point at them with relative URLs, so they work from disk with no
network. The reveal theme is "white", whose fonts ship with reveal.js (the
exporter's default, "simple", imports Google fonts), and the template's
Mermaid loader is dropped (an ES module from a CDN, which file:// pages cannot
load; no notebook has a diagram). When the HTML edition is built next to
`out` (its index.html and pages.json), its index is rewritten with a link to
the decks. Without npm the decks fall back to the exporter's CDN URLs.
"""
import argparse
import ast
import collections
import html
import json
import os
import shutil
from pathlib import Path

import nbformat

from tools import site

ROOT = Path(__file__).resolve().parent.parent
TYPES = ("slide", "subslide", "-", "skip")  # what the rules assign; authors may also use "fragment", "notes"
LONG_MARKDOWN, LONG_CODE = 12, 15

# Offline copies for the decks besides site.VENDOR, in its format: (npm spec, tarball name prefix,
# path in the package, name under _static). reveal.js 4: the major version of nbconvert's reveal template.
VENDOR = [("reveal.js@4.6.1", "reveal.js-", ".", "reveal.js"),
          ("jquery@3.7.1", "jquery-", "dist/jquery.min.js", "jquery.min.js")]
# reveal.js without its sources (css/, js/ hold SCSS and ES modules), demos and source maps.
REVEAL_SKIP = shutil.ignore_patterns("css", "js", "*.map", "*.esm.js", "demo.html", "index.html", "README.md")

# The reveal template without the Mermaid loader; a slide taller than the deck scrolls (mouse wheel)
# instead of being cut off (the exporter's reveal_scroll does so only after the first slide change);
# the Reveal object on `window` (require.js hands it only to the template's callback), for the
# console and the browser test.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block html_head_css %}
<style>
.reveal .slides > section > section { max-height: {{ resources.reveal.height | default('700', true) }}px;
                                      overflow-y: auto; }
</style>
{% endblock html_head_css %}
{% block footer_js %}
{{ super() }}
<script>require(["{{ resources.reveal.url_prefix }}/dist/reveal.js"], function (Reveal) { window.Reveal = Reveal; });
</script>
{% endblock footer_js %}
"""


def lines(cell):
    return len(cell.source.strip().splitlines())


def has_figure(cell):
    """Whether a code cell's outputs hold an image or a widget view."""
    return any(key.startswith("image/") or key == site.WIDGET_MIME
               for out in cell.get("outputs", []) for key in out.get("data", {}))


def is_verification(cell):
    """A code cell of `assert` statements only (comments aside), or one starting with `# verification`."""
    source = cell.source.strip()
    if source.lower().startswith("# verification"):
        return True
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError):  # IPython magics, or not Python at all
        return False
    return bool(body) and all(isinstance(statement, ast.Assert) for statement in body)


def is_long_code(cell):
    return cell is not None and cell.cell_type == "code" and lines(cell) > LONG_CODE


def slide_type(cell, previous=None, *, first_code=False):
    """The slide type the rules of the module docstring give `cell`; `previous` is
    the cell before it (None for the first), `first_code` says whether `cell` is the
    notebook's first code cell."""
    if "remove-cell" in cell.metadata.get("tags", []) or "BEGIN SOLUTION" in cell.source:
        return "skip"  # a lecture shows the exercise, not its solution
    if cell.cell_type == "code" and cell.source.lstrip().startswith("exercises.check_"):
        return "skip"
    if cell.cell_type == "markdown":
        source = cell.source.lstrip()
        if source.startswith(("# ", "## ")):
            return "slide"
        if source.startswith("### ") or lines(cell) > LONG_MARKDOWN:
            return "subslide"
        return "-"
    if cell.cell_type != "code":
        return "-"
    if first_code or is_verification(cell):
        return "skip"
    if has_figure(cell):
        return "subslide" if is_long_code(previous) else "-"
    return "skip" if lines(cell) > LONG_CODE else "-"


def authored(cell):
    """The slide type set in the cell's metadata, or None."""
    slideshow = cell.metadata.get("slideshow")
    return slideshow.get("slide_type") if isinstance(slideshow, dict) else None


def set_slide_types(nb):
    """Give every cell of `nb` without a slide type the one of the rules (in place).
    Returns the number of cells set."""
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)
    count = 0
    for i, cell in enumerate(nb.cells):
        if authored(cell) is None:
            kind = slide_type(cell, nb.cells[i - 1] if i else None, first_code=i == first_code)
            slideshow = cell.metadata.get("slideshow")
            cell.metadata["slideshow"] = {**(slideshow if isinstance(slideshow, dict) else {}), "slide_type": kind}
            count += 1
    return count


def notebook_paths(folder):
    paths = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks in {folder}")
    return paths


def annotate(paths, dry_run=False):
    """Set the missing slide types of the notebooks at `paths` and save those that changed
    (dry_run: save nothing). Returns {path: Counter of the slide types after the rules}."""
    counts = {}
    for path in map(Path, paths):
        nb = nbformat.read(path, as_version=4)
        changed = set_slide_types(nb)
        counts[path] = collections.Counter(authored(cell) for cell in nb.cells)
        if changed and not dry_run:
            nbformat.write(nb, path)
        summary = ", ".join(f"{kind} {counts[path][kind]}" for kind in sorted(counts[path], key=type_order))
        print(f"{path.name}: {changed} cell(s) {'to set' if dry_run else 'set'}; {summary}")
    return counts


def type_order(kind):
    return TYPES.index(kind) if kind in TYPES else len(TYPES)


def vendor_decks(out, static):
    """Vendor the decks' scripts (those of the HTML edition, site.VENDOR, and VENDOR) into
    `static`; the exporter settings pointing at them
    relative to `out`, or {} (the exporter's CDN URLs) when npm fails."""
    if not (site.npm_vendor(static, site.VENDOR) and site.npm_vendor(static, VENDOR, ignore=REVEAL_SKIP)):
        return {}
    rel = Path(os.path.relpath(static, out)).as_posix()
    settings = {key: rel + url[len("_static"):] for key, url in site.SETTINGS.items()}
    return dict(settings, jquery_url=f"{rel}/jquery.min.js", reveal_url_prefix=f"{rel}/reveal.js")


def export(nb, title, settings=None):
    """`nb` as a reveal.js deck (HTML text), `settings` SlidesExporter settings (script URLs)."""
    from nbconvert import SlidesExporter
    if any("mermaid" in cell.source for cell in nb.cells):
        print(f"{title}: Mermaid diagrams are not drawn in the decks (the loader is left out)")
    exporter = SlidesExporter(raw_template=TEMPLATE, reveal_theme="white", reveal_number="c/t",
                              **(settings or {}))
    body, _ = exporter.from_notebook_node(site.mark_widgets(nb), resources={"metadata": {"name": title}})
    return body


def index_page(decks, back=None):
    items = "\n".join(f"<li><a href='{name}'>{html.escape(title)}</a></li>" for name, title in decks)
    home = f"<p><a href='{back}'>The HTML edition of the course</a></p>" if back else ""
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>cnnlab: lecture slides</title></head>"
            "<body style='font-family:sans-serif;max-width:50em;margin:2em auto'>"
            "<h1>cnnlab: lecture slides</h1>"
            "<p>One reveal.js deck per notebook, with the committed figures and outputs. Keys: the arrows "
            "move between slides (down: the sub-slides of a section), <kbd>Esc</kbd> gives the overview, "
            "<kbd>S</kbd> the speaker view, <kbd>F</kbd> full screen.</p>"
            f"{home}<ol>\n{items}\n</ol></body></html>")


def build(out=ROOT / "site" / "slides", notebooks=ROOT / "notebooks", vendor=True, static=None):
    """Write `out`/NN_name.slides.html for every numbered notebook and `out`/index.html.
    `static` (default: _static next to `out`) receives the vendored scripts; vendor=False
    skips them (the decks then use CDN URLs). Returns the (file name, title) decks."""
    out = Path(out)
    paths = notebook_paths(notebooks)
    out.mkdir(parents=True, exist_ok=True)
    settings = vendor_decks(out, Path(static) if static else out.parent / "_static") if vendor else {}
    decks = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        title = site.notebook_title(nb)
        set_slide_types(nb)
        decks.append((path.stem + ".slides.html", title))
        (out / decks[-1][0]).write_text(export(nb, title, settings), encoding="utf-8")
    edition = out.parent
    built = (edition / "index.html").exists() and (edition / "pages.json").exists()
    (out / "index.html").write_text(index_page(decks, "../index.html" if built else None), encoding="utf-8")
    if built:  # the HTML edition's index links the decks
        pages = [tuple(page) for page in json.loads((edition / "pages.json").read_text())]
        (edition / "index.html").write_text(site.index_page(pages, f"{out.name}/index.html"), encoding="utf-8")
    return decks


def main(argv=None):
    parser = argparse.ArgumentParser(description="The course notebooks as reveal.js slide decks.")
    commands = parser.add_subparsers(dest="command", required=True)
    annotate_cmd = commands.add_parser("annotate", help="set the missing slide types by the rules")
    annotate_cmd.add_argument("notebooks", nargs="*", help="default: the numbered notebooks in notebooks/")
    annotate_cmd.add_argument("--dry-run", action="store_true", help="print the counts, write nothing")
    build_cmd = commands.add_parser("build", help="export the decks and their index")
    build_cmd.add_argument("--out", default=str(ROOT / "site" / "slides"))
    build_cmd.add_argument("--notebooks", default=str(ROOT / "notebooks"))
    args = parser.parse_args(argv)
    if args.command == "annotate":
        annotate(args.notebooks or notebook_paths(ROOT / "notebooks"), dry_run=args.dry_run)
    else:
        decks = build(args.out, args.notebooks)
        print(f"wrote {len(decks)} decks and index.html to {args.out}")


if __name__ == "__main__":
    main()
