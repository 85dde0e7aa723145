"""Plots of the course. Every function returns its matplotlib ``Figure``.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so a
notebook shows each one exactly once: as the value of the cell that returns it
(the notebooks' setup cell runs ``%matplotlib inline``, which shows a returned
Figure as an image). Images are checked before plotting: grayscale, values in [0, 1].
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

__all__ = [
    "as_images",
    "plot_image_rows",
    "plot_reconstructions",
    "anomaly_detection_display",
    "plot_loss_curves",
    "plot_snapshots",
    "plot_anomaly_heatmaps",
    "plot_histograms",
    "plot_score_histograms",
    "plot_roc_curve",
    "plot_latent_scatter",
    "plot_latent_map",
    "plot_interpolation",
    "plot_digits_8x8",
]

IMAGE_SHAPES = "(H, W), (1, H, W), (N, H, W) or (N, 1, H, W)"


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def as_images(x, *, value_range=(0.0, 1.0)) -> np.ndarray:
    """Grayscale images as a numpy array ``(N, H, W)``, after checking shape and range.

    Accepts a tensor or array shaped (H, W), (1, H, W), (N, H, W) or (N, 1, H, W)
    with values in ``value_range``. Anything else (say a normalised
    3x224x224 batch from another project's loader) is a ``ValueError`` that says
    what was expected.
    """
    arr = _to_numpy(x)
    shape = arr.shape
    if arr.ndim == 4 and shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim != 3:
        raise ValueError(f"expected grayscale images shaped {IMAGE_SHAPES}, got {shape}")
    if arr.size == 0:
        raise ValueError("no images to plot")
    low, high = value_range
    tolerance = 1e-4 * (high - low)
    if not np.all(np.isfinite(arr)) or arr.min() < low - tolerance or arr.max() > high + tolerance:
        raise ValueError(f"expected grayscale images shaped {IMAGE_SHAPES} with values in [{low}, {high}], "
                         f"got shape {shape} with values in [{np.nanmin(arr):.3g}, {np.nanmax(arr):.3g}] "
                         f"(normalised images? undo the normalisation before plotting)")
    return arr


def _grid(fig: Figure, rows: int, cols: int):
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return axes


def plot_image_rows(rows, row_labels=None, titles=None, *, cmap="gray", value_range=(0.0, 1.0),
                    image_size: float = 1.1, suptitle: str | None = None) -> Figure:
    """Rows of images, one row per batch in ``rows`` (all the same length).

    Parameters
    ----------
    rows : list of tensors or arrays ``(n, 1, H, W)`` or ``(n, H, W)``
        One batch of images per row, all of the same length ``n``.
    row_labels : list of str, optional
        The name of each row, in the left margin.
    titles : list of str, optional
        One title per column (over the first row), or one per image of the first row.
    cmap, value_range : str, (float, float)
        The colour map and the pixel values it spans.
    image_size : float
        Inches per image.
    suptitle : str, optional
        A title over the whole figure.

    Returns
    -------
    matplotlib.figure.Figure

    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    batches = [as_images(r, value_range=value_range) for r in rows]
    n = len(batches[0])
    if any(len(b) != n for b in batches):
        raise ValueError(f"every row needs the same number of images, got {[len(b) for b in batches]}")
    fig = Figure(figsize=(image_size * n, image_size * len(batches) + (0.4 if suptitle else 0)),
                 layout="constrained")
    axes = _grid(fig, len(batches), n)
    low, high = value_range
    for r, batch in enumerate(batches):
        for c, image in enumerate(batch):
            axes[r, c].imshow(image, cmap=cmap, vmin=low, vmax=high)
        if row_labels is not None:
            axes[r, 0].set_ylabel(row_labels[r], fontsize=9)
    if titles is not None:
        for c, title in enumerate(titles):
            axes[0, c].set_title(str(title), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_reconstructions(X, X_hat, labels=None, *, n: int = 8, title: str | None = None) -> Figure:
    """The first ``n`` inputs (top row) over their reconstructions (bottom row).

    Introduced in notebook 04 (``04_latent_2d``).
    """
    titles = None if labels is None else [f"label {int(v)}" for v in _to_numpy(labels)[:n]]
    return plot_image_rows([_to_numpy(X)[:n], _to_numpy(X_hat)[:n]], ["input", "reconstruction"], titles,
                           suptitle=title)


def _typical_rows(scores: pd.Series, n: int, bins) -> pd.Index:
    """Indices of the ``n`` examples closest to the peak of the score histogram."""
    counts, edges = np.histogram(scores, bins=bins)
    peak = np.argmax(counts)
    centre = 0.5 * (edges[peak] + edges[peak + 1])
    return (scores - centre).abs().nsmallest(n).index


def anomaly_detection_display(df: pd.DataFrame, *, n: int = 10, bins: int = 60) -> Figure:
    """The score histogram, the ``n`` highest-scoring examples and ``n`` typical ones.

    ``df`` has one row per example with columns ``score``, ``image`` and
    ``reconstructed`` (and optionally ``label``), as built by
    :func:`helpers.reconstruction_dataframe`. Top: histogram of the scores with the
    shown examples marked. Middle: the highest-scoring inputs over their
    reconstructions. Bottom: examples from the peak of the distribution.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    missing = {"score", "image", "reconstructed"} - set(df.columns)
    if missing:
        raise ValueError(f"df needs the columns score, image and reconstructed; missing {sorted(missing)}")
    if len(df) < n:
        raise ValueError(f"df has {len(df)} rows, fewer than n={n}")
    worst = df["score"].nlargest(n).index
    typical = _typical_rows(df["score"], n, bins)
    fig = Figure(figsize=(1.15 * n, 8.2), layout="constrained")
    top, high, low = fig.subfigures(3, 1, height_ratios=[1.3, 1, 1])
    ax = top.subplots()
    ax.hist(df["score"], bins=bins, color="0.6")
    ax.plot(df.loc[worst, "score"], np.zeros(n), "v", color="tab:red", label=f"{n} highest scores")
    ax.plot(df.loc[typical, "score"], np.zeros(n), "^", color="tab:blue", label=f"{n} typical examples")
    ax.set(xlabel="score (per-example reconstruction MSE)", ylabel="examples")
    ax.legend(frameon=False)
    for sub, rows, name in ((high, worst, "Highest score: atypical"), (low, typical, "Typical: from the peak")):
        axes = _grid(sub, 2, n)
        for c, i in enumerate(rows):
            axes[0, c].imshow(as_images(df.at[i, "image"])[0], cmap="gray", vmin=0, vmax=1)
            axes[1, c].imshow(as_images(df.at[i, "reconstructed"])[0], cmap="gray", vmin=0, vmax=1)
            label = f"{int(df.at[i, 'label'])}: " if "label" in df.columns else ""
            axes[0, c].set_title(f"{label}{df.at[i, 'score']:.4f}", fontsize=8)
        axes[0, 0].set_ylabel("input", fontsize=9)
        axes[1, 0].set_ylabel("recon.", fontsize=9)
        sub.suptitle(name, fontsize=11)
    return fig


def _loss_is_mse(history: pd.DataFrame) -> bool:
    if "train_mse" not in history:
        return True
    return bool(np.allclose(history["train_loss"], history["train_mse"], rtol=1e-6, atol=0))


def _plot_pair(ax, history: pd.DataFrame, train: str, valid: str, log_scale: bool) -> None:
    ax.plot(history["epoch"], history[train], "o-", label="train")
    if valid in history and history[valid].notna().any():
        ax.plot(history["epoch"], history[valid], "s-", label="validation")
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")


def plot_loss_curves(history: pd.DataFrame, *, reference: float | None = None, log_scale: bool = True,
                     title: str | None = None, loss_name: str = "loss") -> Figure:
    """Training and validation loss per epoch, from the DataFrame :func:`helpers.fit` returns.

    When the training loss is not the per-pixel MSE (say binary cross-entropy), a
    second panel shows the MSE, the figure the course reports. ``reference`` draws
    a horizontal line at a reference MSE.
    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    two_panels = not _loss_is_mse(history)
    fig = Figure(figsize=(10.5 if two_panels else 6, 3.6), layout="constrained")
    axes = fig.subplots(1, 2 if two_panels else 1, squeeze=False)[0]
    _plot_pair(axes[0], history, "train_loss", "valid_loss", log_scale)
    axes[0].set_ylabel(loss_name if two_panels else "loss (per-pixel MSE)")
    mse_ax = axes[-1]
    if two_panels:
        _plot_pair(mse_ax, history, "train_mse", "valid_mse", log_scale)
        mse_ax.set_ylabel("per-pixel MSE")
    if reference is not None:
        mse_ax.axhline(reference, color="0.4", ls="--", lw=1, label=f"reference {reference:g}")
    for ax in axes:
        ax.legend(frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def plot_snapshots(X, snapshots: dict, *, every: int = 4, labels=None, n: int = 9) -> Figure:
    """Reconstructions of the same inputs as training goes on: every ``every`` epochs, and the last.

    ``snapshots`` maps an epoch to the reconstructions of ``X`` after it (kept
    by a :func:`helpers.fit` callback). The top row shows the first ``n``
    inputs (with ``labels``), each further row the reconstructions after an epoch.
    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    if not snapshots:
        raise ValueError("snapshots is empty: keep the reconstructions after each epoch in a dict {epoch: X_hat}")
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    last = max(snapshots)
    epochs = sorted({e for e in snapshots if e % every == 0} | {last})
    titles = None if labels is None else [f"label {int(v)}" for v in _to_numpy(labels)[:n]]
    rows = [_to_numpy(X)[:n]] + [_to_numpy(snapshots[e])[:n] for e in epochs]
    return plot_image_rows(rows, ["input"] + [f"epoch {e}" for e in epochs], titles)


def plot_anomaly_heatmaps(X, X_hat, titles=None) -> Figure:
    """One row per example: input, reconstruction, and the squared difference as a heatmap.

    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    X, X_hat = as_images(X), as_images(X_hat)
    if X.shape != X_hat.shape:
        raise ValueError(f"X and X_hat must have the same shape, got {X.shape} and {X_hat.shape}")
    squared = (X - X_hat) ** 2
    fig = Figure(figsize=(6.6, 2.1 * len(X)), layout="constrained")
    axes = _grid(fig, len(X), 3)
    for i in range(len(X)):
        axes[i, 0].imshow(X[i], cmap="gray", vmin=0, vmax=1)
        axes[i, 1].imshow(X_hat[i], cmap="gray", vmin=0, vmax=1)
        heat = axes[i, 2].imshow(squared[i], cmap="inferno", vmin=0, vmax=max(squared.max(), 1e-8))
        axes[i, 0].set_ylabel(titles[i] if titles is not None else f"#{i}", fontsize=9)
        fig.colorbar(heat, ax=axes[i, 2], fraction=0.046, pad=0.04)
    for ax, name in zip(axes[0], ("input", "reconstruction", "squared difference")):
        ax.set_title(name, fontsize=10)
    return fig


def plot_histograms(groups: dict, *, bins: int = 60, log_x: bool = True, marks: dict | None = None,
                    xlabel: str = "reconstruction error", title: str | None = None) -> Figure:
    """Overlaid histograms of several sets of scores, e.g. ``{"train": e1, "test": e2}``.

    Shared bin edges (logarithmic with ``log_x``), each group drawn as the share
    of its examples per bin, so shapes compare whatever the group sizes;
    ``marks`` draws labelled vertical lines, e.g. ``{"threshold": t}``.
    Introduced in notebook 08 (``08_uci_digits``).
    """
    if not groups:
        raise ValueError("groups must name at least one array of scores")
    arrays = {name: np.asarray(values, dtype=float).ravel() for name, values in groups.items()}
    values = np.concatenate(list(arrays.values()))
    if not np.all(np.isfinite(values)):
        raise ValueError("scores contain NaN or inf")
    if log_x and values.min() <= 0:
        raise ValueError("log_x needs positive scores (pass log_x=False)")
    spacing = np.geomspace if log_x else np.linspace
    edges = spacing(values.min(), values.max(), bins + 1)
    fig = Figure(figsize=(6.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for name, group in arrays.items():
        # each group's share of its examples per bin: comparable across groups of any size, and, unlike a
        # density, not inflated in the narrow bins that log-spaced edges make on the left
        ax.hist(group, bins=edges, weights=np.full(len(group), 1 / len(group)), alpha=0.55,
                label=f"{name} ({len(group)})")
    for i, (name, x) in enumerate((marks or {}).items()):
        ax.axvline(x, color=f"{0.1 + 0.3 * i:.1f}", ls="--", lw=1, label=f"{name} {x:.4g}")
    if log_x:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel="share of examples per bin", title=title)
    ax.legend(frameon=False)
    return fig


def plot_score_histograms(scores, is_anomaly, *, threshold: float | None = None, bins: int = 80,
                          log_x: bool = True) -> Figure:
    """Histograms of the scores of normal and anomalous examples, on one axis.

    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    scores, labels = np.asarray(scores, dtype=float), np.asarray(is_anomaly).astype(bool)
    if scores.shape != labels.shape:
        raise ValueError(f"expected one label per score, got {labels.shape} labels for {scores.shape} scores")
    return plot_histograms({"normal": scores[~labels], "anomaly": scores[labels]}, bins=bins, log_x=log_x,
                           marks=None if threshold is None else {"threshold": threshold},
                           xlabel="anomaly score (reconstruction error)")


def plot_roc_curve(scores, is_anomaly, *, name: str = "autoencoder", ax=None, xlim=None, ylim=None) -> Figure:
    """The ROC curve of the scores (1 = anomaly), drawn by scikit-learn, with its AUC to 4 decimals.

    ``xlim``/``ylim`` zoom in (near-perfect detectors live in the top-left corner);
    pass ``ax`` to draw into an existing figure (several curves on one axis).
    Introduced in notebook 03 (``03_one_class_auc``).
    """
    from sklearn.metrics import RocCurveDisplay

    from .scoring import roc_auc

    if ax is None:
        fig = Figure(figsize=(4.8, 4.6), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    auc = roc_auc(scores, is_anomaly)
    chance_drawn = any(line.get_label().startswith("Chance level") for line in ax.get_lines())
    display = RocCurveDisplay.from_predictions(np.asarray(is_anomaly).astype(int), np.asarray(scores), ax=ax,
                                               name=name, plot_chance_level=xlim is None and not chance_drawn)
    # scikit-learn appends its own 2-decimal AUC to the label: give this call's curve ours instead.
    display.line_.set_label(f"{name} (AUC {auc:.4f})")
    ax.legend(loc="lower right", frameon=False)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", aspect="auto")
    if xlim is not None:
        ax.set_xlim(xlim)
    if ylim is not None:
        ax.set_ylim(ylim)
    return fig


def _discrete_colours(labels: np.ndarray, palette):
    import seaborn as sns

    classes = np.unique(labels)
    colours = sns.color_palette(palette, len(classes))
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(np.arange(len(classes) + 1) - 0.5, cmap.N)
    codes = np.searchsorted(classes, labels)
    return classes, cmap, norm, codes


def plot_latent_scatter(Z, y, *, palette="tab10", title: str | None = None, axis_labels=("I1", "I2"),
                        s: float = 3.0, ax=None, background=None, label_centres: bool = False) -> Figure:
    """2-D codes coloured by label, with a colour bar naming the classes.

    Parameters
    ----------
    Z : array or tensor ``(N, 2)``
        The codes.
    y : array or tensor ``(N,)``
        Their labels (the colours).
    palette : str or list
        A seaborn palette name (``"tab10"``, ``"husl"``, ...) or one colour per class.
    title, axis_labels : str, (str, str)
        The title and the names of the two axes.
    s : float
        The size of the points.
    ax : matplotlib Axes, optional
        Draw into an existing figure (that figure is returned).
    background : array ``(M, 2)``, optional
        Other codes drawn underneath in light grey (e.g. the training classes,
        under unseen ones).
    label_centres : bool
        Write each label at the median of its points, for palettes whose
        neighbouring colours are hard to tell apart.

    Returns
    -------
    matplotlib.figure.Figure

    Introduced in notebook 04 (``04_latent_2d``).
    """
    Z, y = _to_numpy(Z), _to_numpy(y)
    if Z.ndim != 2 or Z.shape[1] != 2:
        raise ValueError(f"Z must have shape (N, 2), got {Z.shape}: reduce it to 2-D first (e.g. t-SNE)")
    if y.shape != (len(Z),):
        raise ValueError(f"y must have one label per code, shape ({len(Z)},), got {y.shape}")
    classes, cmap, norm, codes = _discrete_colours(y, palette)
    if ax is None:
        fig = Figure(figsize=(6.4, 5.4), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    if background is not None:
        background = _to_numpy(background)
        ax.scatter(background[:, 0], background[:, 1], s=s, color="0.85", linewidths=0)
    order = np.random.default_rng(0).permutation(len(Z))  # no class painted over all the others
    points = ax.scatter(Z[order, 0], Z[order, 1], c=codes[order], cmap=cmap, norm=norm, s=s, linewidths=0)
    if label_centres:
        for label in classes:
            ax.annotate(str(label), np.median(Z[y == label], axis=0), ha="center", va="center", fontsize=13,
                        weight="bold", bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white", "alpha": 0.8,
                                             "linewidth": 0})
    bar = fig.colorbar(points, ax=ax, ticks=np.arange(len(classes)))
    bar.ax.set_yticklabels([str(c) for c in classes])
    bar.set_label("label")
    ax.set(xlabel=axis_labels[0], ylabel=axis_labels[1], title=title)
    return fig


def plot_latent_map(mosaic, extent, *, ax=None, title: str | None = None) -> Figure:
    """The image map of a decoded latent grid (see :func:`helpers.decode_latent_grid`).

    ``extent`` is ``(z1_min, z1_max, z2_min, z2_max)`` so that the axes read in
    latent coordinates and line up with :func:`plot_latent_scatter`.
    Introduced in notebook 04 (``04_latent_2d``).
    """
    mosaic = as_images(mosaic)[0]
    if ax is None:
        fig = Figure(figsize=(5.6, 5.4), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, extent=extent, origin="upper", aspect="auto")
    ax.set(xlabel="I1", ylabel="I2", title=title)
    return fig


def plot_interpolation(rows, row_labels=None, *, alphas=None) -> Figure:
    """Strips of images, one per row (e.g. latent interpolation over pixel cross-fade).

    ``alphas`` labels the columns with the interpolation weight.
    Introduced in notebook 06 (``06_interpolation``).
    """
    titles = None if alphas is None else [f"{a:.2f}" for a in alphas]
    return plot_image_rows(rows, row_labels, titles)


def plot_digits_8x8(X, titles=None, *, cols: int = 10) -> Figure:
    """UCI optdigits rows (64 pixel counts 0..16) as 8x8 images, ``cols`` per row.

    Introduced in notebook 08 (``08_uci_digits``).
    """
    X = _to_numpy(X)
    if X.ndim == 1:
        X = X[None]
    if X.ndim != 2 or X.shape[1] != 64:
        raise ValueError(f"expected optdigits rows of 64 pixel counts, shape (N, 64), got {X.shape}")
    images = as_images(X.reshape(-1, 8, 8), value_range=(0, 16))
    cols = min(cols, len(images))
    n_rows = int(np.ceil(len(images) / cols))
    fig = Figure(figsize=(1.25 * cols, 1.4 * n_rows), layout="constrained")
    axes = _grid(fig, n_rows, cols)
    for i, ax in enumerate(axes.flat):
        if i < len(images):
            ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=16)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
        else:
            ax.set_axis_off()
    return fig
