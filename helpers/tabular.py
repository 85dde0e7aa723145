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

from .exercises import _as_float_array, _call_student, _fail, _ok, _require
from .models import TabularAutoencoder
from .scoring import reconstruct, reconstruction_errors
from .training import fit, set_seed

__all__ = [
    "reference_loader",
    "train_tabular_autoencoder",
    "pca_errors",
    "ranked_errors",
    "top_overlap",
    "hex_pixels",
    "label_error_share",
    "check_item_errors",
    "check_alternative_errors",
    "check_pixel_errors",
]


def _as_features(X) -> torch.Tensor:
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a float torch.Tensor of features (see optdigits_features), "
                        f"got {type(X).__name__}")
    if X.dim() != 2 or not torch.is_floating_point(X):
        raise ValueError(f"X must be a 2-D float tensor (N rows, one column per feature), "
                         f"got shape {tuple(X.shape)} and dtype {X.dtype}")
    return X


def reference_loader(X: torch.Tensor, batch_size: int = 10) -> DataLoader:
    """The reference's loader: ``DataLoader(X, batch_size, shuffle=True)`` over the rows of ``X``.

    Unlike :func:`helpers.tensor_loader`, it has no generator of its own: every
    epoch's shuffle draws from torch's global generator, as in the reference, so
    the order depends on everything drawn before it (the model's initial weights
    in particular). It yields bare ``(B, n_features)`` batches.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    X = _as_features(X)
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    return DataLoader(X, batch_size=batch_size, shuffle=True)


def train_tabular_autoencoder(X: torch.Tensor, *, seed: int = 1, num_epochs: int = 100, lr: float = 0.005,
                              batch_size: int = 10, optimizer: str = "sgd", hidden_dim: int = 32,
                              latent_dim: int = 8, dropout: float = 0.0, progress: bool = False):
    """Train a :class:`helpers.TabularAutoencoder` on the rows of ``X`` with the reference's procedure.

    In this order: :func:`helpers.set_seed` (``seed``), create the model (its
    input size is the number of columns of ``X``), build :func:`reference_loader`,
    then :func:`helpers.fit` with ``optimizer`` (plain ``"sgd"`` in the
    reference, or ``"adam"``) at ``lr`` and the MSE loss. Returns
    ``(model, history)``; ``history["batch_loss_sum"]`` is the reference's summed
    epoch loss. With the defaults on the 65 optdigits features this reproduces
    the reference's training run number for number. The model is on the CPU and
    in eval mode.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    X = _as_features(X)
    set_seed(seed)
    model = TabularAutoencoder(in_features=X.shape[1], hidden_dim=hidden_dim, latent_dim=latent_dim,
                               dropout=dropout)
    loader = reference_loader(X, batch_size)
    history = fit(model, loader, num_epochs=num_epochs, lr=lr, optimizer=optimizer, progress=progress)
    return model, history


def pca_errors(X_fit, X=None, n_components: int = 8) -> np.ndarray:
    """Per-row mean squared error of a PCA reconstruction: the linear baseline for an autoencoder.

    The principal directions are fitted on ``X_fit`` (rows are items); the rows
    of ``X`` (default ``X_fit``) are projected on the first ``n_components`` and
    back. ``n_components=0`` reconstructs every row as the mean row of
    ``X_fit``: the error is then the distance from the average item.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    X_fit = np.asarray(X_fit.numpy() if isinstance(X_fit, torch.Tensor) else X_fit, dtype=np.float64)
    X = X_fit if X is None else np.asarray(X.numpy() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
    if X_fit.ndim != 2 or X.ndim != 2 or X.shape[1] != X_fit.shape[1]:
        raise ValueError(f"X_fit and X must be 2-D with the same number of columns, "
                         f"got shapes {X_fit.shape} and {X.shape}")
    if not 0 <= n_components <= min(X_fit.shape):
        raise ValueError(f"n_components must lie in 0..{min(X_fit.shape)}, got {n_components}")
    center = X_fit.mean(axis=0)
    basis = np.linalg.svd(X_fit - center, full_matrices=False)[2][:n_components]
    X_hat = center + (X - center) @ basis.T @ basis
    return ((X - X_hat) ** 2).mean(axis=1)


def ranked_errors(errors, y=None) -> pd.DataFrame:
    """Items sorted by error, largest first: columns ``index``, ``error`` (and ``label``).

    ``index`` is the item's row in the data; ties keep the data order (as
    Python's ``sort(reverse=True)`` in the reference). The DataFrame's own index
    is the rank, from 0.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim != 1 or errors.size == 0:
        raise ValueError(f"errors must be a non-empty 1-D array (one per item), got shape {errors.shape}")
    order = np.argsort(-errors, kind="stable")
    table = pd.DataFrame({"index": order, "error": errors[order]})
    if y is not None:
        y = np.asarray(y)
        if y.shape != errors.shape:
            raise ValueError(f"y must have one label per item, shape {errors.shape}, got {y.shape}")
        table["label"] = y[order]
    return table


def top_overlap(errors_a, errors_b, k: int = 10) -> int:
    """How many items the ``k`` largest of ``errors_a`` and the ``k`` largest of ``errors_b`` share.

    Introduced in notebook 08 (``08_uci_digits``).
    """
    a, b = np.asarray(errors_a), np.asarray(errors_b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"expected two 1-D arrays of the same length, got shapes {a.shape} and {b.shape}")
    if not 1 <= k <= len(a):
        raise ValueError(f"k must lie in 1..{len(a)}, got {k}")
    top_a = ranked_errors(a)["index"][:k]
    top_b = ranked_errors(b)["index"][:k]
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
    X, X_hat = reconstruct(model, X)
    return (X_hat - X).double().pow(2).numpy()


def label_error_share(model, X: torch.Tensor) -> np.ndarray:
    """Per item, the fraction of its squared reconstruction error that comes from the last column.

    For the 65-column digits the last column is the label / 9: a share near 1
    means the model reconstructs the image but not the digit it is labelled with.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    X = _as_features(X)
    squared = _squared_differences(model, X)
    last, errors = squared[:, -1], squared.sum(axis=1)
    return np.divide(last, errors, out=np.zeros_like(last), where=errors > 0)


# ----------------------------------------------------------------------------- exercise checks
def _as_scores(values, n: int, what: str) -> np.ndarray:
    array = _as_float_array(values, what)
    if array.shape != (n,):
        hint = None
        if array.ndim == 0:
            hint = "reduce over the columns of each row only (dim=1), not over all the rows."
        elif array.ndim == 2:
            hint = "sum (or average) over the columns, dim=1, to get one number per row."
        _fail(f"expected one number per item, shape ({n},), got shape {array.shape}.", hint)
    if not np.isfinite(array).all():
        _fail(f"{what} contain NaN or infinite values.")
    return array


def check_item_errors(item_errors_fn, model, X: torch.Tensor) -> np.ndarray:
    """Check ``item_errors_fn(model, X)``: per row, the sum of squared differences / number of columns.

    Compares with :func:`helpers.reconstruction_errors` on the same model and
    rows, and names the usual slips (no division, a square root, a mean over
    the whole batch). Prints the most anomalous row it finds. Returns the errors.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    _require(item_errors_fn, "item_errors")
    X = _as_features(X)
    X_before = X.clone()
    values = _call_student(f"item_errors(model, X) on X of shape {tuple(X.shape)}", item_errors_fn, model, X)
    errors = _as_scores(values, len(X), "the errors")
    _ok(f"one error per item ({len(errors)})")
    if not torch.equal(X, X_before):
        _fail("item_errors changed X in place.", "avoid in-place operations such as X -= ...")
    expected = reconstruction_errors(model, X, reduction="mean")
    n_cols = X.shape[1]
    if not np.allclose(errors, expected, rtol=1e-4, atol=1e-7):
        hint = "sum the squared differences (x - model(x))**2 over the columns of each row, then divide."
        if np.allclose(errors, expected * n_cols, rtol=1e-4, atol=1e-7):
            hint = f"that is the sum of squared differences: divide it by the number of columns ({n_cols})."
        elif np.allclose(errors, np.sqrt(expected), rtol=1e-4, atol=1e-7) or \
                np.allclose(errors, np.sqrt(expected * n_cols), rtol=1e-4, atol=1e-7):
            hint = "no square root: the error is the (scaled) sum of squares."
        elif np.allclose(errors, reconstruction_errors(model, X, reduction="abs"), rtol=1e-4, atol=1e-7):
            hint = "that is the mean absolute difference: square the differences instead."
        _fail(f"the errors differ from sum((x - model(x))**2) / {n_cols}: first values "
              f"{np.round(errors[:3], 5).tolist()}, expected {np.round(expected[:3], 5).tolist()}.", hint)
    top = int(np.argmax(errors))
    _ok(f"sum of squared differences / {n_cols}; the most anomalous item is {top} (error {errors[top]:.4f})")
    return errors


def _ranks_like(values: np.ndarray, expected: np.ndarray) -> bool:
    """True when ``values`` is a positive multiple of ``expected`` (same scores up to a scale)."""
    scale = values.sum() / expected.sum() if expected.sum() > 0 else np.nan
    return bool(np.isfinite(scale) and scale > 0 and np.allclose(values, scale * expected, rtol=1e-4, atol=1e-7))


def check_alternative_errors(errors_abs, errors_max, model, X: torch.Tensor) -> None:
    """Check the absolute-difference (sum or mean) and maximum-absolute-difference errors per row.

    Either the sum or the mean of ``|x - model(x)|`` over the columns is
    accepted for ``errors_abs`` (they rank the items the same way); ``errors_max``
    must be the largest ``|x - model(x)|`` of each row.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    _require(errors_abs, "errors_abs")
    _require(errors_max, "errors_max")
    X = _as_features(X)
    errors_abs = _as_scores(errors_abs, len(X), "errors_abs")
    errors_max = _as_scores(errors_max, len(X), "errors_max")
    expected_abs = reconstruction_errors(model, X, reduction="abs")
    if not _ranks_like(errors_abs, expected_abs):
        hint = "take |x - model(x)| (torch.abs) per column, then sum or average over dim=1."
        if _ranks_like(errors_abs, reconstruction_errors(model, X, reduction="mean")):
            hint = "those are squared differences: take absolute values instead."
        _fail("errors_abs is not the sum or mean of |x - model(x)| per row.", hint)
    _ok("errors_abs: absolute differences, summed or averaged per row")
    expected_max = reconstruction_errors(model, X, reduction="max")
    if not np.allclose(errors_max, expected_max, rtol=1e-4, atol=1e-7):
        hint = "take |x - model(x)| per column, then the largest per row: .amax(dim=1)."
        if np.allclose(errors_max, expected_max ** 2, rtol=1e-4, atol=1e-7):
            hint = "that is the largest squared difference: use the absolute difference (or take the square root)."
        _fail("errors_max is not the largest |x - model(x)| of each row.", hint)
    _ok("errors_max: the largest absolute difference per row")


def check_pixel_errors(errors_pixels, model, X: torch.Tensor) -> np.ndarray:
    """Check per-row errors that leave the last column (the label) out: squared differences over the others.

    Either the mean (the reference's scale, / 64 for the digits) or the sum over
    the columns before the last is accepted: they rank the items the same way.
    Returns the errors.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    _require(errors_pixels, "errors_pixels")
    X = _as_features(X)
    errors = _as_scores(errors_pixels, len(X), "errors_pixels")
    _ok(f"one error per item ({len(errors)})")
    squared = _squared_differences(model, X)
    expected = squared[:, :-1].mean(axis=1)
    if not _ranks_like(errors, expected):
        hint = "keep the columns before the last one, X[:, :-1] and model(X)[:, :-1], square the differences, average per row."
        if _ranks_like(errors, squared.mean(axis=1)):
            hint = "those are the errors over all the columns: leave the last one (the label) out."
        elif _ranks_like(errors, squared[:, 1:].mean(axis=1)):
            hint = "that leaves the first column out; the label is the last one."
        _fail("errors_pixels are not the squared differences over the columns before the last.", hint)
    scale = "mean" if np.allclose(errors, expected, rtol=1e-4, atol=1e-7) else "sum"
    top = int(np.argmax(errors))
    _ok(f"squared differences over the first {X.shape[1] - 1} columns ({scale} per row); "
        f"the most anomalous item is {top}")
    return errors
