"""Small private utilities shared by the modules of ``helpers`` (not part of the public API)."""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

MNIST_SHAPE = (1, 28, 28)


def shape_text(shape, batch: bool = False) -> str:
    """``(1, 28, 28)``, or ``(N, 1, 28, 28)`` with ``batch``: how error messages write shapes."""
    return "(" + ", ".join((["N"] if batch else []) + [str(s) for s in shape]) + ")"


def inputs_of(batch) -> torch.Tensor:
    """Loaders yield ``(X, y)`` pairs or bare ``X``; most jobs need only ``X``."""
    return batch[0] if isinstance(batch, (list, tuple)) else batch


def batches(data, batch_size: int = 1000):
    """Input batches of a tensor, or of a loader yielding ``(X, y)`` pairs or bare ``X``."""
    if isinstance(data, np.ndarray):
        raise TypeError("pass a torch.Tensor (torch.from_numpy(X).float()), not a numpy array: "
                        "the model needs a float tensor")
    if isinstance(data, torch.Tensor):
        for start in range(0, len(data), batch_size):
            yield data[start:start + batch_size]
    else:
        for batch in data:
            yield inputs_of(batch)


def as_scores(scores, what: str = "scores") -> np.ndarray:
    """A non-empty 1-D float64 array of finite scores (one per example), or a ValueError."""
    scores = np.asarray(scores.detach().cpu() if isinstance(scores, torch.Tensor) else scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"expected a non-empty 1-D array of {what} (one per example), got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{what} contain NaN or inf")
    return scores


def check_values(x: torch.Tensor, value_range, what: str) -> None:
    """Raise a ValueError unless ``x`` is finite and (when ``value_range`` is set) inside it.

    One reduction on the way through (it runs on every forward pass of a course model);
    NaN propagates through it, so the slower checks run only to word the error.
    """
    if x.numel() == 0:
        return
    x_min, x_max = (float(v) for v in torch.aminmax(x.detach()))
    low, high = value_range if value_range is not None else (-math.inf, math.inf)
    if low <= x_min and x_max <= high and math.isfinite(x_min) and math.isfinite(x_max):
        return
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{what} contains NaN or infinite values")
    hint = " (raw 0..255 pixels? divide by 255)" if x_max > 1.5 and high == 1.0 else ""
    raise ValueError(f"{what} must lie in [{low:g}, {high:g}], got values in [{x_min:.4g}, {x_max:.4g}]{hint}")


@contextlib.contextmanager
def atomic_file(dest):
    """A temporary path beside ``dest`` that replaces ``dest`` only if the block succeeds.

    An interrupted or failed write never leaves a half-written file at ``dest``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; datasets and checkpoints are ordinary files
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def as_features(X) -> torch.Tensor:
    """``X`` if it is a 2-D float tensor of rows (one column per feature), else a clear error."""
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a float torch.Tensor of features (see optdigits_features), "
                        f"got {type(X).__name__}")
    if X.dim() != 2 or not torch.is_floating_point(X):
        raise ValueError(f"X must be a 2-D float tensor (N rows, one column per feature), "
                         f"got shape {tuple(X.shape)} and dtype {X.dtype}")
    return X
