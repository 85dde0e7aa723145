"""Docstrings tell the truth: each public helper names the notebook that introduces it.

The truth comes from the notebooks themselves: a helper is introduced by the
first notebook (in course order) whose code uses it, as ``helpers.name``, as
``helpers.module.name``, or imported ``from helpers... import name``.
"""
from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import nbformat
import pytest

import helpers

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
FOOTER = re.compile(r"Introduced in notebook (\d\d) \(``(\d\d_[a-z0-9_]+)``\)")
ELSEWHERE = re.compile(r"COURSE_SPEC|\bissues?\b|tracker|workplace", re.I)


def _code_trees(path: Path):
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            yield ast.parse(source)
        except SyntaxError:
            continue


def _names_used(path: Path) -> set[str]:
    """Public helpers a notebook uses: attributes of ``helpers`` (or its modules) and names imported from it."""
    used = set()
    for tree in _code_trees(path):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "helpers":
                used.update(alias.name for alias in node.names)
            elif isinstance(node, ast.Attribute):
                base = node.value
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name) and base.id == "helpers":
                    used.add(node.attr)
    return used


def introduced_in() -> dict[str, str]:
    """Public name -> the stem of the first notebook that uses it."""
    first: dict[str, str] = {}
    for path in NOTEBOOKS:
        for name in _names_used(path):
            first.setdefault(name, path.stem)
    return first


def documented_objects():
    for name in helpers.__all__:
        obj = getattr(helpers, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield name, obj


def test_the_notebooks_use_helpers_at_all():
    used = introduced_in()
    assert used.get("fit") == "01_dense_autoencoder" and "describe_environment" in used


@pytest.mark.parametrize("name, obj", list(documented_objects()), ids=[n for n, _ in documented_objects()])
def test_footer_names_the_first_notebook_that_uses_it(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    footers = FOOTER.findall(doc)
    truth = introduced_in().get(name)
    if truth is None:
        assert not footers, f"{name} says it is introduced in notebook {footers[0][0]}, but no notebook uses it"
        return
    assert footers, f"{name} is first used in {truth}: its docstring should end with " \
                    f"\"Introduced in notebook {truth[:2]} (``{truth}``).\""
    assert footers[-1] == (truth[:2], truth), f"{name}: the footer says {footers[-1][1]}, but it is first used in {truth}"


@pytest.mark.parametrize("module", sorted({obj.__module__ for _, obj in documented_objects()}))
def test_docstrings_mention_no_document_outside_the_repository(module):
    import importlib

    mod = importlib.import_module(module)
    texts = [inspect.getdoc(mod) or ""] + [inspect.getdoc(obj) or "" for _, obj in documented_objects()
                                          if obj.__module__ == module]
    found = [m.group(0) for text in texts for m in ELSEWHERE.finditer(text)]
    assert found == []
