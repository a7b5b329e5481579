"""Student edition of the course: the notebooks with every solution cleared.

    python -m tools.student [--out student] [--notebooks notebooks]

The committed notebooks are the instructor edition. A graded exercise is a
task cell, a solution cell and a checker cell; the solution cell holds its
reference solution between nbgrader's standard markers (and carries
"jupyter": {"source_hidden": true}, so JupyterLab shows it collapsed):

    def my_correlate2d(image, kernel):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

Each region (the marker lines and everything between) becomes STUB at the
indentation of its BEGIN line. This is nbgrader's own ClearSolutions
preprocessor (optional extra `student`, installed by `make student`; it adds
packages next to requirements.txt without changing any pinned one), so
`nbgrader generate_assignment` reads the same markers. Around it this module
 - checks the markers first: a BEGIN without its END, an END without its
   BEGIN or a BEGIN inside a region is a ValueError naming the notebook and
   the cell, raised before any file is written (nbgrader would raise a
   RuntimeError without either, or silently drop a stray END);
 - clears every output and execution count, and the stored widget state;
 - un-hides every stub cell and tags it `raises-exception` (a top-level stub
   raises when run: nbval and "Run All" go on past it);
 - checks that no marker is left in the output.
Markdown cells with a region get nbgrader's text stub (TEXT_STUB) instead.
"""
import argparse
import copy
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
# nbgrader's default delimiters, found anywhere in a line (as nbgrader matches them).
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
STUB = 'raise NotImplementedError("write your solution here, then run the checker below")'
TEXT_STUB = "*Write your answer here.*"
TAG = "raises-exception"


def solution_cells(nb, name="notebook"):
    """Indices of the cells that hold a solution region (or are nbgrader
    solution cells). Unbalanced or nested markers are a ValueError naming
    `name` and the cell (0-based index, as in nb.cells)."""
    found = []
    for i, cell in enumerate(nb.cells):
        where = f"{name}, cell {i} (starting {cell.source.lstrip()[:40]!r})"
        open_line = None
        for n, line in enumerate(cell.source.split("\n"), start=1):
            if BEGIN in line:  # nbgrader tests BEGIN first, so a line holding both opens a region
                if open_line:
                    raise ValueError(f"{where}: nested {BEGIN!r} on line {n}, inside the region "
                                     f"opened on line {open_line}")
                open_line = n
            elif END in line:
                if not open_line:
                    raise ValueError(f"{where}: {END!r} on line {n} without a {BEGIN!r} before it")
                open_line = None
        if open_line:
            raise ValueError(f"{where}: {BEGIN!r} on line {open_line} has no {END!r}")
        if BEGIN in cell.source or cell.metadata.get("nbgrader", {}).get("solution"):
            found.append(i)
    return found


def clear_solutions(nb):
    """nbgrader's ClearSolutions with our stubs, on `nb` in place."""
    try:
        from nbgrader.preprocessors import ClearSolutions
    except ImportError as err:
        raise ImportError("the student edition needs nbgrader: run `make student`, or "
                          "pip install -e '.[student]'") from err
    # enforce_metadata=False: our solution cells carry no nbgrader cell metadata (no grade ids).
    ClearSolutions(code_stub={"python": STUB}, text_stub=TEXT_STUB, enforce_metadata=False).preprocess(nb, {})
    return nb


def student_edition(nb, name="notebook"):
    """A student copy of the notebook node `nb` (not modified)."""
    nb = copy.deepcopy(nb)
    stubs = solution_cells(nb, name)
    clear_solutions(nb)
    nb.metadata.pop("widgets", None)  # widget state belongs to the cleared outputs
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if i in stubs:
            jupyter = cell.metadata.get("jupyter", {})
            jupyter.pop("source_hidden", None)
            if not jupyter:
                cell.metadata.pop("jupyter", None)
            if cell.cell_type == "code":
                tags = cell.metadata.setdefault("tags", [])
                if TAG not in tags:
                    tags.append(TAG)
        if BEGIN in cell.source or END in cell.source:
            raise RuntimeError(f"{name}, cell {i}: a solution marker is left after clearing")
    return nb


def build(out=ROOT / "student", notebooks=ROOT / "notebooks"):
    """Write the student edition of every notebooks/NN_*.ipynb to `out`/NN_*.ipynb.
    Every notebook is converted before any is written. Returns the written paths."""
    paths = sorted(Path(notebooks).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks in {notebooks}")
    editions = [student_edition(nbformat.read(p, as_version=4), p.name) for p in paths]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, nb in zip(paths, editions):
        nbformat.write(nb, out / path.name)
        written.append(out / path.name)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the student edition of the notebooks (solutions cleared).")
    parser.add_argument("--out", default=str(ROOT / "student"))
    parser.add_argument("--notebooks", default=str(ROOT / "notebooks"))
    args = parser.parse_args(argv)
    written = build(args.out, args.notebooks)
    print(f"wrote {len(written)} student notebooks to {args.out}")


if __name__ == "__main__":
    main()
