"""Datasets of the course: MNIST as in-memory tensors, and the UCI optical digits.

Everything here works offline once the raw files sit in ``data/``; with the files
absent and no network, it fails within seconds and says which files are missing,
where to put them and where to get them.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import shutil
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from ._utils import atomic_file
from .environment import data_dir

__all__ = [
    "DataError",
    "DatasetNotFoundError",
    "ChecksumError",
    "load_mnist",
    "mnist_splits",
    "mnist_loaders",
    "tensor_loader",
    "load_optdigits",
    "optdigits_features",
    "load_optdigits_outliers",
    "place_datasets",
    "prepare_datasets",
    "load_table",
]

# md5 sums are the ones torchvision checks (MNIST) and the UCI archive serves (optdigits).
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
OPTDIGITS_FILES = {
    "optdigits.tra": "268ce7771f3f15afbc54402478b1d454",
    "optdigits.tes": "a0339c30a8a5312a1b6f9e5c719dcce5",
}
OPTDIGITS_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/optdigits/"
OPTDIGITS_SPLITS = {"train": "optdigits.tra", "test": "optdigits.tes"}

# Seconds to wait for a host before declaring the machine offline.
CONNECT_TIMEOUT = 5.0


class DataError(RuntimeError):
    """A dataset could not be provided."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """Raw files are missing and could not be downloaded."""


class ChecksumError(DataError):
    """A raw file is present but its md5 sum is wrong (corrupted or truncated)."""


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, md5: str) -> None:
    actual = _md5(path)
    if actual != md5:
        raise ChecksumError(
            f"{path} has md5 {actual}, expected {md5}: the file is corrupted or incomplete. "
            f"Delete it and run `python -m helpers.data` again (or copy a good copy into {path.parent})."
        )


def _host_reachable(url: str, timeout: float = CONNECT_TIMEOUT) -> bool:
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _missing_files_error(name: str, folder: Path, missing: list[str], urls, reason: str) -> DatasetNotFoundError:
    files = "\n".join(f"  - {folder / f}" for f in missing)
    sources = "\n".join(f"  - {u}" for u in urls)
    return DatasetNotFoundError(
        f"{name}: {len(missing)} raw file(s) missing and they could not be downloaded ({reason}).\n"
        f"Missing:\n{files}\n"
        f"Put the files there (for example `python -m helpers.data --source ../shared/data`), "
        f"or download them on a machine with network from:\n{sources}"
    )


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _mnist_raw_dir(root) -> Path:
    return Path(root) / "MNIST" / "raw"


def _ensure_mnist(root) -> None:
    """Check the MNIST raw files in ``root/MNIST/raw``, downloading what is missing."""
    raw = _mnist_raw_dir(root)
    missing = []
    for name, md5 in MNIST_FILES.items():
        gz = raw / name
        if gz.exists():
            _verify(gz, md5)
        elif not (raw / name[:-3]).exists():  # torchvision keeps the extracted file too
            missing.append(name)
    if not missing:
        return
    if not _host_reachable(MNIST_URLS[0]):
        raise _missing_files_error("MNIST", raw, missing, MNIST_URLS, "no network connection")
    import torchvision

    try:
        with _socket_timeout(30), contextlib.redirect_stdout(sys.stderr):
            for train in (True, False):
                torchvision.datasets.MNIST(root=str(root), train=train, download=True)
    except (OSError, RuntimeError, urllib.error.URLError) as exc:
        raise _missing_files_error("MNIST", raw, missing, MNIST_URLS, f"download failed: {exc}") from None


@functools.lru_cache(maxsize=4)
def _mnist_uint8(root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    import torchvision

    _ensure_mnist(root)
    # download=True only extracts here: the archives are present and verified above.
    with contextlib.redirect_stdout(sys.stderr):
        ds = torchvision.datasets.MNIST(root=root, train=train, download=True)
    return ds.data, ds.targets


def _root(root) -> Path:
    return data_dir() if root is None else Path(root)


def load_mnist(train: bool = True, root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST as tensors: images ``X`` float32 ``(N, 1, 28, 28)`` in [0, 1], labels ``y`` int64.

    ``root`` holds ``MNIST/raw`` (default: :func:`helpers.data_dir`); missing files
    are downloaded there. The raw files are read once per process; each call
    returns fresh tensors.
    Introduced in notebook 04 (``04_latent_2d``).
    """
    images, labels = _mnist_uint8(str(_root(root).resolve()), bool(train))
    X = images.unsqueeze(1).to(torch.float32).div_(255.0)
    return X, labels.clone()


def tensor_loader(X: torch.Tensor, y: torch.Tensor | None = None, *, batch_size: int,
                  shuffle: bool = False, seed: int | None = None) -> DataLoader:
    """A DataLoader that slices whole batches out of in-memory tensors.

    One indexing operation per batch instead of one PIL transform per image: this
    is where the course's speed-up over the classic ``ToTensor()`` loader comes from.
    Yields ``(X, y)`` pairs (``y`` is the index when no labels are given).
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    if y is None:
        y = torch.arange(len(X))
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} examples but y has {len(y)}")
    dataset = TensorDataset(X, y)
    if shuffle:
        generator = torch.Generator().manual_seed(0 if seed is None else seed)
        sampler = RandomSampler(dataset, generator=generator)
    else:
        sampler = SequentialSampler(dataset)
    # batch_size=None: the sampler hands over a list of indices, TensorDataset slices them at once.
    return DataLoader(dataset, sampler=BatchSampler(sampler, batch_size, drop_last=False), batch_size=None)


def _keep_digits(X, y, digits):
    if digits is None:
        return X, y
    digits = tuple(int(d) for d in digits)
    if not digits or any(d < 0 or d > 9 for d in digits):
        raise ValueError(f"digits must be a non-empty collection of labels in 0..9, got {digits}")
    mask = torch.isin(y, torch.tensor(digits))
    return X[mask], y[mask]


def split_indices(seed: int = 0, valid_size: int = 10_000) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(train, valid)`` into the 60,000 training images: the split of :func:`mnist_splits`."""
    if not 0 < valid_size < 60_000:
        raise ValueError(f"valid_size must be between 1 and 59,999, got {valid_size}")
    order = torch.randperm(60_000, generator=torch.Generator().manual_seed(seed))
    return order[valid_size:], order[:valid_size]


def mnist_splits(seed: int = 0, digits=None, *, valid_size: int = 10_000, root=None) -> dict[str, tuple]:
    """MNIST as ``{"train": (X, y), "valid": (X, y), "test": (X, y)}`` tensors.

    ``valid`` is a fixed split of the 60,000 training images chosen by ``seed``
    (the same seed, the same split); ``test`` is the official 10,000-image test
    set. ``digits=(0,)`` keeps only those classes in all three. Images are float32
    ``(N, 1, 28, 28)`` in [0, 1], labels int64.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    train_idx, valid_idx = split_indices(seed, valid_size)
    X, y = load_mnist(train=True, root=root)
    return {
        "train": _keep_digits(X[train_idx], y[train_idx], digits),
        "valid": _keep_digits(X[valid_idx], y[valid_idx], digits),
        "test": _keep_digits(*load_mnist(train=False, root=root), digits),
    }


def mnist_loaders(batch_size: int = 64, seed: int = 0, digits=None, *, valid_size: int = 10_000, root=None,
                  eval_batch_size: int = 1000) -> dict[str, DataLoader]:
    """Train, validation and test loaders over :func:`mnist_splits` (the same arguments).

    The training loader shuffles with ``seed`` (the same seed, the same order);
    each loader yields ``(X, y)`` with ``X`` float32 ``(B, 1, 28, 28)`` in [0, 1].
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    splits = mnist_splits(seed, digits, valid_size=valid_size, root=root)
    return {
        "train": tensor_loader(*splits["train"], batch_size=batch_size, shuffle=True, seed=seed),
        "valid": tensor_loader(*splits["valid"], batch_size=eval_batch_size),
        "test": tensor_loader(*splits["test"], batch_size=eval_batch_size),
    }


def _download(url: str, dest: Path, md5: str) -> None:
    """Download ``url`` to ``dest`` atomically, verifying its md5 before it lands."""
    with atomic_file(dest) as tmp:
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:
            shutil.copyfileobj(response, out)
        _verify(tmp, md5)


def _ensure_optdigits(root, filename: str) -> Path:
    folder = Path(root) / "optdigits"
    path = folder / filename
    md5 = OPTDIGITS_FILES[filename]
    if path.exists():
        _verify(path, md5)
        return path
    url = OPTDIGITS_URL + filename
    if not _host_reachable(url):
        raise _missing_files_error("optdigits", folder, [filename], [url], "no network connection")
    try:
        _download(url, path, md5)
    except (OSError, urllib.error.URLError) as exc:
        raise _missing_files_error("optdigits", folder, [filename], [url], f"download failed: {exc}") from None
    return path


def load_optdigits(split: str = "train", root=None) -> tuple[np.ndarray, np.ndarray]:
    """The UCI optical digits: pixel counts ``X`` int64 ``(N, 64)`` in 0..16 and labels ``y``.

    ``split="train"`` reads ``optdigits.tra`` (3,823 rows), ``"test"`` reads
    ``optdigits.tes`` (1,797 rows), from ``root/optdigits`` (default:
    :func:`helpers.data_dir`), downloading from the UCI archive when absent.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    if split not in OPTDIGITS_SPLITS:
        raise ValueError(f"split must be one of {sorted(OPTDIGITS_SPLITS)}, got {split!r}")
    path = _ensure_optdigits(_root(root), OPTDIGITS_SPLITS[split])
    table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape[1] != 65:
        raise ValueError(f"{path}: expected 65 comma-separated columns (64 pixels, then the label), "
                         f"got {table.shape[1]}")
    X, y = table[:, :64], table[:, 64]
    if X.min() < 0 or X.max() > 16 or y.min() < 0 or y.max() > 9:
        raise ValueError(f"{path}: pixel counts must lie in 0..16 and labels in 0..9")
    return X, y


def optdigits_features(X: np.ndarray, y: np.ndarray | None = None) -> torch.Tensor:
    """Scale optdigits rows to float32 in [0, 1]: pixels / 16, then (if given) label / 9.

    With ``y`` the result has 65 columns (the label is reconstructed too, as in the
    reference); without it, 64.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 64:
        raise ValueError(f"X must have shape (N, 64), got {X.shape}")
    if X.min() < 0 or X.max() > 16:
        raise ValueError(f"X must hold pixel counts in 0..16, got values in [{X.min()}, {X.max()}]")
    columns = [X / 16.0]
    if y is not None:
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise ValueError(f"y must have shape ({len(X)},), got {y.shape}")
        if y.min() < 0 or y.max() > 9:
            raise ValueError(f"y must hold labels in 0..9, got values in [{y.min()}, {y.max()}]")
        columns.append(y[:, None] / 9.0)
    return torch.from_numpy(np.hstack(columns).astype(np.float32))


# The ODDS collection's optdigits set (Rayana, 2016), which PyOD's benchmark uses: the digits 1-9 of both
# UCI files as the normal rows, 150 zeros as the anomalies (5,216 rows, 2.88% anomalies).
OUTLIER_DIGIT, N_OUTLIERS = 0, 150


def load_optdigits_outliers(seed: int = 0, root=None) -> tuple[np.ndarray, np.ndarray]:
    """The UCI digits as an anomaly benchmark: every 1-9 of both files, plus 150 zeros as the anomalies.

    Rebuilds the ODDS collection's ``optdigits`` set from the UCI files: all
    5,066 rows of the digits 1 to 9 from ``optdigits.tra`` then
    ``optdigits.tes``, followed by 150 distinct zeros drawn from the 554 zeros
    of the two files with ``numpy.random.default_rng(seed)`` (kept in file
    order): 5,216 rows, 2.88% anomalies. It is not byte-identical to the ODDS
    file, which drew its zeros with replacement (132 distinct zeros, some of
    them twice) and puts the test-file rows first: the normal rows are the
    same, the zeros and the row order are not.

    Returns the pixel counts ``X`` (int64 ``(5216, 64)``, 0..16) and the digit
    labels ``y``; the anomalies are the rows with ``y == 0``.
    Introduced in notebook 10 (``10_labelled_anomalies``).
    """
    X_train, y_train = load_optdigits("train", root=root)
    X_test, y_test = load_optdigits("test", root=root)
    X_all, y_all = np.vstack([X_train, X_test]), np.concatenate([y_train, y_test])
    zeros = np.flatnonzero(y_all == OUTLIER_DIGIT)
    picked = np.sort(np.random.default_rng(seed).choice(zeros, size=N_OUTLIERS, replace=False))
    keep = np.concatenate([np.flatnonzero(y_all != OUTLIER_DIGIT), picked])
    return X_all[keep], y_all[keep]


TABLES = Path(__file__).resolve().parent / "tables"


def load_table(name: str):
    """A table that ships with the package, as a pandas DataFrame: ``helpers/tables/<name>.csv``.

    The tables a lesson reads but should not recompute: results a benchmark
    script measured (written there by the script, with a ``<name>.json`` beside
    it saying how) and published results (with a source for every value). They
    travel with the package, so a notebook opened alone finds them too.
    Introduced in notebook 10 (``10_labelled_anomalies``).
    """
    import pandas as pd

    if not isinstance(name, str) or Path(name).name != name or name.endswith(".csv"):
        raise ValueError(f"name must be a table's name without folder or suffix, e.g. 'pyod_benchmark_results', got {name!r}")
    path = TABLES / f"{name}.csv"
    if not path.is_file():
        known = sorted(p.stem for p in TABLES.glob("*.csv"))
        raise FileNotFoundError(f"no table {name!r} in {TABLES}; the package has {known}")
    return pd.read_csv(path)


def place_datasets(source, root=None) -> list[Path]:
    """Copy the raw dataset files from ``source`` (laid out like ``../shared/data``) into ``root``.

    Files already in place with the right md5 are left alone; a source file with a
    wrong md5 is an error. Returns the files copied.
    """
    source, root = Path(source), _root(root)
    wanted = [(Path("MNIST/raw") / n, md5) for n, md5 in MNIST_FILES.items()]
    wanted += [(Path("optdigits") / n, md5) for n, md5 in OPTDIGITS_FILES.items()]
    copied = []
    for relative, md5 in wanted:
        src, dest = source / relative, root / relative
        if dest.exists() and _md5(dest) == md5:
            continue
        if not src.exists():
            continue
        _verify(src, md5)
        with atomic_file(dest) as tmp:  # an interrupted copy never leaves a truncated file behind
            shutil.copyfile(src, tmp)
        copied.append(dest)
    return copied


def prepare_datasets(root=None, source=None) -> None:
    """Place (from ``source``) or download every raw file into ``root``, verify it, and extract MNIST."""
    if source is not None and Path(source).is_dir():
        for path in place_datasets(source, root):
            print(f"placed {path}")
    for train in (True, False):
        X, _ = load_mnist(train=train, root=root)
        print(f"MNIST {'train' if train else 'test'}: {tuple(X.shape)} ok")
    for split in OPTDIGITS_SPLITS:
        X, _ = load_optdigits(split, root=root)
        print(f"optdigits {split}: {X.shape[0]} rows ok")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.data",
        description="Put the course datasets into ROOT: copied from SOURCE when it exists, else downloaded.")
    parser.add_argument("--root", default=None, help="where the datasets go (default: helpers.data_dir())")
    parser.add_argument("--source", default=None, help="a folder laid out like ../shared/data to copy from")
    args = parser.parse_args(argv)
    try:
        prepare_datasets(root=args.root, source=args.source)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
