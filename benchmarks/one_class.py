"""One-class MNIST on the protocol of Ruff et al. (2018), "Deep One-Class Classification".

For each digit ``d``: train on training-set images of ``d`` only, score the full
10,000-image test set, and report the ROC AUC with "not ``d``" as the anomaly
class; repeat over seeds and digits. This module holds everything the benchmark
script (``one_class_mnist.py``) and its book page (``one_class_benchmark.ipynb``),
both beside it, need, so that both are thin: the per-digit split, the
validation protocol (held-out normal images and synthetic anomalies made from
them), the detectors (shallow baselines on raw pixels and on Ruff et al.'s
preprocessing, the course's autoencoders and the detector chosen on
validation), the runner, the aggregation into tables, the published values and
the summary figure. The reconstruction scores themselves come from
:mod:`helpers.scoring`.

AUCs are fractions in [0, 1] in results; tables show them in percent, as the
papers do.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from helpers import (Autoencoder, ConvAutoencoder, DenseAutoencoder, calibrated_scores, fit, load_mnist,
                     mnist_splits, pca_reconstruct, per_example_errors, reconstruct, roc_auc, set_seed, smooth,
                     smoothed_relative_errors, tensor_loader)

__all__ = [
    "BENCHMARKS_DIR",
    "RESULTS_DIR",
    "PUBLISHED_CSV",
    "results_dir",
    "DIGITS",
    "VALID_SIZE",
    "FAMILIES",
    "OneClassSplit",
    "one_class_split",
    "synthetic_anomalies",
    "ocsvm_scores",
    "isolation_forest_scores",
    "gcn_minmax",
    "kde_scores",
    "knn_scores",
    "train_autoencoder",
    "Method",
    "METHODS",
    "LABELS",
    "BEST",
    "COMPONENTS",
    "TARGET_MEAN",
    "TARGET_WORST",
    "vae_available",
    "default_methods",
    "run_method",
    "RESULT_COLUMNS",
    "VALID_COLUMNS",
    "check_results",
    "summarize",
    "overall",
    "validation_summary",
    "ablation",
    "timing",
    "load_published",
    "published_table",
    "results_table",
    "plot_one_class_benchmark",
]

# Where the benchmark's files live: beside this module, whatever the working folder.
BENCHMARKS_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCHMARKS_DIR / "results"
PUBLISHED_CSV = BENCHMARKS_DIR / "published_one_class.csv"


def results_dir() -> Path:
    """Where the benchmark's committed results are: ``$ONE_CLASS_RESULTS`` if set, else ``results/`` beside this module.

    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    override = os.environ.get("ONE_CLASS_RESULTS", "").strip()
    return Path(override).expanduser().resolve() if override else RESULTS_DIR

DIGITS = tuple(range(10))
# Drawn from the 60,000 training images by seed: about 600 images of the normal
# digit are held out (never trained on); they are the normal images of the
# validation protocol and calibrate the scores of the ensemble. The rest, about
# 90% of the digit's training images, are the training set.
VALID_SIZE = 6000
# The synthetic anomaly families of the validation protocol (see synthetic_anomalies).
FAMILIES = ("rot90", "rot180", "flip", "erase", "paste", "mix")


# --------------------------------------------------------------------------- synthetic anomalies
def _ink_pixel(x: torch.Tensor, generator: torch.Generator, threshold: float = 0.5) -> tuple[int, int]:
    """A random pixel (row, col) with ink above ``threshold`` in one image ``(1, H, W)``; the centre if none."""
    rows, cols = torch.nonzero(x[0] > threshold, as_tuple=True)
    if len(rows) == 0:
        return x.shape[-2] // 2, x.shape[-1] // 2
    i = int(torch.randint(len(rows), (1,), generator=generator))
    return int(rows[i]), int(cols[i])


def synthetic_anomalies(X: torch.Tensor, seed: int = 0, *, patch: int = 9) -> dict[str, torch.Tensor]:
    """Anomalies made from normal images only: one per image and family, keyed by :data:`FAMILIES`.

    - ``rot90``: rotated by 90 degrees (every other image) or 270 degrees (the others);
    - ``rot180``: rotated by 180 degrees;
    - ``flip``: mirrored left-right (every other image) or upside down (the others);
    - ``erase``: a ``patch`` x ``patch`` square centred on a random ink pixel set to 0 (a stroke cut);
    - ``paste``: a ``patch`` x ``patch`` piece cut around an ink pixel of *another* image, added
      (pixelwise maximum) 4 to 7 pixels away from an ink pixel of this one (a stroke added);
    - ``mix``: the pixelwise maximum of the image and another one (two writings on top of each other).

    Every family keeps the digit centred, as MNIST centres its digits. ``X`` is a
    batch ``(N, 1, 28, 28)`` of at least two images in [0, 1]; the random choices
    depend on ``seed`` only.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    if not isinstance(X, torch.Tensor) or X.dim() != 4 or X.shape[1] != 1 or len(X) < 2:
        raise ValueError(f"X must be a tensor of at least two images (N, 1, H, W), got "
                         f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}")
    if X.shape[-1] < 2 * patch or X.shape[-2] < 2 * patch:
        raise ValueError(f"images of {tuple(X.shape[-2:])} pixels are too small for {patch}-pixel patches")
    g = torch.Generator().manual_seed(10_000 + int(seed))
    n, (height, width) = len(X), X.shape[-2:]
    every_other = (torch.arange(n) % 2 == 0)[:, None, None, None]
    out = {
        "rot90": torch.where(every_other, torch.rot90(X, 1, (2, 3)), torch.rot90(X, 3, (2, 3))),
        "rot180": torch.rot90(X, 2, (2, 3)),
        "flip": torch.where(every_other, torch.flip(X, (3,)), torch.flip(X, (2,))),
    }
    r = patch // 2
    erase, paste = X.clone(), X.clone()
    partner = (torch.arange(n) + 1 + torch.randint(n - 1, (n,), generator=g)) % n  # another image, never itself
    padded = F.pad(X, (r, r, r, r))
    for i in range(n):
        a, b = _ink_pixel(X[i], g)
        erase[i, 0, max(0, a - r):a + r + 1, max(0, b - r):b + r + 1] = 0
        pa, pb = _ink_pixel(X[partner[i]], g)
        piece = padded[partner[i], 0, pa:pa + patch, pb:pb + patch]  # centred on (pa, pb)
        ca, cb = _ink_pixel(X[i], g)
        offset = torch.randint(4, 8, (2,), generator=g) * (torch.randint(0, 2, (2,), generator=g) * 2 - 1)
        ca = int(min(max(ca + int(offset[0]), r), height - 1 - r))
        cb = int(min(max(cb + int(offset[1]), r), width - 1 - r))
        region = paste[i, 0, ca - r:ca + r + 1, cb - r:cb + r + 1]
        paste[i, 0, ca - r:ca + r + 1, cb - r:cb + r + 1] = torch.maximum(region, piece)
    out["erase"], out["paste"] = erase, paste
    out["mix"] = torch.maximum(X, X[partner])
    return out


# --------------------------------------------------------------------------- split
@dataclass(frozen=True)
class OneClassSplit:
    """One one-class experiment: normal digit, its training and held-out images, the full test set.

    ``X_train`` and ``X_valid`` hold only the normal digit (training-set images);
    ``X_test`` and ``y_test`` are the official 10,000 test images with their
    labels; :attr:`is_anomaly` is 1 for every test image that is not the digit.
    Every detector scores :attr:`X_eval`: the test images, then the held-out
    normal images, then the synthetic anomalies made from them (one block per
    family of :data:`FAMILIES`); :attr:`parts` names the slice of each block.
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

    @cached_property
    def anomalies(self) -> dict[str, torch.Tensor]:
        """The synthetic anomalies of the validation protocol, made from ``X_valid`` (seeded by ``seed``)."""
        return synthetic_anomalies(self.X_valid, self.seed)

    @cached_property
    def parts(self) -> dict[str, slice]:
        """Slices of :attr:`X_eval`: ``test``, ``normal`` (the held-out images), then one per family."""
        sizes = [("test", len(self.X_test)), ("normal", len(self.X_valid))]
        sizes += [(family, len(self.anomalies[family])) for family in FAMILIES]
        out, start = {}, 0
        for name, size in sizes:
            out[name] = slice(start, start + size)
            start += size
        return out

    @cached_property
    def X_eval(self) -> torch.Tensor:
        """Every image a detector scores: test images, held-out normals, synthetic anomalies (see :attr:`parts`)."""
        return torch.cat([self.X_test, self.X_valid] + [self.anomalies[family] for family in FAMILIES])


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


# --------------------------------------------------------------------------- shallow baselines
def _flat(X) -> np.ndarray:
    """Images (a tensor) or rows (an array) as float64 rows ``(N, D)`` for scikit-learn."""
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().double().flatten(1).numpy()
    X = np.asarray(X, dtype=np.float64)
    return X.reshape(len(X), -1)


def ocsvm_scores(X_train, X_test, *, nu: float = 0.1, gamma="scale") -> np.ndarray:
    """One-class SVM (Gaussian kernel): minus the decision score, so higher = more anomalous.

    ``X_train`` and ``X_test`` are images (tensors) or rows (arrays).
    ``gamma="scale"`` is scikit-learn's ``1 / (n_features * X.var())``; no
    test labels are used to pick ``nu`` or ``gamma`` (Ruff et al. tuned theirs
    on a small labelled hold-out of the test set, which favours their row).
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    from sklearn.svm import OneClassSVM

    model = OneClassSVM(kernel="rbf", nu=nu, gamma=gamma).fit(_flat(X_train))
    return -model.score_samples(_flat(X_test))


def isolation_forest_scores(X_train, X_test, *, n_estimators: int = 100, seed: int = 0) -> np.ndarray:
    """Isolation Forest: minus scikit-learn's score, so higher = more anomalous (images or rows).

    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    from sklearn.ensemble import IsolationForest

    model = IsolationForest(n_estimators=n_estimators, random_state=seed).fit(_flat(X_train))
    return -model.score_samples(_flat(X_test))


def _gcn_l1(X) -> np.ndarray:
    rows = _flat(X)
    rows = rows - rows.mean(1, keepdims=True)
    scale = np.abs(rows).mean(1, keepdims=True)
    if (scale == 0).any():
        raise ValueError("global contrast normalisation needs images that are not constant")
    return rows / scale


def gcn_minmax(X_train, X) -> np.ndarray:
    """Ruff et al.'s preprocessing: global contrast normalisation (L1), then min-max scaling.

    Each image minus its mean, divided by its mean absolute deviation; then
    scaled by the one minimum and maximum of the normal training images after
    that normalisation, so that the training images lie in [0, 1]. Returns the
    rows of ``X`` (float64, ``(N, D)``).
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    train = _gcn_l1(X_train)
    low, high = train.min(), train.max()
    return (_gcn_l1(X) - low) / (high - low)


def _sq_distances(Q: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    return ((Q * Q).sum(1)[:, None] + (T * T).sum(1)[None, :] - 2 * Q @ T.T).clamp_min(0)


KDE_BANDWIDTHS = tuple(2 ** (k / 2) for k in range(-14, 5))  # 2^-7 .. 2^2 in steps of sqrt(2)


def _kde_log_density(T: torch.Tensor, Q: torch.Tensor, h: float, batch: int = 2000) -> torch.Tensor:
    n, dim = T.shape
    out = []
    for i in range(0, len(Q), batch):
        d2 = _sq_distances(Q[i:i + batch], T)
        out.append(torch.logsumexp(-d2 / (2 * h * h), dim=1) - math.log(n) - 0.5 * dim * math.log(2 * math.pi * h * h))
    return torch.cat(out)


def kde_scores(X_train, X_test, *, bandwidths=KDE_BANDWIDTHS, folds: int = 5, seed: int = 0) -> tuple[np.ndarray, float]:
    """Gaussian kernel density estimate: minus the log density, and the bandwidth it used.

    The bandwidth maximises the ``folds``-fold held-out log-likelihood of the
    training rows (no label, no test image), as Ruff et al. chose theirs.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    # float32 distances: the density is dominated by the nearest rows, far above float32's rounding.
    T = torch.from_numpy(_flat(X_train)).float()
    if len(T) < folds:
        raise ValueError(f"kde_scores needs at least {folds} training rows, got {len(T)}")
    parts = np.array_split(np.random.default_rng(seed).permutation(len(T)), folds)
    likelihood = np.zeros(len(bandwidths))
    for f in range(folds):
        rest = torch.from_numpy(np.concatenate([parts[g] for g in range(folds) if g != f]))
        d2 = _sq_distances(T[torch.from_numpy(parts[f])], T[rest])
        for j, h in enumerate(bandwidths):
            likelihood[j] += float((torch.logsumexp(-d2 / (2 * h * h), dim=1)
                                    - 0.5 * T.shape[1] * math.log(2 * math.pi * h * h)).sum())
    h = float(bandwidths[int(np.argmax(likelihood))])
    return -_kde_log_density(T, torch.from_numpy(_flat(X_test)).float(), h).double().numpy(), h


def knn_scores(X_train, X, *, k: int = 1, sigma: float = 0.0, batch: int = 2000) -> np.ndarray:
    """Mean squared distance from each image of ``X`` to its ``k`` nearest training images.

    Both sets are first blurred by a Gaussian of ``sigma`` pixels
    (:func:`helpers.smooth`), so that a stroke drawn a pixel off counts little.
    Distances are floored at 1e-12 so that their logarithm (calibration) exists.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    if k < 1 or k > len(X_train):
        raise ValueError(f"k must lie in 1..{len(X_train)}, got {k}")
    T = smooth(X_train.float(), sigma).flatten(1)
    out = []
    for i in range(0, len(X), batch):
        Q = smooth(X[i:i + batch].float(), sigma).flatten(1)
        out.append(_sq_distances(Q, T).topk(k, dim=1, largest=False).values.mean(1))
    return torch.cat(out).double().numpy().clip(min=1e-12)


# --------------------------------------------------------------------------- autoencoders and the chosen detector
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


def _trained(model_class, split, seed, *, num_epochs, lr, latent_dim, device=None):
    set_seed(seed)
    model = model_class(latent_dim=latent_dim).to(_device(device))
    train_autoencoder(model, split, num_epochs=num_epochs, lr=lr)
    return reconstruct(model, split.X_eval)


def _dense_ae(split, seed, *, sigma, **config):
    X_hat = _trained(DenseAutoencoder, split, seed, **config)
    return {"dense_ae": per_example_errors(split.X_eval, X_hat),
            "dense_ae_best": smoothed_relative_errors(split.X_eval, X_hat, sigma=sigma, relative=True)}


def _pca(split, seed, *, n_components, sigma):
    X_hat = pca_reconstruct(split.X_train, split.X_eval, n_components, seed=seed)
    return {"pca": per_example_errors(split.X_eval, X_hat),
            "pca_best": smoothed_relative_errors(split.X_eval, X_hat, sigma=sigma, relative=True)}


# The three scores of the chosen detector, by result row.
COMPONENTS = ("conv_ae_s15", "pca32_s5", "knn_s4")


def _detector(split, seed, *, num_epochs, lr, latent_dim, conv_sigma, pca_components, pca_sigma, knn_sigma):
    """The validation-chosen detector: three scores, each calibrated on the held-out normals, summed."""
    X, normal = split.X_eval, split.parts["normal"]
    clock = time.perf_counter()
    X_hat = _trained(ConvAutoencoder, split, seed, num_epochs=num_epochs, lr=lr, latent_dim=latent_dim)
    scores = {"conv_ae": per_example_errors(X, X_hat),
              "conv_ae_s1_rel": smoothed_relative_errors(X, X_hat, sigma=1.0, relative=True),
              "conv_ae_s15": smoothed_relative_errors(X, X_hat, sigma=conv_sigma, relative=False)}
    seconds = dict.fromkeys(scores, time.perf_counter() - clock)
    clock = time.perf_counter()
    X_hat = pca_reconstruct(split.X_train, X, pca_components, seed=seed)
    scores["pca32_s5"] = smoothed_relative_errors(X, X_hat, sigma=pca_sigma, relative=True)
    seconds["pca32_s5"] = time.perf_counter() - clock
    clock = time.perf_counter()
    scores["knn_s4"] = knn_scores(split.X_train, X, k=1, sigma=knn_sigma)
    seconds["knn_s4"] = time.perf_counter() - clock
    z = {c: calibrated_scores(scores[c], scores[c][normal]) for c in COMPONENTS}
    scores["detector"] = sum(z.values())
    for left_out in COMPONENTS:
        scores[f"detector_without_{left_out}"] = sum(z[c] for c in COMPONENTS if c != left_out)
    total = sum(seconds[c] for c in COMPONENTS)
    seconds.update({name: total for name in scores if name.startswith("detector")})
    return scores, seconds


def _ocsvm(split, seed, *, nu, gamma):
    return {"ocsvm": ocsvm_scores(split.X_train, split.X_eval, nu=nu, gamma=gamma)}


def _iforest(split, seed, *, n_estimators):
    return {"iforest": isolation_forest_scores(split.X_train, split.X_eval, n_estimators=n_estimators, seed=seed)}


def _ocsvm_gcn(split, seed, *, nu, gamma):
    rows = gcn_minmax(split.X_train, torch.cat([split.X_train, split.X_eval]))
    return {"ocsvm_gcn": ocsvm_scores(rows[:len(split.X_train)], rows[len(split.X_train):], nu=nu, gamma=gamma)}


def _iforest_gcn(split, seed, *, n_estimators):
    rows = gcn_minmax(split.X_train, torch.cat([split.X_train, split.X_eval]))
    return {"iforest_gcn": isolation_forest_scores(rows[:len(split.X_train)], rows[len(split.X_train):],
                                                   n_estimators=n_estimators, seed=seed)}


def _kde_gcn(split, seed, *, folds):
    rows = gcn_minmax(split.X_train, torch.cat([split.X_train, split.X_eval]))
    scores, _ = kde_scores(rows[:len(split.X_train)], rows[len(split.X_train):], folds=folds, seed=seed)
    return {"kde_gcn": scores}


VAE_MODULE = BENCHMARKS_DIR / "one_class_vae.py"


def vae_available() -> bool:
    """Whether the VAE detector (``benchmarks/one_class_vae.py``, beside this module) is there to run.

    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    return VAE_MODULE.is_file()


def _vae(split, seed):
    from one_class_vae import vae_detector  # beside this module

    return {"vae": np.asarray(vae_detector(split.X_train, split.X_eval, seed=seed, device="cpu"), dtype=np.float64)}


@dataclass(frozen=True)
class Method:
    """A detector of the benchmark: what it trains, the scores it reports, its settings.

    ``run(split, seed, **settings)`` trains once and returns a dict of scores
    of ``split.X_eval`` (higher = more anomalous), one per name in
    ``outputs`` (a model can be scored several ways: those rows share it), or
    a pair ``(scores, seconds)`` with the seconds each output took.
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


DETECTOR_SETTINGS = {"num_epochs": 20, "lr": 5e-3, "latent_dim": 20, "conv_sigma": 1.5,
                     "pca_components": 32, "pca_sigma": 5.0, "knn_sigma": 4.0}

METHODS = {
    m.name: m
    for m in (
        Method("detector", "autoencoder",
               ("detector", *(f"detector_without_{c}" for c in COMPONENTS), *COMPONENTS, "conv_ae", "conv_ae_s1_rel"),
               _detector, DETECTOR_SETTINGS, {"num_epochs": 2}),
        Method("dense_ae", "autoencoder", ("dense_ae", "dense_ae_best"), _dense_ae,
               {"num_epochs": 20, "lr": 3e-3, "latent_dim": 32, "sigma": 1.0}, {"num_epochs": 2}),
        Method("vae", "autoencoder", ("vae",), _vae),
        Method("pca", "shallow", ("pca", "pca_best"), _pca, {"n_components": 16, "sigma": 1.0}),
        Method("ocsvm", "shallow", ("ocsvm",), _ocsvm, {"nu": 0.1, "gamma": "scale"}),
        Method("iforest", "shallow", ("iforest",), _iforest, {"n_estimators": 100}),
        Method("ocsvm_gcn", "shallow", ("ocsvm_gcn",), _ocsvm_gcn, {"nu": 0.1, "gamma": "scale"}),
        Method("iforest_gcn", "shallow", ("iforest_gcn",), _iforest_gcn, {"n_estimators": 100}),
        Method("kde_gcn", "shallow", ("kde_gcn",), _kde_gcn, {"folds": 5}),
    )
}

# Row names of the results, in table order, with their labels.
LABELS = {
    "detector": "Chosen detector: conv AE + PCA + 1-NN, calibrated sum",
    "detector_without_conv_ae_s15": "  without the conv AE (PCA + 1-NN)",
    "detector_without_pca32_s5": "  without PCA (conv AE + 1-NN)",
    "detector_without_knn_s4": "  without 1-NN (conv AE + PCA)",
    "conv_ae_s15": "  conv AE alone: smoothed error (blur 1.5)",
    "pca32_s5": "  PCA-32 alone: smoothed relative error (blur 5)",
    "knn_s4": "  1-NN alone: distance of blurred images (blur 4)",
    "conv_ae_s1_rel": "Conv AE: smoothed relative error (blur 1, earlier page)",
    "conv_ae": "Conv AE: per-pixel MSE",
    "dense_ae_best": "Dense AE: smoothed relative error (blur 1)",
    "dense_ae": "Dense AE: per-pixel MSE",
    "vae": "VAE",
    "pca_best": "PCA-16: smoothed relative error (blur 1)",
    "pca": "PCA-16: per-pixel MSE",
    "ocsvm": "OC-SVM, raw pixels",
    "iforest": "Isolation Forest, raw pixels",
    "ocsvm_gcn": "OC-SVM, GCN + min-max",
    "iforest_gcn": "Isolation Forest, GCN + min-max",
    "kde_gcn": "KDE, GCN + min-max",
}
BEST = "detector"
# What the detector was asked to reach: a mean AUC (%) over digits and seeds, and no digit below the second.
TARGET_MEAN = 99.0
TARGET_WORST = 97.5
# Slowest models first, so that parallel workers finish together.
_COST = ("detector", "vae", "kde_gcn", "dense_ae", "ocsvm_gcn", "ocsvm", "pca", "iforest_gcn", "iforest")


def default_methods() -> list[str]:
    """The models a full run trains: every one of :data:`METHODS`, the VAE only when its module is there.

    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    return [m for m in METHODS if m != "vae" or vae_available()]


def run_method(method: Method | str, split: OneClassSplit, *, quick: bool = False, **overrides) -> list[dict]:
    """Train one detector on one split, score the test set and the validation set: one row per output.

    Each row holds ``digit, method, seed, auc, fit_seconds`` and the
    validation columns: ``valid_auc`` (the mean over the families) and one
    ``valid_<family>`` per family of :data:`FAMILIES`, each the ROC AUC of the
    held-out normals against that family's synthetic anomalies. ``method`` is
    the output's name, ``auc`` the test AUC, and ``fit_seconds`` the wall time
    of training the model(s) behind the output and scoring every image.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    method = METHODS[method] if isinstance(method, str) else method
    settings = {**method.settings(quick), **overrides}
    start = time.perf_counter()
    out = method.run(split, split.seed, **settings)
    elapsed = time.perf_counter() - start
    scores, seconds = out if isinstance(out, tuple) else (out, {})
    if set(scores) != set(method.outputs):
        raise RuntimeError(f"{method.name} returned scores {sorted(scores)}, expected {sorted(method.outputs)}")
    parts, is_anomaly = split.parts, split.is_anomaly
    n_valid = len(split.X_valid)
    rows = []
    for name in method.outputs:
        s = np.asarray(scores[name], dtype=np.float64)
        if s.shape != (len(split.X_eval),):
            raise RuntimeError(f"{name}: expected {len(split.X_eval)} scores (split.X_eval), got shape {s.shape}")
        row = {"digit": split.digit, "method": name, "seed": split.seed,
               "auc": roc_auc(s[parts["test"]], is_anomaly), "fit_seconds": seconds.get(name, elapsed)}
        for family in FAMILIES:
            labels = np.r_[np.zeros(n_valid, dtype=int), np.ones(len(split.anomalies[family]), dtype=int)]
            row[f"valid_{family}"] = roc_auc(np.r_[s[parts["normal"]], s[parts[family]]], labels)
        row["valid_auc"] = float(np.mean([row[f"valid_{family}"] for family in FAMILIES]))
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- aggregation
RESULT_COLUMNS = ("digit", "method", "seed", "auc", "fit_seconds")
VALID_COLUMNS = ("valid_auc",) + tuple(f"valid_{family}" for family in FAMILIES)


def check_results(results: pd.DataFrame) -> pd.DataFrame:
    """Validate a results table (one row per digit, method and seed) and return it sorted.

    The validation columns (:data:`VALID_COLUMNS`) are optional; when present,
    they are fractions too.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results lack the columns {missing}; expected {list(RESULT_COLUMNS)}")
    if results.empty:
        raise ValueError("results are empty")
    if not results["digit"].isin(DIGITS).all():
        raise ValueError("digit must lie in 0..9")
    if results["auc"].isna().any():
        raise ValueError("auc must not be missing")
    for column in ("auc",) + tuple(c for c in VALID_COLUMNS if c in results.columns):
        if not results[column].dropna().between(0.0, 1.0).all():
            raise ValueError(f"{column} must lie in [0, 1] (a fraction, not a percentage)")
    if results.duplicated(["digit", "method", "seed"]).any():
        raise ValueError("results hold more than one row for some (digit, method, seed)")
    return results.sort_values(["method", "digit", "seed"]).reset_index(drop=True)


def _method_order(names) -> list[str]:
    known = [m for m in LABELS if m in set(names)]
    return known + sorted(set(names) - set(known))


def summarize(results: pd.DataFrame, column: str = "auc") -> pd.DataFrame:
    """Per method and digit: ``mean`` and ``std`` of ``column`` over seeds, and ``n`` seeds.

    The standard deviation is the sample one (``ddof=1``); NaN for a single seed.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    results = check_results(results)
    summary = (results.groupby(["method", "digit"])[column].agg(["mean", "std", "count"])
               .rename(columns={"count": "n"}).reset_index())
    order = {m: i for i, m in enumerate(_method_order(summary["method"]))}
    return summary.sort_values(["method", "digit"], key=lambda s: s.map(order) if s.name == "method" else s,
                               ).reset_index(drop=True)


def overall(results: pd.DataFrame, column: str = "auc") -> pd.DataFrame:
    """Per method: the mean of ``column`` over digits, its spread over seeds, and the time spent.

    Columns: ``mean`` (mean over digits of each digit's mean over seeds),
    ``std`` (sample std over seeds of the seed's mean over digits; only seeds
    that ran every digit count), ``n_seeds``, ``digits``, ``worst_digit`` and
    ``worst_auc`` (the digit with the lowest mean over seeds), ``worst_run``
    (the lowest single run), ``fit_seconds`` (total) and ``runs``.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    results = check_results(results)
    rows = []
    for method in _method_order(results["method"].unique()):
        part = results[results["method"] == method]
        per_digit = part.groupby("digit")[column].mean()
        n_digits = part["digit"].nunique()
        per_seed = part.groupby("seed").filter(lambda g: g["digit"].nunique() == n_digits)
        seed_means = per_seed.groupby("seed")[column].mean()
        rows.append({
            "method": method, "mean": per_digit.mean(),
            "std": seed_means.std(ddof=1) if len(seed_means) > 1 else math.nan,
            "n_seeds": part["seed"].nunique(), "digits": n_digits,
            "worst_digit": int(per_digit.idxmin()), "worst_auc": per_digit.min(), "worst_run": part[column].min(),
            "fit_seconds": part["fit_seconds"].sum(), "runs": len(part),
        })
    return pd.DataFrame(rows)


def validation_summary(results: pd.DataFrame, methods=None) -> pd.DataFrame:
    """Validation AUC per method, in percent: one column per family, their mean ``V`` and the worst digit's V.

    Each figure is a mean over digits of the mean over seeds; ``worst digit``
    is the digit whose V (mean over seeds) is lowest. Methods without
    validation columns are left out.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    results = check_results(results)
    if "valid_auc" not in results.columns:
        raise ValueError("these results have no validation columns")
    results = results.dropna(subset=["valid_auc"])
    names = _method_order(results["method"].unique()) if methods is None else [m for m in methods
                                                                               if m in set(results["method"])]
    rows = {}
    for method in names:
        per_digit = results[results["method"] == method].groupby("digit")[list(VALID_COLUMNS)].mean()
        row = {family: 100 * per_digit[f"valid_{family}"].mean() for family in FAMILIES}
        row["V"] = 100 * per_digit["valid_auc"].mean()
        row["worst digit"] = int(per_digit["valid_auc"].idxmin())
        row["worst V"] = 100 * per_digit["valid_auc"].min()
        rows[method] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def ablation(results: pd.DataFrame) -> pd.DataFrame:
    """What each part of the chosen detector adds, on validation and on test, in percent.

    One row per variant (the detector, the detector without each component,
    each component alone): validation ``V`` and its worst digit, test mean AUC
    and its worst digit (means over seeds), and ``test - detector`` (points).
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    names = [BEST] + [f"detector_without_{c}" for c in COMPONENTS] + list(COMPONENTS)
    valid = validation_summary(results, names)
    test = overall(results).set_index("method")
    table = pd.DataFrame({
        "validation V": valid["V"], "validation worst digit": valid["worst V"],
        "test mean": 100 * test.loc[valid.index, "mean"], "test worst digit": 100 * test.loc[valid.index, "worst_auc"],
    })
    table["test vs detector (points)"] = table["test mean"] - table.at[BEST, "test mean"]
    table.index = [LABELS[m].strip() for m in table.index]
    return table


def timing(results: pd.DataFrame, methods=None) -> pd.DataFrame:
    """Wall time of one run (training and scoring every image) per result row: mean, max and total seconds.

    Rows computed from one trained model share its time; the detector's rows
    count the three components it sums (its ablation rows too).
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    results = check_results(results)
    names = _method_order(results["method"].unique()) if methods is None else methods
    rows = []
    for name in names:
        part = results[results["method"] == name]
        if not part.empty:
            rows.append({"row": name, "runs": len(part), "mean_seconds": part["fit_seconds"].mean(),
                         "max_seconds": part["fit_seconds"].max(), "total_seconds": part["fit_seconds"].sum()})
    return pd.DataFrame(rows)


PUBLISHED_COLUMNS = ("method", "digit", "auc_percent", "source", "verified", "note")


def load_published(path=PUBLISHED_CSV) -> pd.DataFrame:
    """Published one-class MNIST AUCs (in percent) with their sources, from a CSV file.

    One row per (method, digit); ``digit`` is ``0``..``9`` or ``mean``. Every
    row names its ``source`` (paper and table); ``verified`` is ``yes`` when
    the value was read in that source, ``no`` when the source could not be read.
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
    if (table["source"].str.strip() == "").any():
        raise ValueError(f"{path}: every row needs a source (paper and table)")
    if not table["verified"].isin(["yes", "no"]).all():
        raise ValueError(f"{path}: verified must be 'yes' or 'no'")
    return table


def _columns() -> list[str]:
    return [str(d) for d in DIGITS] + ["mean"]


def published_table(published: pd.DataFrame) -> pd.DataFrame:
    """Published values as one row per method, columns ``0``..``9`` and ``mean``, strings in percent.

    A method published only as a mean shows blanks per digit; a method whose
    source could not be read is named "(source not read)".
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    unread = set(published.loc[published["verified"] == "no", "method"])
    wide = published.pivot_table(index="method", columns="digit", values="auc_percent", aggfunc="first", sort=False)
    wide = wide.reindex(columns=_columns())
    wide.index = [f"{m} (source not read)" if m in unread else m for m in wide.index]
    return wide.apply(lambda col: col.map(lambda v: "" if pd.isna(v) else f"{v:.1f}"))


def results_table(results: pd.DataFrame, *, labels: bool = True, methods=None) -> pd.DataFrame:
    """Measured test AUCs as "mean ± std" in percent: one row per method, columns ``0``..``9`` and ``mean``.

    The ``mean`` column is the mean over digits, ± its spread over seeds
    (see :func:`overall`). With ``labels`` the rows are named by the methods'
    labels rather than their keys; ``methods`` picks and orders the rows.
    Used by the benchmark page (``benchmarks/one_class_benchmark``).
    """
    summary, totals = summarize(results), overall(results).set_index("method")

    def cell(mean, std):
        return f"{100 * mean:.1f}" if pd.isna(std) else f"{100 * mean:.1f} ± {100 * std:.1f}"

    names = _method_order(summary["method"].unique())
    if methods is not None:
        names = [m for m in methods if m in set(names)]
    table = {}
    for method in names:
        part = summary[summary["method"] == method].set_index("digit")
        row = {str(d): cell(part.at[d, "mean"], part.at[d, "std"]) if d in part.index else "" for d in DIGITS}
        row["mean"] = cell(totals.at[method, "mean"], totals.at[method, "std"])
        table[LABELS.get(method, method) if labels else method] = row
    return pd.DataFrame.from_dict(table, orient="index")[_columns()]


MAIN_ROWS = ("detector", "conv_ae", "dense_ae_best", "vae", "pca_best", "kde_gcn", "ocsvm_gcn")


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
    colours = {m: f"C{i % 10}" for i, m in enumerate(every)}
    label = {m: LABELS.get(m, m).strip() for m in every}
    methods = [m for m in per_digit if m in every] or every
    colours.update({m: f"C{i % 10}" for i, m in enumerate(methods)})

    fig = Figure(figsize=(14, 7), layout="constrained")
    if title:
        fig.suptitle(title, fontweight="bold", color="C3")
    left, right = fig.subplots(1, 2, width_ratios=(1.9, 1))
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
        quoted = [(m + ("" if v == "yes" else ", source not read"), a)
                  for m, a, v in zip(means["method"], means["auc_percent"], means["verified"])]
        if reference is not None:
            ref = published[(published["method"] == reference) & (published["digit"] != "mean")]
            if not ref.empty:
                unread = "" if (ref["verified"] == "yes").all() else ", source not read"
                left.plot(ref["digit"].astype(int), ref["auc_percent"], "k--", lw=1.2, marker="_", ms=14,
                          label=f"{reference} (quoted{unread})")
    left.set(xticks=list(DIGITS), xlabel="normal digit (all other digits are the anomalies)",
             ylabel="test ROC AUC (%)", title="Test AUC per digit: mean over seeds, bar = min..max")
    left.grid(axis="y", alpha=0.3)
    left.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(0.0, -0.12), ncol=2)

    names = [label[m] for m in totals["method"]] + [f"{m} (quoted)" for m, _ in quoted]
    values = [100 * v for v in totals["mean"]] + [v for _, v in quoted]
    colors = [colours[m] if m in methods else "C7" for m in totals["method"]] + ["0.8"] * len(quoted)
    y = np.arange(len(names))[::-1]
    right.barh(y, values, color=colors)
    for yi, v in zip(y, values):
        right.text(v + 0.2, yi, f"{v:.1f}", va="center", fontsize=7)
    low = min(values) if values else 50
    if target is not None:
        right.axvline(target, color="k", ls=":", lw=1.2, label=f"target mean {target:g}%")
        right.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    right.set(yticks=y, yticklabels=names, xlim=(max(0, math.floor(low / 5) * 5 - 5), 102),
              xlabel="mean test AUC (%)", title="Mean over the ten digits")
    right.tick_params(axis="y", labelsize=7)
    right.grid(axis="x", alpha=0.3)
    return fig
