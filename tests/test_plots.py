"""Plots return their Figure and refuse images they cannot show faithfully."""
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

import helpers.plots as plots
from helpers import fit, tensor_loader

rng = np.random.default_rng(0)


def mnist_like(n=12):
    return torch.from_numpy(rng.random((n, 1, 28, 28)).astype("float32"))


def history():
    from helpers import DenseAutoencoder
    X = mnist_like(8)
    return fit(DenseAutoencoder(latent_dim=2, hidden_dim=8), tensor_loader(X, batch_size=4),
               tensor_loader(X, torch.arange(8), batch_size=4), num_epochs=4, lr=1e-3, progress=False)


def test_as_images_accepts_the_course_shapes():
    for shape in [(28, 28), (1, 28, 28), (5, 28, 28), (5, 1, 28, 28)]:
        assert plots.as_images(np.zeros(shape)).shape[-2:] == (28, 28)


def test_the_reference_failure_gets_a_clear_message():
    normalised = (torch.rand(3, 224, 224) - 0.485) / 0.229
    with pytest.raises(ValueError, match=r"grayscale images shaped .* got shape \(3, 224, 224\)"):
        plots.plot_reconstructions(normalised, normalised)
    with pytest.raises(ValueError, match=r"got \(2, 3, 224, 224\)"):
        plots.as_images(torch.rand(2, 3, 224, 224))


@pytest.mark.parametrize("make", [
    lambda: plots.plot_reconstructions(mnist_like(), mnist_like(), labels=range(12), n=6),
    lambda: plots.plot_image_rows([mnist_like(4)] * 3, ["a", "b", "c"], titles=list("wxyz")),
    lambda: plots.plot_anomaly_heatmaps(mnist_like(3), mnist_like(3), titles=["a", "b", "c"]),
    lambda: plots.plot_score_histograms(rng.random(50) + 0.01, np.arange(50) % 2, threshold=0.5),
    lambda: plots.plot_roc_curve(rng.random(50), np.arange(50) % 2, xlim=(0, 0.5), ylim=(0.5, 1)),
    lambda: plots.plot_latent_scatter(rng.normal(size=(40, 2)), np.arange(40) % 5,
                                      background=rng.normal(size=(30, 2)), label_centres=True),
    lambda: plots.plot_latent_scatter(rng.normal(size=(40, 2)), np.arange(40) % 10, palette="husl"),
    lambda: plots.plot_latent_map(rng.random((56, 56)), (0, 1, 0, 1)),
    lambda: plots.plot_interpolation([mnist_like(5), mnist_like(5)], ["latent", "pixels"],
                                     alphas=np.linspace(0, 1, 5)),
    lambda: plots.plot_digits_8x8(rng.integers(0, 17, (12, 64)), titles=range(12), cols=5),
    lambda: plots.plot_loss_curves(history(), reference=0.0075),
    lambda: plots.plot_snapshots(mnist_like(4), {1: mnist_like(4), 2: mnist_like(4)}, every=2, labels=range(4)),
])
def test_every_plot_returns_its_figure(make):
    fig = make()
    assert isinstance(fig, Figure) and fig.axes


def test_anomaly_detection_display_shows_the_worst_and_the_typical():
    X = mnist_like(40)
    score = np.linspace(0.01, 0.4, 40)
    df = pd.DataFrame({"score": score, "image": list(X[:, 0].numpy()), "reconstructed": list(X[:, 0].numpy()),
                       "label": np.arange(40) % 10})
    fig = plots.anomaly_detection_display(df, n=5)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    worst_first = range(39, 34, -1)
    assert titles[:5] == [f"{i % 10}: {score[i]:.4f}" for i in worst_first]
    with pytest.raises(ValueError, match="missing"):
        plots.anomaly_detection_display(df.drop(columns="reconstructed"))


def test_scatter_needs_2d_codes_and_one_label_each():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.plot_latent_scatter(np.zeros((5, 20)), np.zeros(5))
    with pytest.raises(ValueError, match="one label"):
        plots.plot_latent_scatter(np.zeros((5, 2)), np.zeros(4))


def test_snapshots_show_every_few_epochs_and_always_the_last():
    X = mnist_like(3)
    snapshots = {epoch: mnist_like(3) for epoch in range(1, 6)}
    fig = plots.plot_snapshots(X, snapshots, every=2)
    row_labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert row_labels == ["input", "epoch 2", "epoch 4", "epoch 5"]   # 5 % 2 != 0: the last epoch still shows
    with pytest.raises(ValueError, match="empty"):
        plots.plot_snapshots(X, {})


def test_roc_curves_on_one_axis_keep_their_own_labels():
    fig = plots.plot_roc_curve([0.1, 0.2, 0.3, 0.35, 0.4, 0.6], [0, 0, 1, 0, 1, 1], name="AE smoothed")
    plots.plot_roc_curve([0.1, 0.3, 0.2, 0.35, 0.4, 0.6], [0, 0, 1, 0, 1, 1], name="AE", ax=fig.axes[0])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "AE smoothed (AUC 0.8889)" in labels and "AE (AUC 0.7778)" in labels
    assert sum(label.startswith("Chance level") for label in labels) == 1


def test_digits_8x8_checks_the_pixel_counts():
    with pytest.raises(ValueError, match=r"\(N, 64\)"):
        plots.plot_digits_8x8(np.zeros((3, 65)))
    with pytest.raises(ValueError, match=r"\[0, 16\]"):
        plots.plot_digits_8x8(np.full((1, 64), 17))


def test_roc_curve_labels_the_auc_with_four_decimals():
    fig = plots.plot_roc_curve([0.1, 0.2, 0.3, 0.35, 0.4, 0.6], [0, 0, 1, 0, 1, 1], name="toy")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "toy (AUC 0.8889)" in labels


def test_loss_curves_add_an_mse_panel_when_the_loss_is_not_mse():
    h = history()
    assert len(plots.plot_loss_curves(h).axes) == 1
    h["train_loss"] = 10 * h["train_mse"]
    h["valid_loss"] = 10 * h["valid_mse"]
    assert len(plots.plot_loss_curves(h, reference=0.0075, loss_name="BCE").axes) == 2


def test_histograms_share_bins_and_mark_lines():
    fig = plots.plot_histograms({"train": rng.uniform(0.01, 0.1, 50), "test": rng.uniform(0.01, 0.2, 30)},
                                marks={"q99": 0.09}, title="a model")
    assert fig.axes[0].get_title() == "a model"
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[:2] == ["train (50)", "test (30)"] and labels[2].startswith("q99")
    with pytest.raises(ValueError, match="positive"):
        plots.plot_histograms({"a": [0.0, 1.0]})
    with pytest.raises(ValueError, match="one label per score"):
        plots.plot_score_histograms([0.1, 0.2], [0, 1, 1])
