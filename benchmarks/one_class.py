"""One-class MNIST on the protocol of Ruff et al. (2018), "Deep One-Class Classification".

For each digit ``d``: train on training-set images of ``d`` only, score the full
10,000-image test set, and report the ROC AUC with "not ``d``" as the anomaly
class; repeat over seeds and digits. This module holds everything the benchmark
script (``one_class_mnist.py``) and its book page (``one_class_benchmark.ipynb``),
both beside it, need, so that both are thin: the per-digit split, the detectors
(shallow baselines, the course's autoencoders and the course's own
autoencoder-based detector), the runner, the aggregation into tables, the
published values and the summary figure. The scores themselves come from
:mod:`helpers.scoring`.

AUCs are fractions in [0, 1] in results; tables show them in percent, as the
papers do.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from helpers import (Autoencoder, ConvAutoencoder, DenseAutoencoder, fit, load_mnist, mnist_splits, pca_reconstruct,
                     per_example_errors, reconstruct, roc_auc, set_seed, smoothed_relative_errors, tensor_loader)

__all__ = [
    "DIGITS",
    "VALID_SIZE",
    "OneClassSplit",
    "one_class_split",
    "ocsvm_scores",
    "isolation_forest_scores",
    "train_autoencoder",
    "Method",
    "METHODS",
    "LABELS",
    "BEST",
    "TARGET",
    "run_method",
    "RESULT_COLUMNS",
    "check_results",
    "summarize",
    "overall",
    "timing",
    "load_published",
    "published_table",
    "results_table",
    "plot_one_class_benchmark",
]

DIGITS = tuple(range(10))
# Drawn from the 60,000 training images by seed: about 600 images of the normal
# digit are held out (never trained on) to calibrate scores; the rest, about
# 90% of the digit's training images, are the training set.
VALID_SIZE = 6000


# --------------------------------------------------------------------------- split
@dataclass(frozen=True)
class OneClassSplit:
    """One one-class experiment: normal digit, its training and held-out images, the full test set.

    ``X_train`` and ``X_valid`` hold only the normal digit (training-set images);
    ``X_test`` and ``y_test`` are the official 10,000 test images with their
    labels; :attr:`is_anomaly` is 1 for every test image that is not the digit.
    ``train_loader`` yields shuffled batches of ``X_train`` (the shuffling
    order depends on ``seed``).
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """

    digit: int
    seed: int
    X_train: torch.Tensor
    X_valid: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    batch_size: int = 128

    @property
    def is_anomaly(self) -> np.ndarray:
        """1 for test images of any other digit (the anomalies), 0 for the normal digit."""
        return (self.y_test != self.digit).numpy().astype(int)

    @property
    def train_loader(self):
        """Shuffled ``(X, index)`` batches of ``X_train`` (the order depends on ``seed``)."""
        return tensor_loader(self.X_train, batch_size=self.batch_size, shuffle=True, seed=self.seed)

    @property
    def valid_loader(self):
        """Batches of the held-out normal images, in order."""
        return tensor_loader(self.X_valid, batch_size=1000)


def one_class_split(digit: int, seed: int = 0, *, root=None, batch_size: int = 128,
                    valid_size: int = VALID_SIZE) -> OneClassSplit:
    """The one-class split for ``digit``: Ruff et al.'s protocol, drawn through :func:`helpers.mnist_splits`.

    Training and held-out images are the training-set images of ``digit``
    (the held-out part is the validation split of ``mnist_splits``, chosen by
    ``seed``); the test set is the full official test set, all ten digits.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    digit = int(digit)
    if digit not in DIGITS:
        raise ValueError(f"digit must be one of 0..9, got {digit}")
    normal = mnist_splits(seed, digits=(digit,), valid_size=valid_size, root=root)
    X_test, y_test = load_mnist(train=False, root=root)
    return OneClassSplit(digit, int(seed), normal["train"][0], normal["valid"][0], X_test, y_test, batch_size)


def _flat(X) -> np.ndarray:
    """Images as float64 rows ``(N, 784)`` for scikit-learn."""
    return X.detach().cpu().double().flatten(1).numpy()


def ocsvm_scores(X_train, X_test, *, nu: float = 0.1, gamma="scale") -> np.ndarray:
    """One-class SVM (Gaussian kernel) on raw pixels: minus the decision score, so higher = more anomalous.

    ``gamma="scale"`` is scikit-learn's ``1 / (n_features * X.var())``; no
    test labels are used to pick ``nu`` or ``gamma`` (Ruff et al. tuned theirs
    on a small labelled hold-out of the test set, which favours their row).
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    from sklearn.svm import OneClassSVM

    model = OneClassSVM(kernel="rbf", nu=nu, gamma=gamma).fit(_flat(X_train))
    return -model.score_samples(_flat(X_test))


def isolation_forest_scores(X_train, X_test, *, n_estimators: int = 100, seed: int = 0) -> np.ndarray:
    """Isolation Forest on raw pixels: minus scikit-learn's score, so higher = more anomalous.

    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    from sklearn.ensemble import IsolationForest

    model = IsolationForest(n_estimators=n_estimators, random_state=seed).fit(_flat(X_train))
    return -model.score_samples(_flat(X_test))


# --------------------------------------------------------------------------- detectors of the benchmark
def train_autoencoder(model: Autoencoder, split: OneClassSplit, *, num_epochs: int, lr: float,
                      weight_decay: float = 1e-5, lr_schedule: str = "onecycle", loss_fn=None,
                      progress: bool = False) -> pd.DataFrame:
    """Train ``model`` on the split's normal images with :func:`helpers.fit`; returns the history.

    Mean squared error, Adam, a one-cycle schedule; the held-out normal
    images are the validation set. The model trains on the device of its
    parameters (put it there before calling).
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    return fit(model, split.train_loader, split.valid_loader, num_epochs=num_epochs, lr=lr,
               optimizer=partial(torch.optim.Adam, weight_decay=weight_decay), lr_schedule=lr_schedule,
               loss_fn=loss_fn, progress=progress)


def _device(device):
    return torch.device("cpu") if device is None else torch.device(device)


def _autoencoder(model_class, split, seed, *, num_epochs, lr, latent_dim, sigma, device=None):
    set_seed(seed)
    model = model_class(latent_dim=latent_dim).to(_device(device))
    train_autoencoder(model, split, num_epochs=num_epochs, lr=lr)
    X_hat = reconstruct(model, split.X_test)
    return {
        "mse": per_example_errors(split.X_test, X_hat),
        "smoothed": smoothed_relative_errors(split.X_test, X_hat, sigma=sigma, relative=False),
        "relative": smoothed_relative_errors(split.X_test, X_hat, sigma=0, relative=True),
        "best": smoothed_relative_errors(split.X_test, X_hat, sigma=sigma, relative=True),
    }


def _dense_ae(split, seed, **config):
    scores = _autoencoder(DenseAutoencoder, split, seed, **config)
    return {"dense_ae": scores["mse"], "dense_ae_best": scores["best"]}


def _conv_ae(split, seed, **config):
    scores = _autoencoder(ConvAutoencoder, split, seed, **config)
    return {"conv_ae": scores["mse"], "conv_ae_smoothed": scores["smoothed"],
            "conv_ae_relative": scores["relative"], "best_ae": scores["best"]}


def _pca(split, seed, *, n_components, sigma):
    X_hat = pca_reconstruct(split.X_train, split.X_test, n_components, seed=seed)
    return {"pca": per_example_errors(split.X_test, X_hat),
            "pca_best": smoothed_relative_errors(split.X_test, X_hat, sigma=sigma, relative=True)}


def _ocsvm(split, seed, *, nu, gamma):
    return {"ocsvm": ocsvm_scores(split.X_train, split.X_test, nu=nu, gamma=gamma)}


def _iforest(split, seed, *, n_estimators):
    return {"iforest": isolation_forest_scores(split.X_train, split.X_test, n_estimators=n_estimators, seed=seed)}


@dataclass(frozen=True)
class Method:
    """A detector of the benchmark: what it trains, the scores it reports, its settings.

    ``run(split, seed, **settings)`` trains once and returns a dict of test
    scores (higher = more anomalous), one per name in ``outputs``: a model can
    be scored several ways (the ablation rows share the model they score).
    ``kind`` is ``"shallow"`` or ``"autoencoder"``; ``quick`` overrides the
    settings for a ``--quick`` run.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """

    name: str
    kind: str
    outputs: tuple
    run: Callable[..., dict]
    config: dict = field(default_factory=dict)
    quick: dict = field(default_factory=dict)

    def settings(self, quick: bool = False) -> dict:
        """The keyword arguments of ``run``: ``config``, updated by ``quick`` for a quick run."""
        return {**self.config, **(self.quick if quick else {})}


METHODS = {
    m.name: m
    for m in (
        Method("pca", "shallow", ("pca", "pca_best"), _pca, {"n_components": 16, "sigma": 1.0}),
        Method("ocsvm", "shallow", ("ocsvm",), _ocsvm, {"nu": 0.1, "gamma": "scale"}),
        Method("iforest", "shallow", ("iforest",), _iforest, {"n_estimators": 100}),
        Method("dense_ae", "autoencoder", ("dense_ae", "dense_ae_best"), _dense_ae,
               {"num_epochs": 20, "lr": 3e-3, "latent_dim": 32, "sigma": 1.0}, {"num_epochs": 2}),
        Method("conv_ae", "autoencoder", ("conv_ae", "conv_ae_smoothed", "conv_ae_relative", "best_ae"), _conv_ae,
               {"num_epochs": 20, "lr": 5e-3, "latent_dim": 20, "sigma": 1.0}, {"num_epochs": 2}),
    )
}

# Row names of the results, in table order, with their labels.
LABELS = {
    "pca": "PCA, 16 components: per-pixel MSE",
    "ocsvm": "OC-SVM (RBF kernel, nu = 0.1)",
    "iforest": "Isolation Forest (100 trees)",
    "dense_ae": "Dense AE: per-pixel MSE",
    "conv_ae": "Conv AE: per-pixel MSE",
    "conv_ae_smoothed": "Conv AE: smoothed error (ablation)",
    "conv_ae_relative": "Conv AE: relative error (ablation)",
    "pca_best": "PCA: smoothed relative error",
    "dense_ae_best": "Dense AE: smoothed relative error",
    "best_ae": "Conv AE: smoothed relative error (our detector)",
}
BEST = "best_ae"
# The course's target for our detector: a mean AUC (%) of at least that of OCGAN and of MemAE (97.5).
TARGET = 97.5


def run_method(method: Method | str, split: OneClassSplit, *, quick: bool = False, **overrides) -> list[dict]:
    """Train one detector on one split and score the test set: one result row per output.

    Each row holds ``digit, method, seed, auc, fit_seconds``; ``method`` is the
    output's name, and ``fit_seconds`` the wall time of training the model and
    scoring the test set (shared by the outputs of one model).
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    method = METHODS[method] if isinstance(method, str) else method
    settings = {**method.settings(quick), **overrides}
    start = time.perf_counter()
    scores = method.run(split, split.seed, **settings)
    seconds = time.perf_counter() - start
    if set(scores) != set(method.outputs):
        raise RuntimeError(f"{method.name} returned scores {sorted(scores)}, expected {sorted(method.outputs)}")
    return [{"digit": split.digit, "method": name, "seed": split.seed,
             "auc": roc_auc(scores[name], split.is_anomaly), "fit_seconds": seconds} for name in method.outputs]


# --------------------------------------------------------------------------- aggregation
RESULT_COLUMNS = ("digit", "method", "seed", "auc", "fit_seconds")


def check_results(results: pd.DataFrame) -> pd.DataFrame:
    """Validate a results table (one row per digit, method and seed) and return it sorted.

    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results lack the columns {missing}; expected {list(RESULT_COLUMNS)}")
    if results.empty:
        raise ValueError("results are empty")
    if not results["digit"].isin(DIGITS).all():
        raise ValueError("digit must lie in 0..9")
    if not results["auc"].between(0.0, 1.0).all():
        raise ValueError("auc must lie in [0, 1] (a fraction, not a percentage)")
    if results.duplicated(["digit", "method", "seed"]).any():
        raise ValueError("results hold more than one row for some (digit, method, seed)")
    return results.sort_values(["method", "digit", "seed"]).reset_index(drop=True)


def _method_order(names) -> list[str]:
    known = [m for m in LABELS if m in set(names)]
    return known + sorted(set(names) - set(known))


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Per method and digit: ``mean`` and ``std`` of the AUC over seeds, and ``n`` seeds.

    The standard deviation is the sample one (``ddof=1``); NaN for a single seed.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    results = check_results(results)
    summary = (results.groupby(["method", "digit"])["auc"].agg(["mean", "std", "count"])
               .rename(columns={"count": "n"}).reset_index())
    order = {m: i for i, m in enumerate(_method_order(summary["method"]))}
    return summary.sort_values(["method", "digit"], key=lambda s: s.map(order) if s.name == "method" else s,
                               ).reset_index(drop=True)


def overall(results: pd.DataFrame) -> pd.DataFrame:
    """Per method: the mean AUC over digits, its spread over seeds, and the time spent.

    Columns: ``mean`` (mean over digits of each digit's mean over seeds),
    ``std`` (sample std over seeds of the seed's mean over digits; only seeds
    that ran every digit count), ``n_seeds``, ``digits``, ``worst_digit`` and
    ``worst_auc``, ``fit_seconds`` (total) and ``runs``.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    results = check_results(results)
    rows = []
    for method in _method_order(results["method"].unique()):
        part = results[results["method"] == method]
        per_digit = part.groupby("digit")["auc"].mean()
        n_digits = part["digit"].nunique()
        per_seed = part.groupby("seed").filter(lambda g: g["digit"].nunique() == n_digits)
        seed_means = per_seed.groupby("seed")["auc"].mean()
        rows.append({
            "method": method, "mean": per_digit.mean(),
            "std": seed_means.std(ddof=1) if len(seed_means) > 1 else math.nan,
            "n_seeds": part["seed"].nunique(), "digits": n_digits,
            "worst_digit": int(per_digit.idxmin()), "worst_auc": per_digit.min(),
            "fit_seconds": part["fit_seconds"].sum(), "runs": len(part),
        })
    return pd.DataFrame(rows)


def timing(results: pd.DataFrame) -> pd.DataFrame:
    """Wall time per trained model (the rows one model produces share it): mean, max and total seconds.

    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    results = check_results(results)
    rows = []
    for method in METHODS.values():
        part = results[results["method"] == method.outputs[0]]
        if not part.empty:
            rows.append({"model": method.name, "rows": ", ".join(o for o in method.outputs if o in set(results["method"])),
                         "runs": len(part), "mean_seconds": part["fit_seconds"].mean(),
                         "max_seconds": part["fit_seconds"].max(), "total_seconds": part["fit_seconds"].sum()})
    return pd.DataFrame(rows)


PUBLISHED_COLUMNS = ("method", "digit", "auc_percent", "source", "read_at", "note")


def load_published(path) -> pd.DataFrame:
    """Published one-class MNIST AUCs (in percent) with their sources, from a CSV file.

    One row per (method, digit); ``digit`` is ``0``..``9`` or ``mean``. Every
    row must name its ``source`` (paper and table) and where it was read
    (``read_at``).
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    path = Path(path)
    table = pd.read_csv(path, dtype={"digit": str}, keep_default_na=False)
    missing = [c for c in PUBLISHED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {list(PUBLISHED_COLUMNS)}")
    if not table["digit"].isin([str(d) for d in DIGITS] + ["mean"]).all():
        raise ValueError(f"{path}: digit must be 0..9 or 'mean'")
    table["auc_percent"] = pd.to_numeric(table["auc_percent"])
    if not table["auc_percent"].between(0, 100).all():
        raise ValueError(f"{path}: auc_percent must lie in [0, 100]")
    if (table["source"].str.strip() == "").any() or (table["read_at"].str.strip() == "").any():
        raise ValueError(f"{path}: every row needs a source and the place it was read (read_at)")
    return table


def _columns() -> list[str]:
    return [str(d) for d in DIGITS] + ["mean"]


def published_table(published: pd.DataFrame) -> pd.DataFrame:
    """Published values as one row per method, columns ``0``..``9`` and ``mean``, strings in percent.

    A method published only as a mean shows blanks per digit.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    wide = published.pivot_table(index="method", columns="digit", values="auc_percent", aggfunc="first", sort=False)
    wide = wide.reindex(columns=_columns())
    return wide.apply(lambda col: col.map(lambda v: "" if pd.isna(v) else f"{v:.1f}"))


def results_table(results: pd.DataFrame, *, labels: bool = True) -> pd.DataFrame:
    """Measured AUCs as "mean ± std" in percent: one row per method, columns ``0``..``9`` and ``mean``.

    The ``mean`` column is the mean over digits, ± its spread over seeds
    (see :func:`overall`). With ``labels`` the rows are named by the methods'
    labels rather than their keys.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    summary, totals = summarize(results), overall(results).set_index("method")

    def cell(mean, std):
        return f"{100 * mean:.1f}" if pd.isna(std) else f"{100 * mean:.1f} ± {100 * std:.1f}"

    table = {}
    for method in _method_order(summary["method"].unique()):
        part = summary[summary["method"] == method].set_index("digit")
        row = {str(d): cell(part.at[d, "mean"], part.at[d, "std"]) if d in part.index else "" for d in DIGITS}
        row["mean"] = cell(totals.at[method, "mean"], totals.at[method, "std"])
        name = LABELS.get(method, method) if labels else method
        table[name] = row
    return pd.DataFrame.from_dict(table, orient="index")[_columns()]


MAIN_ROWS = ("pca", "ocsvm", "iforest", "dense_ae", "conv_ae", "best_ae")


def plot_one_class_benchmark(results: pd.DataFrame, published: pd.DataFrame | None = None, *,
                             reference: str | None = "One-class Deep SVDD", per_digit=MAIN_ROWS,
                             target: float | None = None, title: str | None = None) -> Figure:
    """Per-digit AUC of the main methods (mean over seeds, bars = min..max), beside a quoted row.

    Left: AUC per normal digit for the rows named in ``per_digit`` (those
    present), with the published per-digit values of ``reference`` (dashed,
    quoted) when given. Right: the mean over digits of every measured row and
    of every quoted mean, as bars.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    summary = summarize(results)
    totals = overall(results)
    spread = check_results(results).groupby(["method", "digit"])["auc"].agg(["min", "max"]).reset_index()
    every = _method_order(summary["method"].unique())
    colours = {m: f"C{i}" for i, m in enumerate(every)}
    label = {m: LABELS.get(m, m) for m in every}
    methods = [m for m in every if m in per_digit] or every

    fig = Figure(figsize=(12.5, 5.6), layout="constrained")
    if title:
        fig.suptitle(title, fontweight="bold", color="C3")
    left, right = fig.subplots(1, 2, width_ratios=(2.2, 1))
    offsets = np.linspace(-0.3, 0.3, len(methods)) if len(methods) > 1 else [0.0]
    for offset, method in zip(offsets, methods):
        part = summary[summary["method"] == method]
        rng = spread[spread["method"] == method]
        x = part["digit"].to_numpy() + offset
        left.errorbar(x, 100 * part["mean"], yerr=[100 * (part["mean"].to_numpy() - rng["min"].to_numpy()),
                                                   100 * (rng["max"].to_numpy() - part["mean"].to_numpy())],
                      fmt="o", ms=5, capsize=2, color=colours[method], label=label[method])
    quoted = []
    if published is not None:
        means = published[published["digit"] == "mean"]
        quoted = list(zip(means["method"], means["auc_percent"]))
        if reference is not None:
            ref = published[(published["method"] == reference) & (published["digit"] != "mean")]
            if not ref.empty:
                left.plot(ref["digit"].astype(int), ref["auc_percent"], "k--", lw=1.2, marker="_", ms=14,
                          label=f"{reference} (quoted)")
    left.set(xticks=list(DIGITS), xlabel="normal digit (all other digits are the anomalies)",
             ylabel="ROC AUC (%)", title="AUC per digit: mean over seeds, bar = min..max")
    left.grid(axis="y", alpha=0.3)
    left.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3)

    names = [label[m] for m in totals["method"]] + [f"{m} (quoted)" for m, _ in quoted]
    values = [100 * v for v in totals["mean"]] + [v for _, v in quoted]
    colors = [colours[m] for m in totals["method"]] + ["0.7"] * len(quoted)
    y = np.arange(len(names))[::-1]
    right.barh(y, values, color=colors)
    for yi, v in zip(y, values):
        right.text(v + 0.2, yi, f"{v:.1f}", va="center", fontsize=8)
    low = min(values) if values else 50
    if target is not None:
        right.axvline(target, color="k", ls=":", lw=1.2, label=f"target {target:g}%")
        right.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    right.set(yticks=y, yticklabels=names, xlim=(max(0, math.floor(low / 5) * 5 - 5), 101),
              xlabel="mean AUC over the ten digits (%)", title="Mean over digits")
    right.tick_params(axis="y", labelsize=8)
    right.grid(axis="x", alpha=0.3)
    return fig
