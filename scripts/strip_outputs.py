#!/usr/bin/env python
"""Clear the outputs and execution counts of notebooks, in place (run before committing).

    python scripts/strip_outputs.py notebooks/*.ipynb
    python scripts/strip_outputs.py --check notebooks/*.ipynb   # exit 1 if any has outputs

Also drops saved widget state (``metadata.widgets``), which is output too. Cell
sources, tags and other metadata are left exactly as they are; a notebook that
is already clean is not rewritten.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat


def strip(nb) -> bool:
    """Clear ``nb`` in place; True if anything changed."""
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            cell.outputs = []
            changed = True
        if cell.get("execution_count") is not None:
            cell.execution_count = None
            changed = True
    if "widgets" in nb.metadata:
        del nb.metadata["widgets"]
        changed = True
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="notebooks (.ipynb)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if any notebook has outputs")
    args = parser.parse_args(argv)
    dirty = 0
    for path in args.files:
        nb = nbformat.read(path, as_version=4)
        if strip(nb):
            dirty += 1
            if args.check:
                print(f"{path}: has outputs")
            else:
                nbformat.write(nb, path)
                print(f"{path}: outputs cleared")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
