"""Autoencoders on tabular rows: the UCI digits of notebook 08.

The reference trains a 65-32-8-32-65 autoencoder on the optdigits rows (64 pixel
counts / 16 and the label / 9) and calls the rows it reconstructs worst the most
anomalous. To find the same item with the same error, the random numbers must be
drawn in the same order: seed, create the model (its initial weights come from
torch's global generator), then iterate a ``DataLoader(..., shuffle=True)``
without its own generator (each epoch's shuffle also comes from the global
generator). :func:`train_tabular_autoencoder` does exactly that through
:func:`helpers.fit`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from ._utils import as_features, as_scores
from .environment import set_seed
from .models import TabularAutoencoder
from .scoring import reconstruct
from .training import fit

__all__ = [
    "reference_loader",
    "train_tabular_autoencoder",
    "rank_by_score",
    "top_overlap",
    "hex_pixels",
    "label_error_share",
]


def reference_loader(X: torch.Tensor, batch_size: int = 10) -> DataLoader:
    """The reference's loader: ``DataLoader(X, batch_size, shuffle=True)`` over the rows of ``X``.

    Unlike :func:`helpers.tensor_loader`, it has no generator of its own: every
    epoch's shuffle draws from torch's global generator, as in the reference, so
    the order depends on everything drawn before it (the model's initial weights
    in particular). It yields bare ``(B, n_features)`` batches.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    X = as_features(X)
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    return DataLoader(X, batch_size=batch_size, shuffle=True)


def train_tabular_autoencoder(X: torch.Tensor, *, seed: int = 1, num_epochs: int = 100, lr: float = 0.005,
                              batch_size: int = 10, optimizer=torch.optim.SGD, hidden_dim: int = 32,
                              latent_dim: int = 8, dropout: float = 0.0, progress: bool = False):
    """Train a :class:`helpers.TabularAutoencoder` on the rows of ``X`` with the reference's procedure.

    In this order: :func:`helpers.set_seed` (``seed``), create the model (its
    input size is the number of columns of ``X``), build :func:`reference_loader`,
    then :func:`helpers.fit` with ``optimizer`` (plain ``torch.optim.SGD`` in the
    reference, or ``torch.optim.Adam``) at ``lr`` and the MSE loss. With the
    defaults on the 65 optdigits features this reproduces the reference's
    training run number for number.

    Parameters
    ----------
    X : torch.Tensor
        The rows, float32 ``(N, features)`` in [0, 1].
    seed : int
        Seeds the initial weights and the order of the batches.
    num_epochs, lr, batch_size : int, float, int
        As in :func:`helpers.fit`; the defaults are the reference's.
    optimizer : torch optimizer class
        ``torch.optim.SGD`` (the reference) or e.g. ``torch.optim.Adam``.
    hidden_dim, latent_dim, dropout : int, int, float
        The sizes of :class:`helpers.TabularAutoencoder`.
    progress : bool
        The progress bar and one line per epoch.

    Returns
    -------
    (TabularAutoencoder, pandas.DataFrame)
        The trained model, on the CPU and in eval mode, and its history.

    Introduced in notebook 08 (``08_uci_digits``).
    """
    X = as_features(X)
    set_seed(seed)
    model = TabularAutoencoder(in_features=X.shape[1], hidden_dim=hidden_dim, latent_dim=latent_dim,
                               dropout=dropout)
    loader = reference_loader(X, batch_size)
    history = fit(model, loader, num_epochs=num_epochs, lr=lr, optimizer=optimizer, progress=progress)
    return model, history


def rank_by_score(scores, y=None) -> pd.DataFrame:
    """Items sorted by score, largest first: columns ``index``, ``score`` (and ``label``).

    ``index`` is the item's row in the data; ties keep the data order (as
    Python's ``sort(reverse=True)`` in the reference). The DataFrame's own index
    is the rank, from 0.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    scores = as_scores(scores)
    order = np.argsort(-scores, kind="stable")
    table = pd.DataFrame({"index": order, "score": scores[order]})
    if y is not None:
        y = np.asarray(y)
        if y.shape != scores.shape:
            raise ValueError(f"y must have one label per item, shape {scores.shape}, got {y.shape}")
        table["label"] = y[order]
    return table


def top_overlap(scores_a, scores_b, k: int = 10) -> int:
    """How many items the ``k`` largest of ``scores_a`` and the ``k`` largest of ``scores_b`` share.

    Introduced in notebook 08 (``08_uci_digits``).
    """
    a, b = np.asarray(scores_a), np.asarray(scores_b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"expected two 1-D arrays of the same length, got shapes {a.shape} and {b.shape}")
    if not 1 <= k <= len(a):
        raise ValueError(f"k must lie in 1..{len(a)}, got {k}")
    top_a = rank_by_score(a)["index"][:k]
    top_b = rank_by_score(b)["index"][:k]
    return len(set(top_a) & set(top_b))


def hex_pixels(pixels) -> str:
    """An 8x8 digit's pixel counts (0..16) as eight lines of two-digit hex, as the reference printed them.

    Introduced in notebook 08 (``08_uci_digits``).
    """
    pixels = np.asarray(pixels)
    if pixels.size != 64:
        raise ValueError(f"expected 64 pixel counts, got shape {pixels.shape}")
    if not np.array_equal(pixels, np.round(pixels)) or pixels.min() < 0 or pixels.max() > 16:
        raise ValueError("expected whole pixel counts in 0..16 (undo the / 16 scaling first)")
    rows = pixels.reshape(8, 8).astype(int)
    return "\n".join(" ".join(f"{v:02X}" for v in row) for row in rows)


def _squared_differences(model, X: torch.Tensor) -> np.ndarray:
    """``(x - model(x))**2`` per item and column, in float64."""
    return (reconstruct(model, X).double() - X.double()).pow(2).numpy()


def label_error_share(model, X: torch.Tensor) -> np.ndarray:
    """Per item, the fraction of its squared reconstruction error that comes from the last column.

    For the 65-column digits the last column is the label / 9: a share near 1
    means the model reconstructs the image but not the digit it is labelled with.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    X = as_features(X)
    squared = _squared_differences(model, X)
    last, errors = squared[:, -1], squared.sum(axis=1)
    return np.divide(last, errors, out=np.zeros_like(last), where=errors > 0)
