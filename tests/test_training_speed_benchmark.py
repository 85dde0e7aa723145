"""The training-speed benchmark runs end to end (--quick: a check of the script, not a result)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_run_prints_the_speedup_line(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "training_speed.py"), "--quick",
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert "data loading (images/s)" in result.stdout and "time to validation MSE 0.0075" in result.stdout
    assert lines[-1].startswith("(quick mode: not a result) time-to-quality speedup: ")
    assert lines[-1].endswith("x")
    assert not any(tmp_path.iterdir())  # a quick run writes no results
