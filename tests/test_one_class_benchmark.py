"""The one-class benchmark script end to end on a tiny config: a check that it works, not a result.

Runs ``benchmarks/one_class_mnist.py --quick`` (one seed, one digit, the detector and two cheap baselines,
a few epochs) into a temporary folder and checks what it writes.
"""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import one_class as oc  # benchmarks/one_class.py (pytest puts benchmarks/ on the path)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "one_class_mnist.py"
METHODS = ["detector", "pca", "iforest_gcn"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("one_class")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--digits", "1", "--methods", *METHODS,
                           "--workers", "1", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_quick_mode_writes_one_row_per_output_with_validation_aucs(quick_run):
    out, _ = quick_run
    results = pd.read_csv(out / "one_class_mnist.csv")
    assert list(results.columns) == list(oc.RESULT_COLUMNS + oc.VALID_COLUMNS)
    outputs = [o for m in METHODS for o in oc.METHODS[m].outputs]
    assert sorted(results["method"]) == sorted(outputs)
    assert set(results["digit"]) == {1} and set(results["seed"]) == {0}
    assert results["auc"].between(0, 1).all() and (results["fit_seconds"] > 0).all()
    assert results["valid_auc"].between(0, 1).all()
    oc.check_results(results)
    # Even a few epochs separate a digit from the others far better than chance.
    assert results["auc"].mean() > 0.75


def test_quick_mode_records_how_the_numbers_were_made(quick_run):
    out, proc = quick_run
    meta = json.loads((out / "one_class_mnist.json").read_text())
    assert meta["mode"] == "quick" and meta["seeds"] == [0] and meta["methods"] == METHODS
    assert "--quick" in meta["command"] and meta["date"] and meta["finished"] and meta["machine"]["cores"] >= 1
    assert meta["total_seconds"] > 0 and meta["vae"] is False and meta["validation_families"] == list(oc.FAMILIES)
    assert (out / "one_class_mnist.png").stat().st_size > 10_000
    assert "QUICK MODE" in proc.stdout and "total wall time" in proc.stdout
    assert "What each part of the chosen detector adds" in proc.stdout
