"""The shared conv-AE recipe: checkpoints are reused only when they match it."""
import pandas as pd
import pytest

import helpers.recipes as recipes
from helpers import COURSE_CONV_RECIPE, ConvAutoencoder, load_or_train_conv_autoencoder, save_checkpoint


@pytest.fixture
def fake_training(monkeypatch):
    """Replace the minute-long training by an instant one, and count the calls."""
    calls = []

    def train(recipe=None, *, seed, **kwargs):
        calls.append(seed)
        history = pd.DataFrame({"valid_mse": [0.01]})
        history.attrs["train_seconds"] = 1.0
        return ConvAutoencoder(latent_dim=COURSE_CONV_RECIPE["latent_dim"]), history

    monkeypatch.setattr(recipes, "train_conv_autoencoder", train)
    return calls


def test_missing_checkpoint_is_trained_and_saved(tmp_path, fake_training):
    path = tmp_path / "checkpoints" / "conv_ae.pt"
    model = load_or_train_conv_autoencoder(path, seed=0, device="cpu", progress=False)
    assert fake_training == [0] and path.exists() and isinstance(model, ConvAutoencoder)
    assert model.metadata == {"recipe": COURSE_CONV_RECIPE, "seed": 0, "valid_mse": 0.01, "train_seconds": 1.0}
    again = load_or_train_conv_autoencoder(path, seed=0, device="cpu", progress=False)
    assert fake_training == [0]  # reused, not retrained
    assert again.metadata["recipe"] == COURSE_CONV_RECIPE


def test_stale_checkpoint_is_retrained(tmp_path, fake_training):
    path = tmp_path / "conv_ae.pt"
    save_checkpoint(ConvAutoencoder(), path, recipe={**COURSE_CONV_RECIPE, "num_epochs": 1}, seed=0)
    load_or_train_conv_autoencoder(path, seed=0, device="cpu", progress=False)
    assert fake_training == [0]
    load_or_train_conv_autoencoder(path, seed=1, device="cpu", progress=False)
    assert fake_training == [0, 1]


def test_recipe_with_an_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="loss"):
        recipes.train_conv_autoencoder({**COURSE_CONV_RECIPE, "loss": "huber"})
