"""Scores, thresholds and AUC on cases whose answer is known."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from helpers import (calibrated_scores, precision_recall_at, reconstruct, reconstruction_dataframe, reconstruction_errors, roc_auc,
                     tensor_loader, threshold_mean_std, threshold_percentile)
from helpers.models import Autoencoder


class Blank(Autoencoder):
    """Reconstructs every image as black: its error is the image's own energy."""

    latent_shape = (1,)

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 1))
        self.decoder = nn.Sequential(nn.Linear(1, 784), nn.Unflatten(1, (1, 28, 28)))
        for p in self.parameters():
            nn.init.zeros_(p)


def images():
    X = torch.zeros(4, 1, 28, 28)
    X[1, 0, :14] = 1.0      # half white
    X[2, 0] = 1.0           # all white
    X[3, 0, 0, 0] = 0.5     # one grey pixel
    return X


def test_reconstruction_errors_per_example_and_reductions():
    model, X = Blank(), images()
    assert reconstruction_errors(model, X) == pytest.approx([0.0, 0.5, 1.0, 0.25 / 784])
    assert reconstruction_errors(model, X, "sum") == pytest.approx([0.0, 392.0, 784.0, 0.25])
    assert reconstruction_errors(model, X, "abs") == pytest.approx([0.0, 0.5, 1.0, 0.5 / 784])
    assert reconstruction_errors(model, X, "max") == pytest.approx([0.0, 1.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="reduction"):
        reconstruction_errors(model, X, "median")


def test_errors_from_a_loader_match_errors_from_a_tensor_and_keep_the_mode():
    model, X = Blank().train(), images()
    from_loader = reconstruction_errors(model, tensor_loader(X, batch_size=3), batch_size=2)
    assert from_loader == pytest.approx(reconstruction_errors(model, X, batch_size=1))
    assert model.training  # restored
    with pytest.raises(TypeError, match="torch.Tensor"):
        reconstruction_errors(model, X.numpy())


def test_reconstruction_dataframe_columns():
    model, X = Blank(), images()
    df = reconstruction_dataframe(model, X, y=[0, 1, 2, 3])
    assert list(df.columns) == ["loss", "image", "reconstructed", "label"]
    assert df["image"][2].shape == (28, 28) and df["loss"][2] == pytest.approx(1.0)
    X_in, X_out = reconstruct(model, X)
    assert torch.equal(X_in, X) and X_out.abs().sum() == 0


def test_thresholds():
    errors = np.arange(1, 101, dtype=float)
    assert threshold_mean_std(errors, k=1) == pytest.approx(errors.mean() + errors.std())
    assert threshold_percentile(errors, 99) == pytest.approx(np.percentile(errors, 99))
    with pytest.raises(ValueError, match="1-D"):
        threshold_mean_std(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        threshold_mean_std([1.0, np.nan])
    with pytest.raises(ValueError, match="q"):
        threshold_percentile(errors, 120)


def test_auc_on_a_constructed_case():
    errors = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert roc_auc(errors, [0, 0, 0, 1, 1, 1]) == 1.0
    assert roc_auc(errors, [1, 1, 1, 0, 0, 0]) == 0.0
    assert roc_auc(errors, [0, 1, 0, 1, 0, 1]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="both"):
        roc_auc(errors, [0] * 6)
    with pytest.raises(ValueError, match="6 labels"):
        roc_auc(errors, [0, 1])


def test_precision_recall_at_a_threshold():
    errors = np.array([0.1, 0.2, 0.35, 0.3, 0.5, 0.6])
    result = precision_recall_at(errors, [0, 0, 0, 1, 1, 1], threshold=0.32)
    # flagged: 0.35 (normal), 0.5, 0.6 (anomalies); missed: 0.3
    assert result["precision"] == pytest.approx(2 / 3) and result["recall"] == pytest.approx(2 / 3)
    confusion = result["confusion"]
    assert isinstance(confusion, pd.DataFrame)
    assert confusion.loc["true normal", "flagged anomaly"] == 1 and confusion.loc["true anomaly",
                                                                                  "flagged normal"] == 1


def test_calibrated_scores_put_detectors_on_one_scale():
    normal = np.exp(np.random.default_rng(0).normal(2.0, 0.5, 1000))
    calibrated = calibrated_scores(normal, normal)
    assert calibrated.mean() == pytest.approx(0, abs=1e-12) and calibrated.std() == pytest.approx(1)
    # a detector whose scores are 100 times larger gets the same calibrated scores
    assert calibrated_scores(100 * normal[:5], 100 * normal) == pytest.approx(calibrated[:5])
    with pytest.raises(ValueError, match="positive"):
        calibrated_scores([0.0, 1.0], normal)
