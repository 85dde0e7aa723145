"""Checks for the exercises: run a student's answer, say what works and what does not.

Each ``check_*`` function prints one line per thing that works (``✓ ...``) and
stops at the first thing that does not with :class:`ExerciseCheckError`, whose
message says what was expected, what came back, and what usually causes it. A
check cell (tagged ``check``, right after an exercise's solution cell) calls one
of them; see CONTRIBUTING.md, "Exercises".

The checks return nothing, so that a check cell shows only its verdict. They
are small and fast (a few milliseconds to a second on a CPU): they use toy
inputs unless given the notebook's own data, and never train a real model.

In a student copy (``scripts/make_student_copies.py``) a solution is a stub: a
function whose body raises ``NotImplementedError``, or a cell that binds the
names it should define to ``NotImplemented`` and raises. The checks let that
``NotImplementedError`` through, so an unsolved exercise reads as "not written
yet", never as a wrong answer.
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from ._utils import MNIST_SHAPE, as_features
from ._utils import shape_text as _shape
from .scoring import reconstruction_errors
from .tabular import _squared_differences

__all__ = [
    "ExerciseCheckError",
    "check_forward",
    "check_training_step",
    "check_anomaly_scores",
    "check_latent_codes",
    "check_edge_share",
    "check_cluster_centres",
    "check_latent_distance",
    "check_threshold",
    "check_pca_components",
    "check_upside_down",
    "check_roc_auc",
    "check_precision_at_prevalence",
    "check_knn_accuracy",
    "check_top_mistakes",
    "check_latent_path",
    "check_extrapolation",
    "check_average_digits",
    "check_add_noise",
    "check_psnr",
    "check_denoising_step",
    "check_item_errors",
    "check_alternative_errors",
    "check_pixel_errors",
    "check_precision_at_n",
    "check_average_precision",
    "check_contamination_threshold",
    "check_cost_threshold",
    "check_sample_codes",
    "check_kl_monte_carlo",
    "check_kl_per_dimension",
]

class ExerciseCheckError(AssertionError):
    """An exercise's answer does not do what the exercise asks; the message says why.

    It is an ``AssertionError``, so a check cell fails the way an ``assert`` does.
    """


def _ok(message: str) -> None:
    print(f"✓ {message}")


def _fail(message: str, hint: str | None = None) -> None:
    raise ExerciseCheckError(message + (f"\nHint: {hint}" if hint else ""))


def _require(value, what: str) -> None:
    """A stubbed exercise leaves its names bound to ``NotImplemented``: stop the check there."""
    if value is NotImplemented:
        raise NotImplementedError(f"{what} is not written yet: do the exercise above first "
                                  f"(its cell still raises NotImplementedError).")


def _call_student(call: str, fn, *args):
    """Run the student's ``fn(*args)``; an error it raises comes back as a check failure naming ``call``.

    ``NotImplementedError`` (a stub not written yet) passes through unchanged.
    """
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as error:  # keep the cause, say where it happened
        raise ExerciseCheckError(f"{call} raised {type(error).__name__}: {error}") from error


def _keeps_random_state(check):
    """Run ``check`` on a copy of torch's random state: a check that seeds torch for its toy model
    must not change the random numbers of the student's later cells."""
    @functools.wraps(check)
    def wrapper(*args, **kwargs):
        with torch.random.fork_rng(devices=[]):
            return check(*args, **kwargs)
    return wrapper


def _toy_images(n: int = 16, shape=MNIST_SHAPE, seed: int = 0) -> torch.Tensor:
    """``n`` simple images in [0, 1]: a bright bar or block on a dark background.

    Deterministic for a given ``seed``; what the checks feed a model when no data is given.
    """
    g = torch.Generator().manual_seed(seed)
    X = torch.zeros(n, *shape)
    h, w = shape[-2], shape[-1]
    for i in range(n):
        top = int(torch.randint(0, h // 2, (1,), generator=g))
        left = int(torch.randint(0, w // 2, (1,), generator=g))
        if i % 2:
            X[i, ..., top:top + h // 2, left:left + max(w // 7, 1)] = 1.0   # a vertical bar
        else:
            X[i, ..., top:top + h // 3, left:left + w // 3] = 0.8           # a block
    return X


def _as_float_array(values, what: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        if values.requires_grad:
            _fail(f"{what} still carries gradients (requires_grad=True).",
                  "compute it under `with torch.no_grad():`, or call .detach() on the result.")
        values = values.cpu().numpy()
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        _fail(f"{what} should be numbers (a tensor, an array or a list), got {type(values).__name__}.")
    return array


# ----------------------------------------------------------------------------- forward
def check_forward(model_or_fn, X: torch.Tensor | None = None, input_shape=MNIST_SHAPE) -> None:
    """Check that an autoencoder maps a batch to reconstructions of the same shape, in [0, 1].

    ``model_or_fn`` is an ``nn.Module`` or any function ``X -> X_hat``. It is
    called, without gradients, on ``X`` (by default 8 toy images of shape
    ``input_shape``, ``(1, 28, 28)`` for MNIST); a module is put in eval mode for
    the call and restored afterwards. Passes when the output is one tensor of
    shape ``(N, *input_shape)`` with finite values in [0, 1].
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    _require(model_or_fn, "the model")
    X = _toy_images(8, input_shape) if X is None else X
    expected = (len(X), *input_shape)
    was_training = isinstance(model_or_fn, nn.Module) and model_or_fn.training
    try:
        if isinstance(model_or_fn, nn.Module):
            model_or_fn.eval()
            params = list(model_or_fn.parameters())
            if params:
                X = X.to(params[0].device)
        elif not callable(model_or_fn):
            _fail(f"check_forward expects a model or a function, got {type(model_or_fn).__name__}.")
        with torch.no_grad():
            out = _call_student(f"calling it on a batch of shape {_shape(X.shape)}", model_or_fn, X)
    finally:
        if was_training:
            model_or_fn.train()
    if isinstance(out, (tuple, list)):
        _fail(f"the forward pass returned a {type(out).__name__} of {len(out)} items; "
              f"it should return only the reconstruction.",
              "return the decoder's output; get latent codes with a separate encode() call.")
    if not isinstance(out, torch.Tensor):
        _fail(f"the forward pass should return a torch.Tensor, got {type(out).__name__}.")
    if tuple(out.shape) != expected:
        hint = None
        if out.dim() == 2 and out.shape[1] == math.prod(input_shape):
            hint = f"reshape the flat output with nn.Unflatten(1, {_shape(input_shape)}) or .view(-1, *{input_shape})."
        elif out.shape[0] != len(X):
            hint = "the first dimension is the batch: it must not change."
        _fail(f"the output has shape {_shape(out.shape)}, expected {_shape(expected)} "
              f"(the shape of the input batch).", hint)
    _ok(f"output shape {_shape(out.shape)}")
    if not torch.is_floating_point(out):
        _fail(f"the output has dtype {out.dtype}, expected a floating-point tensor.")
    if not torch.isfinite(out).all():
        _fail("the output contains NaN or infinite values.")
    low, high = float(out.min()), float(out.max())
    if low < 0.0 or high > 1.0:
        _fail(f"the output values lie in [{low:.3g}, {high:.3g}], expected [0, 1] like the pixels.",
              "end the decoder with nn.Sigmoid().")
    _ok(f"values in [0, 1] (min {low:.3f}, max {high:.3f})")


# ----------------------------------------------------------------------------- training step
def _tiny_model(input_shape) -> nn.Module:
    d = math.prod(input_shape)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, 4),
        nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, d), nn.Sigmoid(), nn.Unflatten(1, tuple(input_shape)),
    )


@_keeps_random_state
def check_training_step(step_fn: Callable, model: nn.Module | None = None, X: torch.Tensor | None = None,
                        optimizer: torch.optim.Optimizer | None = None, steps: int = 30,
                        input_shape=MNIST_SHAPE, seed: int = 0) -> None:
    """Check a one-training-step function: ``step_fn(model, X, optimizer) -> loss``.

    The function should compute the reconstruction loss of ``model`` on the batch
    ``X`` (the targets are the inputs), back-propagate, take one optimiser step,
    and return the loss (a float, or a one-element tensor). The check calls it
    ``steps`` times on a tiny autoencoder and a fixed batch of toy images (or on
    the ``model``, ``X`` and ``optimizer`` given), and passes when every loss is a
    finite number, the parameters change, and the loss falls by at least a
    third. Stale gradients are poisoned with NaN before the first call, so a
    missing ``optimizer.zero_grad()`` shows.
    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    _require(step_fn, "the training step")
    torch.manual_seed(seed)
    model = _tiny_model(input_shape) if model is None else model
    X = _toy_images(16, input_shape, seed=seed) if X is None else X
    device = next(model.parameters()).device
    X = X.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2) if optimizer is None else optimizer
    model.train()
    for p in model.parameters():  # gradients left over from "an earlier batch"
        p.grad = torch.full_like(p, float("nan"))
    before = [p.detach().clone() for p in model.parameters()]
    losses = []
    for step in range(1, steps + 1):
        loss = _call_student(f"step {step}: step_fn(model, X, optimizer)", step_fn, model, X, optimizer)
        if isinstance(loss, torch.Tensor):
            if loss.numel() != 1:
                _fail(f"step {step}: the function returned a tensor of shape {_shape(loss.shape)}, "
                      f"expected the loss, a single number.",
                      "reduce the loss to one number (the mean over the batch) before backward().")
            loss = loss.item()
        if not isinstance(loss, (int, float)):
            _fail(f"step {step}: the function returned {type(loss).__name__}, expected the loss as a number.",
                  "end with `return loss.item()`.")
        if not math.isfinite(loss):
            _fail(f"step {step}: the loss is {loss}.",
                  "call optimizer.zero_grad() before loss.backward(): gradients from earlier batches "
                  "are added to the new ones otherwise (this check fills them with NaN to show it).")
        losses.append(float(loss))
        if step == 1:
            _ok(f"returns the loss as a number ({losses[0]:.4f})")
    if all(torch.equal(b, p.detach()) for b, p in zip(before, model.parameters())):
        _fail("the parameters did not change.", "call optimizer.step() after loss.backward().")
    _ok("the parameters change")
    if not losses[-1] < losses[0] * 2 / 3:
        _fail(f"the loss did not fall: {losses[0]:.4f} at step 1, {losses[-1]:.4f} at step {steps}.",
              "compare the model's output with its input (the target is X itself), call loss.backward() "
              "then optimizer.step(), and return the loss of this batch.")
    _ok(f"the loss falls over {steps} steps: {losses[0]:.4f} -> {losses[-1]:.4f}")


# ----------------------------------------------------------------------------- anomaly scores
class _SubspaceAutoencoder(nn.Module):
    """A linear autoencoder: projection onto the span of some images (exact for them)."""

    def __init__(self, X: torch.Tensor, k: int):
        super().__init__()
        flat = X.flatten(1)
        self.register_buffer("mean", flat.mean(0))
        basis = torch.linalg.svd(flat - self.mean, full_matrices=False).Vh[:k]
        self.register_buffer("basis", basis)
        self.scale = nn.Parameter(torch.ones(()), requires_grad=False)  # so that .parameters() gives a device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1) - self.mean
        return ((flat @ self.basis.T) @ self.basis + self.mean).clamp(0, 1).view_as(x)


def check_anomaly_scores(score_fn: Callable, model: nn.Module | None = None,
                         X: torch.Tensor | None = None, n_corrupted: int = 4) -> None:
    """Check an anomaly-score function: ``score_fn(model, X) -> one score per example``.

    The scores should be reconstruction errors: finite, non-negative, one per row
    of ``X``, the same when computed twice, and higher for an obviously
    corrupted image than for the image it was made from. By default the check
    uses a linear autoencoder that reconstructs its toy images exactly; pass the
    notebook's trained ``model`` and a batch ``X`` of normal images to check the
    function with them. The corrupted images are the first ``n_corrupted`` of
    ``X`` with their pixels inverted (``1 - x``).
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    _require(score_fn, "the score function")
    X = _toy_images(16) if X is None else X
    if model is None:
        model = _SubspaceAutoencoder(X, k=max(len(X) - 1, 1)).eval()
    X_before = X.clone()

    def scores_of(batch, what):
        values = _call_student(f"score_fn(model, X) on {what} of shape {_shape(batch.shape)}",
                               score_fn, model, batch)
        array = _as_float_array(values, "the scores")
        if array.shape != (len(batch),):
            hint = None
            if array.ndim == 0:
                hint = "reduce over the pixels of each example only (dim=(1, 2, 3) or .flatten(1).mean(1)), not over the batch."
            elif array.ndim > 1:
                hint = "average the squared error over every dimension except the first (the batch)."
            _fail(f"expected one score per example, shape ({len(batch)},), got shape {_shape(array.shape)}.", hint)
        return array

    scores = scores_of(X, "a batch")
    _ok(f"one score per example ({len(scores)})")
    if not np.isfinite(scores).all():
        _fail("some scores are NaN or infinite.")
    if (scores < 0).any():
        _fail(f"some scores are negative (min {scores.min():.4g}); a reconstruction error is >= 0.",
              "square (or take the absolute value of) the difference before averaging.")
    _ok("finite and non-negative")
    if not torch.equal(X, X_before):
        _fail("the function changed its input X in place.", "work on a copy, or avoid in-place operations such as X -= ...")
    again = scores_of(X, "the same batch again")
    if not np.allclose(scores, again, rtol=1e-5, atol=1e-8):
        _fail("scoring the same batch twice gave different scores.",
              "call model.eval() before scoring (dropout and batch normalisation behave differently in training) "
              "and score under torch.no_grad().")
    _ok("the same scores when computed twice")
    k = min(n_corrupted, len(X))
    corrupted = 1.0 - X[:k]
    bad = scores_of(corrupted, "corrupted images")
    worse = bad > scores[:k]
    if not worse.all():
        _fail(f"{int((~worse).sum())} of {k} inverted images scored no higher than the image they came from "
              f"(scores {np.round(scores[:k], 4).tolist()} -> {np.round(bad, 4).tolist()}).",
              "the score must grow with the difference between an input and its reconstruction model(X).")
    _ok(f"corrupted images score higher ({float(np.mean(scores[:k])):.4f} -> {float(np.mean(bad)):.4f} on average)")


# ----------------------------------------------------------------------------- notebook 01: PCA components
def _as_number(value, what: str, hint: str | None = None) -> float:
    """``value`` (a number, or a tensor/array holding one) as a finite float; fails on anything else."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        _fail(f"{what} should be a number, got {value!r}.")
    if isinstance(value, (torch.Tensor, np.ndarray)):
        size = value.numel() if isinstance(value, torch.Tensor) else value.size
        if size != 1:
            _fail(f"{what} should be one number, got an array of shape {_shape(tuple(value.shape))}.", hint)
        value = value.item()
    try:
        number = float(value)
    except (TypeError, ValueError):
        _fail(f"{what} should be a number, got {type(value).__name__}.")
    if not math.isfinite(number):
        _fail(f"{what} is {number}.")
    return number


def check_pca_components(pca_mse_by_k, k_match, ae_mse, pca_mse, ks=range(32, 257, 16)) -> None:
    """Check Exercise 1.3: PCA's test MSE for ``k`` components, and the smallest ``k`` that matches the autoencoder.

    ``pca_mse_by_k`` maps every ``k`` of ``ks`` to the test MSE per pixel of PCA
    with its first ``k`` components (a dict or a pandas Series); ``k_match`` is
    the smallest ``k`` whose MSE is at most ``ae_mse``, or ``None`` when none is.
    ``pca_mse`` is the test MSE of PCA with ``ks[0]`` components computed
    another way (the lesson's :func:`helpers.pca_reconstruct`): the student's
    first entry must agree with it. More components never reconstruct worse,
    so the errors must fall as ``k`` grows.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """
    _require(pca_mse_by_k, "pca_mse_by_k")
    _require(k_match, "k_match")
    ks = [int(k) for k in ks]
    if not hasattr(pca_mse_by_k, "items"):
        _fail(f"pca_mse_by_k should map each k to its MSE (a dict), got {type(pca_mse_by_k).__name__}.",
              "start with pca_mse_by_k = {} and set pca_mse_by_k[k] = mse inside the loop over k.")
    try:
        by_k = {int(k): v for k, v in pca_mse_by_k.items()}
    except (TypeError, ValueError):
        _fail("the keys of pca_mse_by_k should be the numbers of components k.")
    missing, extra = sorted(set(ks) - set(by_k)), sorted(set(by_k) - set(ks))
    if missing or extra:
        _fail(f"pca_mse_by_k should have one entry per k in {ks[0]}, {ks[1]}, ..., {ks[-1]}; "
              f"missing {missing}, unexpected {extra}.", f"loop over range({ks[0]}, {ks[-1] + 1}, {ks[1] - ks[0]}).")
    mse = {k: _as_number(by_k[k], f"pca_mse_by_k[{k}]") for k in ks}
    _ok(f"one test MSE for each of the {len(ks)} values of k")
    first, reference = mse[ks[0]], _as_number(pca_mse, "pca_mse")
    if not math.isclose(first, reference, rel_tol=2e-3):
        hint = ("reconstruct each test row as mean + (x - mean) @ V[:k].T @ V[:k], then average the squared "
                "difference with the test rows over all their pixels.")
        if math.isclose(first, reference * 784, rel_tol=2e-3):
            hint = "that is the sum over the 784 pixels: average over them instead (the MSE per pixel)."
        elif math.isclose(first ** 2, reference, rel_tol=4e-3):
            hint = "no square root: the MSE is the mean of the squared differences."
        _fail(f"with k={ks[0]} your test MSE is {first:.5f}, but PCA-{ks[0]} in the lesson reaches {reference:.5f}.",
              hint)
    _ok(f"PCA-{ks[0]} agrees with the lesson's ({first:.5f})")
    rising = [(a, b) for a, b in zip(ks, ks[1:]) if mse[b] > mse[a] * (1 + 1e-6)]
    if rising:
        a, b = rising[0]
        _fail(f"the error grows from k={a} ({mse[a]:.5f}) to k={b} ({mse[b]:.5f}); more components never "
              f"reconstruct worse.", "keep the first k components, V[:k] (they are sorted by the variance they "
              "explain), and compute every MSE on the same test rows.")
    _ok(f"the error falls as k grows: {mse[ks[0]]:.5f} (k={ks[0]}) -> {mse[ks[-1]]:.5f} (k={ks[-1]})")
    target = _as_number(ae_mse, "ae_mse")
    good = [k for k in ks if mse[k] <= target]
    expected = min(good) if good else None
    answer = None if k_match is None else _as_number(k_match, "k_match")
    if answer != expected:
        hint = "the smallest k whose MSE is at most the autoencoder's: min(k for k, v in ... if v <= ae_mse)."
        if good and answer == max(good):
            hint = "that is the largest k that matches: the question asks for the smallest."
        elif answer is not None and answer in mse and mse[answer] > target:
            hint = f"PCA-{answer:g} does not reach the autoencoder yet ({mse[answer]:.5f} > {target:.5f})."
        _fail(f"k_match is {k_match!r}, expected {expected} (the autoencoder's test MSE is {target:.5f}).", hint)
    if expected is None:
        _ok(f"no k up to {ks[-1]} reaches the autoencoder's {target:.5f}: k_match is None")
    else:
        _ok(f"k_match = {expected}: the smallest k with a test MSE at most the autoencoder's {target:.5f}")


# ----------------------------------------------------------------------------- latent codes
def check_latent_codes(Z, n: int, dim: int) -> None:
    """Check a matrix of latent codes: ``n`` codes of size ``dim``, finite and not all alike.

    ``Z`` may be a tensor (without gradients) or an array.
    Introduced in notebook 04 (``04_latent_2d``).
    """
    _require(Z, "Z")
    Z = _as_float_array(Z, "Z")
    if Z.shape != (n, dim):
        hint = None
        if Z.size == n * dim:
            hint = f"reshape with Z.reshape({n}, {dim}) (e.g. flatten the codes of a convolutional encoder)."
        elif Z.ndim == 2 and Z.shape[0] == n:
            hint = f"the latent size of this model is {dim}: are you using the right model, or a hidden layer?"
        elif Z.ndim == 2 and Z.shape[1] == dim:
            hint = f"encode all {n} examples (loop over batches and concatenate with torch.cat)."
        _fail(f"Z has shape {_shape(Z.shape)}, expected ({n}, {dim}): one row of {dim} numbers per example.", hint)
    _ok(f"shape ({n}, {dim})")
    if not np.isfinite(Z).all():
        _fail("Z contains NaN or infinite values.")
    if n > 1 and np.allclose(Z, Z[0]):
        _fail("every code is the same.", "encode each example (not the same one n times), in eval mode.")
    _ok("finite, and the codes differ")



# ----------------------------------------------------------------------------- notebook 04: the 2-D latent space
def _edges(Z: np.ndarray, atol: float = 1e-4) -> np.ndarray:
    """``(N, dim)`` booleans: a coordinate at the lowest or the highest value of its column."""
    return np.isclose(Z, Z.min(axis=0), rtol=0, atol=atol) | np.isclose(Z, Z.max(axis=0), rtol=0, atol=atol)


def check_edge_share(model, edge_share, X: torch.Tensor) -> None:
    """Check the share of a model's codes that lie on an edge of the region its codes fill.

    ``model`` should be the 2-D dense autoencoder with a ReLU (and batch
    normalisation) after the bottleneck; ``edge_share`` the share of the codes of
    ``X`` that have at least one coordinate at the lowest or the highest value
    of that coordinate over all the codes (within 1e-4). The check encodes
    ``X`` itself, and fails when the codes hardly touch the edges (a model
    without the ReLU) or when ``edge_share`` is not their share.
    Introduced in notebook 04 (``04_latent_2d``).
    """
    _require(model, "the model")
    _require(edge_share, "edge_share")
    from .latent import encode_dataset

    if not hasattr(model, "encode"):
        _fail(f"model should be an autoencoder with an encode method, got {type(model).__name__}.")
    Z = encode_dataset(model, X)
    if Z.shape[1] != 2:
        _fail(f"the model's codes have {Z.shape[1]} numbers, expected 2.",
              "build helpers.DenseAutoencoder(latent_dim=2, bottleneck_activation=True).")
    on_edge = _edges(Z)
    expected = float(on_edge.any(axis=1).mean())
    if expected < 0.05:
        _fail(f"only {expected:.1%} of this model's codes lie on an edge: its code is not cut off by a ReLU.",
              "build the model with bottleneck_activation=True (ReLU and batch normalisation after the code).")
    _ok(f"the model's codes pile up on the edges: {expected:.1%} of them have a coordinate at its lowest or highest value")
    value = _one_number(edge_share, "edge_share")
    if not math.isclose(value, expected, abs_tol=0.005):
        hint = ("count a code once when either of its coordinates is at the lowest or the highest value of that "
                "coordinate: (np.isclose(Z, Z.min(axis=0), atol=1e-4) | np.isclose(Z, Z.max(axis=0), atol=1e-4)).any(axis=1).mean().")
        if math.isclose(value, 100 * expected, rel_tol=1e-3):
            hint = "give a share between 0 and 1, not a percentage."
        elif math.isclose(value, float(on_edge.mean()), abs_tol=0.005):
            hint = "that is the share of coordinates; count each code once, when any of its coordinates is on an edge (.any(axis=1))."
        elif any(math.isclose(value, float(np.isclose(Z, edge, rtol=0, atol=1e-4).any(axis=1).mean()), abs_tol=0.005)
                 for edge in (Z.min(axis=0), Z.max(axis=0))):
            hint = ("an edge can be the lowest or the highest value of a coordinate "
                    "(batch normalisation after the ReLU may flip its sign): test both.")
        _fail(f"edge_share is {value:.4f}, but {expected:.4f} of the codes of X lie on an edge.", hint)
    _ok(f"edge_share = {value:.4f}")


def check_cluster_centres(centres, Z, y) -> None:
    """Check ``centres``: row ``k`` is the mean code of the ``k``-th label of ``y`` (labels in increasing order).

    ``Z`` are the codes ``(N, dim)`` and ``y`` their labels; with the digits 0-4
    row ``d`` is the centre of the codes of digit ``d``. Medians, rows in
    another order, or the overall mean repeated fail.
    Introduced in notebook 04 (``04_latent_2d``).
    """
    _require(centres, "centres")
    Z = _as_float_array(Z, "Z")
    y = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y).ravel()
    labels = np.unique(y)
    expected = np.stack([Z[y == label].mean(axis=0) for label in labels])
    value = _as_float_array(centres, "centres")
    if value.shape != expected.shape:
        hint = None
        if value.shape == expected.shape[::-1]:
            hint = "one row per digit and one column per code coordinate: transpose it (centres.T)."
        elif value.ndim == 1 and value.size == expected.shape[1]:
            hint = "that is one centre: compute one per digit, Z[y == d].mean(axis=0) for each d, and stack them."
        _fail(f"centres has shape {_shape(value.shape)}, expected {_shape(expected.shape)}: "
              f"one row per label ({', '.join(str(label) for label in labels)}).", hint)
    _ok(f"shape {_shape(value.shape)}")
    if not np.isfinite(value).all():
        _fail("centres contains NaN or infinite values.", "is every label present in y? Z[y == d] must not be empty.")
    if not np.allclose(value, expected, rtol=1e-4, atol=1e-5):
        hint = "row d is the mean of the codes of digit d: Z[y == d].mean(axis=0)."
        medians = np.stack([np.median(Z[y == label], axis=0) for label in labels])
        matches = [np.flatnonzero(np.all(np.isclose(row, expected, rtol=1e-4, atol=1e-5), axis=1)) for row in value]
        if np.allclose(value, medians, rtol=1e-4, atol=1e-5):
            hint = "those are medians: the centre here is the mean, .mean(axis=0)."
        elif np.allclose(value, Z.mean(axis=0), rtol=1e-4, atol=1e-5):
            hint = "every row is the mean of all the codes: select each digit's codes with Z[y == d] first."
        elif all(len(m) == 1 for m in matches):
            hint = "the rows are the right centres in the wrong order: row d must be the centre of digit d."
        _fail("centres are not the mean codes of each digit.", hint)
    _ok("row d is the mean code of digit d")


def check_latent_distance(latent_distance, model, X_reference: torch.Tensor, X: torch.Tensor, k: int = 10) -> None:
    """Check a latent-distance score: per row of ``X``, the mean distance from its code to its ``k`` nearest reference codes.

    The check encodes ``X_reference`` (the training images) and ``X`` with
    ``model``, finds the ``k`` nearest reference codes of every code of ``X``
    (Euclidean distance, scikit-learn's ``NearestNeighbors``) and compares their
    mean distance with ``latent_distance``.
    Introduced in notebook 04 (``04_latent_2d``).
    """
    _require(latent_distance, "latent_distance")
    from sklearn.neighbors import NearestNeighbors

    from .latent import encode_dataset

    Z_reference, Z = encode_dataset(model, X_reference), encode_dataset(model, X)
    value = _as_float_array(latent_distance, "latent_distance")
    if value.shape != (len(Z),):
        hint = None
        if value.ndim == 2 and value.shape == (len(Z), k):
            hint = "those are the k distances of each code: average them, distances.mean(axis=1)."
        elif value.shape == (len(Z_reference),):
            hint = "score the test images (X), not the training images."
        _fail(f"latent_distance has shape {_shape(value.shape)}, expected ({len(Z)},): one score per image of X.", hint)
    _ok(f"one score per image ({len(value):,})")
    distances, _ = NearestNeighbors(n_neighbors=k).fit(Z_reference).kneighbors(Z)
    expected = distances.mean(axis=1)
    if not np.allclose(value, expected, rtol=1e-4, atol=1e-6):
        hint = f"fit NearestNeighbors(n_neighbors={k}) on the training codes, ask for the neighbours of the test codes, average the distances."
        if np.allclose(value, distances[:, 0], rtol=1e-4, atol=1e-6):
            hint = f"that is the distance to the nearest code only: average over the {k} nearest."
        elif np.allclose(value, distances.sum(axis=1), rtol=1e-4, atol=1e-6):
            hint = f"that is the sum of the {k} distances: take their mean."
        elif np.allclose(value, (distances ** 2).mean(axis=1), rtol=1e-4, atol=1e-6):
            hint = "those are squared distances: NearestNeighbors returns Euclidean distances, average them as they are."
        else:
            own, _ = NearestNeighbors(n_neighbors=k).fit(Z).kneighbors(Z)
            if np.allclose(value, own.mean(axis=1), rtol=1e-4, atol=1e-6):
                hint = "the neighbours must come from the training codes (fit on Z_train), not from the test codes themselves."
        _fail(f"latent_distance differs from the mean distance to the {k} nearest training codes: first values "
              f"{np.round(value[:3], 4).tolist()}, expected {np.round(expected[:3], 4).tolist()}.", hint)
    _ok(f"the mean distance from each code to its {k} nearest training codes")


# ----------------------------------------------------------------------------- threshold
def check_threshold(value, errors, k: float = 1.0) -> None:
    """Check a threshold computed as the mean plus ``k`` standard deviations of ``errors``.

    ``errors`` are per-example reconstruction errors (of the validation set in
    notebook 02). Either standard deviation (NumPy's ``ddof=0`` or torch's
    ``ddof=1``) is accepted. Prints the share of ``errors`` above the threshold.
    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    _require(value, "the threshold")
    _require(errors, "the errors")
    errors = _as_float_array(errors, "errors").ravel()
    value = _as_number(value, "the threshold", "reduce over all the errors: errors.mean() + errors.std().")
    mean = float(errors.mean())
    candidates = [mean + k * float(errors.std(ddof=ddof)) for ddof in (0, 1)]
    if not any(math.isclose(value, c, rel_tol=1e-4, abs_tol=1e-9) for c in candidates):
        hint = "threshold = errors.mean() + k * errors.std(), over all the per-example errors."
        if math.isclose(value, mean, rel_tol=1e-4):
            hint = "that is the mean: add k standard deviations."
        elif math.isclose(value, mean + k * float(errors.var()), rel_tol=1e-4):
            hint = "that uses the variance: take its square root, the standard deviation."
        _fail(f"the threshold is {value:.6g}, expected mean + {k:g} std = {candidates[0]:.6g}.", hint)
    share = float((errors > value).mean())
    _ok(f"threshold {value:.6g} = mean + {k:g} std; {share:.1%} of the errors lie above it")


# ----------------------------------------------------------------------------- notebook 02: upside-down digits
def check_upside_down(upside_down_errors, flagged_by_label, model, X: torch.Tensor, y, threshold: float,
                      n_checked: int = 256) -> None:
    """Check Exercise 2.3: the scores of the digits ``X`` turned upside down, and the share flagged per label.

    ``upside_down_errors`` holds one reconstruction error (the per-pixel MSE)
    per image of ``X`` turned by 180 degrees (``torch.rot90(X, k=2, dims=(2, 3))``);
    the first ``n_checked`` are recomputed with ``model``. ``flagged_by_label``
    maps each label of ``y`` to the share of its upside-down digits whose
    error lies above ``threshold`` (a pandas Series indexed by label, or a dict).
    Prints the labels flagged least often.
    Introduced in notebook 02 (``02_conv_autoencoder``).
    """
    _require(upside_down_errors, "upside_down_errors")
    _require(flagged_by_label, "flagged_by_label")
    errors = _as_float_array(upside_down_errors, "upside_down_errors")
    if errors.shape != (len(X),):
        _fail(f"expected one error per digit, shape ({len(X)},), got shape {_shape(errors.shape)}.",
              "score every turned digit with helpers.reconstruction_errors(model, X_turned).")
    if not np.isfinite(errors).all():
        _fail("some errors are NaN or infinite.")
    _ok(f"one error per digit ({len(errors)})")
    sample = X[:n_checked]
    expected = reconstruction_errors(model, torch.rot90(sample, k=2, dims=(2, 3)))
    if not np.allclose(errors[:len(sample)], expected, rtol=1e-4, atol=1e-7):
        hint = "turn the digits with torch.rot90(X, k=2, dims=(2, 3)) and score them with helpers.reconstruction_errors."
        quarter = "that is a quarter turn (k=1 or k=3): two quarter turns make 180 degrees, k=2."
        others = [("these are the scores of the upright digits: turn them first.", sample),
                  (quarter, torch.rot90(sample, k=1, dims=(2, 3))),
                  (quarter, torch.rot90(sample, k=3, dims=(2, 3))),
                  ("that is a mirror image (torch.flip): turn the digits with torch.rot90 and k=2 instead.",
                   torch.flip(sample, dims=(2,)))]
        for message, images in others:
            if np.allclose(errors[:len(sample)], reconstruction_errors(model, images), rtol=1e-4, atol=1e-7):
                hint = message
                break
        _fail(f"the first errors are {np.round(errors[:3], 5).tolist()}, expected {np.round(expected[:3], 5).tolist()} "
              f"for the digits turned by 180 degrees.", hint)
    _ok("the errors are those of the digits turned by 180 degrees")
    if not hasattr(flagged_by_label, "items"):
        _fail(f"flagged_by_label should map each label to a share (a pandas Series or a dict), "
              f"got {type(flagged_by_label).__name__}.",
              "pd.Series(upside_down_errors > threshold).groupby(labels).mean()")
    shares = {}
    for label, value in flagged_by_label.items():
        try:
            shares[int(label)] = _as_number(value, f"the share for label {label}")
        except (TypeError, ValueError):
            _fail(f"the keys of flagged_by_label should be the labels, got {label!r}.")
    labels = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y).astype(int)
    flags = errors > float(threshold)
    expected_shares = {int(c): float(flags[labels == c].mean()) for c in np.unique(labels)}
    if sorted(shares) != sorted(expected_shares):
        _fail(f"flagged_by_label should have one entry per label {sorted(expected_shares)}, got {sorted(shares)}.",
              "group the flags by the labels of the same digits: .groupby(y.numpy()).")
    wrong = [c for c in expected_shares if not math.isclose(shares[c], expected_shares[c], abs_tol=1e-6)]
    if wrong:
        c = wrong[0]
        hint = "the share of a label is the mean of its True/False flags, errors > threshold."
        if all(math.isclose(shares[d], flags[labels == d].sum(), abs_tol=1e-6) for d in expected_shares):
            hint = "those are counts: divide by the number of digits of each label (use .mean(), not .sum())."
        elif all(math.isclose(shares[d], 1 - expected_shares[d], abs_tol=1e-6) for d in expected_shares):
            hint = "those are the shares below the threshold: flagged means a score above it (>)."
        elif all(math.isclose(shares[d], flags[labels == d].sum() / len(flags), abs_tol=1e-6) for d in expected_shares):
            hint = "divide by the number of digits of each label, not by all the digits."
        _fail(f"label {c}: your share is {shares[c]:.4f}, expected {expected_shares[c]:.4f} "
              f"({int(flags[labels == c].sum())} of {int((labels == c).sum())} digits above the threshold).", hint)
    least = sorted(expected_shares, key=expected_shares.get)[:3]
    _ok("the shares flagged per label; least often flagged: "
        + ", ".join(f"{c} ({expected_shares[c]:.0%})" for c in least))


# ----------------------------------------------------------------------------- ROC AUC by counting pairs
def _one_number(value, what: str) -> float:
    array = _as_float_array(value, what)
    if array.size != 1:
        _fail(f"{what} should be one number, got shape {_shape(array.shape)}.")
    return float(array.reshape(()))


def check_roc_auc(auc_fn: Callable) -> None:
    """Check a ROC AUC computed by counting pairs: ``auc_fn(scores, is_anomaly) -> AUC``.

    The AUC is the share of (anomaly, normal) pairs in which the anomaly has the
    higher score, a tie counting one half. ``scores`` and ``is_anomaly`` are
    1-D numpy arrays (``is_anomaly`` holds 0/1 or False/True). The check runs
    small cases with a known answer (a perfect ranking, a reversed one, ties,
    one anomaly among three normal examples), then compares with scikit-learn
    on 300 random scores.
    Introduced in notebook 03 (``03_one_class_auc``).
    """
    _require(auc_fn, "the AUC function")
    from sklearn.metrics import roc_auc_score

    def auc_of(scores, labels, what):
        value = _call_student(f"auc_fn(scores, is_anomaly) on {what}", auc_fn, scores, labels)
        return _one_number(value, "the AUC")

    mask_hint = ("if you select with is_anomaly, make it a boolean mask first "
                 "(np.asarray(is_anomaly, dtype=bool)): indexing with an array of 0s and 1s picks "
                 "elements 0 and 1, not the anomalies.")
    cases = [
        ("a perfect ranking", [0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0, mask_hint),
        ("a reversed ranking", [0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0.0,
         "count the pairs in which the anomaly scores higher than the normal example, not the reverse."),
        ("tied scores", [0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1], 0.5,
         "a tie between an anomaly and a normal example counts one half."),
        ("one anomaly among three normal examples", [0.1, 0.3, 0.5, 0.4], [0, 0, 0, 1], 2 / 3,
         "divide by the number of (anomaly, normal) pairs, n_anomalies * n_normal."),
    ]
    for what, scores, labels, expected, hint in cases:
        value = auc_of(np.array(scores), np.array(labels), what)
        if not math.isclose(value, expected, abs_tol=1e-9):
            _fail(f"on {what} (scores {scores}, is_anomaly {labels}) the AUC is {value:.4g}, "
                  f"expected {expected:.4g}.", hint)
    _ok("right on small cases: a perfect ranking, a reversed one, ties, unbalanced classes")
    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.normal(size=300) + labels, 1)  # rounded: some ties across the classes
    expected = float(roc_auc_score(labels, scores))
    value = auc_of(scores, labels, "300 random scores")
    if not math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12):
        _fail(f"on 300 random scores the AUC is {value:.6f}, scikit-learn says {expected:.6f}.", mask_hint)
    _ok(f"agrees with scikit-learn on 300 random scores ({value:.4f})")


# ----------------------------------------------------------------------------- precision at a prevalence
def check_precision_at_prevalence(precision_fn: Callable) -> None:
    """Check ``precision_fn(recall, false_positive_rate, prevalence) -> precision``.

    A detector that flags a share ``recall`` of the anomalies and a share
    ``false_positive_rate`` of the normal examples, on data where a share
    ``prevalence`` are anomalies, has precision
    ``recall * prevalence / (recall * prevalence + false_positive_rate * (1 - prevalence))``.
    The check compares the function with that on a few cases.
    Introduced in notebook 03 (``03_one_class_auc``).
    """
    _require(precision_fn, "the precision function")
    cases = [(0.9, 0.01, 0.5), (0.95, 0.05, 0.01), (0.5, 0.1, 0.2), (1.0, 0.0, 0.01), (0.98, 0.02, 0.902)]
    for recall, fpr, prevalence in cases:
        value = _call_student(f"precision_fn({recall}, {fpr}, {prevalence})",
                              precision_fn, recall, fpr, prevalence)
        value = _one_number(value, "the precision")
        true_pos, false_pos = recall * prevalence, fpr * (1 - prevalence)
        expected = true_pos / (true_pos + false_pos)
        if not math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-12):
            hint = ("precision = true positives / everything flagged; as shares of all the data, the true "
                    "positives are recall * prevalence and the false positives false_positive_rate * (1 - prevalence).")
            if math.isclose(value, true_pos / (true_pos + fpr * prevalence), rel_tol=1e-6):
                hint = "the false alarms come from the normal examples, a share 1 - prevalence of the data."
            elif math.isclose(value, recall, rel_tol=1e-6):
                hint = "that is the recall: precision asks what share of the flagged examples are anomalies."
            _fail(f"precision_fn(recall={recall}, false_positive_rate={fpr}, prevalence={prevalence}) "
                  f"returned {value:.4g}, expected {expected:.4g}.", hint)
    _ok(f"right on {len(cases)} cases, e.g. recall 0.95 and 5% false alarms at 1% prevalence: "
        f"precision {0.95 * 0.01 / (0.95 * 0.01 + 0.05 * 0.99):.3f}")


# ----------------------------------------------------------------------------- k-nearest neighbours (notebook 05)
def _toy_blobs(n_per_class: int, seed: int, spread: float = 1.0):
    """Three Gaussian blobs in 3-D, labels 0..2."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
    Z = np.concatenate([c + spread * rng.standard_normal((n_per_class, 3)) for c in centres])
    y = np.repeat(np.arange(3), n_per_class)
    return Z, y


def check_knn_accuracy(knn_fn: Callable, k: int = 5) -> None:
    """Check ``knn_fn(Z_train, y_train, Z_test, y_test, k) -> accuracy`` of a k-NN classifier.

    The function should fit a k-nearest-neighbour classifier on the training
    codes and labels and return the share of test examples it labels correctly
    (a number in [0, 1]). The check compares it with scikit-learn's
    ``KNeighborsClassifier`` on toy blobs, and with test labels that disagree
    with the training data, so that scoring on the training set shows.
    Introduced in notebook 05 (``05_tsne``).
    """
    _require(knn_fn, "the k-NN function")
    from sklearn.neighbors import KNeighborsClassifier

    Z_train, y_train = _toy_blobs(60, seed=0)
    Z_test, y_test = _toy_blobs(40, seed=1)

    def accuracy_of(z_tr, y_tr, z_te, y_te, what):
        value = _call_student(f"knn_fn(Z_train, y_train, Z_test, y_test, k={k}) on {what}",
                              knn_fn, z_tr, y_tr, z_te, y_te, k)
        return _one_number(value, "the accuracy")

    value = accuracy_of(Z_train, y_train, Z_test, y_test, "toy blobs")
    if not 0.0 <= value <= 1.0:
        hint = "return a fraction, not a percentage." if 1.0 < value <= 100.0 else None
        _fail(f"the accuracy is {value:.4g}, expected a number in [0, 1].", hint)
    _ok(f"returns an accuracy in [0, 1] ({value:.3f} on toy blobs)")
    expected = KNeighborsClassifier(n_neighbors=k).fit(Z_train, y_train).score(Z_test, y_test)
    if abs(value - expected) > 0.02:
        _fail(f"the accuracy is {value:.3f}, scikit-learn's {k}-NN gets {expected:.3f} on the same data.",
              f"fit on the training codes and labels, predict the test codes with n_neighbors={k}, "
              f"and compare the predictions with y_test.")
    _ok(f"agrees with scikit-learn's {k}-NN ({expected:.3f})")
    shuffled = np.random.default_rng(2).permutation(y_test)
    chance = accuracy_of(Z_train, y_train, Z_test, shuffled, "test labels shuffled at random")
    if chance > 0.6:
        _fail(f"with the test labels shuffled the accuracy is still {chance:.3f}.",
              "score the predictions for Z_test against y_test, not the training set against y_train.")
    _ok(f"uses the test labels (shuffled test labels give {chance:.3f}, about chance)")


# ----------------------------------------------------------------------------- latent interpolation (notebook 06)
def check_latent_path(path_fn: Callable, steps: int = 10, dim: int = 20) -> None:
    """Check ``path_fn(z0, z1, steps) -> codes``: ``steps`` evenly spaced points from ``z0`` to ``z1``.

    ``z0`` and ``z1`` are two codes of shape ``(dim,)``; the result should have
    shape ``(steps, dim)``, start at ``z0``, end at ``z1`` and move by the same
    amount at every step (a straight line).
    Introduced in notebook 06 (``06_interpolation``).
    """
    _require(path_fn, "the interpolation function")
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(dim, generator=g), torch.randn(dim, generator=g)
    z0_before, z1_before = z0.clone(), z1.clone()
    codes = _call_student(f"path_fn(z0, z1, steps={steps}) with codes of shape ({dim},)",
                          path_fn, z0, z1, steps)
    codes = torch.as_tensor(_as_float_array(codes, "the codes"), dtype=torch.float32)
    if tuple(codes.shape) != (steps, dim):
        hint = None
        if codes.shape[:1] == (steps - 1,) or codes.shape[:1] == (steps + 1,):
            hint = "include both end points: torch.linspace(0, 1, steps) gives the weights."
        elif codes.dim() == 1:
            hint = "stack one code per step: a row per step, a column per latent dimension."
        _fail(f"expected {steps} codes of size {dim}, shape ({steps}, {dim}), got {_shape(codes.shape)}.", hint)
    _ok(f"shape ({steps}, {dim})")
    if not (torch.equal(z0, z0_before) and torch.equal(z1, z1_before)):
        _fail("the function changed z0 or z1 in place.")
    if not (torch.allclose(codes[0], z0, atol=1e-5) and torch.allclose(codes[-1], z1, atol=1e-5)):
        hint = "use the weights torch.linspace(0, 1, steps), which include both end points 0 and 1."
        if torch.allclose(codes[0], z1, atol=1e-5):
            hint = "the path runs backwards: weight (1 - a) belongs to z0 and a to z1."
        _fail("the path should start at z0 and end at z1.", hint)
    _ok("starts at z0 and ends at z1")
    moves = codes[1:] - codes[:-1]
    if not torch.allclose(moves, (z1 - z0).expand_as(moves) / (steps - 1), atol=1e-4):
        _fail("the steps are not equal moves along the straight line from z0 to z1.",
              "each code is (1 - a) * z0 + a * z1 for a in torch.linspace(0, 1, steps).")
    _ok("equal steps along the straight line")


# ----------------------------------------------------------------------------- denoising (notebook 07)
def check_add_noise(noise_fn: Callable, noise_std: float = 0.2) -> None:
    """Check ``noise_fn(X, noise_std, generator) -> noisy X``: Gaussian noise, clipped to [0, 1].

    The result should have the shape of ``X``, values in [0, 1], noise of
    standard deviation ``noise_std`` (measured on a mid-grey image, where
    clipping hardly matters), leave ``X`` unchanged, and repeat exactly when the
    ``generator`` is seeded the same way.
    Introduced in notebook 07 (``07_denoising``).
    """
    _require(noise_fn, "the noise function")
    X = _toy_images(8)

    def noisy(images, std, seed, what):
        before = images.clone()
        out = _call_student(f"noise_fn(X, {std}, generator) on {what}",
                            noise_fn, images, std, torch.Generator().manual_seed(seed))
        if not torch.equal(images, before):
            _fail("the function changed its input X in place.",
                  "build a new tensor (X + noise_std * noise) instead of adding to X with +=.")
        if not isinstance(out, torch.Tensor):
            _fail(f"expected a torch.Tensor, got {type(out).__name__}.")
        if out.shape != images.shape:
            _fail(f"the noisy images have shape {_shape(out.shape)}, expected {_shape(images.shape)}.")
        return out

    out = noisy(X, noise_std, 0, "toy images")
    _ok(f"shape {_shape(out.shape)}, X unchanged")
    low, high = float(out.min()), float(out.max())
    if low < 0.0 or high > 1.0:
        _fail(f"the values lie in [{low:.3g}, {high:.3g}], expected [0, 1].", "clip with .clamp(0, 1).")
    _ok("values clipped to [0, 1]")
    grey = torch.full((64, 1, 28, 28), 0.5)
    measured = float((noisy(grey, 0.1, 0, "a mid-grey image") - grey).std())
    if not 0.09 <= measured <= 0.11:
        hint = None
        if abs(measured - 0.01) < 0.002:
            hint = "noise_std is the standard deviation, not the variance: multiply by noise_std, not its square."
        elif measured < 1e-6:
            hint = "add noise: torch.randn(X.shape, generator=generator) * noise_std."
        _fail(f"with noise_std=0.1 the noise on a grey image has standard deviation {measured:.4f}, "
              f"expected about 0.1.", hint)
    _ok(f"noise standard deviation {measured:.3f} for noise_std=0.1")
    if not torch.equal(noisy(X, noise_std, 0, "toy images"), out):
        _fail("the same generator seed gave different noise.",
              "draw the noise with torch.randn(X.shape, generator=generator).")
    if torch.equal(noisy(X, noise_std, 1, "toy images"), out):
        _fail("two different generator seeds gave the same noise.", "pass generator= to torch.randn.")
    _ok("the same seed gives the same noise, another seed other noise")


def check_psnr(psnr_fn: Callable) -> None:
    """Check ``psnr_fn(X_hat, X) -> one PSNR per image`` in decibels, for images in [0, 1].

    PSNR = 10 log10(1 / MSE), the MSE taken over each image's pixels. The check
    uses images whose MSE is known (0.01 gives 20 dB, 0.001 gives 30 dB).
    Introduced in notebook 07 (``07_denoising``).
    """
    _require(psnr_fn, "the PSNR function")
    X = torch.full((3, 1, 28, 28), 0.5)
    X_hat = X + torch.tensor([0.1, 10 ** -1.5, 0.01]).view(3, 1, 1, 1)  # MSE 1e-2, 1e-3, 1e-4
    expected = np.array([20.0, 30.0, 40.0])
    values = _call_student(f"psnr_fn(X_hat, X) on a batch of shape {_shape(X.shape)}", psnr_fn, X_hat, X)
    values = _as_float_array(values, "the PSNR values")
    if values.shape != (3,):
        hint = ("average the squared error over each image's pixels (.flatten(1).mean(1)), "
                "not over the whole batch.") if values.size == 1 else None
        _fail(f"expected one PSNR per image, shape (3,), got {_shape(values.shape)}.", hint)
    _ok("one value per image")
    if not np.allclose(values, expected, atol=0.01):
        hint = "PSNR = 10 * log10(1 / MSE) for images in [0, 1]."
        if np.allclose(values, expected / 2, atol=0.01):
            hint = "that is 10 log10 of 1 / RMSE: use the mean squared error, or 20 log10(1 / RMSE)."
        elif np.allclose(values, -expected, atol=0.01):
            hint = "the sign is flipped: 10 * log10(1 / MSE), not 10 * log10(MSE)."
        elif np.allclose(values, expected * np.log(10), atol=0.01):
            hint = "use log10, not the natural logarithm."
        _fail(f"for MSEs 0.01, 0.001 and 0.0001 expected {expected.tolist()} dB, got {np.round(values, 3).tolist()}.",
              hint)
    _ok("20, 30 and 40 dB for MSEs of 0.01, 0.001 and 0.0001")


class _Recorder(nn.Module):
    """Wraps a model and keeps the last batch it was given."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.seen = None

    def forward(self, x):
        self.seen = x.detach().clone()
        return self.model(x)


@_keeps_random_state
def check_denoising_step(step_fn: Callable, noise_std: float = 0.3, seed: int = 0) -> None:
    """Check ``step_fn(model, X, optimizer, noise_std) -> loss``: one denoising training step.

    The step should give the model noisy inputs (Gaussian noise of standard
    deviation ``noise_std``, clipped to [0, 1]), compare its output with the
    *clean* batch ``X``, back-propagate and step. The check records what the
    model is given and recomputes the loss against the clean and the noisy batch,
    then runs :func:`check_training_step` on it.
    Introduced in notebook 07 (``07_denoising``).
    """
    _require(step_fn, "the denoising step")
    import copy

    torch.manual_seed(seed)
    model = _Recorder(_tiny_model(MNIST_SHAPE))
    X = _toy_images(16, seed=seed)
    before = copy.deepcopy(model.model).eval()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss = _call_student(f"step_fn(model, X, optimizer, noise_std={noise_std})",
                         step_fn, model, X, optimizer, noise_std)
    loss = _one_number(loss.detach() if isinstance(loss, torch.Tensor) else loss, "the loss")
    seen = model.seen
    if seen is None:
        _fail("the model was never called.")
    if torch.equal(seen, X):
        _fail("the model was given the clean batch.", "add noise to the inputs: add_noise(X, noise_std).")
    if float(seen.min()) < 0.0 or float(seen.max()) > 1.0:
        _fail("the noisy inputs leave [0, 1].", "clip the noisy images with .clamp(0, 1).")
    _ok(f"the model sees noisy inputs (mean |noisy - X| = {float((seen - X).abs().mean()):.3f})")
    with torch.no_grad():
        output = before(seen)
        against_clean = float(nn.functional.mse_loss(output, X))
        against_noisy = float(nn.functional.mse_loss(output, seen))
    if math.isclose(loss, against_noisy, rel_tol=1e-4) and not math.isclose(loss, against_clean, rel_tol=1e-4):
        _fail("the loss compares the output with the noisy input.",
              "the target of a denoising AE is the clean batch X: loss_fn(model(noisy), X).")
    if not math.isclose(loss, against_clean, rel_tol=1e-4):
        _fail(f"the returned loss {loss:.5f} is not the MSE between the model's output and the clean batch "
              f"({against_clean:.5f}).", "return loss.item() of the batch, computed before optimizer.step().")
    _ok("the loss compares the output with the clean batch")
    check_training_step(lambda m, batch, opt: step_fn(m, batch, opt, noise_std))


# ----------------------------------------------------------------------------- notebook 05: the classifier's mistakes
def _mistake_rows(mistakes) -> list[tuple]:
    """``(true, predicted, count)`` triples from a Series indexed by pairs, a DataFrame, or rows of three."""
    import pandas as pd

    hint = ("make it a Series of counts indexed by (true, predicted) pairs, e.g. "
            "confusion.where(~np.eye(10, dtype=bool)).stack().nlargest(5).")
    if isinstance(mistakes, pd.DataFrame) and mistakes.index.nlevels == 2 and mistakes.shape[1] == 1:
        mistakes = mistakes.iloc[:, 0]
    if isinstance(mistakes, pd.Series):
        if mistakes.index.nlevels != 2:
            _fail("mistakes is a Series indexed by one label per row, expected (true, predicted) pairs.", hint)
        return [(true, guess, count) for (true, guess), count in mistakes.items()]
    if isinstance(mistakes, pd.DataFrame):
        if mistakes.shape[1] != 3:
            _fail(f"mistakes is a DataFrame with {mistakes.shape[1]} columns, expected 3 "
                  f"(true digit, predicted digit, count).", hint)
        return [tuple(row) for row in mistakes.itertuples(index=False)]
    try:
        rows = [tuple(row) for row in mistakes]
    except TypeError:
        _fail(f"mistakes should be a Series or a list of (true, predicted, count), got {type(mistakes).__name__}.", hint)
    if any(len(row) != 3 for row in rows):
        _fail("each mistake should be (true digit, predicted digit, count).", hint)
    return rows


def check_top_mistakes(confusion, mistakes, y_true, y_pred, n: int = 5) -> None:
    """Check a confusion matrix and its ``n`` most frequent mistakes.

    ``confusion`` should be the confusion matrix of the predictions ``y_pred``
    against the true labels ``y_true`` (a DataFrame or an array; rows = true
    label, columns = predicted label, counts, as
    ``sklearn.metrics.confusion_matrix(y_true, y_pred)``). ``mistakes`` should
    hold its ``n`` largest entries off the diagonal: a Series of counts indexed
    by (true, predicted) pairs, or ``n`` rows (true, predicted, count). Ties
    for the last place may be broken either way.
    Introduced in notebook 05 (``05_tsne``).
    """
    _require(confusion, "confusion")
    _require(mistakes, "mistakes")
    from sklearn.metrics import confusion_matrix

    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    labels = np.unique(np.concatenate([y_true, y_pred]))
    expected = confusion_matrix(y_true, y_pred, labels=labels)
    size = len(labels)
    matrix = _as_float_array(confusion.to_numpy() if hasattr(confusion, "to_numpy") else confusion, "confusion")
    if matrix.shape != (size, size):
        _fail(f"confusion has shape {_shape(matrix.shape)}, expected ({size}, {size}): "
              f"one row per true label and one column per predicted label.")
    if not np.allclose(matrix, expected):
        hint = ("predict the test codes with the 5-NN classifier fitted on the training codes and labels, "
                "then confusion_matrix(y_test, predicted).")
        if np.allclose(matrix, expected.T):
            hint = "rows and columns are swapped: confusion_matrix(y_true, y_pred) takes the true labels first."
        elif math.isclose(matrix.sum(), 1.0, rel_tol=1e-6) or np.allclose(matrix.sum(axis=1), 1.0):
            hint = "count the examples (leave normalize at None): the matrix should hold whole numbers."
        _fail(f"confusion is not the confusion matrix of these predictions "
              f"({int(matrix.trace())} right on its diagonal, {int(expected.trace())} expected).", hint)
    _ok(f"confusion matrix {size}x{size}, rows = true label, columns = predicted: "
        f"{int(expected.trace())} of {len(y_true)} right")
    rows = _mistake_rows(mistakes)
    if len(rows) != n:
        _fail(f"mistakes lists {len(rows)} entries, expected the {n} most frequent.", "nlargest(5) keeps five.")
    position = {label: i for i, label in enumerate(labels.tolist())}
    for true, guess, count in rows:
        if true not in position or guess not in position:
            _fail(f"({true!r}, {guess!r}) is not a pair of labels.", "index the counts by (true, predicted) labels.")
        if true == guess:
            _fail(f"({true}, {guess}) is on the diagonal: a right prediction, not a mistake.",
                  "leave out the diagonal, e.g. confusion.where(~np.eye(10, dtype=bool)) before stacking.")
        right = expected[position[true], position[guess]]
        if not math.isclose(float(count), float(right)):
            hint = None
            if math.isclose(float(count), float(expected[position[guess], position[true]])):
                hint = "the pair is read backwards: (true digit, predicted digit), the row first."
            _fail(f"the count of (true {true}, predicted {guess}) is {count}, the confusion matrix says {right}.", hint)
    if len({(true, guess) for true, guess, _ in rows}) != n:
        _fail("a mistake is listed twice.")
    off_diagonal = expected[~np.eye(size, dtype=bool)]
    largest = sorted(off_diagonal.tolist(), reverse=True)[:n]
    counts = sorted((float(count) for _, _, count in rows), reverse=True)
    if not np.allclose(counts, largest):
        _fail(f"these are not the {n} most frequent mistakes: counts {counts}, expected {largest}.",
              "sort the off-diagonal counts from the largest down (nlargest).")
    _ok(f"the {n} most frequent mistakes: " + ", ".join(f"{true}->{guess} ({int(count)})" for true, guess, count in rows))


# ----------------------------------------------------------------------------- notebook 06: beyond the end points
def _as_images(value, what: str) -> torch.Tensor:
    return torch.as_tensor(_as_float_array(value, what), dtype=torch.float32)


def _codes_of(model, X: torch.Tensor) -> torch.Tensor:
    """The model's codes of ``X`` (the mean of a variational encoder), on the CPU."""
    from .scoring import inference

    with inference(model) as device:
        Z = model.encode(X.to(device))
    return (Z[0] if isinstance(Z, tuple) else Z).cpu()


def _decoded(model, Z: torch.Tensor) -> torch.Tensor:
    from .scoring import inference

    with inference(model) as device:
        return model.decode(Z.to(device)).cpu()


def check_extrapolation(strip, alphas, model, x0: torch.Tensor, x1: torch.Tensor, *,
                        low: float = -1.0, high: float = 2.0, steps: int = 13) -> None:
    """Check a walk along the line through two codes, beyond its end points.

    ``alphas`` should be the ``steps`` weights ``torch.linspace(low, high, steps)``
    and ``strip`` the decoded images of the codes ``(1 - a) * z0 + a * z1``,
    where ``z0`` and ``z1`` are the codes of the images ``x0`` and ``x1``, in the
    order of ``alphas``.
    Introduced in notebook 06 (``06_interpolation``).
    """
    _require(strip, "the decoded strip")
    _require(alphas, "the weights")
    weights = _as_float_array(alphas, "the weights").ravel()
    expected_weights = np.linspace(low, high, steps)
    if weights.shape != (steps,) or not np.allclose(weights, expected_weights, atol=1e-6):
        _fail(f"the weights should be the {steps} values from {low:g} to {high:g} in equal steps, "
              f"got {np.round(weights, 3).tolist()}.", f"torch.linspace({low:g}, {high:g}, {steps}).")
    _ok(f"{steps} weights from {low:g} to {high:g}")
    images = _as_images(strip, "the strip")
    X = torch.cat([x.detach().cpu().reshape(1, *x.shape[-3:]) for x in (x0, x1)])
    if tuple(images.shape) != (steps, *X.shape[1:]):
        _fail(f"the strip has shape {_shape(images.shape)}, expected {_shape((steps, *X.shape[1:]))}: "
              f"one decoded image per weight.")
    z0, z1 = _codes_of(model, X)
    a = torch.as_tensor(expected_weights, dtype=torch.float32).view(-1, *([1] * z0.dim()))
    expected = _decoded(model, (1 - a) * z0 + a * z1)
    if not torch.allclose(images, expected, atol=1e-4):
        hint = "encode x0 and x1, take (1 - a) * z0 + a * z1 for each weight a, and decode those codes."
        pixels = (1 - a.view(-1, 1, 1, 1)) * X[0] + a.view(-1, 1, 1, 1) * X[1]
        if torch.allclose(images, pixels, atol=1e-4) or torch.allclose(images, pixels.clamp(0, 1), atol=1e-4):
            hint = "that extrapolates the pixels; walk along the line through the codes and decode."
        elif torch.allclose(images, expected.flip(0), atol=1e-4):
            hint = "the walk runs backwards: the weight a belongs to z1 and (1 - a) to z0."
        _fail("the strip is not the decoded walk (1 - a) * z0 + a * z1 for these weights.", hint)
    _ok("each image is the decoded code (1 - a) * z0 + a * z1; a = 0 and a = 1 give the reconstructions of x0 and x1")


def check_average_digits(pixel_means, decoded_means, model, X: torch.Tensor, y, Z) -> None:
    """Check the average digit of each class, in pixels and decoded from the mean code.

    ``X`` (images), ``y`` (labels) and ``Z`` (their codes, e.g. from
    :func:`helpers.encode_dataset`) are the notebook's data. ``pixel_means``
    should hold one image per label, in the order of the sorted labels: the
    mean of that label's images; ``decoded_means`` the decoded mean of that
    label's codes.
    Introduced in notebook 06 (``06_interpolation``).
    """
    _require(pixel_means, "pixel_means")
    _require(decoded_means, "decoded_means")
    y = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y).ravel()
    labels = np.unique(y)
    X = X.detach().cpu().float()
    Z = torch.as_tensor(_as_float_array(Z, "Z"), dtype=torch.float32)
    shape = (len(labels), *X.shape[1:])
    means = _as_images(pixel_means, "pixel_means")
    if tuple(means.shape) != shape:
        _fail(f"pixel_means has shape {_shape(means.shape)}, expected {_shape(shape)}: one mean image per digit.",
              "torch.stack([X[labels == d].mean(dim=0) for d in range(10)]).")
    expected_means = torch.stack([X[torch.from_numpy(y == label)].mean(dim=0) for label in labels])
    if not torch.allclose(means, expected_means, atol=1e-5):
        hint = "average the images of each digit over the examples (dim=0), one digit after another."
        if torch.allclose(means, X.mean(dim=0).expand_as(means), atol=1e-5):
            hint = "every row is the mean of all the images: keep only the images of one digit (X[labels == d])."
        _fail("pixel_means is not the mean image of each digit.", hint)
    _ok(f"{len(labels)} mean images, one per digit")
    decoded = _as_images(decoded_means, "decoded_means")
    if tuple(decoded.shape) != shape:
        _fail(f"decoded_means has shape {_shape(decoded.shape)}, expected {_shape(shape)}: one image per digit.")
    code_means = torch.stack([Z[torch.from_numpy(y == label)].mean(dim=0) for label in labels])
    expected = _decoded(model, code_means.view(len(labels), *_codes_of(model, X[:1]).shape[1:]))
    if not torch.allclose(decoded, expected, atol=1e-4):
        hint = "average the codes of each digit, then decode the 10 mean codes with model.decode."
        if torch.allclose(decoded, _decoded(model, _codes_of(model, expected_means)), atol=1e-4):
            hint = ("that decodes the code of the mean image: average the codes of the digit's images instead "
                    "(the mean of the codes is not the code of the mean).")
        _fail("decoded_means is not the decoded mean code of each digit.", hint)
    _ok("each decoded image is the decoded mean of a digit's codes")



# ----------------------------------------------------------------------------- tabular rows (notebook 08)
def _one_per_item(values, n: int, what: str) -> np.ndarray:
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
    X = as_features(X)
    X_before = X.clone()
    values = _call_student(f"item_errors(model, X) on X of shape {tuple(X.shape)}", item_errors_fn, model, X)
    errors = _one_per_item(values, len(X), "the errors")
    _ok(f"one error per item ({len(errors)})")
    if not torch.equal(X, X_before):
        _fail("item_errors changed X in place.", "avoid in-place operations such as X -= ...")
    expected = reconstruction_errors(model, X, reduction="mse")
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
    X = as_features(X)
    errors_abs = _one_per_item(errors_abs, len(X), "errors_abs")
    errors_max = _one_per_item(errors_max, len(X), "errors_max")
    expected_abs = reconstruction_errors(model, X, reduction="abs")
    if not _ranks_like(errors_abs, expected_abs):
        hint = "take |x - model(x)| (torch.abs) per column, then sum or average over dim=1."
        if _ranks_like(errors_abs, reconstruction_errors(model, X, reduction="mse")):
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
    X = as_features(X)
    errors = _one_per_item(errors_pixels, len(X), "errors_pixels")
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


# ----------------------------------------------------------------------------- notebook 09: the variational autoencoder
def _kl_closed_form(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    return 0.5 * (mean.pow(2) + log_variance.exp() - log_variance - 1.0)


@_keeps_random_state
def check_sample_codes(sample_fn: Callable) -> None:
    """Check ``sample_fn(mean, log_variance, num_samples) -> codes`` of shape ``(num_samples, N, d)``.

    Each code is ``mean + exp(log_variance / 2) * eps`` with fresh ``eps ~ N(0, I)``
    (the reparameterisation trick): the check measures the mean and standard
    deviation of many draws and that gradients reach ``mean`` and ``log_variance``.
    Introduced in notebook 09 (``09_variational_autoencoder``).
    """
    _require(sample_fn, "the sampling function")
    torch.manual_seed(0)
    mean = torch.tensor([[0.0, 2.0, -1.0], [1.0, 0.0, 0.5]])
    std = torch.tensor([[1.0, 2.0, 0.5], [0.1, 1.0, 3.0]])
    log_variance = 2 * std.log()
    Z = _call_student("sample_fn(mean, log_variance, 20000)", sample_fn, mean, log_variance, 20_000)
    if not isinstance(Z, torch.Tensor):
        _fail(f"expected a torch.Tensor of codes, got {type(Z).__name__}.")
    if tuple(Z.shape) != (20_000, 2, 3):
        _fail(f"for 2 examples with 3 latent dimensions and 20000 samples the codes have shape {_shape(Z.shape)}, "
              f"expected (20000, 2, 3): one code per sample and example.",
              "draw eps with torch.randn((num_samples, *mean.shape)) and let broadcasting do the rest.")
    _ok("shape (num_samples, N, latent_dim)")
    measured_mean, measured_std = Z.detach().mean(0), Z.detach().std(0)
    if float(measured_std.max()) < 1e-6:
        _fail("every sample is the same code.", "draw new noise eps for every sample: torch.randn((num_samples, *mean.shape)).")
    if not torch.allclose(measured_mean, mean, atol=0.06):
        _fail(f"the codes' mean over the samples is {measured_mean.numpy().round(3).tolist()}, "
              f"expected the mean {mean.tolist()}.")
    if not torch.allclose(measured_std, std, rtol=0.05, atol=0.01):
        hint = "the standard deviation is exp(log_variance / 2)."
        if torch.allclose(measured_std, std ** 2, rtol=0.05, atol=0.01):
            hint = "you multiplied eps by the variance: the standard deviation is exp(log_variance / 2)."
        elif torch.allclose(measured_std, log_variance.abs(), rtol=0.05, atol=0.01):
            hint = "you multiplied eps by log_variance itself: the standard deviation is exp(log_variance / 2)."
        _fail(f"the codes' standard deviation over the samples is {measured_std.numpy().round(3).tolist()}, "
              f"expected {std.tolist()}.", hint)
    _ok("mean and standard deviation of the draws match N(mean, exp(log_variance))")
    if torch.equal(Z[0], Z[1]):
        _fail("the first two samples are identical.", "draw new noise for every sample.")
    mean_param, log_variance_param = mean.clone().requires_grad_(True), log_variance.clone().requires_grad_(True)
    out = _call_student("sample_fn(mean, log_variance, 4) with gradients", sample_fn, mean_param, log_variance_param, 4)
    if not isinstance(out, torch.Tensor) or out.grad_fn is None:
        _fail("no gradient flows from the codes back to mean and log_variance.",
              "build the codes from mean and log_variance with torch operations (mean + std * eps); "
              "torch.normal(mean, std) samples without a path for the gradients.")
    out.sum().backward()
    if mean_param.grad is None or log_variance_param.grad is None or not torch.allclose(
            mean_param.grad, torch.full_like(mean, 4.0)):
        _fail("the gradient of the codes with respect to mean should be 1 per sample (4 in all for 4 samples), "
              "and reach log_variance too.",
              "build the codes as mean + exp(log_variance / 2) * eps; torch.normal(mean, std) samples without a "
              "usable path for the gradients.")
    _ok("gradients reach mean and log_variance (the point of the trick)")


@_keeps_random_state
def check_kl_monte_carlo(kl_fn: Callable) -> None:
    """Check ``kl_fn(mean, log_variance, num_samples) -> (N,)``: a Monte Carlo estimate of KL(q || N(0, I)).

    The estimate averages ``log q(z) - log p(z)`` over codes drawn from
    ``q = N(mean, exp(log_variance))``; the check compares it with the closed
    form, within a few standard errors, and checks that it is random (a Monte
    Carlo estimate, not the closed form itself).
    Introduced in notebook 09 (``09_variational_autoencoder``).
    """
    _require(kl_fn, "the Monte Carlo KL")
    g = torch.Generator().manual_seed(0)
    mean, log_variance = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    exact = _kl_closed_form(mean, log_variance).sum(1)
    torch.manual_seed(0)
    estimate = _call_student("kl_fn(mean, log_variance, 20000)", kl_fn, mean, log_variance, 20_000)
    estimate = torch.as_tensor(_as_float_array(estimate, "the KL estimates"), dtype=torch.float32)
    if tuple(estimate.shape) != (5,):
        _fail(f"expected one KL per example, shape (5,), got {_shape(estimate.shape)}.",
              "sum log q(z) - log p(z) over the latent dimensions, then average over the samples.")
    _ok("one estimate per example")
    # standard error of the estimate, measured on the right estimator
    eps = torch.randn((20_000, 5, 4), generator=torch.Generator().manual_seed(1))
    z = mean + (0.5 * log_variance).exp() * eps
    spread = (-0.5 * (eps ** 2 + log_variance) + 0.5 * z ** 2).sum(-1).std(0) / math.sqrt(20_000)
    error = (estimate - exact).abs()
    if not bool((error < 5 * spread + 1e-3).all()):
        hint = "average log q(z) - log p(z) over codes z drawn from q (with the reparameterisation trick)."
        if torch.allclose(estimate, exact + 0.5 * 4, atol=0.2):
            hint = "the estimate is 2 nats (0.5 per dimension) too high: check the log-densities' terms."
        elif torch.allclose(estimate, -exact, atol=0.2):
            hint = "the sign is reversed: the KL of q to p averages log q - log p, over codes drawn from q."
        _fail(f"with 20000 samples the estimates {estimate.numpy().round(3).tolist()} are too far from the closed "
              f"form {exact.numpy().round(3).tolist()} (more than 5 standard errors).", hint)
    if torch.allclose(estimate.double(), exact.double(), atol=1e-6):
        _fail("the estimate equals the closed form exactly.",
              "estimate the KL by sampling codes from q, not with the closed-form formula.")
    _ok("within 5 standard errors of the closed form with 20000 samples, and not the formula itself")
    small = [_as_float_array(_call_student("kl_fn(mean, log_variance, 10)", kl_fn, mean, log_variance, 10),
                             "the KL estimates") for _ in range(2)]
    if np.allclose(small[0], small[1]):
        _fail("two calls with 10 samples gave the same estimate.", "draw fresh codes on every call.")
    _ok("fresh samples on every call")


def check_kl_per_dimension(kl_fn: Callable) -> None:
    """Check ``kl_fn(mean, log_variance) -> (d,)``: the KL of each latent dimension, averaged over the examples.

    Per example and dimension the closed form is
    ``0.5 * (mean**2 + exp(log_variance) - log_variance - 1)``; averaging over
    the examples gives how much each dimension carries. A dimension whose
    average KL is close to 0 has collapsed onto the prior.
    Introduced in notebook 09 (``09_variational_autoencoder``).
    """
    _require(kl_fn, "the KL per dimension")
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(50, 6, generator=g) * torch.tensor([2.0, 1.0, 0.5, 0.1, 0.0, 0.0])
    log_variance = torch.randn(50, 6, generator=g) * torch.tensor([0.5, 0.5, 0.5, 0.1, 0.0, 0.0]) \
        + torch.tensor([-3.0, -2.0, -1.0, -0.1, 0.0, 0.0])
    expected = _kl_closed_form(mean, log_variance).mean(0)
    got = _call_student("kl_fn(mean, log_variance) on 50 examples of 6 dimensions", kl_fn, mean, log_variance)
    got = _as_float_array(got, "the KL per dimension")
    if got.shape != (6,):
        hint = None
        if got.shape == (50,):
            hint = "that is one KL per example: average over the examples (dim=0), not over the dimensions."
        elif got.shape == (50, 6):
            hint = "average over the examples (dim=0)."
        _fail(f"expected one value per latent dimension, shape (6,), got {_shape(got.shape)}.", hint)
    if not np.allclose(got, expected.numpy(), rtol=1e-4, atol=1e-6):
        hint = "0.5 * (mean**2 + exp(log_variance) - log_variance - 1), averaged over the examples."
        if np.allclose(got, (_kl_closed_form(mean, log_variance) + 0.5).mean(0).numpy(), rtol=1e-4):
            hint = "the '- 1' is missing: the KL of N(0, 1) to itself must be 0."
        elif np.allclose(got, expected.numpy() * 50, rtol=1e-4):
            hint = "that is the sum over the examples: average them."
        _fail(f"expected {expected.numpy().round(4).tolist()}, got {np.round(got, 4).tolist()}.", hint)
    _ok(f"KL per dimension correct; the last two dimensions (codes equal to the prior) carry {got[-1]:.1g} nats")



# ----------------------------------------------------------------------------- notebook 10: anomalies at their real prevalence
def _tie_free_ranking(seed: int, n: int = 300, share: float = 0.1):
    """``n`` distinct scores and 0/1 labels (both classes present), anomalies scoring higher on average."""
    rng = np.random.default_rng(seed)
    is_anomaly = (rng.random(n) < share).astype(int)
    is_anomaly[:2] = (1, 0)
    return rng.normal(size=n) + 1.5 * is_anomaly, is_anomaly


def _labelled_number(fn, call: str, what: str, *args) -> float:
    return _one_number(_call_student(call, fn, *args), what)


def _top_share(scores, is_anomaly, n: int, highest: bool = True) -> float:
    order = np.argsort(-np.asarray(scores) if highest else np.asarray(scores), kind="stable")
    return float(np.asarray(is_anomaly)[order[:n]].mean())


def check_precision_at_n(precision_fn: Callable, scores=None, is_anomaly=None) -> None:
    """Check ``precision_fn(scores, is_anomaly) -> precision`` among the ``n`` highest scores, ``n`` = number of anomalies.

    ``scores`` and ``is_anomaly`` are 1-D numpy arrays. The check runs small
    cases with a known answer (rows not sorted by score), then compares with
    PyOD's ``precision_n_scores`` on 300 random scores without ties; given
    the notebook's ``scores`` and ``is_anomaly``, it also prints the value there.
    Introduced in notebook 10 (``10_labelled_anomalies``).
    """
    _require(precision_fn, "the precision-at-n function")
    from pyod.utils.utility import precision_n_scores

    def precision_at_n(scores, labels):
        return float(precision_n_scores(labels, scores))

    cases = [("a perfect ranking", [0.2, 0.9, 0.1, 0.8], [0, 1, 0, 1], 1.0),
             ("a reversed ranking", [0.9, 0.1, 0.8, 0.2], [0, 1, 0, 1], 0.0),
             ("one anomaly in the top two", [0.3, 0.9, 0.1, 0.8, 0.2], [1, 1, 0, 0, 0], 0.5),
             ("one anomaly among five", [0.5, 0.1, 0.7, 0.3, 0.2], [0, 0, 1, 0, 0], 1.0)]
    for what, case_scores, labels, expected in cases:
        case_scores, labels = np.array(case_scores), np.array(labels)
        value = _labelled_number(precision_fn, f"precision_fn(scores, is_anomaly) on {what}", "the precision",
                                 case_scores, labels)
        if math.isclose(value, expected, abs_tol=1e-9):
            continue
        n = int(labels.sum())
        hint = "rank the examples by score, highest first, keep the n = is_anomaly.sum() first, and take the share of anomalies among them."
        if math.isclose(value, _top_share(case_scores, labels, n, highest=False), abs_tol=1e-9):
            hint = "those are the n *lowest* scores: sort in descending order (np.argsort(-scores))."
        elif math.isclose(value, float(labels[:n].mean()), abs_tol=1e-9):
            hint = "those are the first n rows: rank them by score first."
        elif math.isclose(value, float(labels.mean()), abs_tol=1e-9):
            hint = "that is the share of anomalies among all the examples: n is the number of anomalies, not of examples."
        elif math.isclose(value, n * expected, abs_tol=1e-9):
            hint = "that is the number of anomalies in the top n: divide by n."
        _fail(f"on {what} (scores {case_scores.tolist()}, is_anomaly {labels.tolist()}) the precision at n is "
              f"{value:.4g}, expected {expected:.4g}.", hint)
    _ok("right on small cases: a perfect ranking, a reversed one, rows in any order")
    random_scores, labels = _tie_free_ranking(0)
    expected = precision_at_n(random_scores, labels)
    value = _labelled_number(precision_fn, "precision_fn(scores, is_anomaly) on 300 random scores", "the precision",
                             random_scores, labels)
    if not math.isclose(value, expected, abs_tol=1e-9):
        _fail(f"on 300 random scores the precision at n is {value:.4f}, PyOD's precision_n_scores says {expected:.4f}.")
    _ok(f"agrees with PyOD's precision_n_scores on 300 random scores ({value:.3f})")
    if scores is not None:
        scores, labels = np.asarray(scores, dtype=float), np.asarray(is_anomaly).astype(int)
        value = _labelled_number(precision_fn, "precision_fn(scores, is_anomaly) on the notebook's scores",
                                 "the precision", scores, labels)
        expected = precision_at_n(scores, labels)
        if not math.isclose(value, expected, abs_tol=1e-9):
            _fail(f"on the notebook's scores the precision at n is {value:.4f}, PyOD's precision_n_scores says "
                  f"{expected:.4f}.", "with tied scores at the n-th place the two may differ: which did you flag?")
        _ok(f"on the notebook's scores: {value:.3f} ({int(round(value * labels.sum()))} of the top {labels.sum()} "
            f"are anomalies)")


def _precision_at_every_rank(scores, is_anomaly) -> np.ndarray:
    labels = np.asarray(is_anomaly)[np.argsort(-np.asarray(scores), kind="stable")]
    return np.cumsum(labels) / np.arange(1, len(labels) + 1), labels


def check_average_precision(ap_fn: Callable, scores=None, is_anomaly=None) -> None:
    """Check ``ap_fn(scores, is_anomaly) -> average precision``, computed from the ranking.

    The average precision is the mean, over the anomalies, of the precision
    among the examples ranked at or above each anomaly. The check runs small
    cases with a known answer, then compares with scikit-learn's
    ``average_precision_score`` on 300 random scores without ties; given the
    notebook's ``scores`` and ``is_anomaly``, it also prints the value there.
    Introduced in notebook 10 (``10_labelled_anomalies``).
    """
    _require(ap_fn, "the average-precision function")
    from sklearn.metrics import average_precision_score, roc_auc_score

    cases = [("a perfect ranking", [0.9, 0.2, 0.8, 0.1], [1, 0, 1, 0], 1.0),
             ("anomalies ranked first and third", [0.7, 0.1, 0.9, 0.8], [1, 0, 1, 0], (1 + 2 / 3) / 2),
             ("one anomaly ranked third of four", [0.6, 0.9, 0.3, 0.8], [1, 0, 0, 0], 1 / 3)]
    for what, case_scores, labels, expected in cases:
        case_scores, labels = np.array(case_scores), np.array(labels)
        value = _labelled_number(ap_fn, f"ap_fn(scores, is_anomaly) on {what}", "the average precision",
                                 case_scores, labels)
        if math.isclose(value, expected, abs_tol=1e-9):
            continue
        precisions, ranked = _precision_at_every_rank(case_scores, labels)
        hint = ("rank the examples by score, highest first; at the rank of each anomaly, take the precision "
                "(anomalies so far / examples so far); average those precisions over the anomalies.")
        if math.isclose(value, float(precisions.mean()), abs_tol=1e-9):
            hint = "that averages the precision at every rank: average it only at the ranks of the anomalies."
        elif math.isclose(value, float(roc_auc_score(labels, case_scores)), abs_tol=1e-9):
            hint = "that is the ROC AUC; the average precision looks at precision, not at the false positive rate."
        elif math.isclose(value, float(precisions[ranked == 1].sum()), abs_tol=1e-9):
            hint = "that is the sum of the precisions: divide by the number of anomalies."
        _fail(f"on {what} (scores {case_scores.tolist()}, is_anomaly {labels.tolist()}) the average precision is "
              f"{value:.4g}, expected {expected:.4g}.", hint)
    _ok("right on small cases: a perfect ranking, anomalies further down")
    random_scores, labels = _tie_free_ranking(1)
    expected = float(average_precision_score(labels, random_scores))
    value = _labelled_number(ap_fn, "ap_fn(scores, is_anomaly) on 300 random scores", "the average precision",
                             random_scores, labels)
    if not math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12):
        _fail(f"on 300 random scores the average precision is {value:.6f}, scikit-learn says {expected:.6f}.")
    _ok(f"agrees with scikit-learn's average_precision_score on 300 random scores ({value:.4f})")
    if scores is not None:
        scores, labels = np.asarray(scores, dtype=float), np.asarray(is_anomaly).astype(int)
        value = _labelled_number(ap_fn, "ap_fn(scores, is_anomaly) on the notebook's scores", "the average precision",
                                 scores, labels)
        expected = float(average_precision_score(labels, scores))
        if not math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9):
            _fail(f"on the notebook's scores the average precision is {value:.4f}, scikit-learn says {expected:.4f}.")
        _ok(f"on the notebook's scores: {value:.3f}, as scikit-learn says")


def check_contamination_threshold(threshold_fn: Callable, train_scores=None, contamination: float | None = None) -> None:
    """Check ``threshold_fn(train_scores, contamination) -> threshold`` that flags a share ``contamination`` of them.

    ``contamination`` is a share (0.03 for 3%); the rows flagged are those
    scoring strictly above the threshold. On random scores and several shares,
    the threshold must flag the expected number of training scores, to within
    one. Given the notebook's ``train_scores`` and ``contamination``, it also
    prints the threshold and how many training rows it flags.
    Introduced in notebook 10 (``10_labelled_anomalies``).
    """
    _require(threshold_fn, "the contamination threshold function")
    rng = np.random.default_rng(2)
    random_scores = rng.lognormal(size=1000)
    for share in (0.03, 0.1, 0.25):
        value = _labelled_number(threshold_fn, f"threshold_fn(train_scores, {share})", "the threshold",
                                 random_scores.copy(), share)
        flagged, expected = int((random_scores > value).sum()), int(round(share * len(random_scores)))
        if abs(flagged - expected) <= 1:
            continue
        hint = ("the threshold is the (1 - contamination) quantile of the training scores: "
                "np.percentile(train_scores, 100 * (1 - contamination)).")
        if abs(flagged - (len(random_scores) - expected)) <= 1:
            hint = "that flags all but the lowest scores: the threshold sits at 100 * (1 - contamination), not 100 * contamination."
        elif flagged <= 1:
            hint = "contamination is a share (0.03 means 3%): the percentile is 100 * (1 - contamination)."
        _fail(f"with contamination {share} your threshold flags {flagged} of {len(random_scores)} training scores, "
              f"expected about {expected}.", hint)
    _ok("flags the expected share of the training scores (3%, 10%, 25% of 1,000)")
    if train_scores is not None:
        train_scores = np.asarray(train_scores, dtype=float)
        value = _labelled_number(threshold_fn, "threshold_fn on the notebook's training scores", "the threshold",
                                 train_scores.copy(), contamination)
        _ok(f"on the notebook's training scores: threshold {value:.5f}, flagging {int((train_scores > value).sum())} "
            f"of {len(train_scores)} rows ({contamination:.2%} would be {contamination * len(train_scores):.0f})")


def _cost(scores, is_anomaly, threshold: float, cost_miss: float) -> float:
    flagged = scores > threshold
    return float((flagged & (is_anomaly == 0)).sum() + cost_miss * (~flagged & (is_anomaly == 1)).sum())


def _lowest_cost(scores, is_anomaly, cost_false_alarm: float, cost_miss: float) -> tuple[float, float]:
    """The threshold (among -inf and the scores) with the lowest cost, and that cost."""
    candidates = np.r_[-np.inf, np.unique(scores)]
    costs = [cost_false_alarm * ((scores > t) & (is_anomaly == 0)).sum() + cost_miss * ((scores <= t) & (is_anomaly == 1)).sum()
             for t in candidates]
    best = int(np.argmin(costs))
    return float(candidates[best]), float(costs[best])


def check_cost_threshold(threshold_fn: Callable, scores=None, is_anomaly=None, cost_miss: float | None = None) -> None:
    """Check ``threshold_fn(scores, is_anomaly, cost_miss) -> threshold`` with the lowest total cost on labelled data.

    Decisions are ``scores > threshold``; a false alarm costs 1 and a missed
    anomaly costs ``cost_miss``. The threshold passes when its cost equals the
    lowest cost any threshold reaches (several thresholds may share it),
    including flagging nothing and flagging everything. Given the notebook's
    ``scores``, ``is_anomaly`` and ``cost_miss``, it also prints what the
    threshold flags there.
    Introduced in notebook 10 (``10_labelled_anomalies``).
    """
    _require(threshold_fn, "the cost threshold function")
    cases = [("a small case", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0, 0, 1, 0, 1, 1], 3.0),
             ("a case where flagging everything is cheapest", [0.1, 0.2, 0.3, 0.9], [1, 0, 0, 1], 10.0),
             ("a case where flagging nothing is cheapest", [0.1, 0.5, 0.6, 0.7, 0.8], [1, 0, 0, 1, 0], 1.0),
             ("200 random scores, cost_miss 5", *_tie_free_ranking(3, n=200), 5.0),
             ("200 random scores, cost_miss 30", *_tie_free_ranking(4, n=200), 30.0)]
    for what, case_scores, labels, c in cases:
        case_scores, labels = np.asarray(case_scores, dtype=float), np.asarray(labels)
        value = _labelled_number(threshold_fn, f"threshold_fn(scores, is_anomaly, {c}) on {what}", "the threshold",
                                 case_scores.copy(), labels.copy(), c)
        _, best = _lowest_cost(case_scores, labels, 1.0, c)
        cost = _cost(case_scores, labels, value, c)
        if math.isclose(cost, best, abs_tol=1e-9):
            continue
        hint = ("try every threshold (each score, and one below the lowest score), count the false alarms "
                "(flagged normal examples) and the misses (anomalies not flagged), and keep the cheapest.")
        swapped, _ = _lowest_cost(case_scores, labels, c, 1.0)
        if math.isclose(_cost(case_scores, labels, value, c), _cost(case_scores, labels, swapped, c), abs_tol=1e-9) \
                and not math.isclose(_cost(case_scores, labels, swapped, c), best, abs_tol=1e-9):
            hint = "a false alarm costs 1 and a missed anomaly costs cost_miss, not the reverse."
        elif value >= case_scores.min() and math.isclose(_cost(case_scores, labels, -np.inf, c), best, abs_tol=1e-9):
            hint = "flagging everything can be cheapest: include a threshold below the lowest score."
        elif np.any(np.isclose(case_scores, value)):
            lower = case_scores[case_scores < value]
            if lower.size and math.isclose(_cost(case_scores, labels, lower.max(), c), best, abs_tol=1e-9):
                hint = ("the decisions are scores > threshold: a threshold equal to the lowest score you want "
                        "to flag leaves that example out; use the next lower score.")
        _fail(f"on {what}, your threshold {value:.4g} costs {cost:g}, the cheapest costs {best:g}.", hint)
    _ok("the cheapest threshold on small cases (including flag everything / nothing) and on 200 random scores")
    if scores is not None:
        scores, labels = np.asarray(scores, dtype=float), np.asarray(is_anomaly).astype(int)
        value = _labelled_number(threshold_fn, "threshold_fn on the notebook's scores", "the threshold",
                                 scores.copy(), labels.copy(), cost_miss)
        _, best = _lowest_cost(scores, labels, 1.0, cost_miss)
        cost = _cost(scores, labels, value, cost_miss)
        if not math.isclose(cost, best, abs_tol=1e-9):
            _fail(f"on the notebook's scores your threshold costs {cost:g}, the cheapest costs {best:g}.")
        flagged = scores > value
        _ok(f"on the notebook's labelled scores with cost_miss {cost_miss:g}: threshold {value:.5f} flags "
            f"{int(flagged.sum())} rows, {int((flagged & (labels == 1)).sum())} of the {int(labels.sum())} anomalies; "
            f"cost {cost:g} (flagging nothing: {cost_miss * labels.sum():g})")
