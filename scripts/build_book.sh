#!/usr/bin/env bash
# Build the course book (jupyter-book 1.x) from the repository root.
#
#   bash scripts/build_book.sh                     # the instructor edition, into _build/html
#   EDITION=student bash scripts/build_book.sh     # then the student edition, into _build/html-student
#   bash scripts/build_book.sh --all               # rewrite every page (still uses the execution cache)
#   VENV=/path/to/venv bash scripts/build_book.sh
#
# The instructor edition shows the solutions collapsed. The student edition replaces them by
# the stubs of the student copies; it is built from the instructor build's executed notebooks
# (scripts/build_student_edition.py), so nothing is trained twice.
#
# Notebooks are executed (cached in _build/.jupyter_cache) as _config.yml says.
# Every Sphinx warning is an error (-W), but the build keeps going (--keep-going) so
# that one run reports all of them; the script then exits non-zero. Warnings include
# a notebook cell that raises, anything a notebook writes to stderr, a traceback or an
# interactive widget left in a page, a broken cross-reference and a docstring that
# does not parse.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
EDITION=${EDITION:-instructor}
case "$EDITION" in
    instructor|student) ;;
    *) echo "build_book.sh: EDITION must be instructor or student, got '$EDITION'" >&2; exit 2 ;;
esac
JB="$VENV/bin/jupyter-book"
if [ ! -x "$JB" ]; then
    echo "build_book.sh: $JB not found; run scripts/setup.sh (or set VENV=...) first" >&2
    exit 2
fi

# The notebook kernels are started from this environment, with its python first on PATH.
export PATH="$(cd "$VENV/bin" && pwd):$PATH"
# No pydevd warning about frozen modules from the kernels in the build log.
export PYDEVD_DISABLE_FILE_VALIDATION=1

log=$(mktemp "${TMPDIR:-/tmp}/build_book.XXXXXX.log")
trap 'rm -f "$log"' EXIT

status=0
"$JB" build . --builder html -W --keep-going "$@" 2>&1 | tee "$log" || status=$?

# Say plainly why the build failed: the Sphinx warnings, one per line.
if [ "$status" -ne 0 ]; then
    echo
    echo "== build_book.sh: the build FAILED (exit $status). Warnings and errors:"
    grep -E "WARNING|ERROR|CRITICAL|Exception|Error:" "$log" | grep -v "IPKernelApp\] WARNING" | sed 's/^/   /' || true
    exit "$status"
fi
echo "== build_book.sh: OK, the instructor edition is in _build/html (open _build/html/index.html)"
if [ "$EDITION" = student ]; then
    "$VENV/bin/python" scripts/build_student_edition.py
fi
