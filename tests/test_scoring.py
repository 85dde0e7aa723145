"""Scores, thresholds and AUC on cases whose answer is known."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from helpers import (calibrated_scores, pca_reconstruct, per_example_errors, precision_recall_at, reconstruct,
                     reconstruction_dataframe, reconstruction_errors, roc_auc, smooth, smoothed_relative_errors,
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


def test_reconstruct_returns_the_reconstructions_and_keeps_the_mode():
    model, X = Blank().train(), images()
    X_hat = reconstruct(model, X, batch_size=3)
    assert X_hat.shape == X.shape and X_hat.abs().sum() == 0
    assert torch.equal(reconstruct(model, tensor_loader(X, batch_size=3)), X_hat)  # a loader works too
    assert model.training  # restored


def test_per_example_errors_and_their_reductions():
    X, X_hat = images(), torch.zeros(4, 1, 28, 28)
    assert per_example_errors(X, X_hat) == pytest.approx([0.0, 0.5, 1.0, 0.25 / 784])
    assert per_example_errors(X, X_hat, "sum") == pytest.approx([0.0, 392.0, 784.0, 0.25])
    assert per_example_errors(X, X_hat, "abs") == pytest.approx([0.0, 0.5, 1.0, 0.5 / 784])
    assert per_example_errors(X, X_hat, "max") == pytest.approx([0.0, 1.0, 1.0, 0.5])
    rows = np.array([[0.0, 1.0], [2.0, 2.0]])                 # works on arrays of rows too
    assert per_example_errors(rows, np.zeros((2, 2))) == pytest.approx([0.5, 4.0])
    with pytest.raises(ValueError, match="reduction"):
        per_example_errors(X, X_hat, "median")
    with pytest.raises(ValueError, match="same shape"):
        per_example_errors(X, X_hat[:3])
    with pytest.raises(ValueError, match="NaN"):
        per_example_errors(X, torch.full_like(X, float("nan")))


def test_reconstruction_errors_compose_reconstruct_and_per_example_errors():
    model, X = Blank(), images()
    assert reconstruction_errors(model, X) == pytest.approx(per_example_errors(X, reconstruct(model, X)))
    assert reconstruction_errors(model, X, "max") == pytest.approx([0.0, 1.0, 1.0, 0.5])
    with pytest.raises(TypeError, match="torch.Tensor"):
        reconstruction_errors(model, X.numpy())


def test_scoring_unscaled_or_broken_images_says_what_is_expected():
    model, X = Blank(), images()
    with pytest.raises(ValueError, match=r"\[0, 1\].*divide by 255"):
        reconstruction_errors(model, X * 255)
    X[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        reconstruction_errors(model, X)


def test_pca_reconstruct_is_exact_on_the_span_and_the_mean_with_no_component():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 10))    # rank 3
    assert pca_reconstruct(rows, rows, 3) == pytest.approx(rows)
    assert pca_reconstruct(rows, rows[:2], 0) == pytest.approx(np.tile(rows.mean(0), (2, 1)))
    X = torch.rand(30, 1, 4, 4)
    X_hat = pca_reconstruct(X, X[:5], 2)
    assert isinstance(X_hat, torch.Tensor) and X_hat.shape == (5, 1, 4, 4)
    with pytest.raises(ValueError, match="n_components"):
        pca_reconstruct(rows, rows, 11)


def test_reconstruction_dataframe_columns():
    X = images()
    df = reconstruction_dataframe(X, torch.zeros_like(X), y=[0, 1, 2, 3])
    assert list(df.columns) == ["score", "image", "reconstructed", "label"]
    assert df["image"][2].shape == (28, 28) and df["score"][2] == pytest.approx(1.0)


def test_thresholds():
    scores = np.arange(1, 101, dtype=float)
    assert threshold_mean_std(scores, k=1) == pytest.approx(scores.mean() + scores.std())
    assert threshold_percentile(scores, 99) == pytest.approx(np.percentile(scores, 99))
    with pytest.raises(ValueError, match="1-D"):
        threshold_mean_std(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        threshold_mean_std([1.0, np.nan])
    with pytest.raises(ValueError, match="q"):
        threshold_percentile(scores, 120)


def test_auc_on_a_constructed_case():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert roc_auc(scores, [0, 0, 0, 1, 1, 1]) == 1.0
    assert roc_auc(scores, [1, 1, 1, 0, 0, 0]) == 0.0
    assert roc_auc(scores, [0, 1, 0, 1, 0, 1]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="both"):
        roc_auc(scores, [0] * 6)
    with pytest.raises(ValueError, match="6 labels"):
        roc_auc(scores, [0, 1])


def test_precision_recall_at_a_threshold():
    scores = np.array([0.1, 0.2, 0.35, 0.3, 0.5, 0.6])
    result = precision_recall_at(scores, [0, 0, 0, 1, 1, 1], threshold=0.32)
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


def test_smooth_is_a_normalised_gaussian_blur():
    X = torch.zeros(1, 1, 28, 28)
    X[0, 0, 14, 14] = 1.0
    blurred = smooth(X, 1.0)
    assert blurred.shape == X.shape and blurred.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert blurred[0, 0, 14, 14] < 0.2 and blurred[0, 0, 14, 15] == pytest.approx(blurred[0, 0, 15, 14].item())
    assert torch.equal(smooth(X, 0), X)
    with pytest.raises(ValueError):
        smooth(X, -1)


def test_smoothed_relative_error_forgives_a_shift_more_than_a_missing_stroke():
    X = torch.zeros(2, 1, 28, 28)
    X[:, 0, 8:20, 13:15] = 1.0                      # a vertical stroke
    shifted = torch.roll(X, shifts=1, dims=3)        # drawn one pixel to the right
    missing = X.clone()
    missing[:, 0, 14:20] = 0.0                       # half of the stroke missing
    plain = smoothed_relative_errors(X, shifted, sigma=0, relative=False)
    assert plain[0] == pytest.approx(((X - shifted) ** 2).mean().item())  # both off: the per-pixel MSE
    ratio_plain = smoothed_relative_errors(X, shifted, sigma=0, relative=False)[0] / \
        smoothed_relative_errors(X, missing, sigma=0, relative=False)[0]
    ratio_smooth = smoothed_relative_errors(X, shifted, sigma=1.0)[0] / \
        smoothed_relative_errors(X, missing, sigma=1.0)[0]
    assert ratio_smooth < ratio_plain / 2


def test_relative_error_divides_by_the_amount_of_ink():
    thin, thick = torch.zeros(1, 1, 28, 28), torch.zeros(1, 1, 28, 28)
    thin[0, 0, 5:20, 14] = 1.0
    thick[0, 0, 5:20, 12:17] = 1.0
    error = torch.zeros(1, 1, 28, 28)
    error[0, 0, 22, 14] = 0.5                        # the same stray blob in both reconstructions
    thin_score = smoothed_relative_errors(thin, thin + error, sigma=0)[0]
    thick_score = smoothed_relative_errors(thick, thick + error, sigma=0)[0]
    assert thin_score == pytest.approx(5 * thick_score)
    with pytest.raises(ValueError, match="same shape"):
        smoothed_relative_errors(thin, torch.zeros(1, 1, 27, 27))


