"""Notebooks run where students are: the setup cell, the one repository setting, a notebook alone in a folder.

The slow test plays a student who downloads one notebook: it copies notebook 04
alone into an empty folder outside the checkout and runs it with a Python that
has the course's requirements but not the course package, with
``COURSE_PACKAGE_SOURCE`` pointing at this checkout and ``COURSE_DATA`` at the
data: the setup cell must install the package and the notebook run to the end.
"""
from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import helpers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import set_repository  # noqa: E402

STANDALONE = "04_latent_2d.ipynb"  # the quickest lesson


def _setup_notebook() -> nbformat.NotebookNode:
    nb = nbformat.read(ROOT / "notebooks" / STANDALONE, as_version=4)
    index = set_repository.setup_cell_index(nb)
    assert index is not None, f"{STANDALONE} does not start with the setup cell"
    return nbformat.v4.new_notebook(cells=[nb.cells[index]])


def test_every_notebook_starts_with_the_setup_cell_for_the_configured_repository():
    assert set_repository.disagreements() == []
    assert len(set_repository.notebooks()) >= 8


def test_set_repository_round_trips(tmp_path):
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    url = "https://github.com/example-org/autoencoder-course"
    script = [sys.executable, str(ROOT / "scripts" / "set_repository.py"), "--root", str(tmp_path)]
    subprocess.run([*script, url], check=True, capture_output=True)
    assert set_repository.config_url(tmp_path) == url
    assert {set_repository.notebook_url(p) for p in set_repository.notebooks(tmp_path)} == {url}
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0
    # a notebook edited by hand no longer agrees, and the check says which
    first = set_repository.notebooks(tmp_path)[0]
    nb = nbformat.read(first, as_version=4)
    nb.cells[set_repository.setup_cell_index(nb)].source = nb.cells[set_repository.setup_cell_index(nb)].source.replace(
        url, "https://github.com/someone/else")
    nbformat.write(nb, first)
    check = subprocess.run([*script, "--check"], capture_output=True, text=True)
    assert check.returncode == 1 and first.name in check.stderr
    subprocess.run([*script, set_repository.config_url(ROOT)], check=True, capture_output=True)  # back again
    assert filecmp.cmp(tmp_path / "_config.yml", ROOT / "_config.yml", shallow=False)
    for path in set_repository.notebooks(tmp_path):
        assert filecmp.cmp(path, ROOT / "notebooks" / path.name, shallow=False), path.name
    bad = subprocess.run([*script, "http://example.org/course"], capture_output=True, text=True)
    assert bad.returncode == 2 and "github.com" in bad.stderr


def test_the_setup_cell_installs_nothing_when_the_package_is_there(tmp_path):
    env = {**os.environ, "COURSE_PACKAGE_SOURCE": str(tmp_path / "no-such-package")}  # installing would fail
    nb = _setup_notebook()
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "installed" not in text
    assert f"data:        {helpers.data_dir()}" in text and f"checkpoints: {helpers.checkpoint_dir()}" in text


def test_the_binder_environment_pins_the_same_torch_pair_on_the_cpu():
    pins = {line.split("==")[0]: line.split("==")[1] for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.startswith(("torch==", "torchvision=="))}
    binder = (ROOT / "binder" / "requirements.txt").read_text()
    assert f"torch=={pins['torch']}+cpu" in binder and f"torchvision=={pins['torchvision']}+cpu" in binder
    assert "download.pytorch.org/whl/cpu" in binder


def _requirements_without_the_course(venv: Path, site_view: Path) -> None:
    """Let ``venv`` see the course environment's packages, all but the course package itself."""
    site_view.mkdir()
    course = ("autoencoder_anomaly_course", "__editable__", "helpers")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(course):
            (site_view / entry.name).symlink_to(entry)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "course_requirements.pth").write_text(str(site_view) + "\n")


@pytest.mark.slow
def test_a_notebook_alone_in_a_folder_installs_the_package_and_runs(tmp_path, monkeypatch):
    venv, alone, cache = tmp_path / "venv", tmp_path / "alone", tmp_path / "cache"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _requirements_without_the_course(venv, tmp_path / "site-view")
    python = venv / "bin" / "python"
    # cwd outside the checkout: `python -c` puts the working folder first on sys.path
    hidden = subprocess.run([str(python), "-c", "import importlib.util; print(importlib.util.find_spec('helpers'))"],
                            capture_output=True, text=True, check=True, cwd=tmp_path)
    assert hidden.stdout.strip() == "None", "the test environment must not see the course package"
    alone.mkdir()
    shutil.copy(ROOT / "notebooks" / STANDALONE, alone / STANDALONE)
    kernels = tmp_path / "jupyter" / "kernels" / "alone"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(
        '{"argv": ["%s", "-m", "ipykernel_launcher", "-f", "{connection_file}"], '
        '"display_name": "a student\'s Python", "language": "python"}' % python)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))  # the client looks the kernel up here
    env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter"), "COURSE_PACKAGE_SOURCE": str(ROOT),
           "COURSE_DATA": str(helpers.data_dir()), "XDG_CACHE_HOME": str(cache), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("COURSE_CHECKPOINTS", None)
    nb = nbformat.read(alone / STANDALONE, as_version=4)
    # execute(env=...) starts the kernel with that environment; a failing cell raises CellExecutionError
    NotebookClient(nb, timeout=1800, kernel_name="alone", resources={"metadata": {"path": str(alone)}}).execute(env=env)
    setup = "".join(o.get("text", "") for o in nb.cells[set_repository.setup_cell_index(nb)].outputs)
    assert f"installed the course package from {ROOT}" in setup
    assert f"data:        {helpers.data_dir()}" in setup
    assert f"checkpoints: {cache / 'autoencoder-anomaly-course' / 'checkpoints'}" in setup
    installed = subprocess.run([str(python), "-c", "import helpers; print(helpers.__file__)"],
                               capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert str(venv) in installed  # the notebook installed its own copy, not this checkout's
    assert sorted(p.name for p in alone.iterdir()) == [STANDALONE]  # it wrote nothing beside itself
