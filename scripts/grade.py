#!/usr/bin/env python
"""Grade handed-in notebooks: one row per student, notebook and exercise.

    python scripts/grade.py SUBMISSIONS                      # every notebook with exercises
    python scripts/grade.py SUBMISSIONS --notebooks 02 05    # some of them
    python scripts/grade.py SUBMISSIONS --out grades --timeout 600 --memory 6 --workers 2

SUBMISSIONS holds one folder per student, ``SUBMISSIONS/<student>/<NN_name>.ipynb``; a
student may hand in some notebooks and not others. The grader writes, into ``--out``:

- ``grades.csv``: ``student, notebook, exercise, status, message``, one row per student,
  notebook and exercise;
- ``<student>.md``: that student's results, with what each check printed;
- ``summary.md``: the class at a glance, and the time each submission took.

It never writes inside SUBMISSIONS or the course folder (except ``--out``).

Statuses
--------
``passed`` the check passed; ``failed`` the check raised ``ExerciseCheckError`` (or an
``AssertionError``); ``not attempted`` the answer still raises ``NotImplementedError`` (the
stub is untouched); ``error`` the student's code raised something else (or killed the
kernel); ``timeout`` the answer (or the notebook) ran out of time; ``missing`` the notebook
was not handed in; ``invalid`` the file is not a readable notebook (or the exercise's prompt
cell is gone, so its answer cannot be found); ``manual`` the exercise has no check cell
(an open question): its answer ran without error and is shown in the summary to be read.

How a submission is run
-----------------------
The exercises and their ids come from the course's own notebooks (``notebooks/*.ipynb``, cells
tagged ``exercise``, ``solution`` and ``check``; see CONTRIBUTING.md). With ``--mode exercises``
(the default) the grader runs the *course's* notebook with each solution cell replaced by the
code cells the student wrote under that exercise's prompt: lessons cells and checks are the
course's, so an edited check or lesson cell cannot change a grade, and the lesson's models
are the course's. ``--mode notebook`` runs the student's notebook as handed in, with only the
check cells restored from the course. Cells after the last exercise are not run.

Each submission runs in its own kernel (``scripts/grading_kernel.py``), in a scratch copy of
the course folder with its own copy of the data (``COURSE_DATA``) and of the prepared
checkpoints (``COURSE_CHECKPOINTS``), under a memory limit (``RLIMIT_DATA``), a time limit per
answer or check cell (``--cell-timeout``: the kernel is interrupted and the rest of the
notebook still runs) and one per notebook (``--timeout``). On Linux 5.13 and later the kernel
is confined with Landlock: it can write only inside its scratch folder, cannot open TCP
connections and cannot signal the grader.

Speed
-----
The lessons train models; re-training them for every student would cost minutes per
submission. The course's own notebook runs first (it must pass its own checks): every call
to ``helpers.fit`` in it trains once and is stored in a training cache (``<out>/.cache``),
keyed by everything the training depends on; in the students' kernels the same calls replay
the stored result (weights, history, random states), exactly, in about a second. Only
training that a student's code changes runs for real. Checkpoints that a notebook saves (the
notebook-02 model, used by 05-07) are kept for the later notebooks of the same session.
``--no-cache`` turns the cache off.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import csv
import dataclasses
import fnmatch
import hashlib
import json
import math
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_student_copies import exercise_id, lint, stub, tags  # noqa: E402  (the one reading of the convention)

ROOT = Path(__file__).resolve().parent.parent
KERNEL_SCRIPT = Path(__file__).resolve().parent / "grading_kernel.py"
STATUSES = ("passed", "failed", "not attempted", "error", "timeout", "missing", "invalid", "manual")
STATUS_LETTERS = {"passed": "P", "failed": "F", "not attempted": "N", "error": "E", "timeout": "T",
                  "missing": "-", "invalid": "I", "manual": "M"}
FAILED_NAMES = ("ExerciseCheckError", "AssertionError")
MAX_NOTEBOOK_BYTES = 50 * 2**20
MAX_OUTPUT_CHARS = 2_000_000    # per cell (figures included): what a printing loop can make the grader hold
MESSAGE_CHARS = 1_500           # per message in grades.csv
PROBE_SECONDS = 20              # after interrupting a cell: how long the kernel has to answer again
STARTUP_SECONDS = 300           # to start a kernel (imports torch; slow on a busy machine)
REFERENCE_FACTOR = 6            # the course's own run trains everything: its time limits are this much longer
COPY_IGNORE = (".git", ".venv", "venv", "_build", "student", "checkpoints", "data", "grades", "__pycache__",
               ".ipynb_checkpoints", ".pytest_cache", "node_modules", "*.egg-info")
KERNEL_ENV_KEEP = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "COURSE_SEED", "CUDA_VISIBLE_DEVICES",
                   "LD_LIBRARY_PATH", "SYSTEMROOT")
UNWATCHED = (".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ipynb_checkpoints", "_build", "student",
             "*.egg-info")  # generated folders a concurrent build may change: not part of "the course is unchanged"
HEADING_RE = re.compile(r"^\s{0,3}#{1,2}\s")  # a section heading (# or ##) ends an exercise's answer
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# ----------------------------------------------------------------------------- the course
@dataclasses.dataclass
class Exercise:
    id: str
    title: str
    solution_index: int
    check_index: int | None
    solution_source: str
    check_source: str | None

    @property
    def label(self) -> str:
        return f"Exercise {self.id}"


@dataclasses.dataclass
class Lesson:
    name: str            # the file's stem, e.g. "02_conv_autoencoder"
    path: Path
    nb: object
    exercises: list

    @property
    def last_index(self) -> int:
        last = self.exercises[-1]
        return last.check_index if last.check_index is not None else last.solution_index


def read_lesson(path: Path) -> Lesson:
    """A course notebook and its exercises, in order (problems with the convention: ValueError)."""
    nb = nbformat.read(path, as_version=4)
    problems = lint(nb)
    if problems:
        raise ValueError(f"{path.name} breaks the exercise convention: " + "; ".join(problems))
    exercises = []
    cells = nb.cells
    for i, cell in enumerate(cells):
        if "solution" in tags(cell):
            found = exercise_id(cells[i - 1])
            check = i + 1 if i + 1 < len(cells) and "check" in tags(cells[i + 1]) else None
            exercises.append(Exercise(found[0], found[1], i, check, cell.source,
                                      cells[check].source if check is not None else None))
    return Lesson(path.stem, path, nb, exercises)


def course_lessons(course: Path, selection=None) -> list[Lesson]:
    """The course's notebooks that have exercises, in order; ``selection``: numbers ("02") or names."""
    lessons = []
    for path in sorted((course / "notebooks").glob("*.ipynb")):
        if selection and not any(path.stem == s or path.stem.startswith(f"{s}_") or path.name == s
                                 for s in selection):
            continue
        nb = nbformat.read(path, as_version=4)
        if any("solution" in tags(cell) for cell in nb.cells):
            lessons.append(read_lesson(path))
    return lessons


# ----------------------------------------------------------------------------- submissions
def find_submission(folder: Path, lesson: Lesson) -> Path | None:
    """The student's file for ``lesson``: ``<name>.ipynb``, else the one notebook named ``NN_...``/``NN ...``."""
    exact = folder / f"{lesson.name}.ipynb"
    if exact.is_file():
        return exact
    candidates = [p for p in folder.rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts and p.is_file()]
    named = [p for p in candidates if p.name == f"{lesson.name}.ipynb"]
    if len(named) == 1:
        return named[0]
    number = lesson.name.split("_")[0]
    numbered = [p for p in candidates if re.match(rf"{re.escape(number)}(\D|$)", p.name)]
    return numbered[0] if len(numbered) == 1 else None


def read_submission(path: Path):
    """``(notebook, None)``, or ``(None, why it is not a readable notebook)``. Only reads the file."""
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            return None, (f"the file is {size / 2**20:.0f} MB, more than a notebook can be "
                          f"({MAX_NOTEBOOK_BYTES // 2**20} MB)")
        text = path.read_bytes().decode("utf-8")
        nb = nbformat.reads(text, as_version=4)
        if not isinstance(nb.get("cells"), list):
            return None, "the file has no list of cells"
        for cell in nb.cells:
            if cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(cell.get("source", ""), str):
                return None, "a cell of the file is not a notebook cell"
        return nb, None
    except UnicodeDecodeError:
        return None, "not a readable notebook: the file is not UTF-8 text"
    except Exception as error:  # JSON errors, nbformat's own, truncated files
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        return None, f"not a readable notebook: {type(error).__name__}: {first}"


@dataclasses.dataclass
class Block:
    """What a student wrote for one exercise: the cells between its prompt and its check."""
    code: list            # sources of the code cells
    markdown: list        # sources of the markdown cells (answers to "why?" questions)
    check_position: int | None   # index of the check cell in the student's notebook
    first: int            # index of the prompt cell
    last: int             # index of the block's last cell (the check, if any)


def answer_blocks(nb, lesson: Lesson) -> dict:
    """``{exercise id: Block}`` for the exercises whose prompt cell is in ``nb`` (tagged or not)."""
    cells = nb.cells
    wanted = {e.id: e for e in lesson.exercises}
    prompts = {}
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        found = exercise_id(cell)
        if found and found[0] in wanted and (found[0] not in prompts or "exercise" in tags(cell)
                                              and "exercise" not in tags(cells[prompts[found[0]]])):
            prompts[found[0]] = i
    checks = {e.check_source.strip() for e in lesson.exercises if e.check_source}
    course = lesson.nb.cells
    blocks = {}
    for eid, start in prompts.items():
        exercise = wanted[eid]
        # the course's lesson cells after this exercise: meeting one means the answer is over
        after = exercise.check_index if exercise.check_index is not None else exercise.solution_index
        followers = {c.source.strip() for c in course[after + 1:]
                     if c.source.strip() and not {"solution", "check"} & set(tags(c))}
        code, markdown, check, end = [], [], None, start
        for j in range(start + 1, len(cells)):
            cell = cells[j]
            is_prompt = cell.get("cell_type") == "markdown" and (exercise_id(cell) or "exercise" in tags(cell))
            is_heading = cell.get("cell_type") == "markdown" and HEADING_RE.match(cell.get("source", ""))
            if is_prompt or is_heading or cell.get("source", "").strip() in followers:
                break
            if cell.get("cell_type") == "code" and ("check" in tags(cell) or cell.source.strip() in checks):
                if wanted[eid].check_source is not None:
                    check, end = j, j
                    break
            end = j
            if cell.get("cell_type") == "code":
                code.append(cell.source)
            elif cell.get("cell_type") == "markdown":
                markdown.append(cell.source)
        blocks[eid] = Block(code, markdown, check, start, end)
    return blocks


# ----------------------------------------------------------------------------- the notebook to run
def _cell(source: str, role: str, exercise: str | None = None, cell_type: str = "code"):
    cell = new_code_cell(source) if cell_type == "code" else nbformat.v4.new_markdown_cell(source)
    cell.metadata["grader"] = {"role": role, **({"exercise": exercise} if exercise else {})}
    return cell


def _is_answered(block: Block | None) -> bool:
    return block is not None and any(source.strip() for source in block.code)


def graded_notebook(lesson: Lesson, submission, mode: str = "exercises"):
    """The notebook to run for ``submission`` (a notebook node), and ``{exercise id: Block}``.

    Every code cell carries ``metadata.grader.role``: ``lesson``, ``answer`` or ``check``
    (with ``exercise``). A solution the student's notebook does not answer (no prompt, or
    no code under it) is the course's stub, which raises NotImplementedError as an untouched
    stub does, so that the rest of the notebook runs as for an unsolved exercise.
    """
    blocks = answer_blocks(submission, lesson)
    cells = []
    if mode == "exercises":
        by_solution = {e.solution_index: e for e in lesson.exercises}
        by_check = {e.check_index: e for e in lesson.exercises if e.check_index is not None}
        for i, cell in enumerate(lesson.nb.cells[:lesson.last_index + 1]):
            if i in by_solution:
                exercise = by_solution[i]
                block = blocks.get(exercise.id)
                sources = block.code if _is_answered(block) else [stub(exercise.solution_source, exercise.label)]
                cells += [_cell(source, "answer", exercise.id) for source in sources]
            elif i in by_check:
                cells.append(_cell(cell.source, "check", by_check[i].id))
            else:
                cells.append(_cell(cell.source, "lesson", cell_type=cell.cell_type))
    elif mode == "notebook":
        source_cells = submission.cells
        by_exercise = {e.id: e for e in lesson.exercises}
        owner, prompt_of = {}, {block.first: eid for eid, block in blocks.items()}
        for eid, block in blocks.items():
            for j in range(block.first + 1, block.last + 1):
                owner[j] = eid
        last = max([b.last for b in blocks.values()], default=len(source_cells) - 1)
        for j, cell in enumerate(source_cells[:last + 1]):
            kind = cell.get("cell_type")
            if kind not in ("code", "markdown"):
                continue
            eid = owner.get(j)
            if eid is None:
                cells.append(_cell(cell.source, "lesson", cell_type=kind))
                if j in prompt_of and not _is_answered(blocks[prompt_of[j]]):
                    exercise = by_exercise[prompt_of[j]]
                    cells.append(_cell(stub(exercise.solution_source, exercise.label), "answer", exercise.id))
            elif j == blocks[eid].check_position:
                cells.append(_cell(by_exercise[eid].check_source, "check", eid))
            elif kind == "code":
                if cell.source.strip():
                    cells.append(_cell(cell.source, "answer", eid))
            else:
                cells.append(_cell(cell.source, "lesson", cell_type="markdown"))
            block = blocks.get(eid) if eid else None
            if block and j == block.last and block.check_position is None and by_exercise[eid].check_source:
                cells.append(_cell(by_exercise[eid].check_source, "check", eid))
    else:
        raise ValueError(f"mode must be 'exercises' or 'notebook', got {mode!r}")
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "grading", "display_name": "grading", "language": "python"}})
    return nb, blocks


# ----------------------------------------------------------------------------- running a notebook
@dataclasses.dataclass
class CellOutcome:
    kind: str                   # ok, error, timeout, dead, not run
    ename: str = ""
    evalue: str = ""
    traceback: str = ""
    stdout: str = ""
    seconds: float = 0.0
    reason_status: str = ""     # for "not run": the status it gives (timeout or error)


def _text(value) -> str:
    return ANSI_RE.sub("", "".join(value) if isinstance(value, list) else str(value or ""))


def outcome_of(cell, seconds: float = 0.0) -> CellOutcome:
    """What a cell did, from its outputs: its first error, and what it printed on standard output."""
    stdout = "".join(_text(o.get("text", "")) for o in cell.get("outputs", [])
                     if o.get("output_type") == "stream" and o.get("name") == "stdout")
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            return CellOutcome("error", o.get("ename", ""), _text(o.get("evalue", "")),
                               "\n".join(_text(line) for line in o.get("traceback", [])), stdout, seconds)
    return CellOutcome("ok", stdout=stdout, seconds=seconds)


@dataclasses.dataclass
class Limits:
    notebook: float = 600.0
    cell: float = 120.0
    memory_gb: float = 6.0


def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """nbclient's client, holding at most MAX_OUTPUT_CHARS of output per cell."""

        def output(self, outs, msg, display_id, cell_index):
            if msg["msg_type"] in ("stream", "display_data", "execute_result", "update_display_data"):
                content = msg.get("content", {})
                size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
                sizes = self.__dict__.setdefault("_output_sizes", {})
                used = sizes.get(cell_index, 0)
                sizes[cell_index] = used + size
                if used + size > MAX_OUTPUT_CHARS:
                    if used <= MAX_OUTPUT_CHARS:
                        outs.append(nbformat.v4.new_output("stream", name="stdout",
                                                           text="\n[grader: further output of this cell dropped]\n"))
                    return None
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def _stop_on_signals() -> list:
    """Ctrl-C or SIGTERM stops the grading (nbclient's own handlers only shut the kernel down and go on).

    Returns a list that holds the signal once one came: nbclient turns the cancellation of a running
    cell into DeadKernelError, so the caller looks there to tell the two apart."""
    import signal

    loop, task, received = asyncio.get_running_loop(), asyncio.current_task(), []

    def stop(number):
        received.append(number)
        task.cancel()

    for number in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(number, stop, number)
        except (RuntimeError, NotImplementedError, ValueError):  # not the main thread, or Windows
            pass
    return received


def _stop_output_pollers() -> None:
    """After a cell times out, nbclient (0.11) leaves the task that reads the cell's outputs running:
    it would swallow the outputs of every later cell. No other cell runs at that point: stop them all."""
    for task in asyncio.all_tasks():
        if getattr(task.get_coro(), "__qualname__", "").endswith("_async_poll_output_msg"):
            task.cancel()


async def _interrupt_and_probe(client, km, seconds: float) -> bool:
    """Interrupt the kernel; True if it then runs an empty cell within ``seconds``."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if seconds < 1:
        return False
    try:
        await km.interrupt_kernel()
        client.timeout = max(1, int(seconds))
        await client.async_execute_cell(new_code_cell("pass"), 0, store_history=False)
        return True
    except (CellTimeoutError, DeadKernelError, RuntimeError):
        _stop_output_pollers()
        return False


async def _run_cells(nb, cwd: Path, kernel_dir: Path, connection_file: Path, env: dict, limits: Limits):
    """Execute the code cells of ``nb`` in a new kernel; ``{cell index: CellOutcome}``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    km = AsyncKernelManager(kernel_name="grading", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]),
                            connection_file=str(connection_file))
    client = _client_class()(nb, km=km, allow_errors=True, timeout=None, startup_timeout=STARTUP_SECONDS,
                             iopub_timeout=5, record_timing=False, coalesce_streams=True,
                             shutdown_kernel="immediate", resources={"metadata": {"path": str(cwd)}})
    outcomes, usage = {}, {}
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    stop = None  # (status, why) once the rest cannot run
    try:
        async with client.async_setup_kernel(env=env, cleanup_kc=True):
            signals = _stop_on_signals()
            deadline = time.monotonic() + limits.notebook
            for index in code:
                if signals:
                    raise KeyboardInterrupt
                cell = nb.cells[index]
                if stop is None and deadline - time.monotonic() < 1:
                    stop = ("timeout", f"not run: the notebook used up its {limits.notebook:.0f} s")
                if stop is not None:
                    outcomes[index] = CellOutcome("not run", evalue=stop[1], reason_status=stop[0])
                    continue
                left = deadline - time.monotonic()
                role = cell.metadata.get("grader", {}).get("role")
                budget = min(left, limits.cell) if role in ("answer", "check") else left
                client.timeout = max(1, math.ceil(budget))
                start = time.monotonic()
                try:
                    await client.async_execute_cell(cell, index)
                    outcomes[index] = outcome_of(cell, time.monotonic() - start)
                except CellTimeoutError:
                    _stop_output_pollers()
                    cell_limit = budget < left
                    which = f"the {limits.cell:.0f} s limit of a cell" if cell_limit else \
                        f"the {limits.notebook:.0f} s limit of the notebook"
                    partial = outcome_of(cell)
                    outcomes[index] = CellOutcome("timeout", evalue=f"still running after {budget:.0f} s ({which})",
                                                  stdout=partial.stdout, seconds=time.monotonic() - start)
                    if not (cell_limit and await _interrupt_and_probe(client, km, min(PROBE_SECONDS,
                                                                                      deadline - time.monotonic()))):
                        stop = ("timeout", "not run: an earlier cell ran out of time and could not be interrupted"
                                if cell_limit else f"not run: the notebook used up its {limits.notebook:.0f} s")
                except DeadKernelError:
                    if signals:
                        raise KeyboardInterrupt from None
                    outcomes[index] = CellOutcome(
                        "dead", "DeadKernelError", "the kernel died while running this cell (out of memory, "
                        "os._exit, or a crash in native code)", seconds=time.monotonic() - start)
                    stop = ("error", "not run: the kernel died in an earlier cell")
            usage["cpu_seconds"] = _cpu_seconds(km)
    except Exception as error:  # the kernel did not start, or nbclient failed outside a cell
        why = f"not run: the kernel failed ({type(error).__name__}: {str(error).strip()[:300]})"
        for index in code:
            if index not in outcomes:
                outcomes[index] = CellOutcome("not run", evalue=why, reason_status="error")
    return outcomes, usage


def _cpu_seconds(km) -> float:
    """CPU time the kernel (and the processes it waited for) used so far: a measure of the work that
    does not depend on how busy the machine is."""
    try:
        import psutil

        times = psutil.Process(km.provisioner.process.pid).cpu_times()
        return times.user + times.system + times.children_user + times.children_system
    except Exception:
        return 0.0


# ----------------------------------------------------------------------------- statuses
def exercise_status(answers: list, check: CellOutcome | None, has_check: bool) -> tuple[str, str]:
    """``(status, message)`` of one exercise from the outcomes of its answer cells and its check cell."""
    for outcome in answers:
        if outcome.kind == "timeout":
            return "timeout", f"your answer was {outcome.evalue}"
        if outcome.kind == "dead":
            return "error", f"your answer: {outcome.evalue}"
        if outcome.kind == "not run":
            return outcome.reason_status or "error", outcome.evalue
        if outcome.kind == "error":
            if outcome.ename == "NotImplementedError":
                return "not attempted", outcome.evalue or "the answer still raises NotImplementedError"
            return "error", f"your answer raised {outcome.ename}: {outcome.evalue}"
    if not has_check:
        shown = "\n".join(o.stdout for o in answers if o.stdout).strip()
        return "manual", "no automatic check: read the answer" + (f"; it printed: {shown}" if shown else "")
    if check is None:
        return "error", "the check cell did not run"
    if check.kind == "ok":
        return "passed", check.stdout.strip() or "the check passed"
    if check.kind == "timeout":
        return "timeout", f"the check was {check.evalue}"
    if check.kind == "not run":
        return check.reason_status or "error", check.evalue
    if check.kind == "dead":
        return "error", f"the check: {check.evalue}"
    if check.ename in FAILED_NAMES:
        return "failed", check.evalue or check.ename
    if check.ename == "NotImplementedError":
        return "not attempted", check.evalue
    return "error", f"the check raised {check.ename}: {check.evalue}"


@dataclasses.dataclass
class Row:
    student: str
    notebook: str
    exercise: str
    status: str
    message: str
    title: str = ""
    answer: str = ""       # the student's code (for manual exercises and errors)
    output: str = ""       # what the answer printed
    traceback: str = ""


def rows_for_run(student, lesson: Lesson, nb, blocks, outcomes) -> list[Row]:
    rows = []
    for exercise in lesson.exercises:
        answers = [(i, outcomes.get(i)) for i, cell in enumerate(nb.cells)
                   if cell.metadata.get("grader", {}).get("exercise") == exercise.id
                   and cell.metadata["grader"]["role"] == "answer" and cell.cell_type == "code"]
        checks = [outcomes.get(i) for i, cell in enumerate(nb.cells)
                  if cell.metadata.get("grader", {}).get("exercise") == exercise.id
                  and cell.metadata["grader"]["role"] == "check"]
        block = blocks.get(exercise.id)
        if block is None:
            rows.append(Row(student, lesson.name, exercise.id, "invalid",
                            f"the prompt cell '### {exercise.label}: {exercise.title}' is missing from the notebook, "
                            f"so its answer cannot be found", exercise.title))
            continue
        answer_outcomes = [o or CellOutcome("ok") for _, o in answers]
        status, message = exercise_status(answer_outcomes, checks[0] if checks else None,
                                          exercise.check_source is not None)
        if not _is_answered(block) and status == "not attempted":
            message = f"no code under the prompt of {exercise.label} (its stub ran in its place)"
        failing = next((o for o in answer_outcomes + [c for c in checks if c] if o.kind == "error"), None)
        rows.append(Row(student, lesson.name, exercise.id, status, message, exercise.title,
                        answer="\n\n".join(block.code + [f"(markdown)\n{m}" for m in block.markdown]),
                        output="\n".join(o.stdout for o in answer_outcomes if o.stdout).strip(),
                        traceback=failing.traceback if failing and status == "error" else ""))
    return rows


def flat_rows(student: str, lesson: Lesson, status: str, message: str) -> list[Row]:
    return [Row(student, lesson.name, e.id, status, message, e.title) for e in lesson.exercises]


# ----------------------------------------------------------------------------- a run's scratch folder
def _ignore(names_to_skip):
    patterns = shutil.ignore_patterns(*COPY_IGNORE)

    def ignore(folder, names):
        skipped = set(patterns(folder, names))
        return skipped | {n for n in names if os.path.join(os.path.realpath(folder), n) in names_to_skip}

    return ignore


def _copy_tree(source: Path, target: Path, skip=()) -> None:
    if source.is_dir():
        shutil.copytree(source, target, ignore=_ignore({os.path.realpath(s) for s in skip}), symlinks=False,
                        dirs_exist_ok=True)
    else:
        target.mkdir(parents=True, exist_ok=True)


def _matplotlib_cache() -> Path | None:
    for folder in (os.environ.get("MPLCONFIGDIR"),
                   os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib")):
        if folder and Path(folder).is_dir():
            return Path(folder)
    return None


@dataclasses.dataclass
class Session:
    """What every run of one grading session shares (picklable: it goes to the worker processes)."""
    course: Path
    tmp: Path                 # the session's scratch folder
    checkpoints: Path         # prepared checkpoints (filled by the course's own runs)
    fit_cache: Path | None    # the shared training cache (None: --no-cache)
    skip: tuple               # folders never copied into a run (submissions, --out)
    limits: Limits
    mode: str
    threads: int | None
    confine: bool
    keep: Path | None         # where executed notebooks go (--keep-notebooks)


@dataclasses.dataclass
class Result:
    student: str
    notebook: str
    rows: list
    seconds: float
    trainings: dict           # {"hit": n, "miss": n, "bypass": n}
    notes: list
    cpu_seconds: float = 0.0  # CPU time of the kernel: the work, whatever the load of the machine


def _kernel_env(session: Session, run: Path, course_copy: Path, reference: bool) -> dict:
    home = run / "home"
    env = {k: os.environ[k] for k in KERNEL_ENV_KEEP if k in os.environ}
    env.update({
        "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"), "MPLCONFIGDIR": str(home / ".config/matplotlib"),
        "IPYTHONDIR": str(home / ".ipython"), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_DATA_DIR": str(home / ".local/share/jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / ".local/share/jupyter/runtime"),
        "TORCH_HOME": str(home / ".cache/torch"), "TMPDIR": str(run / "tmp"),
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "COURSE_DATA": str(course_copy / "data"), "COURSE_CHECKPOINTS": str(course_copy / "checkpoints"),
        "COURSE_GRADER_RUN": run.name,
        "GRADER_MEMORY_BYTES": str(int(session.limits.memory_gb * 2**30)) if session.limits.memory_gb else "0",
        "GRADER_FIT_LOG": str(run / "fit-log.jsonl"), "GRADER_KERNEL_LOG": str(run / "kernel.log"),
    })
    if (course_copy / "helpers" / "__init__.py").is_file():
        env["PYTHONPATH"] = str(course_copy)
    if session.confine:  # the course's own run also writes the shared training cache
        writable = [run] + ([session.fit_cache] if reference and session.fit_cache is not None else [])
        env["GRADER_WRITABLE"] = os.pathsep.join(map(str, writable))
    if session.fit_cache is not None:
        # the course's run stores into the shared cache; a student's run only reads it
        env["GRADER_FIT_CACHE"] = str(session.fit_cache) if reference else \
            os.pathsep.join([str(run / "fit-cache"), str(session.fit_cache)])
    if session.threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(session.threads)
    return env


def _make_run_folder(session: Session, lesson: Lesson, nb) -> tuple[Path, Path, Path]:
    run = Path(tempfile.mkdtemp(prefix="run-", dir=session.tmp))
    course_copy = run / "course"
    _copy_tree(session.course, course_copy, skip=session.skip)
    _copy_tree(session.course / "data", course_copy / "data")
    _copy_tree(session.checkpoints, course_copy / "checkpoints")
    for folder in ("home/.config/matplotlib", "home/.ipython", "tmp", "fit-cache", "kernels/grading"):
        (run / folder).mkdir(parents=True, exist_ok=True)
    fonts = _matplotlib_cache()
    if fonts:
        for path in fonts.glob("fontlist-*.json"):
            shutil.copy2(path, run / "home/.config/matplotlib" / path.name)
    cwd = course_copy / "notebooks"
    cwd.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, cwd / f"{lesson.name}.ipynb")
    spec = {"argv": [sys.executable, str(KERNEL_SCRIPT), "-f", "{connection_file}",
                     "--HistoryManager.enabled=False"],
            "display_name": "grading", "language": "python", "interrupt_mode": "signal"}
    (run / "kernels/grading/kernel.json").write_text(json.dumps(spec))
    return run, course_copy, cwd


def _read_fit_log(path: Path) -> tuple[dict, list]:
    counts, notes = Counter(), []
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry.get("event") == "kernel":
                notes += [str(n) for n in entry.get("notes", [])]
            elif entry.get("event") in ("hit", "miss", "bypass"):
                counts[entry["event"]] += 1
    except (OSError, ValueError):
        pass
    return dict(counts), notes


def _kill_leftovers(marker: str) -> None:
    """Kill processes a student's code started that outlived its kernel (they carry the run's marker)."""
    try:
        import psutil
    except ImportError:
        return
    for process in psutil.process_iter(["pid"]):
        try:
            if process.pid != os.getpid() and process.environ().get("COURSE_GRADER_RUN") == marker:
                process.kill()
        except (psutil.Error, OSError):
            continue


def _remove(folder: Path) -> None:
    def retry(function, path, _):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            os.chmod(path, 0o700)
            function(path)
        except OSError:
            pass

    shutil.rmtree(folder, onerror=retry)


def run_submission(session: Session, lesson: Lesson, student: str, submission, reference: bool = False) -> Result:
    """Grade one readable notebook of one student (or, with ``reference``, the course's own: it trains every
    model once, with the cache cold, so it gets REFERENCE_FACTOR times the time limits, and at least an hour)."""
    start = time.perf_counter()
    limits = session.limits
    if reference:
        limits = dataclasses.replace(limits, notebook=max(3600.0, REFERENCE_FACTOR * limits.notebook),
                                     cell=max(3600.0, REFERENCE_FACTOR * limits.notebook))
    nb, blocks = graded_notebook(lesson, submission, session.mode)
    run, course_copy, cwd = _make_run_folder(session, lesson, nb)
    try:
        env = _kernel_env(session, run, course_copy, reference)
        try:
            outcomes, usage = asyncio.run(_run_cells(nb, cwd, run / "kernels", run / "connection.json", env,
                                                     limits))
        except asyncio.CancelledError:  # a signal (the kernel is shut down by then)
            raise KeyboardInterrupt from None
        _kill_leftovers(run.name)
        rows = rows_for_run(student, lesson, nb, blocks, outcomes)
        trainings, notes = _read_fit_log(run / "fit-log.jsonl")
        if reference:  # the course's checkpoints serve the later notebooks
            _copy_tree(course_copy / "checkpoints", session.checkpoints)
        if session.keep is not None:
            for index, outcome in outcomes.items():
                nb.cells[index].metadata["grader"].update(outcome=outcome.kind, seconds=round(outcome.seconds, 2))
            target = session.keep / student
            target.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target / f"{lesson.name}.ipynb")
    finally:
        _remove(run)
    return Result(student, lesson.name, rows, time.perf_counter() - start, trainings, notes,
                  usage.get("cpu_seconds", 0.0))


def _job(args) -> Result:
    session, lesson_path, student, path = args
    lesson = read_lesson(Path(lesson_path))
    if path is None:
        return Result(student, lesson.name, flat_rows(student, lesson, "missing",
                                                      f"no {lesson.name}.ipynb handed in"), 0.0, {}, [])
    nb, problem = read_submission(Path(path))
    if nb is None:
        return Result(student, lesson.name, flat_rows(student, lesson, "invalid", problem), 0.0, {}, [])
    try:
        return run_submission(session, lesson, student, nb)
    except Exception as error:  # a failure of the grader itself must not stop the class
        return Result(student, lesson.name, flat_rows(student, lesson, "error",
                                                      f"the grader failed: {type(error).__name__}: {error}"),
                      0.0, {}, [])


# ----------------------------------------------------------------------------- reports
def _one_line(text: str) -> str:
    text = " | ".join(line.strip() for line in _text(text).strip().splitlines() if line.strip())
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


def write_csv(rows, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "notebook", "exercise", "status", "message"])
        for row in rows:
            writer.writerow([row.student, row.notebook, row.exercise, row.status, _one_line(row.message)])


def _fence(text: str, limit: int = 4000) -> str:
    text = _text(text).rstrip()
    if len(text) > limit:
        text = text[:limit] + "\n… (cut)"
    return "```\n" + text.replace("```", "ˋˋˋ") + "\n```"


def student_markdown(student: str, rows, results, lessons, mode: str) -> str:
    by_notebook = {}
    for row in rows:
        by_notebook.setdefault(row.notebook, []).append(row)
    seconds = {r.notebook: r.seconds for r in results if r.student == student}
    counts = Counter(row.status for row in rows)
    lines = [f"# Grades: {student}", "",
             ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: STATUSES.index(kv[0]))), "",
             "How this was graded: " + (
                 "the code cells you wrote under each exercise's prompt ran inside the course's notebook, "
                 "followed by the course's check cell. Code you put elsewhere (above the prompt, after the "
                 "check, or in lesson cells) was not used." if mode == "exercises" else
                 "your notebook ran as you handed it in, with the course's check cells."), "",
             "| notebook | exercise | status |", "|---|---|---|"]
    lines += [f"| {row.notebook} | {row.exercise} {row.title} | {row.status} |" for row in rows]
    for lesson in lessons:
        notebook_rows = by_notebook.get(lesson.name, [])
        if not notebook_rows:
            continue
        took = f" (graded in {seconds[lesson.name]:.0f} s)" if seconds.get(lesson.name) else ""
        lines += ["", f"## {lesson.name}{took}"]
        for row in notebook_rows:
            lines += ["", f"### Exercise {row.exercise}: {row.title} ({row.status})", "", _fence(row.message)]
            if row.traceback:
                lines += ["", "Where it happened:", "", _fence("\n".join(row.traceback.splitlines()[-12:]))]
            if row.status == "manual":
                lines += ["", "Your answer:", "", _fence(row.answer or "(empty)")]
                if row.output:
                    lines += ["", "What it printed:", "", _fence(row.output)]
    return "\n".join(lines) + "\n"


def class_table(rows, lessons) -> list[str]:
    """One line per student: a letter per exercise, grouped by notebook."""
    students = sorted({row.student for row in rows})
    status = {(r.student, r.notebook, r.exercise): r.status for r in rows}
    header = ["student"] + [lesson.name.split("_")[0] + " " + " ".join(e.id for e in lesson.exercises)
                            for lesson in lessons]
    table = [header]
    for student in students:
        table.append([student] + [" ".join(STATUS_LETTERS[status.get((student, lesson.name, e.id), "missing")]
                                           .center(len(e.id)) for e in lesson.exercises) for lesson in lessons])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]
    legend = ", ".join(f"{letter} {name}" for name, letter in STATUS_LETTERS.items())
    return lines + ["", legend]


def summary_markdown(rows, results, lessons, references, args_text: str, notes) -> str:
    lines = ["# Grading summary", "", f"Command: `{args_text}`", ""]
    lines += ["```", *class_table(rows, lessons), "```", "", "## Exercises", "",
              "| notebook | exercise | " + " | ".join(STATUSES) + " |", "|---|---|" + "---|" * len(STATUSES)]
    for lesson in lessons:
        for e in lesson.exercises:
            counts = Counter(r.status for r in rows if r.notebook == lesson.name and r.exercise == e.id)
            lines.append(f"| {lesson.name} | {e.id} | " + " | ".join(str(counts.get(s, 0)) for s in STATUSES) + " |")
    lines += ["", "## Time per submission", "",
              "| notebook | course's run | submissions run | mean | max | kernel CPU, mean "
              "| trainings replayed / trained |",
              "|---|---|---|---|---|---|---|"]
    for lesson in lessons:
        timed = [r for r in results if r.notebook == lesson.name and r.seconds > 0]
        ref = references.get(lesson.name)
        if not timed and ref is None:
            continue
        hits = sum(r.trainings.get("hit", 0) for r in timed)
        trained = sum(r.trainings.get("miss", 0) + r.trainings.get("bypass", 0) for r in timed)
        mean = sum(r.seconds for r in timed) / len(timed) if timed else 0
        lines.append(f"| {lesson.name} | {ref.seconds:.0f} s |" if ref else f"| {lesson.name} | - |")
        cpu = sum(r.cpu_seconds for r in timed) / len(timed) if timed else 0
        lines[-1] += (f" {len(timed)} | {mean:.0f} s | {max((r.seconds for r in timed), default=0):.0f} s |"
                      f" {cpu:.0f} s | {hits} / {trained} |")
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _safe_name(student: str) -> str:
    name = re.sub(r"[^\w.@+-]+", "_", student).strip("._") or "student"
    return f"student-{name}" if name.lower() in ("summary", "grades", "notebooks") else name


# ----------------------------------------------------------------------------- fingerprints of folders
def folder_state(folder: Path, skip=()) -> dict:
    """``{relative path: (size, mtime_ns, sha1 of small files)}``: to prove a folder was left alone."""
    state = {}
    skip = {os.path.realpath(s) for s in skip}
    if not folder.exists():
        return state
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(root, d)) not in skip
                   and not any(fnmatch.fnmatch(d, pattern) for pattern in UNWATCHED)]
        for name in files:
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            digest = ""
            if st.st_size <= 2**20:
                try:
                    digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()
                except OSError:
                    pass
            state[os.path.relpath(path, folder)] = (st.st_size, st.st_mtime_ns, digest)
    return state


def _changes(before: dict, after: dict) -> list[str]:
    return sorted(set(before) ^ set(after) | {p for p in before.keys() & after.keys() if before[p] != after[p]})


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path,
                        help="folder of student folders: SUBMISSIONS/<student>/<NN_name>.ipynb")
    parser.add_argument("--out", type=Path, default=Path("grades"), help="where the grades go (default: grades)")
    parser.add_argument("--course", type=Path, default=ROOT, help="the course folder (default: this repository)")
    parser.add_argument("--notebooks", nargs="+", metavar="NN", help="grade only these notebooks (numbers or names)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per notebook (default: 600)")
    parser.add_argument("--cell-timeout", type=float, default=120,
                        help="seconds per answer or check cell; the rest of the notebook still runs (default: 120)")
    parser.add_argument("--memory", type=float, default=6, help="GB of memory per kernel, 0: no limit (default: 6)")
    parser.add_argument("--workers", type=int, default=1, help="submissions graded at the same time (default: 1)")
    parser.add_argument("--mode", choices=("exercises", "notebook"), default="exercises",
                        help="exercises: the student's answer cells inside the course's notebook (default); "
                             "notebook: the student's notebook as handed in, with the course's checks")
    parser.add_argument("--no-cache", action="store_true", help="train every model in every kernel (slow)")
    parser.add_argument("--keep-notebooks", action="store_true",
                        help="also write the executed notebooks to OUT/notebooks")
    parser.add_argument("--no-confine", action="store_true", help="do not confine the kernels with Landlock")
    args = parser.parse_args(argv)

    course, submissions, out = args.course.resolve(), args.submissions.resolve(), args.out.resolve()
    if not submissions.is_dir():
        parser.error(f"{submissions} is not a folder")
    if out == submissions or submissions in out.parents:
        parser.error("--out must not be inside SUBMISSIONS: the grader never writes there")
    try:
        lessons = course_lessons(course, args.notebooks)
    except ValueError as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2
    if not lessons:
        print(f"grade: no notebook with exercises in {course / 'notebooks'}"
              + (f" matching {' '.join(args.notebooks)}" if args.notebooks else ""), file=sys.stderr)
        return 2
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    loose = sorted(p.name for p in submissions.glob("*.ipynb"))
    if not students:
        print(f"grade: no student folders in {submissions} (expected {submissions}/<student>/<NN_name>.ipynb"
              + (f"; found notebooks directly in it: {', '.join(loose[:3])}" if loose else "") + ")", file=sys.stderr)
        return 2

    sys.path.insert(0, str(KERNEL_SCRIPT.parent))
    from grading_kernel import landlock_abi

    out.mkdir(parents=True, exist_ok=True)
    notes = []
    confine = not args.no_confine and landlock_abi() > 0
    notes.append(f"kernels confined by Landlock (ABI {landlock_abi()}): they write only in their scratch folder"
                 if confine else "kernels NOT confined (Landlock unavailable or --no-confine): student code runs "
                 "in scratch copies but could write anywhere you can; the grader checks afterwards that the "
                 "submissions and the course are unchanged")
    workers = max(1, args.workers)
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    fit_cache = None if args.no_cache else out / ".cache" / "fit"
    tmp = Path(tempfile.mkdtemp(prefix="grade-"))
    session = Session(course=course, tmp=tmp, checkpoints=tmp / "checkpoints", fit_cache=fit_cache,
                      skip=(str(submissions), str(out)),
                      limits=Limits(args.timeout, min(args.cell_timeout, args.timeout), args.memory),
                      mode=args.mode, threads=threads, confine=confine,
                      keep=out / "notebooks" if args.keep_notebooks else None)
    session.checkpoints.mkdir()
    if fit_cache is not None:
        fit_cache.mkdir(parents=True, exist_ok=True)
    protected_before = {"submissions": folder_state(submissions),
                        "course": folder_state(course, skip=(out, submissions, course / "checkpoints"))}
    args_text = " ".join(["python scripts/grade.py", *(argv if argv is not None else sys.argv[1:])])
    print(f"grading {len(students)} student(s) x {len(lessons)} notebook(s) "
          f"({', '.join(lesson.name for lesson in lessons)}); {notes[0]}", flush=True)
    rows, results, references, status = [], [], {}, 0
    try:
        # 1. the course's own notebooks, in order: they fill the training cache and the checkpoints
        for lesson in lessons:
            result = run_submission(session, lesson, "(course)", lesson.nb, reference=True)
            references[lesson.name] = result
            bad = [f"{r.exercise} {r.status}: {_one_line(r.message)[:200]}" for r in result.rows
                   if r.status not in ("passed", "manual")]
            trained = result.trainings.get("miss", 0) + result.trainings.get("bypass", 0)
            print(f"course {lesson.name}: {result.seconds:.0f} s (kernel CPU {result.cpu_seconds:.0f} s), "
                  f"{trained} training(s) run, "
                  f"{result.trainings.get('hit', 0)} replayed" + (f"; PROBLEM: {'; '.join(bad)}" if bad else ""),
                  flush=True)
            if bad:
                status = 1
                notes.append(f"the course's own {lesson.name} does not pass its checks ({'; '.join(bad)}): "
                             f"its grades are not to be trusted")
        # 2. the students
        jobs = []
        for student in students:
            for lesson in lessons:
                path = find_submission(submissions / student, lesson)
                jobs.append((session, str(lesson.path), student, None if path is None else str(path)))
        done = 0

        def report(result: Result) -> None:
            nonlocal done
            done += 1
            rows.extend(result.rows)
            results.append(result)
            counts = Counter(r.status for r in result.rows)
            trained = result.trainings.get("miss", 0) + result.trainings.get("bypass", 0)
            print(f"[{done:>3}/{len(jobs)}] {result.student:<20} {result.notebook:<24} "
                  + ", ".join(f"{s} {counts[s]}" for s in STATUSES if counts[s])
                  + (f"  ({result.seconds:.0f} s, kernel CPU {result.cpu_seconds:.0f} s; training: "
                     f"{result.trainings.get('hit', 0)} replayed, {trained} run)" if result.seconds else ""),
                  flush=True)

        if workers == 1:
            for job in jobs:
                report(_job(job))
        else:
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = [pool.submit(_job, job) for job in jobs]
                try:
                    for future in concurrent.futures.as_completed(futures):
                        report(future.result())
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    except KeyboardInterrupt:
        print("grade: interrupted; no grades written", file=sys.stderr)
        return 130
    finally:
        _remove(tmp)

    order = {lesson.name: (i, {e.id: j for j, e in enumerate(lesson.exercises)}) for i, lesson in enumerate(lessons)}
    rows.sort(key=lambda r: (r.student, order[r.notebook][0], order[r.notebook][1][r.exercise]))
    write_csv(rows, out / "grades.csv")
    for student in students:
        student_rows = [r for r in rows if r.student == student]
        (out / f"{_safe_name(student)}.md").write_text(
            student_markdown(student, student_rows, results, lessons, args.mode), encoding="utf-8")
    changed = {name: _changes(before, folder_state(
        submissions if name == "submissions" else course,
        skip=() if name == "submissions" else (out, submissions, course / "checkpoints")))
        for name, before in protected_before.items()}
    for name, paths in changed.items():
        if paths:
            status = 3
            notes.append(f"WARNING: files in the {name} folder changed during grading: {', '.join(paths[:10])}")
    (out / "summary.md").write_text(summary_markdown(rows, results, lessons, references, args_text, notes),
                                    encoding="utf-8")
    print()
    print("\n".join(class_table(rows, lessons)))
    for note in notes[1:]:
        print(f"note: {note}")
    print(f"\nwrote {out / 'grades.csv'}, {out / 'summary.md'} and one <student>.md per student")
    return status


if __name__ == "__main__":
    sys.exit(main())
