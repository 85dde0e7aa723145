#!/usr/bin/env python
"""The one setting for the course repository: its URL, in _config.yml and in every notebook's setup cell.

    python scripts/set_repository.py https://github.com/<owner>/<repo>   # set it (make set-repository URL=...)
    python scripts/set_repository.py ""                                  # unset it
    python scripts/set_repository.py --check                             # exit 1 unless they agree

The URL switches on the book's launch (Colab, Binder) and repository buttons,
and is where a notebook opened alone (Colab, a download) installs the course
package from when ``helpers`` is missing. Every notebook's first code cell is
the setup cell below; this script (re)writes it, so all of them stay the same.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_GLOBS = ("notebooks/*.ipynb",)
SETUP_MARK = "# Setup: makes this notebook run anywhere"
URL_LINE = re.compile(r'^COURSE_REPOSITORY = "(?P<url>[^"]*)"', re.M)
CONFIG_URL = re.compile(r'^(?P<head>repository:\n(?:[ \t]*#.*\n)*[ \t]+url:[ \t]*)"(?P<url>[^"]*)"', re.M)

SETUP_CELL = '''\
# Setup: makes this notebook run anywhere (a clone of the course, Colab, a folder of its own).
# When the course package `helpers` is missing, pip installs it from $COURSE_PACKAGE_SOURCE
# (a path, a wheel or a URL) when set, else from the course repository below.
import importlib.util
import os
import subprocess
import sys

COURSE_REPOSITORY = "{url}"
if importlib.util.find_spec("helpers") is None:
    source = os.environ.get("COURSE_PACKAGE_SOURCE") or (f"git+{{COURSE_REPOSITORY}}" if COURSE_REPOSITORY else "")
    if not source:
        raise ModuleNotFoundError("the course package `helpers` is missing and no course repository is set: "
                                  "set COURSE_PACKAGE_SOURCE to the course package (a path, a wheel or a URL)")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", source], check=True)
    importlib.invalidate_caches()
    print(f"installed the course package from {{source}}")
import helpers

print(helpers.describe_environment())
%matplotlib inline'''


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted(p for pattern in NOTEBOOK_GLOBS for p in root.glob(pattern))


def setup_cell_index(nb) -> int | None:
    """Index of the notebook's setup cell: its first code cell, when it is one."""
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)
    if first is not None and nb.cells[first].source.startswith(SETUP_MARK):
        return first
    return None


def config_url(root: Path = ROOT) -> str:
    match = CONFIG_URL.search((root / "_config.yml").read_text())
    if match is None:
        raise SystemExit(f"{root / '_config.yml'}: no `repository:` section with a quoted `url:` line")
    return match["url"]


def notebook_url(path: Path) -> str | None:
    nb = nbformat.read(path, as_version=4)
    index = setup_cell_index(nb)
    match = URL_LINE.search(nb.cells[index].source) if index is not None else None
    return match["url"] if match else None


def set_url(url: str, root: Path = ROOT) -> None:
    config = root / "_config.yml"
    config_url(root)  # fails clearly when the section is missing
    config.write_text(CONFIG_URL.sub(lambda m: f'{m["head"]}"{url}"', config.read_text(), count=1))
    for path in notebooks(root):
        nb = nbformat.read(path, as_version=4)
        cell = nbformat.v4.new_code_cell(SETUP_CELL.format(url=url))
        index = setup_cell_index(nb)
        if index is None:  # a notebook without one gets it as its first code cell
            first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
            nb.cells.insert(first, cell)
        elif nb.cells[index].source != cell.source:
            nb.cells[index].source = cell.source
        else:
            continue
        nbformat.write(nb, path)


def disagreements(root: Path = ROOT) -> list[str]:
    url = config_url(root)
    wrong = []
    for path in notebooks(root):
        nb = nbformat.read(path, as_version=4)
        index = setup_cell_index(nb)
        if index is None:
            wrong.append(f"{path.relative_to(root)}: its first code cell is not the setup cell")
        elif nb.cells[index].source != SETUP_CELL.format(url=url):
            wrong.append(f"{path.relative_to(root)}: the setup cell differs from the one for {url!r} "
                         f"(it names {notebook_url(path)!r})")
    return wrong


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", help="https://github.com/<owner>/<repo>, or \"\" to unset it")
    parser.add_argument("--check", action="store_true", help="exit 1 unless _config.yml and the notebooks agree")
    parser.add_argument("--root", type=Path, default=ROOT, help="the course folder (default: this checkout)")
    args = parser.parse_args(argv)
    if args.check == (args.url is not None):
        parser.error("give a URL, or --check")
    if args.check:
        wrong = disagreements(args.root)
        for line in wrong:
            print(line, file=sys.stderr)
        return 1 if wrong else 0
    url = args.url.strip().rstrip("/")
    if url and not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        parser.error(f"expected https://github.com/<owner>/<repo> (Colab opens GitHub notebooks), got {url!r}")
    set_url(url, args.root)
    print(f"repository URL {'set to ' + url if url else 'unset'} in _config.yml and {len(notebooks(args.root))} notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
