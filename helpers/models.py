"""The autoencoders of the course, one class per architecture.

Every model has ``encode(x)``, ``decode(z)`` and ``forward(x)`` (the
reconstruction), checks the shape, dtype and values of what it is given before
any layer sees it, and remembers its constructor arguments in ``config`` so a
checkpoint can rebuild it.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ._utils import MNIST_SHAPE, check_values, shape_text

__all__ = [
    "Autoencoder",
    "DenseAutoencoder",
    "ConvAutoencoder",
    "SmallConvAutoencoder",
    "ConvDenoisingAutoencoder",
    "VariationalAutoencoder",
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
    and clean targets, with noise levels that include 0 (``fit(..., noise_std=(0.0, 0.5))``):
    its batch normalisation keeps the statistics of the training inputs, and a model
    that saw only noisy images normalises clean ones wrongly.
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


def _conv_encoder_layers() -> list[nn.Module]:
    """The notebook-02 encoder up to its 64 features (before the linear layer to the code)."""
    return [nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 7),
            nn.Flatten()]


def _conv_decoder_layers(latent_dim: int) -> list[nn.Module]:
    """The notebook-02 decoder: a code of ``latent_dim`` numbers back to a 28x28 image in [0, 1]."""
    return [nn.Linear(latent_dim, 64),
            nn.Unflatten(1, (64, 1, 1)),
            nn.ConvTranspose2d(64, 32, 7), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid()]


def _he_init(model: nn.Module) -> None:
    for layer in model.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)


class VariationalAutoencoder(Autoencoder):
    """A convolutional variational autoencoder (VAE) on the notebook-02 architecture.

    The encoder of :class:`ConvAutoencoder` up to its 64 features feeds two
    linear heads: the **mean** and the **log variance** of a Gaussian over the
    code, one pair of numbers per latent dimension. The decoder is notebook 02's.
    Training draws one code per image with the reparameterisation trick,
    ``z = mean + exp(log_variance / 2) * eps`` with ``eps ~ N(0, I)``, and
    minimises the negative evidence lower bound (ELBO): the reconstruction term
    (the binary cross-entropy of the decoded image, summed over its pixels: the
    negative log-likelihood of independent Bernoulli pixels) plus ``beta`` times
    the KL divergence of the code's Gaussian to the standard normal prior, in
    closed form. ``beta=1`` is the VAE; a larger ``beta`` pulls the codes harder
    towards the prior (and blurs the reconstructions), a smaller one makes it
    more like a plain autoencoder.

    ``encode(x)`` returns ``(mean, log_variance)``; ``decode(z)`` an image;
    ``forward(x)`` (and so :func:`helpers.reconstruct` and
    :func:`helpers.reconstruction_errors`) the reconstruction of the mean code,
    which is deterministic. :func:`helpers.fit` trains it through
    :meth:`training_loss` (its ``train_loss`` and ``valid_loss`` columns are the
    negative ELBO per image, in nats, with one sampled code per image).

    Parameters
    ----------
    latent_dim
        Number of latent dimensions (20, as notebook 02's model).
    beta
        Weight of the KL term in the loss, ``>= 0`` (1 = the negative ELBO).

    Introduced in notebook 09 (``09_variational_autoencoder``).
    """

    def __init__(self, latent_dim: int = 20, beta: float = 1.0):
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta < 0:
            raise ValueError(f"beta (the weight of the KL term) must be a finite number >= 0, got {beta!r}")
        super().__init__(latent_dim=latent_dim, beta=float(beta))
        self.latent_shape = (latent_dim,)
        self.beta = float(beta)
        self.encoder = nn.Sequential(*_conv_encoder_layers())
        self.to_mean = nn.Linear(64, latent_dim)
        self.to_log_variance = nn.Linear(64, latent_dim)
        self.decoder = nn.Sequential(*_conv_decoder_layers(latent_dim))
        _he_init(self)
        # Every posterior starts at unit variance (log variance 0): a He-initialised head would start
        # with log variances of several units, variances of e^5 or e^-5, and a huge first KL term.
        nn.init.zeros_(self.to_log_variance.weight)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The Gaussian of each input's code: ``(mean, log_variance)``, both ``(N, latent_dim)``."""
        self._check_inputs(x)
        features = self.encoder(x)
        return self.to_mean(features), self.to_log_variance(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction of the mean code: ``decode(encode(x)[0])`` (no sampling)."""
        return self.decode(self.encode(x)[0])

    @staticmethod
    def reparameterize(mean: torch.Tensor, log_variance: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """One code per row drawn from ``N(mean, exp(log_variance))``, as ``mean + std * eps``.

        The randomness is in ``eps ~ N(0, I)`` alone, so gradients flow to the
        mean and the log variance. ``generator`` makes the draw reproducible.
        """
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + torch.exp(0.5 * log_variance) * eps

    @staticmethod
    def kl_divergence(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
        """KL divergence of ``N(mean, exp(log_variance))`` to ``N(0, I)`` per row, in closed form.

        ``0.5 * sum(mean**2 + exp(log_variance) - log_variance - 1)`` over the
        latent dimensions: shape ``(N,)``, in nats.
        """
        if mean.shape != log_variance.shape or mean.dim() != 2:
            raise ValueError(f"mean and log_variance must be batches of codes of the same shape (N, latent_dim), "
                             f"got {tuple(mean.shape)} and {tuple(log_variance.shape)}")
        return 0.5 * (mean.pow(2) + log_variance.exp() - log_variance - 1.0).sum(dim=1)

    @staticmethod
    def reconstruction_nll(X_hat: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """Minus the log-likelihood of ``X`` under Bernoulli pixels of means ``X_hat``, per example.

        The binary cross-entropy summed over each example's pixels: shape ``(N,)``, in nats.
        """
        if X_hat.shape != X.shape:
            raise ValueError(f"X_hat and X must have the same shape, got {tuple(X_hat.shape)} and {tuple(X.shape)}")
        return nn.functional.binary_cross_entropy(X_hat, X, reduction="none").flatten(1).sum(dim=1)

    def loss(self, X_hat: torch.Tensor, X: torch.Tensor, mean: torch.Tensor,
             log_variance: torch.Tensor) -> torch.Tensor:
        """The negative beta-ELBO averaged over the batch: ``mean(reconstruction_nll + beta * kl_divergence)``.

        ``X_hat`` is decoded from codes sampled with ``mean`` and ``log_variance``.
        """
        return (self.reconstruction_nll(X_hat, X) + self.beta * self.kl_divergence(mean, log_variance)).mean()

    def training_loss(self, X_in: torch.Tensor, X: torch.Tensor, loss_fn=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss :func:`helpers.fit` minimises: the negative beta-ELBO of the batch, with one sampled code.

        Returns ``(loss, X_hat)``, ``X_hat`` decoded from the sampled codes. The
        VAE's loss is its own: ``loss_fn`` must be ``None`` or the mean squared
        error that ``fit`` passes by default (it is not used).
        """
        if loss_fn is not None and not (type(loss_fn) is nn.MSELoss and loss_fn.reduction == "mean"):
            raise ValueError(f"a VariationalAutoencoder trains on its own loss (the negative ELBO, see its `loss`); "
                             f"call fit without loss_fn, got {loss_fn!r}")
        mean, log_variance = self.encode(X_in)
        X_hat = self.decode(self.reparameterize(mean, log_variance))
        return self.loss(X_hat, X, mean, log_variance), X_hat


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
                VariationalAutoencoder, WideAutoencoder, TabularAutoencoder)
}


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters. Introduced in notebook 01 (``01_dense_autoencoder``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
