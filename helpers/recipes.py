"""The recipes that train the course's models: the notebook-02 convolutional autoencoder (and its
checkpoint), and notebook 07's denoising autoencoder.

Notebook 02 trains the conv AE and saves it; notebooks 05-07, 09 and 10 load it, and train it
through the same function when the checkpoint is missing (a fresh clone, Colab),
so every notebook sees the same model. Notebooks 07 and 09 train the denoiser with the same function.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from functools import partial
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from .data import mnist_loaders, tensor_loader
from .environment import checkpoint_dir, get_device, set_seed
from .models import ConvAutoencoder, ConvDenoisingAutoencoder
from .training import fit, load_checkpoint, save_checkpoint

__all__ = [
    "ConvRecipe",
    "REFERENCE_CONV_RECIPE",
    "COURSE_CONV_RECIPE",
    "REFERENCE_VALID_MSE",
    "REFERENCE_SECONDS",
    "train_conv_autoencoder",
    "conv_checkpoint_path",
    "load_or_train_conv_autoencoder",
    "train_denoising_autoencoder",
]

LOSSES = {"mse": nn.MSELoss, "bce": nn.BCELoss}


@dataclass(frozen=True)
class ConvRecipe:
    """How the notebook-02 conv AE is trained. The defaults are the course's recipe.

    - a one-cycle schedule: warm up to a learning rate ten times the reference's,
      then anneal to almost zero, which reaches a given error in far fewer epochs;
    - binary cross-entropy as the training loss: pixels in [0, 1] behind a sigmoid
      get stronger gradients from it than from MSE when they are far off;
    - Adam with a shorter memory for squared gradients (``betas[1]`` 0.99), which
      follows the fast-changing learning rate better;
    - no weight decay: five epochs leave no room to overfit.
    """

    latent_dim: int = 20
    batch_size: int = 64
    lr: float = 1e-2
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    num_epochs: int = 5
    lr_schedule: str = "onecycle"
    loss: str = "bce"

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {self.loss!r}")
        object.__setattr__(self, "betas", tuple(self.betas))

    def optimizer(self):
        """Adam with this recipe's ``betas`` and ``weight_decay``, for :func:`helpers.fit`."""
        return partial(torch.optim.Adam, betas=self.betas, weight_decay=self.weight_decay)

    def loss_fn(self) -> nn.Module:
        """The training loss, ``nn.BCELoss()`` or ``nn.MSELoss()``."""
        return LOSSES[self.loss]()

    def differences(self, other) -> list[str]:
        """What ``other`` (a recipe, or the dict a checkpoint stores) sets differently, e.g. ``["lr 0.005 (here 0.01)"]``."""
        other = asdict(other) if isinstance(other, ConvRecipe) else dict(other or {})
        changed = []
        for field in fields(self):
            mine, theirs = getattr(self, field.name), other.get(field.name)
            theirs = tuple(theirs) if isinstance(theirs, list) else theirs
            if theirs != mine:
                changed.append(f"{field.name} {theirs} (here {mine})")
        return changed


# What the reference notebook did, and what it reported: 20 epochs in 4 min 17 s, validation MSE 0.0075.
REFERENCE_CONV_RECIPE = ConvRecipe(lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-5, num_epochs=20,
                                   lr_schedule="constant", loss="mse")
REFERENCE_VALID_MSE = 0.0075
REFERENCE_SECONDS = 4 * 60 + 17
COURSE_CONV_RECIPE = ConvRecipe()


def train_conv_autoencoder(recipe: ConvRecipe = COURSE_CONV_RECIPE, *, seed: int = 0, device=None,
                           loaders: dict | None = None, callback=None, progress: bool = True,
                           checkpoint=None) -> tuple[ConvAutoencoder, pd.DataFrame]:
    """Train the notebook-02 conv AE with ``recipe``; returns ``(model, history)``.

    Parameters
    ----------
    recipe : ConvRecipe
        Latent size, batch size, optimiser, schedule, epochs and loss.
    seed : int
        Seeds everything, and draws the MNIST split.
    device : str or torch.device, optional
        Where to train; :func:`helpers.get_device` by default.
    loaders : dict, optional
        ``{"train": ..., "valid": ...}`` to use instead of the seeded split (the
        speed benchmark passes the classic torchvision loaders).
    callback : callable, optional
        Passed to :func:`helpers.fit`: ``callback(model, row)``, True stops.
    progress : bool
        The progress bar and one line per epoch.
    checkpoint : path, optional
        Save the trained model there with its recipe, seed, final validation
        MSE and training seconds.

    Returns
    -------
    (ConvAutoencoder, pandas.DataFrame)
        The trained model (eval mode) and the history of :func:`helpers.fit`.

    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    if not isinstance(recipe, ConvRecipe):
        raise TypeError(f"recipe must be a ConvRecipe, got {type(recipe).__name__}")
    set_seed(seed)
    if loaders is None:
        loaders = mnist_loaders(batch_size=recipe.batch_size, seed=seed)
    model = ConvAutoencoder(latent_dim=recipe.latent_dim).to(get_device() if device is None else device)
    history = fit(model, loaders["train"], loaders["valid"], num_epochs=recipe.num_epochs, lr=recipe.lr,
                  optimizer=recipe.optimizer(), lr_schedule=recipe.lr_schedule, loss_fn=recipe.loss_fn(),
                  callback=callback, progress=progress)
    model.metadata = {"recipe": asdict(recipe), "seed": seed, "valid_mse": float(history["valid_mse"].iloc[-1]),
                      "seconds": float(history["seconds"].iloc[-1])}
    if checkpoint is not None:
        save_checkpoint(model, checkpoint, **model.metadata)
    return model, history


def conv_checkpoint_path(seed: int = 0, folder=None) -> Path:
    """Where notebook 02 saves its model for ``seed``: ``conv_ae_seed<seed>.pt`` in :func:`helpers.checkpoint_dir`.

    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    return Path(checkpoint_dir() if folder is None else folder) / f"conv_ae_seed{seed}.pt"


def load_or_train_conv_autoencoder(seed: int = 0, *, folder=None, device=None,
                                   progress: bool = True) -> ConvAutoencoder:
    """The notebook-02 conv AE for ``seed``: loaded from its checkpoint, or trained and saved there.

    A checkpoint is never overwritten here. One trained with another recipe
    (a student edited notebook 02) is used as it is, after saying what differs;
    delete it to get the course's model back. The model comes back in eval mode
    with ``model.metadata`` (recipe, seed, validation MSE, training seconds).
    Introduced in notebook 05 (``05_tsne``).
    """
    path = conv_checkpoint_path(seed, folder)
    if path.exists():
        model = load_checkpoint(path, device)
        changed = COURSE_CONV_RECIPE.differences(model.metadata.get("recipe"))
        if changed:
            print(f"{path} was trained with a recipe that is not the course's: {', '.join(changed)}. "
                  f"Using it as it is; the figures printed here were measured with the course's recipe. "
                  f"Delete the file to train the course's model instead.")
        return model
    print(f"no checkpoint at {path}: training the notebook-02 model with the course recipe "
          f"(about a minute on a laptop CPU), then saving it there")
    model, _ = train_conv_autoencoder(seed=seed, device=device, progress=progress, checkpoint=path)
    return model.eval()


def train_denoising_autoencoder(X, *, seed: int = 0, max_noise_std: float = 0.5, valid_loader=None, device=None,
                                progress: bool = True) -> tuple[ConvDenoisingAutoencoder, pd.DataFrame]:
    """Notebook 07's short recipe for a :class:`helpers.ConvDenoisingAutoencoder`; returns ``(model, history)``.

    One epoch over the images ``X`` in shuffled batches of 32, Adam with ``betas=(0.9, 0.99)`` and
    the one-cycle schedule to ``lr=2e-2``; each image gets its own noise level drawn from
    ``[0, max_noise_std]`` (``max_noise_std=0`` trains the same model without noise: the ablation).
    ``seed`` fixes the initial weights and the batches, so two calls differ only in the noise.
    The model uses the channels-last memory layout, in which its convolutions run faster on a CPU.
    Introduced in notebook 07 (``07_denoising``).
    """
    device = get_device() if device is None else device
    set_seed(seed)
    model = ConvDenoisingAutoencoder().to(device, memory_format=torch.channels_last)
    history = fit(model, tensor_loader(X, batch_size=32, shuffle=True, seed=seed), valid_loader,
                  num_epochs=1, lr=2e-2, optimizer=partial(torch.optim.Adam, betas=(0.9, 0.99)),
                  noise_std=(0.0, max_noise_std), lr_schedule="onecycle", progress=progress)
    return model, history
