"""Anomaly scores from reconstruction errors: per-example errors, thresholds, AUC."""
from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

__all__ = [
    "iter_batches",
    "inference",
    "reconstruct",
    "reconstruction_errors",
    "reconstruction_dataframe",
    "threshold_mean_std",
    "threshold_percentile",
    "roc_auc",
    "precision_recall_at",
    "calibrated_scores",
]

REDUCTIONS = ("mean", "sum", "abs", "max")


def iter_batches(data, batch_size: int = 1000):
    """Yield input batches from a tensor, or from a loader of ``(X, y)`` pairs or bare ``X``.

    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    if isinstance(data, torch.Tensor):
        for start in range(0, len(data), batch_size):
            yield data[start:start + batch_size]
    elif isinstance(data, np.ndarray):
        raise TypeError("pass a torch.Tensor (torch.from_numpy(X).float()), not a numpy array: "
                        "the model needs a float tensor")
    else:
        for batch in data:
            yield batch[0] if isinstance(batch, (list, tuple)) else batch


def _per_example(diff: torch.Tensor, reduction: str) -> torch.Tensor:
    flat = diff.flatten(start_dim=1)
    if reduction == "mean":
        return flat.pow(2).mean(dim=1)
    if reduction == "sum":
        return flat.pow(2).sum(dim=1)
    if reduction == "abs":
        return flat.abs().mean(dim=1)
    return flat.abs().max(dim=1).values  # "max"


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


def reconstruct(model, data, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and reconstructions as CPU tensors, in eval mode and without gradients.

    ``data`` is a tensor of inputs or a loader.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    inputs, outputs = [], []
    with inference(model) as device:
        for X in iter_batches(data, batch_size):
            inputs.append(X.cpu())
            outputs.append(model(X.to(device)).cpu())
    return torch.cat(inputs), torch.cat(outputs)


def reconstruction_errors(model, data, reduction: str = "mean", batch_size: int = 1000) -> np.ndarray:
    """One anomaly score per example: the reconstruction error of each input.

    ``reduction``: ``"mean"`` squared error (default, the per-pixel MSE),
    ``"sum"`` of squared errors, ``"abs"`` mean absolute error, or ``"max"``
    absolute error over the example's values. ``data`` is a tensor of inputs or
    a loader yielding ``(X, y)`` or ``X``. Batched, in eval mode, without gradients.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    scores = []
    with inference(model) as device:
        for X in iter_batches(data, batch_size):
            X = X.to(device)
            scores.append(_per_example(model(X) - X, reduction).cpu())
    return torch.cat(scores).numpy().astype(np.float64)


def reconstruction_dataframe(model, X: torch.Tensor, y=None, reduction: str = "mean") -> pd.DataFrame:
    """A DataFrame with one row per example: ``loss``, ``image``, ``reconstructed`` (and ``label``).

    Images are numpy arrays without the channel axis (28x28 for MNIST), ready
    for :func:`helpers.anomaly_detection_display`.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    inputs, outputs = reconstruct(model, X)
    loss = _per_example(outputs - inputs, reduction).numpy().astype(np.float64)
    df = pd.DataFrame({"loss": loss, "image": list(inputs.squeeze(1).numpy()),
                       "reconstructed": list(outputs.squeeze(1).numpy())})
    if y is not None:
        df["label"] = np.asarray(y)
    return df


def _as_scores(errors) -> np.ndarray:
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim != 1 or errors.size == 0:
        raise ValueError(f"expected a non-empty 1-D array of scores (one per example), got shape {errors.shape}")
    if not np.all(np.isfinite(errors)):
        raise ValueError("scores contain NaN or inf")
    return errors


def threshold_mean_std(errors, k: float = 1.0) -> float:
    """Threshold = mean + ``k`` standard deviations of (normal, e.g. validation) errors.

    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    errors = _as_scores(errors)
    return float(errors.mean() + k * errors.std())


def threshold_percentile(errors, q: float = 99.0) -> float:
    """Threshold = the ``q``-th percentile of (normal) errors: about (100 - q)% false alarms.

    Introduced in notebook 03 (``03_one_class_auc``).
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q must lie in [0, 100], got {q}")
    return float(np.percentile(_as_scores(errors), q))


def _as_labels(is_anomaly, n: int) -> np.ndarray:
    labels = np.asarray(is_anomaly)
    if labels.shape != (n,):
        raise ValueError(f"expected {n} labels (one per score), got shape {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("is_anomaly must hold 0/1 or False/True (1 = anomaly)")
    return labels.astype(int)


def roc_auc(errors, is_anomaly) -> float:
    """ROC AUC of the scores against the labels (1 = anomaly), via scikit-learn.

    Introduced in notebook 03 (``03_one_class_auc``).
    """
    errors = _as_scores(errors)
    labels = _as_labels(is_anomaly, len(errors))
    if labels.min() == labels.max():
        raise ValueError("ROC AUC needs both normal (0) and anomalous (1) examples")
    return float(roc_auc_score(labels, errors))


def precision_recall_at(errors, is_anomaly, threshold: float) -> dict:
    """Decisions ``errors > threshold``: precision, recall, F1 and the confusion matrix.

    Returns a dict with ``precision``, ``recall``, ``f1``, ``threshold`` and
    ``confusion`` (a 2x2 DataFrame, rows = truth, columns = prediction).
    Introduced in notebook 03 (``03_one_class_auc``).
    """
    errors = _as_scores(errors)
    labels = _as_labels(is_anomaly, len(errors))
    predicted = (errors > threshold).astype(int)
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


def calibrated_scores(errors, normal_errors) -> np.ndarray:
    """Put scores of different detectors on one scale: standardised log scores.

    ``log(errors)`` minus the mean, divided by the standard deviation, of
    ``log(normal_errors)`` (scores of known-normal data, e.g. validation). A
    calibrated score of 3 means "3 standard deviations above typical normal data",
    whichever detector produced it, so the scores of two detectors can be added.
    Introduced in notebook 03 (``03_one_class_auc``).
    """
    errors, normal = _as_scores(errors), _as_scores(normal_errors)
    if errors.min() <= 0 or normal.min() <= 0:
        raise ValueError("calibrated_scores takes positive errors (it works on their logarithm)")
    log_normal = np.log(normal)
    if log_normal.std() == 0:
        raise ValueError("normal_errors must not all be equal")
    return (np.log(errors) - log_normal.mean()) / log_normal.std()
