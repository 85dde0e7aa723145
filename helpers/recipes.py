"""Training recipes shared by several notebooks and the benchmarks.

The notebook-02 convolutional autoencoder is trained once (notebook 02) and
reused by notebooks 05-07 through its checkpoint; whoever finds the checkpoint
missing (a fresh clone) trains it through the same function, with the same
recipe, so every notebook sees the same model.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from torch import nn

from .data import mnist_loaders
from .models import ConvAutoencoder
from .training import fit, get_device, load_checkpoint, save_checkpoint, set_seed

__all__ = [
    "REFERENCE_CONV_RECIPE",
    "COURSE_CONV_RECIPE",
    "train_conv_autoencoder",
    "load_or_train_conv_autoencoder",
]

# What the reference notebook 02 did (COURSE_SPEC): 4 min 17 s for 20 epochs on its machine.
REFERENCE_CONV_RECIPE = {
    "latent_dim": 20, "batch_size": 64, "lr": 1e-3, "betas": (0.9, 0.999), "weight_decay": 1e-5,
    "num_epochs": 20, "lr_schedule": "constant", "loss": "mse",
}

# The course's recipe for the same model (measured in benchmarks/training_speed.py):
# - a one-cycle schedule: warm up to a learning rate ten times the reference's, then
#   anneal to almost zero, which reaches a given error in far fewer epochs;
# - binary cross-entropy as the training loss: pixels in [0, 1] behind a sigmoid get
#   stronger gradients from it than from MSE when they are far off (we still report MSE);
# - Adam with a shorter memory for squared gradients (beta2 0.99), which follows the
#   fast-changing learning rate of the one-cycle schedule better;
# - no weight decay: five epochs leave no room to overfit.
COURSE_CONV_RECIPE = {
    "latent_dim": 20, "batch_size": 64, "lr": 1e-2, "betas": (0.9, 0.99), "weight_decay": 0.0,
    "num_epochs": 5, "lr_schedule": "onecycle", "loss": "bce",
}

LOSSES = {"mse": nn.MSELoss, "bce": nn.BCELoss}


def train_conv_autoencoder(recipe: dict | None = None, *, seed: int = 0, root="data", device=None,
                           progress: bool = True, snapshot: bool = False,
                           stop_at_valid_mse: float | None = None,
                           loaders: dict | None = None) -> tuple[ConvAutoencoder, pd.DataFrame]:
    """Train the notebook-02 conv AE with ``recipe`` (default :data:`COURSE_CONV_RECIPE`).

    Seeds everything with ``seed``, draws the MNIST train/validation split with
    the same seed (or uses ``loaders``, a dict with ``train`` and ``valid``, e.g.
    the classic torchvision loaders of the speed benchmark), and returns
    ``(model, history)``; ``history.attrs["train_seconds"]`` is the wall time of
    training alone.
    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    recipe = dict(COURSE_CONV_RECIPE if recipe is None else recipe)
    if recipe["loss"] not in LOSSES:
        raise ValueError(f"recipe['loss'] must be one of {sorted(LOSSES)}, got {recipe['loss']!r}")
    set_seed(seed)
    if loaders is None:
        loaders = mnist_loaders(batch_size=recipe["batch_size"], seed=seed, root=root)
    model = ConvAutoencoder(latent_dim=recipe["latent_dim"]).to(get_device() if device is None else device)
    start = time.perf_counter()
    history = fit(model, loaders["train"], loaders["valid"], num_epochs=recipe["num_epochs"], lr=recipe["lr"],
                  betas=recipe["betas"], weight_decay=recipe["weight_decay"], lr_schedule=recipe["lr_schedule"],
                  loss_fn=LOSSES[recipe["loss"]](), snapshot=snapshot,
                  stop_at_valid_mse=stop_at_valid_mse, progress=progress)
    history.attrs["train_seconds"] = time.perf_counter() - start
    return model, history


def load_or_train_conv_autoencoder(checkpoint, *, seed: int = 0, root="data", device=None,
                                   progress: bool = True) -> ConvAutoencoder:
    """The notebook-02 conv AE: loaded from ``checkpoint``, or trained and saved there.

    A checkpoint made with another recipe or seed is not reused: the model is
    retrained, so notebooks 05-07 never run on a stale model. Either way the model
    comes back in eval mode with ``model.metadata`` (recipe, seed, validation MSE,
    training seconds).
    Introduced in notebook 05 (``05_tsne``).
    """
    checkpoint = Path(checkpoint)
    if checkpoint.exists():
        model = load_checkpoint(checkpoint, device)
        if model.metadata.get("recipe") == COURSE_CONV_RECIPE and model.metadata.get("seed") == seed:
            return model
    model, history = train_conv_autoencoder(seed=seed, root=root, device=device, progress=progress)
    model.metadata = {"recipe": COURSE_CONV_RECIPE, "seed": seed, "valid_mse": float(history["valid_mse"].iloc[-1]),
                      "train_seconds": float(history.attrs["train_seconds"])}
    save_checkpoint(model, checkpoint, **model.metadata)
    return model
