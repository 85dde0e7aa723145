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

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

__all__ = [
    "ExerciseCheckError",
    "check_forward",
    "check_training_step",
    "check_anomaly_scores",
    "check_latent_codes",
    "check_threshold",
]

MNIST_SHAPE = (1, 28, 28)


class ExerciseCheckError(AssertionError):
    """An exercise's answer does not do what the exercise asks; the message says why.

    It is an ``AssertionError``, so a check cell fails the way an ``assert`` does.
    Introduced in notebook 01 (``01_dense_autoencoder``).
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


def _shape(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


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
            try:
                out = model_or_fn(X)
            except NotImplementedError:
                raise
            except Exception as error:  # the student's code raised: say so, keep the cause
                raise ExerciseCheckError(
                    f"calling it on a batch of shape {_shape(X.shape)} raised "
                    f"{type(error).__name__}: {error}") from error
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
        try:
            loss = step_fn(model, X, optimizer)
        except NotImplementedError:
            raise
        except Exception as error:
            raise ExerciseCheckError(f"step {step}: step_fn(model, X, optimizer) raised "
                                     f"{type(error).__name__}: {error}") from error
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
    Introduced in notebook 03 (``03_one_class_auc``).
    """
    _require(score_fn, "the score function")
    X = _toy_images(16) if X is None else X
    if model is None:
        model = _SubspaceAutoencoder(X, k=max(len(X) - 1, 1)).eval()
    X_before = X.clone()

    def scores_of(batch, what):
        try:
            values = score_fn(model, batch)
        except NotImplementedError:
            raise
        except Exception as error:
            raise ExerciseCheckError(
                f"score_fn(model, X) on {what} of shape {_shape(batch.shape)} raised "
                f"{type(error).__name__}: {error}") from error
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
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            _fail(f"the threshold should be one number, got a tensor of shape {_shape(value.shape)}.",
                  "reduce over all the errors: errors.mean() + errors.std().")
        value = value.item()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            _fail(f"the threshold should be one number, got an array of shape {_shape(value.shape)}.")
        value = value.item()
    try:
        value = float(value)
    except (TypeError, ValueError):
        _fail(f"the threshold should be a number, got {type(value).__name__}.")
    if not math.isfinite(value):
        _fail(f"the threshold is {value}.")
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
