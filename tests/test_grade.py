"""scripts/grade.py (the grader) and scripts/grading_kernel.py (its kernel: limits, sandbox, training cache).

- Fast, without a kernel: how the course's exercises and a student's answers are found,
  the notebook that runs, the status of an exercise from the outcomes of its cells, which
  files are not notebooks, the training cache replaying a training exactly, and the limits
  and the Landlock sandbox applied to a process.
- Slow (kernels start; about a minute on an idle laptop): planted submissions for a small
  synthetic course: complete, wrong, an untouched stub (a real student copy), one that
  raises, one that loops forever, one that cannot be interrupted, one that fills memory,
  one that vandalises files, a truncated file, a student who handed in nothing; each gets
  its status, the lesson's training is replayed from the cache, and neither the
  submissions nor the course change.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


msc = _load("make_student_copies")
grading_kernel = _load("grading_kernel")
grade = _load("grade")


# ----------------------------------------------------------------------------- a synthetic course
SCORES_SOLUTION = '''import torch


def anomaly_scores(model, X):
    """One anomaly score per example: the mean squared reconstruction error."""
    model.eval()
    with torch.no_grad():
        return ((model(X) - X) ** 2).flatten(1).mean(1)'''

CODES_SOLUTION = '''codes = torch.randn(12, 2)
Z = codes * 2 + 1'''

WHY_SOLUTION = '''# Model answer: a larger code keeps more detail, so the reconstruction error falls.
print("the error falls as the code grows")'''

TRAINING = '''helpers.set_seed(0)
X_toy = torch.rand(64, 1, 28, 28)
toy = helpers.DenseAutoencoder(latent_dim=2, hidden_dim=8)
history = helpers.fit(toy, helpers.tensor_loader(X_toy, batch_size=16, shuffle=True, seed=0),
                      num_epochs=2, lr=1e-2, progress=False)
print(f"trained: loss {history['train_loss'].iloc[-1]:.6f}, then {float(torch.rand(1)):.6f}")'''


def lesson_notebook():
    """A lesson that follows the convention: setup, a tiny training, three exercises (one without a check)."""
    nb = new_notebook(cells=[
        new_markdown_cell("# 99 · A synthetic lesson\n\nFor the grader's tests."),
        new_markdown_cell("## Setup"),
        new_code_cell("import torch\nimport helpers\nfrom helpers.exercises import check_anomaly_scores, "
                      "check_latent_codes\nvalues = [1, 2, 3]"),
        new_markdown_cell("## Training"),
        new_code_cell(TRAINING),
        new_markdown_cell("## Exercises"),
        new_markdown_cell("### Exercise 99.1: scores\n\nWrite `anomaly_scores(model, X)`.",
                          metadata={"tags": ["exercise"]}),
        new_code_cell(SCORES_SOLUTION, metadata={"tags": ["solution", "hide-input"]}),
        new_code_cell("check_anomaly_scores(anomaly_scores)", metadata={"tags": ["check"]}),
        new_markdown_cell("### Exercise 99.2: codes\n\nMake 12 two-dimensional codes `Z`.",
                          metadata={"tags": ["exercise"]}),
        new_code_cell(CODES_SOLUTION, metadata={"tags": ["solution", "hide-input"]}),
        new_code_cell("check_latent_codes(Z, 12, 2)", metadata={"tags": ["check"]}),
        new_markdown_cell("### Exercise 99.3: why?\n\nWhy does the error fall as the code grows?",
                          metadata={"tags": ["exercise"]}),
        new_code_cell(WHY_SOLUTION, metadata={"tags": ["solution", "hide-input"]}),
        new_markdown_cell("## What we learned\n\n- nothing new"),
        new_code_cell("assert sum(values) == 6"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.validate(nb)
    return nb


def _copy(nb):
    return nbformat.from_dict(json.loads(json.dumps(nb)))


def student_copy():
    return msc.student_copy(lesson_notebook(), "99")


def _answered(**sources):
    """A student copy with some exercises answered: ``ex1=...`` replaces the stub of Exercise 99.1."""
    nb = student_copy()
    positions = {"ex1": 7, "ex2": 10, "ex3": 13}
    for name, source in sources.items():
        nb.cells[positions[name]].source = source
    return nb


@pytest.fixture
def course(tmp_path):
    folder = tmp_path / "course"
    (folder / "notebooks").mkdir(parents=True)
    nbformat.write(lesson_notebook(), folder / "notebooks" / "99_synthetic.ipynb")
    (folder / "data").mkdir()
    (folder / "data" / "shared.txt").write_text("the course's data\n")
    return folder


@pytest.fixture
def lesson(course):
    return grade.read_lesson(course / "notebooks" / "99_synthetic.ipynb")


# ----------------------------------------------------------------------------- without a kernel
def test_the_exercises_come_from_the_course_notebook(course, lesson):
    assert [(e.id, e.title) for e in lesson.exercises] == [("99.1", "scores"), ("99.2", "codes"), ("99.3", "why?")]
    assert [e.check_source for e in lesson.exercises] == ["check_anomaly_scores(anomaly_scores)",
                                                          "check_latent_codes(Z, 12, 2)", None]
    assert lesson.last_index == 13
    assert [l.name for l in grade.course_lessons(course, ["99"])] == ["99_synthetic"]
    assert grade.course_lessons(course, ["01"]) == []


def test_answer_blocks_find_what_the_student_wrote(lesson):
    nb = _answered(ex2=CODES_SOLUTION)
    nb.cells.insert(10, new_code_cell("scratch = 1"))             # an extra cell under the prompt
    for cell in nb.cells:                                         # an editor that drops every tag
        cell.metadata.pop("tags", None)
    nb.cells.insert(15, new_markdown_cell("Because a bigger code keeps more."))  # a written answer
    blocks = grade.answer_blocks(nb, lesson)
    assert blocks["99.2"].code == ["scratch = 1", CODES_SOLUTION]
    assert blocks["99.2"].check_position == 12                    # found by its source
    assert "Because a bigger code" in blocks["99.3"].markdown[0]
    assert not any("assert sum(values)" in source for source in blocks["99.3"].code)  # the lesson goes on

    del nb.cells[9]                                               # the prompt of 99.2 is gone
    assert "99.2" not in grade.answer_blocks(nb, lesson)


def test_the_graded_notebook_keeps_the_course_lesson_and_checks(lesson):
    nb = _answered(ex1=SCORES_SOLUTION)
    nb.cells[8].source = "print('✓ all good')"                    # a check the student rewrote
    nb.cells[4].source = "raise SystemExit('no training today')"  # a lesson cell the student broke
    graded, blocks = grade.graded_notebook(lesson, nb, "exercises")
    sources = [c.source for c in graded.cells if c.cell_type == "code"]
    assert "check_anomaly_scores(anomaly_scores)" in sources and "print('✓ all good')" not in sources
    assert TRAINING in sources and SCORES_SOLUTION in sources
    assert "assert sum(values) == 6" not in sources               # cells after the last exercise do not run
    roles = [(c.metadata["grader"]["role"], c.metadata["grader"].get("exercise")) for c in graded.cells
             if c.cell_type == "code"]
    assert roles == [("lesson", None), ("lesson", None), ("answer", "99.1"), ("check", "99.1"),
                     ("answer", "99.2"), ("check", "99.2"), ("answer", "99.3")]

    as_handed_in, _ = grade.graded_notebook(lesson, nb, "notebook")
    sources = [c.source for c in as_handed_in.cells if c.cell_type == "code"]
    assert "raise SystemExit('no training today')" in sources     # the student's lesson cells run
    assert "check_anomaly_scores(anomaly_scores)" in sources and "print('✓ all good')" not in sources


def test_an_unanswered_exercise_runs_the_course_stub(lesson):
    nb = student_copy()
    nb.cells[10].source = "   \n"                                 # the student emptied the stub
    graded, blocks = grade.graded_notebook(lesson, nb)
    answers = [c.source for c in graded.cells if c.metadata["grader"].get("exercise") == "99.2"
               and c.metadata["grader"]["role"] == "answer"]
    assert len(answers) == 1 and "raise NotImplementedError" in answers[0]


OK = grade.CellOutcome("ok", stdout="✓ it works\n")


def _error(ename, evalue="message"):
    return grade.CellOutcome("error", ename, evalue)


@pytest.mark.parametrize("answers, check, has_check, expected", [
    ([OK], OK, True, ("passed", "✓ it works")),
    ([OK], _error("ExerciseCheckError", "expected 3, got 4"), True, ("failed", "expected 3, got 4")),
    ([OK], _error("AssertionError", "bad"), True, ("failed", "bad")),
    ([_error("NotImplementedError", "Exercise 1.1: write `f`")], _error("NotImplementedError"), True,
     ("not attempted", "Exercise 1.1: write `f`")),
    ([OK], _error("NotImplementedError", "not written yet"), True, ("not attempted", "not written yet")),
    ([_error("ZeroDivisionError", "division by zero")], _error("NameError"), True,
     ("error", "your answer raised ZeroDivisionError: division by zero")),
    ([OK], _error("NameError", "name 'f' is not defined"), True,
     ("error", "the check raised NameError: name 'f' is not defined")),
    ([grade.CellOutcome("timeout", evalue="still running after 5 s")], OK, True,
     ("timeout", "your answer was still running after 5 s")),
    ([OK], grade.CellOutcome("timeout", evalue="still running after 5 s"), True,
     ("timeout", "the check was still running after 5 s")),
    ([grade.CellOutcome("not run", evalue="not run: out of time", reason_status="timeout")], None, True,
     ("timeout", "not run: out of time")),
    ([grade.CellOutcome("dead", "DeadKernelError", "the kernel died")], None, True,
     ("error", "your answer: the kernel died")),
    ([grade.CellOutcome("ok", stdout="because\n")], None, False, ("manual", "no automatic check: read the answer; "
                                                                  "it printed: because")),
])
def test_exercise_status(answers, check, has_check, expected):
    assert grade.exercise_status(answers, check, has_check) == expected


def test_files_that_are_not_notebooks_are_invalid(tmp_path):
    good = tmp_path / "good.ipynb"
    nbformat.write(lesson_notebook(), good)
    text = good.read_text()
    cases = {"truncated": text[:len(text) // 2].encode(), "binary": bytes(range(256)) * 4, "empty": b"",
             "not a notebook": b'{"hello": "world"}', "a list": b"[1, 2, 3]"}
    for name, content in cases.items():
        path = tmp_path / f"{name}.ipynb"
        path.write_bytes(content)
        nb, problem = grade.read_submission(path)
        assert nb is None and problem, name
    nb, problem = grade.read_submission(good)
    assert problem is None and len(nb.cells) == len(lesson_notebook().cells)


def test_find_submission(tmp_path, lesson):
    student = tmp_path / "ada"
    student.mkdir()
    assert grade.find_submission(student, lesson) is None
    (student / "99_synthetic (1).ipynb").write_text("{}")          # a renamed download
    assert grade.find_submission(student, lesson).name == "99_synthetic (1).ipynb"
    (student / "99_copy.ipynb").write_text("{}")                  # two candidates: ambiguous
    assert grade.find_submission(student, lesson) is None
    (student / "nested").mkdir()
    (student / "nested" / "99_synthetic.ipynb").write_text("{}")  # the exact name, one level down
    assert grade.find_submission(student, lesson) == student / "nested" / "99_synthetic.ipynb"
    (student / "99_synthetic.ipynb").write_text("{}")
    assert grade.find_submission(student, lesson) == student / "99_synthetic.ipynb"


# ----------------------------------------------------------------------------- the training cache
def _training(cache_fit, callback_log=None):
    """A small training run through ``cache_fit``, then the things that depend on it."""
    import torch

    import helpers

    helpers.set_seed(0)
    X = torch.rand(96, 1, 28, 28)
    train = helpers.tensor_loader(X, batch_size=16, shuffle=True, seed=3)
    valid = helpers.tensor_loader(X[:32], batch_size=32)
    model = helpers.DenseAutoencoder(latent_dim=3, hidden_dim=8)

    def keep(model_, row):  # a callback with side effects, that draws random numbers
        callback_log.append((row["epoch"], round(float(model_(X[:2]).detach().sum()), 6), float(torch.rand(1))))
        row["extra"] = row["epoch"] * 10

    history = cache_fit(model, train, valid, num_epochs=2, lr=1e-2, progress=False,
                        callback=keep if callback_log is not None else None)
    again = cache_fit(model, train, num_epochs=1, lr=1e-3, progress=False)  # the loader's generator moved on
    return history, again, {k: v.clone() for k, v in model.state_dict().items()}, torch.rand(3)


@pytest.mark.parametrize("with_callback", [False, True])
def test_the_training_cache_replays_a_training_exactly(tmp_path, with_callback):
    import torch

    import helpers

    log = tmp_path / "log.jsonl"
    cache = grading_kernel.FitCache(helpers.training.fit, [tmp_path / "cache"], log, namespace="test")
    first_log, second_log = ([], []) if with_callback else (None, None)
    first = _training(cache.wrapper, first_log)
    second = _training(cache.wrapper, second_log)
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert events == ["miss", "miss", "hit", "hit"]
    assert first[0].equals(second[0]) and first[1].equals(second[1])
    assert all(torch.equal(first[2][k], second[2][k]) for k in first[2])
    assert torch.equal(first[3], second[3])                        # the random numbers drawn afterwards
    if with_callback:
        assert first_log == second_log and list(first[0]["extra"]) == [10, 20]
    plain = _training(helpers.training.fit, [] if with_callback else None)  # and it is what fit itself does
    assert plain[0].drop(columns="seconds").equals(first[0].drop(columns="seconds"))
    assert torch.equal(plain[3], first[3])


def test_the_cache_key_follows_what_training_depends_on(tmp_path):
    import torch

    import helpers

    cache = grading_kernel.FitCache(helpers.training.fit, [tmp_path], namespace="test")

    def key(lr=1e-2, seed=0, data_seed=1, noise=None):
        helpers.set_seed(data_seed)
        X = torch.rand(32, 1, 28, 28)
        helpers.set_seed(seed)
        model = helpers.DenseAutoencoder(latent_dim=2, hidden_dim=4)
        if noise is not None:
            torch.rand(noise)
        loader = helpers.tensor_loader(X, batch_size=8, shuffle=True)
        bound = cache.signature.bind(model, loader, num_epochs=1, lr=lr)
        bound.apply_defaults()
        return cache.key(bound)

    base = key()
    assert key() == base
    assert len({base, key(lr=2e-2), key(seed=1), key(data_seed=2), key(noise=1)}) == 5

    model = helpers.DenseAutoencoder(latent_dim=2, hidden_dim=4)
    model.register_forward_hook(lambda *args: None)
    bound = cache.signature.bind(model, [torch.rand(4, 1, 28, 28)], num_epochs=1, lr=1e-2)
    with pytest.raises(grading_kernel.Uncacheable, match="hook"):
        cache.key(bound)


# ----------------------------------------------------------------------------- limits and sandbox
def _python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(SCRIPTS), **env})


def test_the_memory_limit_turns_a_huge_allocation_into_memory_error():
    result = _python("""
        import grading_kernel
        grading_kernel.set_limits(512 * 2**20)
        try:
            block = bytearray(2 * 2**30)
        except MemoryError:
            print("MemoryError")
    """)
    assert result.stdout.strip() == "MemoryError", result.stderr


@pytest.mark.skipif(grading_kernel.landlock_abi() < 1, reason="Landlock is not available on this machine")
def test_landlock_lets_a_process_write_only_in_its_folder(tmp_path):
    inside, outside = tmp_path / "run", tmp_path / "course"
    inside.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    result = _python(f"""
        import os, socket, grading_kernel
        print(grading_kernel.confine([{str(inside)!r}]))
        open({str(inside / 'new.txt')!r}, "w").write("fine")
        for attempt in (lambda: open({str(outside / 'keep.txt')!r}, "w"),
                        lambda: os.remove({str(outside / 'keep.txt')!r}),
                        lambda: open({str(outside / 'new.txt')!r}, "w")):
            try:
                attempt()
                print("allowed")
            except PermissionError:
                print("denied")
        print(open({str(outside / 'keep.txt')!r}).read())
        if grading_kernel.landlock_abi() >= 4:
            try:
                socket.create_connection(("127.0.0.1", 9), timeout=5)
            except PermissionError:
                print("no connection")
            except OSError:
                print("connection refused by the network, not the sandbox")
        if grading_kernel.landlock_abi() >= 6:
            try:
                os.kill(os.getppid(), 0)
                print("signal allowed")
            except PermissionError:
                print("no signal")
    """)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Landlock ABI"), result.stdout + result.stderr
    assert lines[1:5] == ["denied", "denied", "denied", "precious"], result.stdout + result.stderr
    if grading_kernel.landlock_abi() >= 4:
        assert "no connection" in lines
    if grading_kernel.landlock_abi() >= 6:
        assert "no signal" in lines
    assert (inside / "new.txt").read_text() == "fine" and (outside / "keep.txt").read_text() == "precious"


# ----------------------------------------------------------------------------- grading, with kernels
def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def plant_submissions(folder: Path, course: Path) -> None:
    """One student per kind of submission (see the module's docstring)."""
    lesson = lesson_notebook()

    def hand_in(student, nb=None, raw=None, name="99_synthetic.ipynb"):
        (folder / student).mkdir(parents=True)
        if raw is not None:
            (folder / student / name).write_bytes(raw)
        elif nb is not None:
            nbformat.write(nb, folder / student / name)

    hand_in("complete", _answered(ex1=SCORES_SOLUTION, ex2=CODES_SOLUTION, ex3=WHY_SOLUTION),
            name="99_synthetic (1).ipynb")
    hand_in("wrong", _answered(ex1=SCORES_SOLUTION.replace("** 2", "* -1"), ex2="Z = torch.zeros(12, 3)"))
    hand_in("stub", student_copy())
    hand_in("raises", _answered(ex1="1 / 0", ex2=CODES_SOLUTION))
    hand_in("loops", _answered(ex1="while True:\n    pass", ex2=CODES_SOLUTION))
    hand_in("stubborn", _answered(ex1="import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
                                      "    except KeyboardInterrupt:\n        pass", ex2=CODES_SOLUTION))
    hand_in("hungry", _answered(ex1="hoard = bytearray(8 * 2**30)", ex2=CODES_SOLUTION))
    # deletes its data and the files of its folder (copies), tries the course's and another student's
    # files (where the sandbox stops it: without Landlock nothing can), then answers correctly
    targets = (folder / "stub" / "99_synthetic.ipynb", course / "data" / "shared.txt")
    hand_in("vandal", _answered(ex1=textwrap.dedent(f"""\
        import pathlib, shutil, helpers
        shutil.rmtree(helpers.data_dir())
        for path in pathlib.Path(".").iterdir():   # the folder the notebook runs in
            path.unlink()
        for target in {tuple(map(str, targets)) if grading_kernel.landlock_abi() else ()!r}:
            try:
                open(target, "w").write("gone")
            except PermissionError:
                pass
        """) + "\n" + SCORES_SOLUTION, ex2=CODES_SOLUTION))
    text = nbformat.writes(lesson)
    hand_in("truncated", raw=text[:len(text) // 2].encode())
    hand_in("nothing")


EXPECTED = {  # student: (99.1, 99.2, 99.3)
    "complete": ("passed", "passed", "manual"),
    "wrong": ("failed", "failed", "not attempted"),
    "stub": ("not attempted", "not attempted", "not attempted"),
    "raises": ("error", "passed", "not attempted"),
    "loops": ("timeout", "passed", "not attempted"),
    "stubborn": ("timeout", "timeout", "timeout"),
    "hungry": ("error", "passed", "not attempted"),
    "vandal": ("passed", "passed", "not attempted"),
    "truncated": ("invalid", "invalid", "invalid"),
    "nothing": ("missing", "missing", "missing"),
}


@pytest.mark.slow
def test_grading_planted_submissions(tmp_path, course, capsys):
    submissions = tmp_path / "submissions"
    plant_submissions(submissions, course)
    before_submissions, before_course = _tree(submissions), _tree(course)
    out = tmp_path / "grades"
    status = grade.main([str(submissions), "--course", str(course), "--out", str(out), "--timeout", "120",
                         "--cell-timeout", "10", "--memory", "3", "--workers", "2"])
    printed = capsys.readouterr().out
    assert status == 0, printed

    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        import csv

        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["student", "notebook", "exercise", "status", "message"]
    got = {}
    for row in rows:
        got.setdefault(row["student"], []).append(row["status"])
        assert row["notebook"] == "99_synthetic"
    assert {student: tuple(statuses) for student, statuses in got.items()} == EXPECTED, printed
    message = {(r["student"], r["exercise"]): r["message"] for r in rows}
    assert message[("complete", "99.1")].startswith("✓")
    assert "Exercise 99.1" in message[("stub", "99.1")]
    assert "ZeroDivisionError" in message[("raises", "99.1")]
    assert "memory" in message[("hungry", "99.1")].lower()
    assert "no " in message[("nothing", "99.1")] and "not a readable notebook" in message[("truncated", "99.1")]
    assert "the error falls" in message[("complete", "99.3")]

    # the lesson's training ran once, for the course's notebook; every student's kernel replayed it
    assert "course 99_synthetic" in printed and "1 training(s) run, 0 replayed" in printed
    assert printed.count("training: 1 replayed, 0 run") == 8, printed   # the students whose notebooks ran
    for student in EXPECTED:
        assert (out / f"{student}.md").is_file()
    assert "the error falls" in (out / "complete.md").read_text()     # a manual answer, to read
    assert "| 99_synthetic | 99.1 |" in (out / "summary.md").read_text()
    # nothing was written where it must not be
    assert _tree(submissions) == before_submissions
    assert _tree(course) == before_course


@pytest.mark.slow
def test_grading_a_notebook_as_handed_in(tmp_path, course, capsys):
    """--mode notebook: the student's lesson cells run too (a changed training trains), checks are the course's."""
    submissions = tmp_path / "submissions"
    changed = _answered(ex1=SCORES_SOLUTION, ex2=CODES_SOLUTION)
    changed.cells[4].source = TRAINING.replace("num_epochs=2", "num_epochs=3")
    changed.cells[11].source = "print('✓ trust me')"
    (submissions / "ada").mkdir(parents=True)
    nbformat.write(changed, submissions / "ada" / "99_synthetic.ipynb")
    assert grade.main([str(submissions), "--course", str(course), "--out", str(tmp_path / "grades"),
                       "--mode", "notebook", "--cell-timeout", "60"]) == 0
    printed = capsys.readouterr().out
    assert "training: 0 replayed, 1 run" in printed                 # the student's own training
    rows = (tmp_path / "grades" / "grades.csv").read_text().splitlines()
    assert rows[1].startswith("ada,99_synthetic,99.1,passed") and rows[2].startswith("ada,99_synthetic,99.2,passed")
