"""Training: seeds, device choice, the ``fit`` loop, and checkpoints."""
from __future__ import annotations

import math
import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from .data import atomic_file
from .models import MODEL_CLASSES, Autoencoder

__all__ = [
    "TrainingDivergedError",
    "set_seed",
    "get_device",
    "add_noise",
    "fit",
    "save_checkpoint",
    "load_checkpoint",
]

LR_SCHEDULES = ("constant", "onecycle")
OPTIMIZERS = ("adam", "sgd")


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite."""


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch so that a re-run prints the same numbers on the CPU.

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


def add_noise(X: torch.Tensor, noise_std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``X`` plus Gaussian noise of standard deviation ``noise_std``, clipped back to [0, 1].

    Introduced in notebook 07 (``07_denoising``).
    """
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    noise = torch.randn(X.shape, generator=generator, device=X.device, dtype=X.dtype)
    return (X + noise_std * noise).clamp_(0.0, 1.0)


def _inputs(batch) -> torch.Tensor:
    """Loaders yield ``(X, y)`` pairs or bare ``X``; training needs only ``X``."""
    return batch[0] if isinstance(batch, (list, tuple)) else batch


def _make_optimizer(model: nn.Module, optimizer: str, lr: float, weight_decay: float, momentum: float, betas):
    if optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, betas=betas)
    if optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay, momentum=momentum)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")


def _evaluate(model, loader, loss_fn, device, noise_std) -> tuple[float, float]:
    """Per-example means of ``loss_fn`` and of the per-pixel MSE over ``loader``.

    Noise (for a denoising AE) is drawn from a fixed generator so that epochs compare.
    """
    generator = torch.Generator(device=device).manual_seed(0) if noise_std else None
    loss_total = mse_total = 0.0
    count = 0
    model.eval()
    with torch.no_grad():
        for batch in loader:
            X = _inputs(batch).to(device)
            inputs = add_noise(X, noise_std, generator) if noise_std else X
            X_hat = model(inputs)
            loss_total += loss_fn(X_hat, X).item() * len(X)
            if not _is_mse(loss_fn):
                mse_total += nn.functional.mse_loss(X_hat, X).item() * len(X)
            count += len(X)
    return loss_total / count, (loss_total if _is_mse(loss_fn) else mse_total) / count


def _is_mse(loss_fn) -> bool:
    return isinstance(loss_fn, nn.MSELoss) and loss_fn.reduction == "mean"


def fit(model: nn.Module, train_loader, valid_loader=None, *, num_epochs: int, lr: float,
        optimizer: str = "adam", weight_decay: float = 0.0, momentum: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999), loss_fn=None, lr_schedule: str = "constant", noise_std: float = 0.0,
        stop_at_valid_mse: float | None = None, snapshot: bool = False,
        progress: bool = True) -> pd.DataFrame:
    """Train an autoencoder to reconstruct its inputs and return the per-epoch history.

    - ``optimizer``: ``"adam"`` (with ``betas``) or ``"sgd"`` (with ``momentum``); ``lr_schedule``:
      ``"constant"`` or ``"onecycle"`` (warm up to ``lr``, then anneal to ~0).
    - ``loss_fn(reconstruction, target)`` defaults to ``nn.MSELoss()``. Whatever
      the loss, the per-pixel MSE (the course's anomaly score) is recorded too.
    - ``noise_std > 0`` trains a denoising AE: Gaussian noise on the inputs,
      clipped to [0, 1], with the clean images as targets.
    - ``stop_at_valid_mse``: stop after the first epoch whose validation MSE is
      at or below this value.
    - ``snapshot=True`` keeps the reconstructions of the first validation batch
      after every epoch (column ``snapshot``; the inputs are in
      ``history.attrs["snapshot_inputs"]`` and their labels in
      ``history.attrs["snapshot_labels"]``).

    The model trains on the device its parameters live on. A NaN or infinite
    loss stops training with :class:`TrainingDivergedError`. Columns of the
    returned DataFrame: ``epoch``, ``train_loss`` (per-example mean of
    ``loss_fn``), ``train_mse``, ``batch_loss_sum`` (sum of the batch losses),
    ``valid_loss``, ``valid_mse`` (NaN without a ``valid_loader``), ``lr``,
    ``seconds`` (wall time since the start).
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    if num_epochs < 1:
        raise ValueError(f"num_epochs must be >= 1, got {num_epochs}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    if (snapshot or stop_at_valid_mse is not None) and valid_loader is None:
        raise ValueError("snapshot and stop_at_valid_mse need a valid_loader")
    loss_fn = nn.MSELoss() if loss_fn is None else loss_fn
    loss_is_mse = _is_mse(loss_fn)  # then the recorded MSE is the loss itself, not computed again
    device = next(model.parameters()).device
    opt = _make_optimizer(model, optimizer, lr, weight_decay, momentum, tuple(betas))
    steps_per_epoch = len(train_loader)
    scheduler = None
    if lr_schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=num_epochs * steps_per_epoch)

    snapshot_X = snapshot_y = None
    if snapshot:
        first = next(iter(valid_loader))
        snapshot_X = _inputs(first)
        snapshot_y = first[1] if isinstance(first, (list, tuple)) and len(first) > 1 else None

    rows = []
    start = time.perf_counter()
    bar = tqdm(total=num_epochs * steps_per_epoch, desc="training", unit="batch",
               disable=not progress, mininterval=0.5, dynamic_ncols=True)
    try:
        for epoch in range(1, num_epochs + 1):
            model.train()
            total = mse_total = batch_loss_sum = 0.0
            count = 0
            for batch_index, batch in enumerate(train_loader, start=1):
                X = _inputs(batch).to(device, non_blocking=True)
                inputs = add_noise(X, noise_std) if noise_std else X
                X_hat = model(inputs)
                loss = loss_fn(X_hat, X)
                value = loss.item()
                if not math.isfinite(value):
                    raise TrainingDivergedError(
                        f"training diverged: the loss is {value} at epoch {epoch}, batch {batch_index} "
                        f"of {steps_per_epoch}. Lower the learning rate (lr={lr}) or look for NaN/inf "
                        f"in the inputs.")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if scheduler is not None:
                    scheduler.step()
                total += value * len(X)
                if not loss_is_mse:
                    mse_total += nn.functional.mse_loss(X_hat.detach(), X).item() * len(X)
                count += len(X)
                batch_loss_sum += value
                bar.update(1)
            row = {"epoch": epoch, "train_loss": total / count,
                   "train_mse": (total if loss_is_mse else mse_total) / count,
                   "batch_loss_sum": batch_loss_sum, "valid_loss": math.nan, "valid_mse": math.nan,
                   "lr": opt.param_groups[0]["lr"]}
            if valid_loader is not None:
                row["valid_loss"], row["valid_mse"] = _evaluate(model, valid_loader, loss_fn, device, noise_std)
            if snapshot:
                with torch.no_grad():
                    row["snapshot"] = model(snapshot_X.to(device)).cpu().numpy()
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            bar.set_postfix(epoch=epoch, train=f"{row['train_loss']:.5f}", valid=f"{row['valid_loss']:.5f}")
            if stop_at_valid_mse is not None and row["valid_mse"] <= stop_at_valid_mse:
                break
    finally:
        bar.close()
        model.eval()
    history = pd.DataFrame(rows)
    if snapshot:
        history.attrs["snapshot_inputs"] = snapshot_X.numpy()
        history.attrs["snapshot_labels"] = None if snapshot_y is None else snapshot_y.numpy()
    return history


def save_checkpoint(model: Autoencoder, path, **metadata) -> Path:
    """Save weights, the model's class and constructor arguments, and ``metadata``.

    The file is written to a temporary name and renamed into place, so an
    interrupted save never leaves a half-written checkpoint behind.
    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    if type(model).__name__ not in MODEL_CLASSES:
        raise TypeError(f"save_checkpoint expects one of the course models {sorted(MODEL_CLASSES)}, "
                        f"got {type(model).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model_class": type(model).__name__,
        "config": model.config,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": metadata,
    }
    with atomic_file(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path, device=None) -> Autoencoder:
    """Rebuild a model saved by :func:`save_checkpoint`, on ``device`` (default: :func:`get_device`).

    The model comes back in eval mode; the saved metadata is in ``model.metadata``.
    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}: run the notebook that trains it, "
                                f"or train the model through its helper")
    device = get_device() if device is None else torch.device(device)
    payload = torch.load(path, map_location=device, weights_only=True)
    name = payload.get("model_class")
    if name not in MODEL_CLASSES:
        raise ValueError(f"{path} holds a {name!r}, not one of the course models {sorted(MODEL_CLASSES)}")
    model = MODEL_CLASSES[name](**payload["config"])
    model.load_state_dict(payload["state_dict"])
    model.metadata = payload.get("metadata", {})
    return model.to(device).eval()
