"""Where a notebook runs: the device, the seed, and the folders for data and checkpoints.

The same notebook runs in a clone of the course, on Colab, or alone in a folder
of a student's own Jupyter; these functions find what each place offers, so
that no notebook cell depends on where its file sits.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

__all__ = ["set_seed", "get_device", "course_seed", "data_dir", "checkpoint_dir", "describe_environment", "glue"]

CACHE_NAME = "autoencoder-anomaly-course"


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch so that a re-run prints the same numbers on the same device.

    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def get_device() -> torch.device:
    """The fastest device present: CUDA, then Apple MPS, then the CPU.

    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def course_seed(default: int = 0) -> int:
    """The seed of a notebook: ``default``, unless the environment variable ``COURSE_SEED`` sets another.

    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    value = os.environ.get("COURSE_SEED", "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"COURSE_SEED must be a whole number, got {value!r}") from None


def _is_checkout(folder: Path) -> bool:
    return (folder / "_toc.yml").is_file() and (folder / "helpers" / "__init__.py").is_file()


def _checkout() -> Path | None:
    """The course checkout this runs in: the one holding this package, else one around the working folder."""
    package_root = Path(__file__).resolve().parents[1]
    if _is_checkout(package_root):
        return package_root
    cwd = Path.cwd().resolve()
    return next((folder for folder in (cwd, *cwd.parents) if _is_checkout(folder)), None)


def _cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / CACHE_NAME


def _folder(variable: str, name: str) -> Path:
    if os.environ.get(variable, "").strip():
        return Path(os.environ[variable]).expanduser().resolve()
    checkout = _checkout()
    return (checkout / name) if checkout is not None else (_cache() / name)


def data_dir() -> Path:
    """Where the datasets live: ``$COURSE_DATA``; else the checkout's ``data/``; else a per-user cache.

    The per-user cache is ``~/.cache/autoencoder-anomaly-course/data`` (or under
    ``$XDG_CACHE_HOME``); datasets download there when missing.
    """
    return _folder("COURSE_DATA", "data")


def checkpoint_dir() -> Path:
    """Where trained models are saved: ``$COURSE_CHECKPOINTS``; else the checkout's ``checkpoints/``; else a per-user cache."""
    return _folder("COURSE_CHECKPOINTS", "checkpoints")


def describe_environment() -> str:
    """What the notebook's setup cell prints: the data and checkpoint folders, the device and torch.

    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    device = get_device()
    return (f"data:        {data_dir()}\n"
            f"checkpoints: {checkpoint_dir()}\n"
            f"device:      {device} (torch {torch.__version__}, {torch.get_num_threads()} CPU threads)")


def glue(name: str | None = None, value=None, *, display: bool = False, **values) -> None:
    """Hand computed values to the book's prose, where ``{glue:text}`name``` shows them.

    ``glue("auc", auc)`` hands one value, ``glue(auc=auc, recall=recall)`` several. The
    book is built with myst-nb, whose ``glue`` stores each value in the cell's output;
    where myst-nb is not installed (Colab, a plain Jupyter) there is no book to hand
    it to, and nothing happens. NumPy scalars become plain numbers, so that
    ``{glue:text}`name:.3f``` can format them.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    if name is not None:
        values = {name: value, **values}
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    for key, item in values.items():
        if isinstance(item, (np.generic, np.ndarray)) and np.ndim(item) == 0:
            item = item.item()
        myst_glue(key, item, display=display)
