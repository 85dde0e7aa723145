"""scripts/make_student_copies.py and scripts/strip_outputs.py.

- On a small synthetic notebook built here: the copy keeps everything but the
  solutions, which become stubs; executed, the copy's only errors are
  NotImplementedError (check cells included) while the original runs cleanly.
- On the lesson notebooks in notebooks/ that have exercises: the convention holds
  and the copies contain no solution code (fast), and executing every student
  copy in one pass raises nothing but NotImplementedError (slow: it trains the
  models, as the lessons do).
"""
from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT = 1200  # seconds, as in _config.yml


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


msc = _load("make_student_copies")
strip_outputs = _load("strip_outputs")


tags = msc.tags


def solution_lines(source: str) -> list[str]:
    """The lines of a solution a student must not see: its code, not its def line, docstring or imports."""
    tree = ast.parse(source)
    funcs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    others = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                         ast.Import, ast.ImportFrom))]
    lines = source.splitlines()
    if len(funcs) == 1 and not others:
        body = funcs[0].body
        has_doc = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
        code = body[1:] if has_doc else body
        hidden = [line for node in code for line in lines[node.lineno - 1:node.end_lineno]]
    else:
        hidden = [line for node in others for line in lines[node.lineno - 1:node.end_lineno]]
    # Lines such as "return x" or ")" are too generic to prove a leak.
    return [line.strip() for line in hidden if len(line.strip()) >= 12]


def assert_valid_copy(original, copy, name: str) -> None:
    """The student copy is the original with solutions stubbed, tags removed, outputs cleared."""
    nbformat.validate(copy)
    assert len(copy.cells) == len(original.cells), name
    assert "widgets" not in copy.metadata
    for i, (a, b) in enumerate(zip(original.cells, copy.cells)):
        where = f"{name}, cell {i}"
        assert a.cell_type == b.cell_type, where
        if b.cell_type == "code":
            assert b.outputs == [] and b.execution_count is None, where
        if "solution" in tags(a):
            assert "solution" not in tags(b) and "hide-input" not in tags(b), where
            assert "NotImplementedError" in b.source and "TODO" in b.source, where
            ast.parse(b.source)
            for line in solution_lines(a.source):
                assert line not in b.source, f"{where}: the student copy shows solution code {line!r}"
        else:
            assert a.source == b.source, where
            assert a.metadata == b.metadata, where


def errors_of(nb) -> list[tuple[int, str, str]]:
    return [(i, out.ename, out.evalue) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.output_type == "error"]


def execute(nb, cwd: Path, allow_errors: bool):
    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


# ----------------------------------------------------------------------------- a synthetic lesson
FUNCTION_SOLUTION = '''import torch


def anomaly_scores(model, X):
    """One anomaly score per example: the mean squared reconstruction error."""
    model.eval()
    with torch.no_grad():
        return ((model(X) - X) ** 2).flatten(1).mean(1)'''

CODE_SOLUTION = '''codes = torch.randn(12, 2)
Z_secret = codes * 2 + 1
Z = Z_secret.numpy()'''


def synthetic_lesson():
    nb = new_notebook(cells=[
        new_markdown_cell("# 99 · A synthetic lesson\n\nFor the tests."),
        new_markdown_cell("## Setup"),
        new_code_cell("import torch\nfrom helpers.exercises import check_anomaly_scores, check_latent_codes\n"
                      "torch.manual_seed(0)\nvalues = [1, 2, 3]\nprint(sum(values))"),
        new_markdown_cell("## Exercises"),
        new_markdown_cell("### Exercise 99.1: scores\n\nWrite `anomaly_scores(model, X)`.",
                          metadata={"tags": ["exercise"]}),
        new_code_cell(FUNCTION_SOLUTION, metadata={"tags": ["solution", "hide-input"]}),
        new_code_cell("check_anomaly_scores(anomaly_scores)", metadata={"tags": ["check"]}),
        new_markdown_cell("### Exercise 99.2: codes\n\nMake 12 two-dimensional codes `Z`.",
                          metadata={"tags": ["exercise"]}),
        new_code_cell(CODE_SOLUTION, metadata={"tags": ["solution", "hide-input"],
                                               "jupyter": {"source_hidden": True}}),
        new_code_cell("check_latent_codes(Z, 12, 2)", metadata={"tags": ["check"]}),
        new_markdown_cell("## What we learned\n\n- solutions are stubs in the student copy"),
        new_code_cell("assert sum(values) == 6\nprint('lesson done')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    # outputs, as in an executed notebook, to be cleared
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="6\n")]
    nb.cells[2].execution_count = 1
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nbformat.validate(nb)
    return nb


@pytest.fixture
def lesson(tmp_path):
    path = tmp_path / "notebooks" / "99_synthetic.ipynb"
    path.parent.mkdir()
    nbformat.write(synthetic_lesson(), path)
    return path


def test_synthetic_lesson_follows_the_convention():
    assert msc.lint(synthetic_lesson()) == []


def test_student_copy_of_synthetic_lesson(lesson, tmp_path, capsys):
    out = tmp_path / "student"
    assert msc.main([str(lesson), "--out", str(out)]) == 0
    assert "2 exercise solution(s) replaced by stubs" in capsys.readouterr().out
    original = nbformat.read(lesson, as_version=4)
    copy = nbformat.read(out / lesson.name, as_version=4)
    assert_valid_copy(original, copy, lesson.name)

    function_stub, code_stub = copy.cells[5].source, copy.cells[8].source
    assert "def anomaly_scores(model, X):" in function_stub
    assert '"""One anomaly score per example: the mean squared reconstruction error."""' in function_stub
    assert 'raise NotImplementedError("Exercise 99.1: write `anomaly_scores`")' in function_stub
    assert "flatten(1)" not in function_stub and "no_grad" not in function_stub
    assert code_stub.startswith("# TODO: Exercise 99.2")
    assert "Z = NotImplemented" in code_stub and "randn" not in code_stub
    assert "jupyter" not in copy.cells[8].metadata  # the collapsed-source flag is gone too
    assert tags(copy.cells[6]) == ["check"] and tags(copy.cells[4]) == ["exercise"]


def test_student_copy_runs_with_only_not_implemented_errors(lesson, tmp_path):
    copy = msc.student_copy(nbformat.read(lesson, as_version=4))
    execute(copy, lesson.parent, allow_errors=True)
    errors = errors_of(copy)
    assert {e[1] for e in errors} == {"NotImplementedError"}, errors
    # the check calling the function stub, the code stub, and the check after it; nothing else
    assert [e[0] for e in errors] == [6, 8, 9], errors
    assert "Exercise 99.1" in errors[0][2]
    assert "not written yet" in errors[2][2]
    assert "lesson done" in copy.cells[-1].outputs[0].text


def test_solution_notebook_runs_and_its_checks_pass(lesson):
    nb = execute(nbformat.read(lesson, as_version=4), lesson.parent, allow_errors=False)
    for i in (6, 9):
        text = "".join(out.get("text", "") for out in nb.cells[i].outputs)
        assert "✓" in text, (i, text)


def test_lint_reports_broken_conventions():
    nb = synthetic_lesson()
    nb.cells[5].metadata["tags"] = ["solution"]                       # hide-input missing
    nb.cells.insert(3, new_code_cell("x = 1", metadata={"tags": ["solution", "hide-input"]}))  # no exercise
    nb.cells.insert(3, new_code_cell("check_forward(f)", metadata={"tags": ["check"]}))        # no solution
    problems = "\n".join(msc.lint(nb))
    assert "must also be tagged `hide-input`" in problems
    assert "right after a markdown cell tagged `exercise`" in problems
    assert "right after a `solution` cell" in problems


def test_main_fails_on_a_broken_notebook(lesson, tmp_path):
    nb = nbformat.read(lesson, as_version=4)
    nb.cells[4].metadata["tags"] = []  # the exercise prompt lost its tag
    nbformat.write(nb, lesson)
    assert msc.main([str(lesson), "--out", str(tmp_path / "student")]) == 1


def test_stub_of_a_one_line_function_and_decorators():
    assert msc.stub("def f(x): return x * 2", "Exercise 1.1").splitlines() == [
        "def f(x):",
        "    # TODO: write the body of `f` (Exercise 1.1).",
        '    raise NotImplementedError("Exercise 1.1: write `f`")',
    ]
    source = "@torch.no_grad()\ndef g(\n    a,\n    b=2,\n):\n    return a + b"
    stub = msc.stub(source, "Exercise 1.2")
    assert stub.startswith("@torch.no_grad()\ndef g(\n    a,\n    b=2,\n):\n    # TODO")
    assert "a + b" not in stub


def test_stub_of_other_code_names_what_it_defines():
    stub = msc.stub("for i in range(3):\n    pass\ntotal = 0\ntotal += 1\nclass A:\n    pass\n_hidden = 2",
                    "Exercise 3.1")
    assert "# It should define: total, A" in stub
    assert "i = NotImplemented" not in stub and "_hidden" not in stub
    exec_globals = {}
    with pytest.raises(NotImplementedError, match="Exercise 3.1"):
        exec(compile(stub, "<stub>", "exec"), exec_globals)
    assert exec_globals["total"] is NotImplemented


def test_strip_outputs(lesson, capsys):
    assert strip_outputs.main(["--check", str(lesson)]) == 1
    assert strip_outputs.main([str(lesson)]) == 0
    nb = nbformat.read(lesson, as_version=4)
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    assert "widgets" not in nb.metadata
    assert [c.source for c in nb.cells] == [c.source for c in synthetic_lesson().cells]
    assert strip_outputs.main(["--check", str(lesson)]) == 0
    mtime = lesson.stat().st_mtime_ns
    strip_outputs.main([str(lesson)])
    assert lesson.stat().st_mtime_ns == mtime  # a clean notebook is not rewritten


# ----------------------------------------------------------------------------- the lessons
def lessons_with_exercises():
    """(path, notebook) for every notebook in notebooks/ that has an exercise solution."""
    found = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if msc.has_exercises(nb):
            found.append((path, nb))
    return found


def test_lessons_follow_the_exercise_convention():
    problems = [f"{path.name}: {p}" for path, nb in lessons_with_exercises() for p in msc.lint(nb)]
    assert problems == []


def test_lesson_student_copies_hide_every_solution(tmp_path):
    lessons = lessons_with_exercises()
    if lessons:
        assert msc.main([str(p) for p, _ in lessons] + ["--out", str(tmp_path)]) == 0
    for path, nb in lessons:
        assert_valid_copy(nb, nbformat.read(tmp_path / path.name, as_version=4), path.name)


@pytest.mark.slow
def test_lesson_student_copies_run_with_only_not_implemented_errors(tmp_path):
    """One pass over every student copy, in lesson order, in a scratch copy of the repository layout.

    The copies run from ``<scratch>/notebooks`` so that ``../data`` (a link to the
    real data/) and ``../checkpoints`` (a copy of the real one, so nothing the
    lessons saved is overwritten) resolve as in the real tree.
    """
    lessons = lessons_with_exercises()
    scratch = tmp_path / "course"
    (scratch / "notebooks").mkdir(parents=True)
    (scratch / "data").symlink_to(ROOT / "data", target_is_directory=True)
    if (ROOT / "checkpoints").is_dir():
        shutil.copytree(ROOT / "checkpoints", scratch / "checkpoints")
    problems = []
    for path, nb in lessons:
        copy = msc.student_copy(nb, path.name[:2])
        nbformat.write(copy, scratch / "notebooks" / path.name)
        execute(copy, scratch / "notebooks", allow_errors=True)
        for index, ename, evalue in errors_of(copy):
            if ename != "NotImplementedError":
                problems.append(f"{path.name}, cell {index}: {ename}: {evalue}")
        stubs = sum("NotImplementedError" in c.source for c in copy.cells if c.cell_type == "code")
        if stubs and not errors_of(copy):
            problems.append(f"{path.name}: no stub raised NotImplementedError")
    assert problems == []
