"""Training: the ``fit`` loop, input noise, and checkpoints."""
from __future__ import annotations

import math
import pickle
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from ._utils import atomic_file, inputs_of
from .environment import get_device
from .models import MODEL_CLASSES, Autoencoder

__all__ = ["TrainingDivergedError", "add_noise", "fit", "save_checkpoint", "load_checkpoint"]

LR_SCHEDULES = ("constant", "onecycle")


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite."""


def add_noise(X: torch.Tensor, noise_std, generator: torch.Generator | None = None) -> torch.Tensor:
    """``X`` plus Gaussian noise of standard deviation ``noise_std``, clipped back to [0, 1].

    ``noise_std`` is one number for every image, or a pair ``(low, high)``:
    each image then draws its own level uniformly from that range (a denoiser
    that must also handle clean images trains on a range that starts at 0).
    Introduced in notebook 07 (``07_denoising``).
    """
    low, high = _noise_range(noise_std)
    noise = torch.randn(X.shape, generator=generator, device=X.device, dtype=X.dtype)
    if low == high:
        return (X + low * noise).clamp_(0.0, 1.0)
    levels = torch.rand((len(X),) + (1,) * (X.dim() - 1), generator=generator, device=X.device, dtype=X.dtype)
    return (X + (low + (high - low) * levels) * noise).clamp_(0.0, 1.0)


def _noise_range(noise_std) -> tuple[float, float]:
    """``noise_std`` as a ``(low, high)`` pair of levels, checked."""
    pair = tuple(noise_std) if isinstance(noise_std, (tuple, list)) else (noise_std, noise_std)
    if len(pair) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"noise_std must be a number or a (low, high) pair of numbers, got {noise_std!r}")
    low, high = map(float, pair)
    if not 0 <= low <= high or not math.isfinite(high):
        raise ValueError(f"noise_std must be >= 0 (a range: 0 <= low <= high), got {noise_std!r}")
    return low, high


def _has_noise(noise_std) -> bool:
    return _noise_range(noise_std)[1] > 0


def _batch_loss(model: nn.Module, X_in: torch.Tensor, X: torch.Tensor, loss_fn):
    """``(loss, X_hat)`` of one batch: the model's own objective when it has one (see Autoencoder.training_loss)."""
    if isinstance(model, Autoencoder):
        return model.training_loss(X_in, X, loss_fn)
    X_hat = model(X_in)
    return loss_fn(X_hat, X), X_hat


def _is_mse(model, loss_fn) -> bool:
    """Whether the batch loss is the per-pixel MSE itself (a model with its own objective ignores ``loss_fn``)."""
    own_objective = isinstance(model, Autoencoder) and type(model).training_loss is not Autoencoder.training_loss
    return not own_objective and isinstance(loss_fn, nn.MSELoss) and loss_fn.reduction == "mean"


def _train_epoch(model, loader, opt, scheduler, loss_fn, noise_std, device, bar, epoch) -> tuple[float, float]:
    """One pass over ``loader``; per-example means of the loss and of the per-pixel MSE."""
    model.train()
    loss_total = mse_total = 0.0
    count = 0
    for batch_index, batch in enumerate(loader, start=1):
        X = inputs_of(batch).to(device, non_blocking=True)
        loss, X_hat = _batch_loss(model, add_noise(X, noise_std) if _has_noise(noise_std) else X, X, loss_fn)
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingDivergedError(
                f"training diverged: the loss is {value} at epoch {epoch}, batch {batch_index} of {len(loader)}. "
                f"Lower the learning rate or look for NaN/inf in the inputs.")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
        loss_total += value * len(X)
        mse_total += value * len(X) if _is_mse(model, loss_fn) else nn.functional.mse_loss(X_hat.detach(), X).item() * len(X)
        count += len(X)
        bar.update(1)
    return loss_total / count, mse_total / count


def _evaluate(model, loader, loss_fn, device, noise_std) -> tuple[float, float]:
    """Per-example means of the loss and of the per-pixel MSE over ``loader``, in eval mode.

    Noise (for a denoising AE) is drawn from a fixed generator so that epochs compare.
    """
    generator = torch.Generator(device=device).manual_seed(0) if _has_noise(noise_std) else None
    loss_total = mse_total = 0.0
    count = 0
    model.eval()
    with torch.no_grad():
        for batch in loader:
            X = inputs_of(batch).to(device)
            loss, X_hat = _batch_loss(model, add_noise(X, noise_std, generator) if _has_noise(noise_std) else X, X, loss_fn)
            loss_total += loss.item() * len(X)
            mse_total += nn.functional.mse_loss(X_hat, X).item() * len(X)
            count += len(X)
    return loss_total / count, mse_total / count


def _epoch_line(row: dict, num_epochs: int) -> str:
    valid = "" if math.isnan(row["valid_loss"]) else f"  valid_loss {row['valid_loss']:.5f}  valid_mse {row['valid_mse']:.5f}"
    return (f"epoch {row['epoch']}/{num_epochs}  train_loss {row['train_loss']:.5f}{valid}"
            f"  lr {row['lr']:.2g}  {row['seconds']:.1f} s")


def fit(model: nn.Module, train_loader, valid_loader=None, *, num_epochs: int, lr: float,
        optimizer=torch.optim.Adam, lr_schedule: str = "constant", loss_fn=None, noise_std=0.0,
        callback=None, progress: bool = True) -> pd.DataFrame:
    """Train an autoencoder to reconstruct its inputs; returns one row per epoch.

    The loop of notebook 01, for every batch: reconstruct, compute the loss
    against the input, back-propagate, take an optimiser step; after every
    epoch, measure the validation loss. The model trains on the device its
    parameters live on and is left in eval mode.

    Parameters
    ----------
    model
        The autoencoder (any ``nn.Module`` mapping a batch to its reconstruction).
    train_loader, valid_loader
        Loaders yielding ``(X, y)`` pairs or bare ``X``; ``valid_loader`` is optional.
    num_epochs, lr
        Passes over ``train_loader``, and the (peak) learning rate.
    optimizer
        A torch optimizer class, or a ``functools.partial`` of one with its other
        settings, called as ``optimizer(model.parameters(), lr=lr)``.
    lr_schedule
        ``"constant"``, or ``"onecycle"``: warm up to ``lr``, then anneal to almost zero.
    loss_fn
        ``loss_fn(X_hat, X)``, a mean over the batch; default ``nn.MSELoss()``.
        Whatever the loss, the per-pixel MSE is recorded too.
    noise_std
        Above 0, a denoising AE: Gaussian noise on the inputs (clipped to [0, 1]),
        the clean images as targets. A pair ``(low, high)`` draws one level per
        image from that range (see :func:`add_noise`).
    callback
        ``callback(model, row)`` after every epoch: it may add entries to ``row``
        (they become columns) and returns ``True`` to stop training early.
    progress
        A text progress bar, and one line per epoch, on standard output.

    Returns
    -------
    pandas.DataFrame
        Columns ``epoch``, ``train_loss``, ``train_mse``, ``valid_loss``,
        ``valid_mse`` (NaN without ``valid_loader``), ``lr`` and ``seconds``
        (wall time since the start, at the end of the epoch). The losses are
        per-example means.

    Raises
    ------
    TrainingDivergedError
        When a batch's loss is NaN or infinite.

    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    if num_epochs < 1:
        raise ValueError(f"num_epochs must be >= 1, got {num_epochs}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    _noise_range(noise_std)  # a bad noise level fails here, before any training
    loss_fn = nn.MSELoss() if loss_fn is None else loss_fn
    device = next(model.parameters()).device
    opt = optimizer(model.parameters(), lr=lr)
    scheduler = None
    if lr_schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=num_epochs * len(train_loader))
    rows = []
    start = time.perf_counter()
    with tqdm(total=num_epochs * len(train_loader), desc="training", unit="batch", file=sys.stdout,
              disable=not progress, mininterval=1.0, ncols=90) as bar:
        try:
            for epoch in range(1, num_epochs + 1):
                train_loss, train_mse = _train_epoch(model, train_loader, opt, scheduler, loss_fn, noise_std,
                                                     device, bar, epoch)
                row = {"epoch": epoch, "train_loss": train_loss, "train_mse": train_mse,
                       "valid_loss": math.nan, "valid_mse": math.nan, "lr": opt.param_groups[0]["lr"]}
                if valid_loader is not None:
                    row["valid_loss"], row["valid_mse"] = _evaluate(model, valid_loader, loss_fn, device, noise_std)
                row["seconds"] = time.perf_counter() - start
                stop = bool(callback(model, row)) if callback is not None else False
                rows.append(row)
                if progress:
                    bar.write(_epoch_line(row, num_epochs), file=sys.stdout)
                if stop:
                    break
        finally:
            model.eval()
    return pd.DataFrame(rows)


def save_checkpoint(model: Autoencoder, path, **metadata) -> Path:
    """Save weights, the model's class and constructor arguments, and ``metadata``.

    The file is written to a temporary name and renamed into place, so an
    interrupted save never leaves a half-written checkpoint behind.
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
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError) as error:
        raise ValueError(f"{path} is not a readable checkpoint (it is truncated, corrupted, or not written by "
                         f"helpers.save_checkpoint): delete it and run the notebook that trains the model "
                         f"again. ({type(error).__name__}: {str(error).splitlines()[0][:120]})") from None
    name = payload.get("model_class") if isinstance(payload, dict) else None
    if name not in MODEL_CLASSES:
        raise ValueError(f"{path} holds a {name!r}, not one of the course models {sorted(MODEL_CLASSES)}")
    model = MODEL_CLASSES[name](**payload["config"])
    model.load_state_dict(payload["state_dict"])
    model.metadata = payload.get("metadata", {})
    return model.to(device).eval()
