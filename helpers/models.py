"""The autoencoders of the course, one class per architecture.

Every model has ``encode(x)``, ``decode(z)`` and ``forward(x)`` (the
reconstruction), checks the shape, dtype and values of what it is given before
any layer sees it, and remembers its constructor arguments in ``config`` so a
checkpoint can rebuild it.
"""
from __future__ import annotations

import torch
from torch import nn

from ._utils import MNIST_SHAPE, check_values, shape_text

__all__ = [
    "Autoencoder",
    "DenseAutoencoder",
    "ConvAutoencoder",
    "SmallConvAutoencoder",
    "ConvDenoisingAutoencoder",
    "WideAutoencoder",
    "TabularAutoencoder",
    "count_parameters",
]


class Autoencoder(nn.Module):
    """Base class: shape checks on the way in, ``config`` for checkpoints.

    Subclasses set ``input_shape`` and ``latent_shape`` (per example, without the
    batch dimension) and build ``self.encoder`` and ``self.decoder``. Inputs
    must be finite and lie in ``input_range`` (pixels in [0, 1]; ``None`` for
    any value).
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """

    input_shape: tuple[int, ...] = MNIST_SHAPE
    latent_shape: tuple[int, ...] = ()
    input_range: tuple[float, float] | None = (0.0, 1.0)

    def __init__(self, **config):
        super().__init__()
        self.config = dict(config)

    def _check(self, x, expected: tuple[int, ...], what: str) -> None:
        name = type(self).__name__
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}.{what} expects a torch.Tensor, got {type(x).__name__}")
        if not torch.is_floating_point(x):
            raise TypeError(f"{name}.{what} expects a floating-point tensor (float32 in [0, 1] for images), "
                            f"got dtype {x.dtype}; convert with x.float() / 255 for raw uint8 pixels")
        if tuple(x.shape[1:]) != tuple(expected) or x.dim() != len(expected) + 1:
            hint = ""
            if tuple(x.shape) == tuple(expected):
                hint = " It looks like a single example: add the batch dimension with x.unsqueeze(0)."
            raise ValueError(f"{name}.{what} expects a batch of shape {shape_text(expected, batch=True)}, "
                             f"got {tuple(x.shape)}.{hint}")

    def _check_inputs(self, x) -> None:
        self._check(x, self.input_shape, "encode")
        check_values(x, self.input_range, f"the input of {type(self).__name__}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Map a batch of inputs to their latent codes."""
        self._check_inputs(x)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Map a batch of latent codes back to input space."""
        self._check(z, self.latent_shape, "decode")
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction of ``x``: ``decode(encode(x))``."""
        return self.decode(self.encode(x))

    def training_loss(self, X_in: torch.Tensor, X: torch.Tensor, loss_fn) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss :func:`helpers.fit` minimises on a batch, and the reconstruction: ``loss_fn(self(X_in), X)``.

        ``X_in`` is what the model sees (``X`` itself, or a noisy copy for a
        denoising AE) and ``X`` the target. A model trained on another objective
        (the variational autoencoder) overrides this.
        """
        X_hat = self(X_in)
        return loss_fn(X_hat, X), X_hat


class DenseAutoencoder(Autoencoder):
    """The dense AE of notebook 01: 784 -> 256 -> latent -> 256 -> 784.

    Each hidden Linear is followed by ReLU then BatchNorm1d, the output by a
    Sigmoid, reshaped to ``(N, 1, 28, 28)``. ``latent_dim=2`` gives the 2-D
    latent space of notebook 04, where ``bottleneck_activation=False`` keeps the
    code linear so that it can take any value in the plane.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """

    def __init__(self, latent_dim: int = 32, hidden_dim: int = 256, bottleneck_activation: bool = True):
        super().__init__(latent_dim=latent_dim, hidden_dim=hidden_dim, bottleneck_activation=bottleneck_activation)
        self.latent_shape = (latent_dim,)
        bottleneck = [nn.ReLU(), nn.BatchNorm1d(latent_dim)] if bottleneck_activation else []
        self.encoder = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, hidden_dim), nn.ReLU(), nn.BatchNorm1d(hidden_dim),
            nn.Linear(hidden_dim, latent_dim), *bottleneck,
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.BatchNorm1d(hidden_dim),
            nn.Linear(hidden_dim, 28 * 28), nn.Sigmoid(),
            nn.Unflatten(1, MNIST_SHAPE),
        )


class ConvAutoencoder(Autoencoder):
    """The convolutional AE of notebook 02 (latent 20 in the reference).

    Encoder: Conv(1,16,3,s2,p1) ReLU, Conv(16,32,3,s2,p1) ReLU, Conv(32,64,7),
    flatten, Linear(64, latent). Decoder mirrors it with transposed convolutions
    and ends in a Sigmoid. ``forward`` returns only the reconstruction (the
    reference also returned the latent: call ``encode`` for that). Weights start
    from He (Kaiming) initialisation, made for ReLU layers, which trains faster
    than PyTorch's default.
    Introduced in notebook 02 (``02_conv_autoencoder``).
    """

    def __init__(self, latent_dim: int = 20):
        super().__init__(latent_dim=latent_dim)
        self.latent_shape = (latent_dim,)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 7),
            nn.Flatten(),
            nn.Linear(64, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 64),
            nn.Unflatten(1, (64, 1, 1)),
            nn.ConvTranspose2d(64, 32, 7), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid(),
        )
        for layer in self.modules():
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)


class SmallConvAutoencoder(Autoencoder):
    """The small CNN AE described in notebook 01's reference: a 4x7x7 bottleneck.

    Conv(1,16,3)+MaxPool(2), Conv(16,4,3)+MaxPool(2), then
    ConvTranspose(4,16,2,s2), ConvTranspose(16,1,2,s2) and a Sigmoid.
    Introduced in notebook 01 (``01_dense_autoencoder``).
    """

    latent_shape = (4, 7, 7)

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(4, 16, 2, stride=2), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 2, stride=2), nn.Sigmoid(),
        )


def _conv_bn_pool(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c_out), nn.MaxPool2d(2)]


class ConvDenoisingAutoencoder(Autoencoder):
    """The convolutional denoising AE of notebook 07: down to an 8x3x3 code and back.

    Encoder: Conv 1->32->16->8, each with ReLU, BatchNorm and 2x2 max pooling
    (28 -> 14 -> 7 -> 3). Decoder: ConvTranspose 8->8 (k3, s2), 8->16 (k2, s2),
    16->32 (k2, s2), then Conv(32, 1, 3) and a Sigmoid. Train it with noisy inputs
    and clean targets (``fit(..., noise_std=...)``).
    Introduced in notebook 07 (``07_denoising``).
    """

    latent_shape = (8, 3, 3)

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(*_conv_bn_pool(1, 32), *_conv_bn_pool(32, 16), *_conv_bn_pool(16, 8))
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(8, 8, 3, stride=2), nn.ReLU(), nn.BatchNorm2d(8),
            nn.ConvTranspose2d(8, 16, 2, stride=2), nn.ReLU(), nn.BatchNorm2d(16),
            nn.ConvTranspose2d(16, 32, 2, stride=2), nn.ReLU(), nn.BatchNorm2d(32),
            nn.Conv2d(32, 1, 3, padding=1), nn.Sigmoid(),
        )


class WideAutoencoder(Autoencoder):
    """The wide MLP AE of notebook 03: 784 -> hidden -> latent -> hidden -> 784.

    Linear, Dropout, LeakyReLU on the way down and up, Sigmoid at the output. The
    reference used ``hidden_dim=12000`` (about 19M parameters); a few hundred
    units train in seconds on a CPU and score as well on one-class MNIST.
    Introduced in notebook 03 (``03_one_class_auc``).
    """

    def __init__(self, hidden_dim: int = 12000, latent_dim: int = 32, dropout: float = 0.2):
        super().__init__(hidden_dim=hidden_dim, latent_dim=latent_dim, dropout=dropout)
        self.latent_shape = (latent_dim,)
        self.encoder = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, hidden_dim), nn.Dropout(dropout), nn.LeakyReLU(),
            nn.Linear(hidden_dim, latent_dim), nn.LeakyReLU(),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.Dropout(dropout), nn.LeakyReLU(),
            nn.Linear(hidden_dim, 28 * 28), nn.Sigmoid(),
            nn.Unflatten(1, MNIST_SHAPE),
        )


class TabularAutoencoder(Autoencoder):
    """The 65-32-8-32-65 autoencoder of notebook 08 for the UCI digits.

    ``fc1``..``fc4`` with tanh on the hidden layers and a sigmoid output, so
    inputs and reconstructions lie in [0, 1]. ``in_features=64`` drops the label
    from the input; ``dropout`` adds the reference's variant (dropout after fc1
    and, at half the rate, after fc3).
    Introduced in notebook 08 (``08_uci_digits``).
    """

    def __init__(self, in_features: int = 65, hidden_dim: int = 32, latent_dim: int = 8, dropout: float = 0.0):
        super().__init__(in_features=in_features, hidden_dim=hidden_dim, latent_dim=latent_dim, dropout=dropout)
        self.input_shape = (in_features,)
        self.latent_shape = (latent_dim,)
        self.fc1 = nn.Linear(in_features, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, latent_dim)
        self.fc3 = nn.Linear(latent_dim, hidden_dim)
        self.fc4 = nn.Linear(hidden_dim, in_features)
        # Identity when off, so the plain model matches the reference layer for layer.
        self.drop1 = nn.Dropout(dropout) if dropout else nn.Identity()
        self.drop3 = nn.Dropout(dropout / 2) if dropout else nn.Identity()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """65 -> 32 -> 8, tanh after each layer (codes lie in [-1, 1])."""
        self._check_inputs(x)
        return torch.tanh(self.fc2(self.drop1(torch.tanh(self.fc1(x)))))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """8 -> 32 -> 65, tanh then sigmoid (outputs lie in [0, 1])."""
        self._check(z, self.latent_shape, "decode")
        return torch.sigmoid(self.fc4(self.drop3(torch.tanh(self.fc3(z)))))


MODEL_CLASSES = {
    cls.__name__: cls
    for cls in (DenseAutoencoder, ConvAutoencoder, SmallConvAutoencoder, ConvDenoisingAutoencoder,
                WideAutoencoder, TabularAutoencoder)
}


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters. Introduced in notebook 01 (``01_dense_autoencoder``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
