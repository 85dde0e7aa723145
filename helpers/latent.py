"""The latent space: encoding whole datasets, interpolation, and decoding a grid."""
from __future__ import annotations

import numpy as np
import torch

from ._utils import batches
from .scoring import inference

__all__ = ["encode_dataset", "interpolate_latent", "crossfade", "decode_latent_grid"]


def _code(model, X: torch.Tensor) -> torch.Tensor:
    """The code of ``X``; a variational encoder returns (mean, log variance), and its code is the mean."""
    Z = model.encode(X)
    return Z[0] if isinstance(Z, tuple) else Z


def encode_dataset(model, X, batch_size: int = 1000) -> np.ndarray:
    """The latent codes ``Z`` of every input in ``X`` (a tensor or a loader), as a numpy array.

    Introduced in notebook 04 (``04_latent_2d``).
    """
    with inference(model) as device:
        Z = torch.cat([_code(model, batch.to(device)).cpu() for batch in batches(X, batch_size)])
    return Z.flatten(start_dim=1).numpy()


def _alphas(steps: int) -> torch.Tensor:
    if steps < 2:
        raise ValueError(f"steps must be >= 2 (both end points included), got {steps}")
    return torch.linspace(0.0, 1.0, steps)


def _one_example(model, x: torch.Tensor, name: str) -> torch.Tensor:
    """One input, given with or without its batch dimension, returned as a batch of one."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if tuple(x.shape) == tuple(model.input_shape):
        return x.unsqueeze(0)
    if tuple(x.shape) == (1, *model.input_shape):
        return x
    raise ValueError(f"{name} must be one example of shape {tuple(model.input_shape)} "
                     f"(or {(1, *model.input_shape)}), got {tuple(x.shape)}")


def interpolate_latent(model, x0: torch.Tensor, x1: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Decode ``steps`` points on the straight line between the codes of ``x0`` and ``x1``.

    Returns the decoded images, ``(steps, *input_shape)``, on the CPU; the first
    and last are the reconstructions of ``x0`` and ``x1``.
    Introduced in notebook 06 (``06_interpolation``).
    """
    alphas = _alphas(steps)
    with inference(model) as device:
        z0 = _code(model, _one_example(model, x0, "x0").to(device))
        z1 = _code(model, _one_example(model, x1, "x1").to(device))
        shape = (steps,) + (1,) * (z0.dim() - 1)
        weights = alphas.to(device).view(shape)
        return model.decode((1 - weights) * z0 + weights * z1).cpu()


def crossfade(x0: torch.Tensor, x1: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Blend two images pixel by pixel: ``(1 - a) x0 + a x1`` for ``steps`` values of ``a``.

    Returns ``(steps, *x0.shape)``.

    Introduced in notebook 06 (``06_interpolation``).
    """
    if not isinstance(x0, torch.Tensor) or not isinstance(x1, torch.Tensor):
        raise TypeError("x0 and x1 must be torch tensors")
    x0, x1 = x0.cpu(), x1.cpu()
    if x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
    weights = _alphas(steps).view((steps,) + (1,) * x0.dim())
    return (1 - weights) * x0 + weights * x1


def decode_latent_grid(model, extent, n: int = 20) -> np.ndarray:
    """Decode an ``n`` x ``n`` grid over a 2-D latent plane into one image mosaic.

    ``extent = (z1_min, z1_max, z2_min, z2_max)``. The mosaic's top-left tile is
    ``(z1_min, z2_max)``, so it lines up with a scatter of the codes when drawn
    with ``imshow(..., extent=extent)`` (see :func:`helpers.plot_latent_map`).
    Introduced in notebook 04 (``04_latent_2d``).
    """
    z1_min, z1_max, z2_min, z2_max = extent
    if not (z1_min < z1_max and z2_min < z2_max):
        raise ValueError(f"extent must be (z1_min, z1_max, z2_min, z2_max) with min < max, got {extent}")
    if model.latent_shape != (2,):
        raise ValueError(f"decode_latent_grid needs a 2-D latent space, the model's is {model.latent_shape}")
    z1 = torch.linspace(z1_min, z1_max, n)
    z2 = torch.linspace(z2_max, z2_min, n)  # top row = largest z2
    grid = torch.stack(torch.meshgrid(z2, z1, indexing="ij")[::-1], dim=-1).reshape(-1, 2)
    with inference(model) as device:
        images = model.decode(grid.to(device)).cpu().numpy()
    h, w = images.shape[-2:]
    return images.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)
