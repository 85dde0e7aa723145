"""Where a notebook runs: device, seed, and the data and checkpoint folders."""
import numpy as np
import pytest
import torch

import helpers
from helpers import checkpoint_dir, course_seed, data_dir, describe_environment, get_device, set_seed
from helpers import environment


def test_get_device_falls_back_to_cpu_when_no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")


def test_set_seed_repeats_numpy_and_torch():
    set_seed(3)
    a = (np.random.rand(), torch.rand(1).item())
    set_seed(3)
    assert (np.random.rand(), torch.rand(1).item()) == a


def test_course_seed_reads_the_environment(monkeypatch):
    monkeypatch.delenv("COURSE_SEED", raising=False)
    assert course_seed() == 0 and course_seed(7) == 7
    monkeypatch.setenv("COURSE_SEED", "1")
    assert course_seed() == 1
    monkeypatch.setenv("COURSE_SEED", "one")
    with pytest.raises(ValueError, match="whole number"):
        course_seed()


def test_folders_follow_the_environment_then_the_checkout_then_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("COURSE_CHECKPOINTS", str(tmp_path / "c"))
    assert data_dir() == tmp_path / "d" and checkpoint_dir() == tmp_path / "c"
    monkeypatch.delenv("COURSE_DATA")
    monkeypatch.delenv("COURSE_CHECKPOINTS")
    root = environment._checkout()
    assert root is not None and (root / "_toc.yml").is_file()  # the tests run inside the checkout
    assert data_dir() == root / "data" and checkpoint_dir() == root / "checkpoints"
    # a package installed outside any checkout, run from a folder outside it: the per-user cache
    monkeypatch.setattr(environment, "_checkout", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_dir() == tmp_path / "cache" / "autoencoder-anomaly-course" / "data"
    assert checkpoint_dir() == tmp_path / "cache" / "autoencoder-anomaly-course" / "checkpoints"


def test_checkout_is_found_from_the_working_folder(monkeypatch, tmp_path):
    fake = tmp_path / "course"
    (fake / "helpers").mkdir(parents=True)
    (fake / "helpers" / "__init__.py").write_text("")
    (fake / "_toc.yml").write_text("")
    (fake / "notebooks").mkdir()
    monkeypatch.chdir(fake / "notebooks")
    monkeypatch.setattr(environment, "__file__", str(tmp_path / "site-packages" / "helpers" / "environment.py"))
    assert environment._checkout() == fake
    monkeypatch.chdir(tmp_path)
    assert environment._checkout() is None


def test_describe_environment_names_both_folders_and_the_device():
    text = describe_environment()
    assert f"data:        {data_dir()}" in text and f"checkpoints: {checkpoint_dir()}" in text
    assert "device:" in text and torch.__version__ in text
    assert helpers.describe_environment is describe_environment


def test_glue_hands_one_or_several_values_as_plain_numbers(monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=False: glued.__setitem__(name, value))
    helpers.glue("auc", np.float64(0.5))
    helpers.glue(recall=np.float32(0.25), label="seven")
    assert glued == {"auc": 0.5, "recall": 0.25, "label": "seven"}
    assert all(type(glued[k]) in (float, str) for k in glued)
