"""Latent-space helpers: encoding, interpolation end points, grid orientation."""
import numpy as np
import pytest
import torch

from helpers import (ConvAutoencoder, DenseAutoencoder, crossfade, decode_latent_grid, encode_dataset,
                     interpolate_latent)


def test_encode_dataset_returns_one_code_per_input():
    model = ConvAutoencoder(latent_dim=6)
    Z = encode_dataset(model, torch.rand(11, 1, 28, 28), batch_size=4)
    assert isinstance(Z, np.ndarray) and Z.shape == (11, 6)


def test_interpolation_starts_and_ends_at_the_reconstructions():
    torch.manual_seed(0)
    model = ConvAutoencoder().eval()
    x0, x1 = torch.rand(1, 28, 28), torch.rand(1, 1, 28, 28)
    strip = interpolate_latent(model, x0, x1, steps=10)
    assert strip.shape == (10, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(strip[0], model(x0.unsqueeze(0))[0], atol=1e-6)
        assert torch.allclose(strip[-1], model(x1)[0], atol=1e-6)
    with pytest.raises(ValueError, match="one example"):
        interpolate_latent(model, torch.rand(2, 1, 28, 28), x1)
    with pytest.raises(ValueError, match="steps"):
        interpolate_latent(model, x0, x1, steps=1)


def test_crossfade_blends_linearly():
    a, b = torch.zeros(1, 28, 28), torch.ones(1, 28, 28)
    strip = crossfade(a, b, steps=5)
    assert strip.shape == (5, 1, 28, 28)
    assert strip.mean(dim=(1, 2, 3)).tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    with pytest.raises(ValueError, match="same shape"):
        crossfade(a, torch.ones(28, 28))


def test_latent_grid_orientation():
    class Identity2D(DenseAutoencoder):
        """Decodes (z1, z2) to an image whose brightness is z1 on the left half and z2 on the right."""

        def decode(self, z):
            img = torch.zeros(len(z), 1, 28, 28)
            img[:, 0, :, :14] = z[:, :1, None]
            img[:, 0, :, 14:] = z[:, 1:, None]
            return img

    model = Identity2D(latent_dim=2)
    mosaic = decode_latent_grid(model, (0.0, 1.0, 0.0, 1.0), n=3)
    assert mosaic.shape == (84, 84)
    assert mosaic[0, 0] == 0.0 and mosaic[0, -1] == 1.0     # z1 grows to the right
    assert mosaic[0, 14] == 1.0 and mosaic[-1, 14] == 0.0   # z2 grows upwards
    with pytest.raises(ValueError, match="2-D latent"):
        decode_latent_grid(ConvAutoencoder(), (0, 1, 0, 1))
    with pytest.raises(ValueError, match="min < max"):
        decode_latent_grid(model, (1, 0, 0, 1))
