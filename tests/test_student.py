"""The student edition: solution regions become stubs, outputs are cleared,
stub cells are shown and tagged, and the result runs through with the
checkers saying NOT YET. Unbalanced markers are an error naming the cell."""
import copy
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tools import student

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
HIDDEN = {"jupyter": {"source_hidden": True}}
MARKERS = (student.BEGIN, student.END)

FUNCTION_SOLUTION = """\
def my_correlate2d(image, kernel):
    \"\"\"The valid cross-correlation of a 2-D image with a 2-D kernel.\"\"\"
    ### BEGIN SOLUTION
    kh, kw = kernel.shape
    out = np.empty((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = np.sum(image[r:r + kh, c:c + kw] * kernel)
    return out
    ### END SOLUTION"""
TOP_LEVEL_SOLUTION = "# How many? Assign it to `answer`.\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"


def with_output(cell, text, count):
    cell.outputs = [new_output("stream", name="stdout", text=text)]
    cell.execution_count = count
    return cell


def exercise_notebook():
    """Task, function solution, top-level solution, teaching cell, checker, library cell."""
    nb = new_notebook(cells=[
        new_markdown_cell("# Correlation\n**Exercise.** Write `my_correlate2d(image, kernel)`."),
        new_code_cell("import numpy as np\n\nfrom cnnlab import exercises", execution_count=1),
        new_code_cell(FUNCTION_SOLUTION, metadata=copy.deepcopy(HIDDEN), execution_count=2),
        with_output(new_code_cell(TOP_LEVEL_SOLUTION, metadata={**copy.deepcopy(HIDDEN), "tags": ["exercise"]}),
                    "", 3),
        with_output(new_code_cell("print(np.arange(4).sum())", metadata={"tags": ["demo"]}), "6\n", 4),
        with_output(new_code_cell("exercises.check_correlate2d(my_correlate2d)"), "PASSED: ...\n", 5),
        with_output(new_code_cell("import cnnlab as cl\n\nprint(cl.conv2d(np.ones((1, 1, 5, 5)), "
                                  "np.ones((2, 1, 3, 3)), np.zeros(2)).shape)"), "(1, 2, 3, 3)\n", 6),
    ])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.widgets = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


FUNCTION_CELL, TOP_CELL, STUB_CELLS = 2, 3, (2, 3)


def solution_lines(nb, inside_regions=True):
    """The stripped lines strictly between the markers over the whole notebook
    (with inside_regions=False: the lines outside every region)."""
    lines, inside = [], False
    for cell in nb.cells:
        for line in cell.source.split("\n"):
            if student.BEGIN in line:
                inside = True
            elif student.END in line:
                inside = False
            elif inside == inside_regions and line.strip():
                lines.append(line.strip())
    return lines


def source_lines(nb):
    return {line.strip() for cell in nb.cells for line in cell.source.split("\n")}


def execute(nb, cwd):
    from nbclient import NotebookClient
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def text(cell):
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def test_solution_regions_become_stubs():
    pytest.importorskip("nbgrader")
    nb = exercise_notebook()
    original = copy.deepcopy(nb)
    out = student.student_edition(nb, "01_fixture.ipynb")
    assert nb == original  # the instructor notebook is not modified
    assert len(out.cells) == len(nb.cells)
    assert not any(m in cell.source for cell in out.cells for m in MARKERS)
    assert len(solution_lines(nb)) == 7
    assert not set(solution_lines(nb)) & source_lines(out)
    assert out.cells[FUNCTION_CELL].source == (
        'def my_correlate2d(image, kernel):\n    """The valid cross-correlation of a 2-D image with a 2-D kernel."""\n'
        f"    {student.STUB}")
    assert out.cells[TOP_CELL].source == f"# How many? Assign it to `answer`.\n{student.STUB}"
    for i, (before, after) in enumerate(zip(nb.cells, out.cells)):
        if after.cell_type == "code":
            assert after.outputs == [] and after.execution_count is None, i
        if i in STUB_CELLS:
            assert "source_hidden" not in after.metadata.get("jupyter", {}), i
            assert after.metadata["tags"].count(student.TAG) == 1, i
        else:
            assert after.source == before.source and after.metadata == before.metadata, i
            assert student.TAG not in after.metadata.get("tags", []), i
    assert out.cells[TOP_CELL].metadata["tags"] == ["exercise", student.TAG]  # other tags kept
    assert "jupyter" not in out.cells[FUNCTION_CELL].metadata  # emptied metadata dict dropped
    assert "widgets" not in out.metadata
    assert student.solution_cells(out) == []
    assert student.student_edition(out) == out  # a student edition converts to itself


def test_student_edition_runs_through_with_checkers_saying_not_yet(tmp_path):
    pytest.importorskip("nbgrader")
    instructor = execute(exercise_notebook(), tmp_path)
    assert not any(errors(c) for c in instructor.cells)
    assert "PASSED" in text(instructor.cells[5])  # the reference solution passes its checker

    nb = execute(student.student_edition(exercise_notebook(), "01_fixture.ipynb"), tmp_path)
    for i, cell in enumerate(nb.cells):
        if i != TOP_CELL:
            assert not errors(cell), (i, errors(cell))
    (err,) = errors(nb.cells[TOP_CELL])
    assert err.ename == "NotImplementedError"
    assert err.evalue == "write your solution here, then run the checker below"
    assert student.TAG in nb.cells[TOP_CELL].metadata["tags"]  # the raise is allowed (nbval, Run All)
    checker = text(nb.cells[5])
    assert "NOT YET" in checker and "not written yet" in checker and "False" in checker
    assert text(nb.cells[6]) == "(1, 2, 3, 3)\n"


@pytest.mark.parametrize("source, problem", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "on line 2 has no 'END SOLUTION'"),
    ("### BEGIN SOLUTION\nx = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION\n### END SOLUTION",
     "nested 'BEGIN SOLUTION' on line 3, inside the region opened on line 1"),
    ("x = 1\n### END SOLUTION", "'END SOLUTION' on line 2 without a 'BEGIN SOLUTION'"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### END SOLUTION", "on line 4 without"),
])
def test_unbalanced_markers_name_the_notebook_and_cell(source, problem):
    nb = exercise_notebook()
    nb.cells.insert(4, new_code_cell(source))
    with pytest.raises(ValueError, match=r"^03_broken\.ipynb, cell 4 \(starting .*\): .*" + re.escape(problem)):
        student.student_edition(nb, "03_broken.ipynb")


def test_build_writes_every_notebook_or_none(tmp_path, capsys):
    pytest.importorskip("nbgrader")
    src, out = tmp_path / "nb", tmp_path / "student"
    src.mkdir()
    first = exercise_notebook()
    nbformat.write(first, src / "01_first.ipynb")
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Notes")]), src / "02_second.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell("### BEGIN SOLUTION")]), src / "notes.ipynb")  # not numbered
    student.main(["--out", str(out), "--notebooks", str(src)])
    assert "wrote 2 student notebooks" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["01_first.ipynb", "02_second.ipynb"]
    built = nbformat.read(out / "01_first.ipynb", as_version=4)
    nbformat.validate(built)
    assert built == student.student_edition(first)

    broken = exercise_notebook()
    broken.cells[FUNCTION_CELL].source = broken.cells[FUNCTION_CELL].source.replace("### END SOLUTION", "")
    nbformat.write(broken, src / "03_broken.ipynb")
    with pytest.raises(ValueError, match=r"03_broken\.ipynb, cell 2 .* has no 'END SOLUTION'"):
        student.build(tmp_path / "other", src)
    assert not (tmp_path / "other").exists()  # nothing half-written


def test_every_committed_notebook_converts(tmp_path):
    pytest.importorskip("nbgrader")
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        pytest.skip("no notebooks yet")
    written = student.build(tmp_path, NOTEBOOKS)
    assert [p.name for p in written] == [p.name for p in paths]
    for path, out in zip(paths, written):
        nb, built = nbformat.read(path, as_version=4), nbformat.read(out, as_version=4)
        assert len(built.cells) == len(nb.cells), path.name
        assert not any(m in cell.source for cell in built.cells for m in MARKERS), path.name
        # a solution line may also stand outside the solutions (e.g. `return out`); no other may leak
        leaked = set(solution_lines(nb)) & source_lines(built) - set(solution_lines(nb, inside_regions=False))
        assert not leaked, (path.name, leaked)
        assert all(not c.outputs and c.execution_count is None for c in built.cells if c.cell_type == "code")
        for i in student.solution_cells(nb, path.name):  # code stubs raise: tagged; markdown stubs are text
            if nb.cells[i].cell_type == "code":
                assert student.TAG in built.cells[i].metadata.get("tags", []), (path.name, i)


def test_missing_notebooks_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no numbered notebooks"):
        student.build(tmp_path / "student", tmp_path)
