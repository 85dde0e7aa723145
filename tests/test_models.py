"""Architectures: shapes, the documented layer sizes, and clear errors for wrong inputs."""
import math

import numpy as np
import pytest
import torch

from helpers import (ConvAutoencoder, ConvDenoisingAutoencoder, DenseAutoencoder, SmallConvAutoencoder,
                     TabularAutoencoder, VariationalAutoencoder, WideAutoencoder, count_parameters, encode_dataset,
                     fit, load_checkpoint, reconstruction_errors, save_checkpoint, tensor_loader)

IMAGE_MODELS = [
    (DenseAutoencoder, {}, (32,)),
    (DenseAutoencoder, {"latent_dim": 2, "bottleneck_activation": False}, (2,)),
    (ConvAutoencoder, {}, (20,)),
    (SmallConvAutoencoder, {}, (4, 7, 7)),
    (ConvDenoisingAutoencoder, {}, (8, 3, 3)),
    (WideAutoencoder, {"hidden_dim": 64}, (32,)),
]


@pytest.mark.parametrize("cls, kwargs, latent", IMAGE_MODELS)
def test_image_models_encode_decode_and_reconstruct(cls, kwargs, latent):
    torch.manual_seed(0)
    model = cls(**kwargs).eval()
    X = torch.rand(5, 1, 28, 28)
    Z = model.encode(X)
    assert Z.shape == (5, *latent)
    X_hat = model.decode(Z)
    assert X_hat.shape == X.shape
    assert 0.0 <= X_hat.min() and X_hat.max() <= 1.0  # sigmoid output
    assert torch.allclose(model(X), X_hat)


@pytest.mark.parametrize("cls, kwargs, latent", IMAGE_MODELS)
def test_image_models_name_the_expected_shape(cls, kwargs, latent):
    model = cls(**kwargs)
    with pytest.raises(ValueError, match=r"expects a batch of shape \(N, 1, 28, 28\), got \(3, 224, 224\)"):
        model(torch.rand(3, 224, 224))
    with pytest.raises(ValueError, match=r"got \(2, 3, 224, 224\)"):
        model(torch.rand(2, 3, 224, 224))
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.rand(1, 28, 28))
    with pytest.raises(ValueError, match=r"decode expects a batch of shape"):
        model.decode(torch.rand(4, 7))


def test_integer_images_are_rejected_not_coerced():
    with pytest.raises(TypeError, match="floating-point"):
        ConvAutoencoder()(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        ConvAutoencoder()([[0.0]])


def test_reference_layer_sizes():
    dense = DenseAutoencoder()
    assert [m.out_features for m in dense.encoder if isinstance(m, torch.nn.Linear)] == [256, 32]
    # 784*256+256 + 256*32+32 + BN(256)+BN(32) on the way down, mirrored on the way up
    assert count_parameters(dense) == (784 * 256 + 256 + 512 + 256 * 32 + 32 + 64
                                       + 32 * 256 + 256 + 512 + 256 * 784 + 784)
    wide = WideAutoencoder()  # the reference's 12000-wide MLP: about 19M parameters
    assert count_parameters(wide) == 2 * (784 * 12000 + 12000 * 32) + (12000 + 32) + (12000 + 784)
    conv = ConvAutoencoder()
    assert conv.encoder[4].kernel_size == (7, 7) and conv.encoder[-1].out_features == 20


def test_tabular_autoencoder_is_65_32_8_32_65():
    model = TabularAutoencoder()
    assert [(l.in_features, l.out_features) for l in (model.fc1, model.fc2, model.fc3, model.fc4)] == \
        [(65, 32), (32, 8), (8, 32), (32, 65)]
    X = torch.rand(10, 65)
    Z = model.encode(X)
    assert Z.shape == (10, 8) and Z.abs().max() <= 1.0  # tanh codes
    X_hat = model.decode(Z)
    assert X_hat.shape == (10, 65) and 0 <= X_hat.min() and X_hat.max() <= 1
    with pytest.raises(ValueError, match=r"\(N, 65\), got \(10, 64\)"):
        model(torch.rand(10, 64))
    assert TabularAutoencoder(in_features=64).encode(torch.rand(3, 64)).shape == (3, 8)


def test_tabular_dropout_variant_is_active_only_in_training():
    torch.manual_seed(0)
    model = TabularAutoencoder(dropout=0.5)
    X = torch.rand(4, 65)
    model.train()
    assert not torch.allclose(model(X), model(X))
    model.eval()
    assert torch.allclose(model(X), model(X))


def test_config_rebuilds_the_same_architecture():
    for model in (DenseAutoencoder(latent_dim=7), ConvAutoencoder(latent_dim=3), TabularAutoencoder(dropout=0.1)):
        clone = type(model)(**model.config)
        assert [p.shape for p in clone.parameters()] == [p.shape for p in model.parameters()]


# --------------------------------------------------------------------------- the variational autoencoder (notebook 09)
def test_vae_encodes_a_mean_and_a_log_variance_and_reconstructs_the_mean_code():
    torch.manual_seed(0)
    model = VariationalAutoencoder(latent_dim=6).eval()
    X = torch.rand(5, 1, 28, 28)
    mean, log_variance = model.encode(X)
    assert mean.shape == log_variance.shape == (5, 6)
    X_hat = model(X)
    assert X_hat.shape == X.shape and 0.0 <= X_hat.min() and X_hat.max() <= 1.0
    assert torch.equal(X_hat, model.decode(mean))          # deterministic: the mean code
    assert torch.equal(model(X), X_hat)
    assert np.allclose(reconstruction_errors(model, X), ((X_hat - X) ** 2).flatten(1).mean(1).detach().double().numpy())
    assert np.allclose(encode_dataset(model, X), mean.detach().numpy())   # the code of a VAE is its mean
    # the log-variance head starts at 0: unit variance for every input
    assert torch.equal(VariationalAutoencoder().encode(X)[1], torch.zeros(5, 20))


def test_vae_reparameterisation_draws_from_the_posterior_and_lets_gradients_through():
    mean = torch.tensor([[1.0, -2.0]], requires_grad=True)
    log_variance = torch.tensor([[0.0, math.log(4.0)]], requires_grad=True)
    Z = VariationalAutoencoder.reparameterize(mean.expand(200_000, 2), log_variance.expand(200_000, 2),
                                              generator=torch.Generator().manual_seed(0))
    assert torch.allclose(Z.mean(0), torch.tensor([1.0, -2.0]), atol=0.02)
    assert torch.allclose(Z.std(0), torch.tensor([1.0, 2.0]), atol=0.02)
    Z.sum().backward()
    assert mean.grad is not None and log_variance.grad is not None
    again = VariationalAutoencoder.reparameterize(mean.expand(200_000, 2), log_variance.expand(200_000, 2),
                                                  generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, Z)                          # a seeded generator repeats the draw


def test_vae_loss_is_the_reconstruction_term_plus_beta_times_the_closed_form_kl():
    torch.manual_seed(0)
    X = torch.rand(4, 1, 28, 28)
    X_hat = torch.rand(4, 1, 28, 28).clamp(0.01, 0.99)
    mean, log_variance = torch.randn(4, 3), torch.randn(4, 3)
    kl = 0.5 * (mean ** 2 + log_variance.exp() - log_variance - 1).sum(1)
    bce = -(X * X_hat.log() + (1 - X) * (1 - X_hat).log()).flatten(1).sum(1)
    assert torch.allclose(VariationalAutoencoder.kl_divergence(mean, log_variance), kl)
    assert torch.allclose(VariationalAutoencoder.reconstruction_nll(X_hat, X), bce, rtol=1e-5)
    for beta in (0.0, 1.0, 4.0):
        loss = VariationalAutoencoder(latent_dim=3, beta=beta).loss(X_hat, X, mean, log_variance)
        assert torch.allclose(loss, (bce + beta * kl).mean(), rtol=1e-5)
    # the KL is zero exactly at the prior, and agrees with a Monte Carlo estimate elsewhere
    assert VariationalAutoencoder.kl_divergence(torch.zeros(1, 5), torch.zeros(1, 5)).item() == 0.0
    m, lv = torch.tensor([[0.5, -1.0]]), torch.tensor([[-1.0, 0.5]])
    z = VariationalAutoencoder.reparameterize(m.expand(400_000, 2), lv.expand(400_000, 2),
                                              generator=torch.Generator().manual_seed(1))
    log_q = torch.distributions.Normal(m, (0.5 * lv).exp()).log_prob(z).sum(1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1)
    assert abs((log_q - log_p).mean().item() - VariationalAutoencoder.kl_divergence(m, lv).item()) < 0.01


def test_vae_trains_with_fit_and_its_training_loss_is_the_sampled_negative_elbo():
    torch.manual_seed(0)
    X = torch.rand(64, 1, 28, 28).round()
    model = VariationalAutoencoder(latent_dim=4)
    history = fit(model, tensor_loader(X, batch_size=16, shuffle=True), tensor_loader(X, batch_size=64),
                  num_epochs=3, lr=3e-3, progress=False)
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert history["train_loss"].iloc[0] > 100      # nats per image (summed over 784 pixels), not a per-pixel MSE
    assert not model.training
    torch.manual_seed(3)
    loss, X_hat = model.training_loss(X, X)
    torch.manual_seed(3)
    mean, log_variance = model.encode(X)
    expected = model.loss(model.decode(model.reparameterize(mean, log_variance)), X, mean, log_variance)
    assert torch.allclose(loss, expected) and X_hat.shape == X.shape
    with pytest.raises(ValueError, match="own loss"):
        fit(model, tensor_loader(X, batch_size=16), num_epochs=1, lr=1e-3, loss_fn=torch.nn.BCELoss(), progress=False)


def test_vae_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = VariationalAutoencoder(latent_dim=5, beta=2.5)
    path = save_checkpoint(model, tmp_path / "vae.pt", seed=0)
    loaded = load_checkpoint(path, device="cpu")
    assert type(loaded) is VariationalAutoencoder and loaded.beta == 2.5 and loaded.latent_shape == (5,)
    X = torch.rand(3, 1, 28, 28)
    assert torch.equal(loaded(X), model.eval()(X))
    assert all(torch.equal(a, b) for a, b in zip(loaded.encode(X), model.encode(X)))


@pytest.mark.parametrize("kwargs, message", [
    ({"latent_dim": 0}, "latent_dim must be a positive integer"),
    ({"latent_dim": 2.5}, "latent_dim must be a positive integer"),
    ({"beta": -1.0}, "beta .* must be a finite number >= 0"),
    ({"beta": float("nan")}, "beta .* must be a finite number >= 0"),
    ({"beta": "1"}, "beta .* must be a finite number >= 0"),
])
def test_vae_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VariationalAutoencoder(**kwargs)


def test_vae_bad_inputs_are_named():
    model = VariationalAutoencoder(latent_dim=4)
    with pytest.raises(ValueError, match=r"encode expects a batch of shape \(N, 1, 28, 28\)"):
        model.encode(torch.rand(1, 28, 28))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\].*divide by 255"):
        model(torch.full((2, 1, 28, 28), 255.0))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"decode expects a batch of shape \(N, 4\)"):
        model.decode(torch.rand(2, 20))
    with pytest.raises(ValueError, match="same shape"):
        model.kl_divergence(torch.zeros(2, 4), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="same shape"):
        model.reconstruction_nll(torch.rand(2, 1, 28, 28), torch.rand(2, 784))
