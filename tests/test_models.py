"""Architectures: shapes, the documented layer sizes, and clear errors for wrong inputs."""
import pytest
import torch

from helpers import (ConvAutoencoder, ConvDenoisingAutoencoder, DenseAutoencoder, SmallConvAutoencoder,
                     TabularAutoencoder, WideAutoencoder, count_parameters)

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
