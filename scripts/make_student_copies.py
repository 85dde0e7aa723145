#!/usr/bin/env python
"""Write student copies of the lesson notebooks: every exercise solution replaced by a stub.

    python scripts/make_student_copies.py                 # notebooks/*.ipynb -> student/
    python scripts/make_student_copies.py --out DIR NB... # chosen notebooks, another folder

The convention (CONTRIBUTING.md, "Exercises"): a markdown cell tagged ``exercise``
(``### Exercise N.K: title``), then the solution, a code cell tagged ``solution``
(and ``hide-input``), then optionally a code cell tagged ``check``. In the copy:

- a solution that defines exactly one function (imports aside) keeps its imports,
  its ``def`` line(s) and docstring; its body becomes ``# TODO`` and
  ``raise NotImplementedError("Exercise N.K: ...")``;
- any other solution becomes a ``# TODO`` comment that names what the cell
  should define (its top-level assignments, functions and classes), those names
  bound to ``NotImplemented`` (so that a check cell given them reports "not
  written yet" instead of a ``NameError``), and a ``raise NotImplementedError(...)``;
- the solution's tags (``solution``, ``hide-input``) and a collapsed-source flag
  are removed, so the stub is visible;
- every output and execution count is cleared. Nothing else changes.

Problems with the convention (a solution without its exercise, a solution that
is not code, ...) are reported and make the script exit with status 1.
"""
from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from strip_outputs import strip  # noqa: E402  (the one definition of "a notebook without outputs")
SOLUTION_TAGS = {"solution", "hide-input"}
EXERCISE_RE = re.compile(r"^\s*#{1,6}\s*Exercise\s+(\d+(?:\.\d+)*)\s*[:.]?\s*(.*)$", re.M)


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def exercise_id(cell) -> tuple[str, str] | None:
    """``("N.K", "title")`` from an exercise cell's ``### Exercise N.K: title`` heading."""
    match = EXERCISE_RE.search(cell.get("source", ""))
    return (match.group(1), match.group(2).strip()) if match else None


def lint(nb) -> list[str]:
    """Where a notebook breaks the exercise convention, as readable messages (empty: fine)."""
    problems = []
    cells = nb.cells
    for i, cell in enumerate(cells):
        t = tags(cell)
        where = f"cell {i}"
        if "exercise" in t:
            if cell.cell_type != "markdown":
                problems.append(f"{where}: an `exercise` cell must be markdown")
            elif exercise_id(cell) is None:
                problems.append(f"{where}: an `exercise` cell must start with '### Exercise N.K: title'")
        if "solution" in t:
            if cell.cell_type != "code":
                problems.append(f"{where}: a `solution` cell must be a code cell")
            if i == 0 or "exercise" not in tags(cells[i - 1]):
                problems.append(f"{where}: a `solution` cell must come right after a markdown cell tagged `exercise`")
            if "hide-input" not in t:
                problems.append(f"{where}: a `solution` cell must also be tagged `hide-input`")
            try:
                ast.parse(cell.source)
            except SyntaxError as error:
                problems.append(f"{where}: the solution does not parse: {error}")
        if "check" in t:
            if cell.cell_type != "code":
                problems.append(f"{where}: a `check` cell must be a code cell")
            if i == 0 or "solution" not in tags(cells[i - 1]):
                problems.append(f"{where}: a `check` cell must come right after a `solution` cell")
            elif "check_" not in cell.source:
                problems.append(f"{where}: a `check` cell should call a helpers.exercises.check_* function")
    return problems


def _bound_names(tree: ast.Module) -> list[str]:
    """Names a cell's top-level assignments, functions and classes define, in order.

    Loop variables and augmented assignments (``x += 1``, which needs ``x`` already)
    are left out: they are not what an exercise asks for.
    """
    names: list[str] = []

    def add_target(node):
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                add_target(element)
        elif isinstance(node, ast.Starred):
            add_target(node.value)

    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                add_target(target)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            add_target(node.target)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
    return list(dict.fromkeys(n for n in names if not n.startswith("_")))


def _function_stub(source: str, tree: ast.Module, func: ast.FunctionDef, label: str) -> str:
    lines = source.splitlines()
    start = (func.decorator_list[0].lineno if func.decorator_list else func.lineno) - 1
    body0 = func.body[0]
    has_doc = (isinstance(body0, ast.Expr) and isinstance(body0.value, ast.Constant)
               and isinstance(body0.value.value, str))
    imports = [ast.get_source_segment(source, node) for node in tree.body
               if isinstance(node, (ast.Import, ast.ImportFrom))]
    if body0.lineno > func.lineno:  # the usual layout: the body starts on its own line
        header = lines[start:body0.lineno - 1]
        indent = re.match(r"\s*", lines[body0.lineno - 1]).group(0) or "    "
        doc = lines[body0.lineno - 1:body0.end_lineno] if has_doc else []
    else:  # def f(x): return x
        bare = copy.copy(func)
        bare.body = [ast.Pass()]
        header = [ast.unparse(bare).rsplit("\n", 1)[0]]
        indent, doc = "    ", []
    body = [f"{indent}# TODO: write the body of `{func.name}` ({label}).",
            f'{indent}raise NotImplementedError("{label}: write `{func.name}`")']
    return "\n".join([*imports, *([""] if imports else []), *header, *doc, *body])


def stub(source: str, label: str) -> str:
    """The student's version of a solution cell's ``source``; ``label`` is e.g. ``Exercise 1.2``."""
    tree = ast.parse(source)
    funcs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    others = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                         ast.Import, ast.ImportFrom))]
    if len(funcs) == 1 and not others:
        return _function_stub(source, tree, funcs[0], label)
    names = _bound_names(tree)
    out = [f"# TODO: {label}: write your solution in this cell."]
    if names:
        out.append(f"# It should define: {', '.join(names)}")
        out += [f"{name} = NotImplemented" for name in names]
    out.append(f'raise NotImplementedError("{label}: write your solution in this cell")')
    return "\n".join(out)


def student_copy(nb, number: str | None = None, keep_outputs: bool = False):
    """A student copy of notebook ``nb`` (a new object; ``nb`` is not changed).

    ``number`` (e.g. ``"1"``) labels exercises whose heading has no number. With
    ``keep_outputs`` (an executed notebook, for the book's student edition) the
    lesson cells keep their outputs; a solution's outputs go with its code, and a
    check's (which report on the solution) with it.
    """
    nb = nbformat.from_dict(nb)  # a deep copy
    label, count = None, 0
    for cell in nb.cells:
        t = tags(cell)
        if "exercise" in t:
            count += 1
            found = exercise_id(cell)
            label = f"Exercise {found[0]}" if found else f"Exercise {number or '?'}.{count}"
        if cell.cell_type == "code":
            if "solution" in t:
                cell.source = stub(cell.source, label or f"Exercise {number or '?'}.{count or 1}")
                cell.metadata["tags"] = [tag for tag in t if tag not in SOLUTION_TAGS]
                if not cell.metadata["tags"]:
                    del cell.metadata["tags"]
                jupyter = cell.metadata.get("jupyter", {})
                jupyter.pop("source_hidden", None)
                if "jupyter" in cell.metadata and not jupyter:
                    del cell.metadata["jupyter"]
            if keep_outputs and ("solution" in t or "check" in t):
                cell.outputs, cell.execution_count = [], None
    if not keep_outputs:
        strip(nb)
    return nb


def has_exercises(nb) -> bool:
    return any("solution" in tags(cell) for cell in nb.cells)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to copy (default: notebooks/*.ipynb)")
    parser.add_argument("--out", type=Path, default=ROOT / "student",
                        help="output folder (default: student/ at the repository root)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not paths:
        print("make_student_copies: no notebooks found", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    status = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        problems = lint(nb)
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        status |= bool(problems)
        number = re.match(r"\d+", path.name)
        copy = student_copy(nb, str(int(number.group(0))) if number else None)
        nbformat.validate(copy)
        target = args.out / path.name
        nbformat.write(copy, target)
        n = sum("solution" in tags(c) for c in nb.cells)
        print(f"{target}: {n} exercise solution(s) replaced by stubs")
    return status


if __name__ == "__main__":
    sys.exit(main())
