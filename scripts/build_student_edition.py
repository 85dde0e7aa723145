#!/usr/bin/env python
"""Build the book's student edition from the instructor build's executed notebooks.

    python scripts/build_student_edition.py                       # _build/html-student
    python scripts/build_student_edition.py --repository-url URL  # with launch buttons (a test, a preview)

Nothing is executed again: every notebook page takes the outputs the instructor
build cached (``_build/.jupyter_cache``; run ``scripts/build_book.sh`` first), and
each exercise's solution is replaced by the stub of ``make_student_copies.py``,
its outputs and its check's outputs removed with it. The pages are then built
with execution off, into ``_build/html-student``: no solution text reaches the
HTML, the search index or the downloadable notebooks.

The launch buttons (Colab, Binder) of this edition open the repository's
``student`` branch (``--branch``), which the book workflow fills with the
student copies (``.github/workflows/book.yml``), so a student who clicks
"Open in Colab" gets the exercises, not the answers.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml
from jupyter_cache import get_cache

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_student_copies import student_copy  # noqa: E402  (one definition of a student copy)

BUILD = ROOT / "_build"
STAGE = BUILD / "student-source"
OUTPUT = BUILD / "html-student"
COPIED = ("_toc.yml", "book")  # with the notebooks of the table of contents: all the book reads


def toc_files(toc: dict) -> list[str]:
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    return files


def student_config(url: str | None, branch: str) -> dict:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["title"] = f"{config['title']} (student edition)"
    config["execute"]["execute_notebooks"] = "off"  # the outputs come with the notebooks
    config["repository"]["branch"] = branch
    if url is not None:
        config["repository"]["url"] = url
    return config


def executed_student_notebook(path: Path, cache) -> nbformat.NotebookNode:
    """The notebook at ``path`` with the outputs of its cached execution, solutions stubbed."""
    nb = nbformat.read(path, as_version=4)
    try:
        _, executed = cache.merge_match_into_notebook(nb)
    except KeyError:
        raise SystemExit(f"{path.relative_to(ROOT)}: no cached execution of this version: build the instructor "
                         f"edition first (bash scripts/build_book.sh)") from None
    number = re.match(r"\d+", path.name)
    return student_copy(executed, str(int(number.group(0))) if number else None, keep_outputs=True)


def stage(url: str | None, branch: str) -> Path:
    if STAGE.exists():
        shutil.rmtree(STAGE)
    STAGE.mkdir(parents=True)
    for name in COPIED:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, STAGE / name)
    (STAGE / "_config.yml").write_text(yaml.safe_dump(student_config(url, branch), sort_keys=False))
    cache = get_cache(str(BUILD / ".jupyter_cache"))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for page in toc_files(toc):
        notebook = ROOT / f"{page}.ipynb"
        if notebook.exists():
            target = STAGE / f"{page}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(executed_student_notebook(notebook, cache), target)
    return STAGE


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repository-url", default=None,
                        help="override repository.url of _config.yml (e.g. to preview the launch buttons)")
    parser.add_argument("--branch", default="student", help="the branch the launch buttons open (default: student)")
    args = parser.parse_args(argv)
    stage(args.repository_url, args.branch)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jupyter_book), "build", str(STAGE), "--builder", "html", "-W", "--keep-going",
                             "--path-output", str(STAGE)], cwd=ROOT)
    if result.returncode != 0:
        print("build_student_edition.py: the student edition FAILED (see the warnings above)", file=sys.stderr)
        return result.returncode
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    shutil.copytree(STAGE / "_build" / "html", OUTPUT)
    print(f"== the student edition is in {OUTPUT.relative_to(ROOT)} (open {OUTPUT.relative_to(ROOT)}/index.html)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
