"""Anomaly scores: reconstructions, per-example errors, thresholds and ROC AUC.

The number that ranks examples by how anomalous they are is their *score*;
a reconstruction error is one kind of score.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

from ._utils import as_scores, batches, check_values

__all__ = [
    "inference",
    "reconstruct",
    "per_example_errors",
    "reconstruction_errors",
    "smooth",
    "smoothed_relative_errors",
    "pca_reconstruct",
    "reconstruction_dataframe",
    "threshold_mean_std",
    "threshold_percentile",
    "roc_auc",
    "precision_recall_at",
    "calibrated_scores",
]

REDUCTIONS = ("mse", "sum", "abs", "max")


@contextlib.contextmanager
def inference(model):
    """Eval mode and no gradients inside the block; the model's mode is restored after.

    Yields the device the model lives on.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield next(model.parameters()).device
    finally:
        model.train(was_training)


def reconstruct(model, X, batch_size: int = 1000) -> torch.Tensor:
    """The reconstructions ``X_hat`` of ``X`` (a tensor or a loader), on the CPU.

    Batched, in eval mode, without gradients.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    with inference(model) as device:
        return torch.cat([model(batch.to(device)).cpu() for batch in batches(X, batch_size)])


def _as_tensor(X, what: str) -> torch.Tensor:
    if isinstance(X, np.ndarray):
        X = torch.from_numpy(X)
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor or a numpy array, got {type(X).__name__}")
    if not torch.is_floating_point(X):
        raise TypeError(f"{what} must hold floating-point values, got dtype {X.dtype}")
    return X.detach().cpu()


def per_example_errors(X, X_hat, reduction: str = "mse") -> np.ndarray:
    """One reconstruction error per example: a score, as a float64 array.

    ``reduction``: ``"mse"`` (the mean squared error over the example's values,
    the course's default score), ``"sum"`` of squared errors, ``"abs"`` (mean
    absolute error) or ``"max"`` (largest absolute error). ``X`` and ``X_hat``
    are tensors or arrays of the same shape, one example per row.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    X, X_hat = _as_tensor(X, "X"), _as_tensor(X_hat, "X_hat")
    if X.shape != X_hat.shape or X.dim() < 2:
        raise ValueError(f"X and X_hat must be batches of the same shape (one example per row), "
                         f"got {tuple(X.shape)} and {tuple(X_hat.shape)}")
    check_values(X, None, "X")
    check_values(X_hat, None, "X_hat")
    diff = (X_hat.double() - X.double()).flatten(start_dim=1)
    if reduction == "mse":
        errors = diff.pow(2).mean(dim=1)
    elif reduction == "sum":
        errors = diff.pow(2).sum(dim=1)
    elif reduction == "abs":
        errors = diff.abs().mean(dim=1)
    else:
        errors = diff.abs().amax(dim=1)
    return errors.numpy()


def reconstruction_errors(model, X, reduction: str = "mse", batch_size: int = 1000) -> np.ndarray:
    """The anomaly score of notebook 01: ``per_example_errors(X, reconstruct(model, X), reduction)``.

    ``X`` is a tensor of inputs (the model checks their shape and range).
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor of inputs, got {type(X).__name__}")
    return per_example_errors(X, reconstruct(model, X, batch_size), reduction)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).view(1, 1, 2 * radius + 1, 2 * radius + 1)


def smooth(X: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of a batch of images ``(N, 1, H, W)`` with standard deviation ``sigma`` pixels.

    Zero padding (the background of MNIST is 0); ``sigma=0`` returns ``X``.
    """
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return X
    kernel = _gaussian_kernel(sigma).to(X.device, X.dtype)
    return torch.nn.functional.conv2d(X, kernel, padding=kernel.shape[-1] // 2)


def smoothed_relative_errors(X, X_hat, *, sigma: float = 1.0, relative: bool = True) -> np.ndarray:
    """A score that forgives small shifts: smoothed squared error, relative to the amount of ink.

    ``mean((G * (X - X_hat))**2) / mean(X)`` per image, where ``G *`` is a
    Gaussian blur of ``sigma`` pixels. The blur forgives a stroke drawn one
    pixel off (its + and - errors cancel) but not a missing or an extra
    stroke; dividing by the mean intensity judges the error against how much
    there is to draw. ``sigma=0`` and ``relative=False`` switch each part off
    (both off: the per-pixel MSE).
    Introduced in notebook 03 (``03_one_class_auc``).
    """
    X, X_hat = _as_tensor(X, "X").float(), _as_tensor(X_hat, "X_hat").float()
    if X.shape != X_hat.shape or X.dim() != 4:
        raise ValueError(f"X and X_hat must be batches of images of the same shape (N, C, H, W), "
                         f"got {tuple(X.shape)} and {tuple(X_hat.shape)}")
    check_values(X, (0.0, 1.0), "X")
    error = smooth(X - X_hat, sigma).pow(2).flatten(1).mean(1)
    if relative:
        error = error / X.flatten(1).mean(1).clamp_min(1e-6)
    return error.numpy().astype(np.float64)


def pca_reconstruct(X_fit, X, n_components: int, *, seed: int = 0):
    """PCA, the linear autoencoder: project ``X`` on the principal directions of ``X_fit`` and back.

    Rows (or images, flattened) of ``X_fit`` fit scikit-learn's PCA with
    ``n_components``; ``n_components=0`` reconstructs every example as the mean
    of ``X_fit``. Returns ``X_hat`` with the shape and type of ``X`` (a float32
    tensor for a tensor, a float64 array otherwise).
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    from sklearn.decomposition import PCA

    as_tensor = isinstance(X, torch.Tensor)
    fit_rows = _as_tensor(X_fit, "X_fit").double().flatten(1).numpy()
    rows = _as_tensor(X, "X").double().flatten(1).numpy()
    if fit_rows.shape[1] != rows.shape[1]:
        raise ValueError(f"X_fit and X must have the same number of values per example, "
                         f"got {fit_rows.shape[1]} and {rows.shape[1]}")
    if not 0 <= n_components <= min(fit_rows.shape):
        raise ValueError(f"n_components must lie in 0..{min(fit_rows.shape)}, got {n_components}")
    if n_components == 0:
        rows_hat = np.broadcast_to(fit_rows.mean(axis=0), rows.shape).copy()
    else:
        pca = PCA(n_components=n_components, random_state=seed).fit(fit_rows)
        rows_hat = pca.inverse_transform(pca.transform(rows))
    X_hat = rows_hat.reshape(tuple(X.shape))
    return torch.from_numpy(X_hat).float() if as_tensor else X_hat


def reconstruction_dataframe(X, X_hat, y=None, reduction: str = "mse") -> pd.DataFrame:
    """One row per example: ``score`` (its error), ``image``, ``reconstructed`` (and ``label``).

    Images are numpy arrays without the channel axis (28x28 for MNIST), ready
    for :func:`helpers.anomaly_detection_display`.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    score = per_example_errors(X, X_hat, reduction)
    images = lambda T: list(_as_tensor(T, "images").squeeze(1).numpy())  # noqa: E731
    df = pd.DataFrame({"score": score, "image": images(X), "reconstructed": images(X_hat)})
    if y is not None:
        df["label"] = np.asarray(y)
    return df


def threshold_mean_std(scores, k: float = 1.0) -> float:
    """Threshold = mean + ``k`` standard deviations of (normal, e.g. validation) scores.

    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    scores = as_scores(scores)
    return float(scores.mean() + k * scores.std())


def threshold_percentile(scores, q: float = 99.0) -> float:
    """Threshold = the ``q``-th percentile of (normal) scores: about (100 - q)% false alarms.

    Introduced in notebook 03 (``03_one_class_auc``).
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q must lie in [0, 100], got {q}")
    return float(np.percentile(as_scores(scores), q))


def _as_labels(is_anomaly, n: int) -> np.ndarray:
    labels = np.asarray(is_anomaly)
    if labels.shape != (n,):
        raise ValueError(f"expected {n} labels (one per score), got shape {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("is_anomaly must hold 0/1 or False/True (1 = anomaly)")
    return labels.astype(int)


def roc_auc(scores, is_anomaly) -> float:
    """ROC AUC of the scores against the labels (1 = anomaly), via scikit-learn.

    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    scores = as_scores(scores)
    labels = _as_labels(is_anomaly, len(scores))
    if labels.min() == labels.max():
        raise ValueError("ROC AUC needs both normal (0) and anomalous (1) examples")
    return float(roc_auc_score(labels, scores))


def precision_recall_at(scores, is_anomaly, threshold: float) -> dict:
    """Decisions ``scores > threshold``: precision, recall, F1 and the confusion matrix.

    Returns a dict with ``precision``, ``recall``, ``f1``, ``threshold`` and
    ``confusion`` (a 2x2 DataFrame, rows = truth, columns = prediction).
    Introduced in notebook 03 (``03_one_class_auc``).
    """
    scores = as_scores(scores)
    labels = _as_labels(is_anomaly, len(scores))
    predicted = (scores > threshold).astype(int)
    names = ["normal", "anomaly"]
    matrix = confusion_matrix(labels, predicted, labels=[0, 1])
    return {
        "threshold": float(threshold),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "confusion": pd.DataFrame(matrix, index=[f"true {n}" for n in names],
                                  columns=[f"flagged {n}" for n in names]),
    }


def calibrated_scores(scores, normal_scores) -> np.ndarray:
    """Put scores of different detectors on one scale: standardised log scores.

    ``log(scores)`` minus the mean, divided by the standard deviation, of
    ``log(normal_scores)`` (scores of known-normal data, e.g. validation). A
    calibrated score of 3 means "3 standard deviations above typical normal data",
    whichever detector produced it, so the scores of two detectors can be added.
    Introduced in notebook 03 (``03_one_class_auc``).
    """
    scores, normal = as_scores(scores), as_scores(normal_scores, "normal scores")
    if scores.min() <= 0 or normal.min() <= 0:
        raise ValueError("calibrated_scores takes positive scores (it works on their logarithm)")
    log_normal = np.log(normal)
    if log_normal.std() == 0:
        raise ValueError("normal_scores must not all be equal")
    return (np.log(scores) - log_normal.mean()) / log_normal.std()
