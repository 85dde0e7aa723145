"""Loaders: shapes, ranges, splits, offline behaviour and checksums."""
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import helpers.data as data
from helpers import (ChecksumError, DatasetNotFoundError, load_mnist, load_optdigits, mnist_loaders, mnist_splits,
                     optdigits_features, place_datasets, tensor_loader)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="module")
def loaders():
    return mnist_loaders(batch_size=256, valid_size=10_000, seed=0, root=DATA)


def test_mnist_tensors_have_the_course_shape_and_range():
    X, y = load_mnist(train=True, root=DATA)
    assert X.shape == (60_000, 1, 28, 28) and X.dtype == torch.float32
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    assert y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert abs(X.mean().item() - 0.1307) < 1e-3 and abs(X.std().item() - 0.3081) < 1e-3


def test_loaders_split_the_training_set_and_yield_batches(loaders):
    sizes = {name: sum(len(X) for X, _ in loader) for name, loader in loaders.items()}
    assert sizes == {"train": 50_000, "valid": 10_000, "test": 10_000}
    X, y = next(iter(loaders["train"]))
    assert X.shape == (256, 1, 28, 28) and y.shape == (256,)
    assert 0.0 <= X.min() and X.max() <= 1.0


def test_splits_are_tensors_and_the_loaders_serve_the_same_images(loaders):
    splits = mnist_splits(seed=0, root=DATA)
    assert {name: len(X) for name, (X, y) in splits.items()} == {"train": 50_000, "valid": 10_000, "test": 10_000}
    X_valid, y_valid = splits["valid"]
    assert X_valid.shape == (10_000, 1, 28, 28) and y_valid.dtype == torch.int64
    assert torch.equal(torch.cat([X for X, _ in loaders["valid"]]), X_valid)
    assert torch.equal(torch.cat([y for _, y in loaders["test"]]), splits["test"][1])
    zeros = mnist_splits(seed=0, digits=(0,), root=DATA)
    assert set(zeros["train"][1].tolist()) == {0} and torch.equal(zeros["valid"][0], X_valid[y_valid == 0])


def test_valid_split_is_fixed_by_the_seed_and_disjoint_from_train():
    def labels(seed):
        ls = mnist_loaders(batch_size=1000, seed=seed, root=DATA)
        return torch.cat([y for _, y in ls["valid"]]), torch.cat([X.sum((1, 2, 3)) for X, _ in ls["valid"]])

    (y0, s0), (y0b, s0b), (_, s1) = labels(0), labels(0), labels(1)
    assert torch.equal(y0, y0b) and torch.equal(s0, s0b)
    assert not torch.equal(s0, s1)


def test_train_shuffle_is_repeatable_with_the_seed():
    first = [next(iter(mnist_loaders(batch_size=32, seed=3, root=DATA)["train"]))[1] for _ in range(2)]
    assert torch.equal(first[0], first[1])
    other = next(iter(mnist_loaders(batch_size=32, seed=4, root=DATA)["train"]))[1]
    assert not torch.equal(first[0], other)


def test_digits_keeps_only_those_classes():
    ls = mnist_loaders(batch_size=500, digits=(0,), root=DATA)
    for loader in ls.values():
        assert set(torch.cat([y for _, y in loader]).tolist()) == {0}
    assert sum(len(y) for _, y in ls["test"]) == 980


@pytest.mark.parametrize("bad", [(), (10,), (-1, 3)])
def test_digits_rejects_labels_outside_0_to_9(bad):
    with pytest.raises(ValueError, match="digits"):
        mnist_loaders(digits=bad, root=DATA)


def test_tensor_loader_checks_its_inputs():
    with pytest.raises(ValueError, match="3 examples but y has 2"):
        tensor_loader(torch.zeros(3, 2), torch.zeros(2), batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        tensor_loader(torch.zeros(3, 2), batch_size=0)
    batches = list(tensor_loader(torch.arange(10.0).view(5, 2), batch_size=2))
    assert [len(X) for X, _ in batches] == [2, 2, 1]


def test_optdigits_matches_the_published_counts():
    X, y = load_optdigits("train", root=DATA)
    assert X.shape == (3823, 64) and X.min() == 0 and X.max() == 16
    assert np.bincount(y).tolist() == [376, 389, 380, 389, 387, 376, 377, 387, 380, 382]
    X, y = load_optdigits("test", root=DATA)
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_optdigits_features_scale_to_unit_interval():
    X, y = load_optdigits("train", root=DATA)
    F = optdigits_features(X, y)
    assert F.shape == (3823, 65) and F.dtype == torch.float32
    assert float(F.min()) == 0.0 and float(F.max()) == 1.0
    assert torch.allclose(F[:, 64] * 9, torch.from_numpy(y).float())
    assert optdigits_features(X).shape == (3823, 64)
    with pytest.raises(ValueError, match=r"\(N, 64\)"):
        optdigits_features(X[:, :10])
    with pytest.raises(ValueError, match="0..16"):
        optdigits_features(X * 2)


def test_optdigits_rejects_an_unknown_split():
    with pytest.raises(ValueError, match="split"):
        load_optdigits("validation", root=DATA)


@pytest.fixture
def offline(monkeypatch):
    """No network: every connection attempt fails at once, as on a machine without one."""
    def refuse(*args, **kwargs):
        raise OSError("network is unreachable (test)")
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_missing_mnist_offline_fails_fast_and_names_the_files(tmp_path, offline):
    start = time.perf_counter()
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(root=tmp_path)
    assert time.perf_counter() - start < 10
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and str(tmp_path / "MNIST" / "raw") in message
    assert "ossci-datasets" in message and "no network" in message


def test_missing_optdigits_offline_names_the_file_and_the_source(tmp_path, offline):
    with pytest.raises(DatasetNotFoundError) as info:
        load_optdigits("test", root=tmp_path)
    assert "optdigits.tes" in str(info.value) and "archive.ics.uci.edu" in str(info.value)


def test_present_files_need_no_network(tmp_path, offline):
    place_datasets(DATA, tmp_path)
    X, y = load_optdigits("train", root=tmp_path)
    assert X.shape == (3823, 64)
    X, _ = load_mnist(train=False, root=tmp_path)
    assert X.shape == (10_000, 1, 28, 28)


def test_corrupted_file_is_reported_as_such(tmp_path, offline):
    target = tmp_path / "optdigits" / "optdigits.tra"
    target.parent.mkdir(parents=True)
    shutil.copyfile(DATA / "optdigits" / "optdigits.tra", target)
    with open(target, "r+b") as f:
        f.seek(100)
        f.write(b"9")
    with pytest.raises(ChecksumError, match="corrupted"):
        load_optdigits("train", root=tmp_path)


def test_corrupted_mnist_archive_is_reported_as_such(tmp_path, offline):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.MNIST_FILES:
        shutil.copyfile(DATA / "MNIST" / "raw" / name, raw / name)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(b"truncated")
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(train=False, root=tmp_path)


def test_place_datasets_copies_once(tmp_path):
    first = place_datasets(DATA, tmp_path)
    assert len(first) == 6
    assert place_datasets(DATA, tmp_path) == []


def test_an_interrupted_copy_leaves_no_truncated_file(tmp_path, monkeypatch):
    def copy_half_then_fail(src, dest):
        Path(dest).write_bytes(Path(src).read_bytes()[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(data.shutil, "copyfile", copy_half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        place_datasets(DATA, tmp_path)
    left = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert left == []  # nothing that a later run would call corrupted


# ------------------------------------------------------------------ notebook 10: the ODDS-like optdigits set
def test_optdigits_outliers_rebuild_the_odds_set():
    X, y = data.load_optdigits_outliers(seed=0, root=DATA)
    assert X.shape == (5216, 64) and y.shape == (5216,)
    assert (y == 0).sum() == 150 and np.bincount(y)[1:].sum() == 5066  # 2.88% anomalies, every 1-9 of both files
    zeros = X[y == 0]
    X_all = np.vstack([load_optdigits("train", root=DATA)[0], load_optdigits("test", root=DATA)[0]])
    assert np.array_equal(X[y != 0], X_all[np.r_[load_optdigits("train", root=DATA)[1],
                                                 load_optdigits("test", root=DATA)[1]] != 0])
    X_again, _ = data.load_optdigits_outliers(seed=0, root=DATA)
    X_other, y_other = data.load_optdigits_outliers(seed=1, root=DATA)
    assert np.array_equal(X, X_again)
    assert np.array_equal(X[y != 0], X_other[y_other != 0]) and not np.array_equal(zeros, X_other[y_other == 0])


def test_load_table_reads_the_shipped_tables_and_names_the_known_ones():
    published = data.load_table("pyod_published_optdigits")
    assert {"detector", "metric", "value", "source"} <= set(published.columns)
    assert published.query("detector == 'HBOS' and metric == 'roc_auc'")["value"].item() == pytest.approx(0.8732)
    with pytest.raises(FileNotFoundError, match="pyod_published_optdigits"):
        data.load_table("no_such_table")
    for bad in ("../tables/pyod_published_optdigits", "pyod_published_optdigits.csv"):
        with pytest.raises(ValueError, match="without folder or suffix"):
            data.load_table(bad)
