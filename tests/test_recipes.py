"""The notebook-02 recipe and its checkpoint: reused, never overwritten, differences said."""
from dataclasses import asdict, replace

import pandas as pd
import pytest
import torch

import helpers.recipes as recipes
from helpers import (COURSE_CONV_RECIPE, REFERENCE_CONV_RECIPE, ConvAutoencoder, ConvRecipe, conv_checkpoint_path,
                     load_or_train_conv_autoencoder, save_checkpoint)


@pytest.fixture
def fake_fit(monkeypatch):
    """Replace the minute-long training by an instant one, and count the calls."""
    calls = []

    def fit(model, *args, **kwargs):
        calls.append(kwargs)
        return pd.DataFrame({"epoch": [1], "valid_mse": [0.01], "seconds": [1.0]})

    monkeypatch.setattr(recipes, "fit", fit)
    monkeypatch.setattr(recipes, "mnist_loaders", lambda **kwargs: {"train": [], "valid": []})
    return calls


def test_the_recipes_are_frozen_dataclasses_with_the_reference_figures_beside_them():
    assert COURSE_CONV_RECIPE == ConvRecipe() and COURSE_CONV_RECIPE.loss == "bce"
    assert REFERENCE_CONV_RECIPE.num_epochs == 20 and REFERENCE_CONV_RECIPE.lr == 1e-3
    assert recipes.REFERENCE_VALID_MSE == 0.0075 and recipes.REFERENCE_SECONDS == 257
    with pytest.raises(AttributeError):
        COURSE_CONV_RECIPE.lr = 1.0
    with pytest.raises(ValueError, match="loss"):
        ConvRecipe(loss="huber")
    optimizer = REFERENCE_CONV_RECIPE.optimizer()(ConvAutoencoder().parameters(), lr=1e-3)
    assert optimizer.defaults["weight_decay"] == 1e-5 and optimizer.defaults["betas"] == (0.9, 0.999)
    assert isinstance(COURSE_CONV_RECIPE.loss_fn(), torch.nn.BCELoss)


def test_differences_name_what_changed():
    assert COURSE_CONV_RECIPE.differences(asdict(COURSE_CONV_RECIPE)) == []
    changed = COURSE_CONV_RECIPE.differences(replace(COURSE_CONV_RECIPE, lr=0.005, num_epochs=3))
    assert changed == ["lr 0.005 (here 0.01)", "num_epochs 3 (here 5)"]
    assert "loss None (here bce)" in COURSE_CONV_RECIPE.differences(None)


def test_training_saves_the_model_with_its_recipe(tmp_path, fake_fit):
    path = tmp_path / "conv.pt"
    model, history = recipes.train_conv_autoencoder(seed=3, device="cpu", progress=False, checkpoint=path)
    assert fake_fit[0]["num_epochs"] == 5 and fake_fit[0]["lr_schedule"] == "onecycle"
    loaded = recipes.load_checkpoint(path, "cpu")
    assert loaded.metadata == {"recipe": asdict(COURSE_CONV_RECIPE), "seed": 3, "valid_mse": 0.01, "seconds": 1.0}
    with pytest.raises(TypeError, match="ConvRecipe"):
        recipes.train_conv_autoencoder({"lr": 0.1})


def test_missing_checkpoint_is_trained_and_saved_once(tmp_path, fake_fit, capsys):
    model = load_or_train_conv_autoencoder(0, folder=tmp_path, device="cpu", progress=False)
    path = conv_checkpoint_path(0, tmp_path)
    assert path == tmp_path / "conv_ae_seed0.pt" and path.exists() and isinstance(model, ConvAutoencoder)
    assert "no checkpoint" in capsys.readouterr().out and len(fake_fit) == 1
    again = load_or_train_conv_autoencoder(0, folder=tmp_path, device="cpu", progress=False)
    assert len(fake_fit) == 1 and again.metadata["recipe"] == asdict(COURSE_CONV_RECIPE)  # reused
    load_or_train_conv_autoencoder(1, folder=tmp_path, device="cpu", progress=False)
    assert len(fake_fit) == 2 and conv_checkpoint_path(1, tmp_path).exists()  # another seed, another file


def test_an_edited_recipe_is_used_as_it_is_never_overwritten(tmp_path, fake_fit, capsys):
    path = conv_checkpoint_path(0, tmp_path)
    edited = replace(COURSE_CONV_RECIPE, num_epochs=1)
    save_checkpoint(ConvAutoencoder(), path, recipe=asdict(edited), seed=0)
    before = path.read_bytes()
    model = load_or_train_conv_autoencoder(0, folder=tmp_path, device="cpu", progress=False)
    out = capsys.readouterr().out
    assert "num_epochs 1 (here 5)" in out and "Delete the file" in out
    assert fake_fit == [] and path.read_bytes() == before and model.metadata["recipe"]["num_epochs"] == 1


def test_the_denoiser_recipe_trains_one_epoch_and_its_ablation_differs_only_by_the_noise():
    X = torch.rand(64, 1, 28, 28)
    noisy, noisy_history = recipes.train_denoising_autoencoder(X, seed=3, max_noise_std=0.5, device="cpu", progress=False)
    clean, clean_history = recipes.train_denoising_autoencoder(X, seed=3, max_noise_std=0.0, device="cpu", progress=False)
    again, _ = recipes.train_denoising_autoencoder(X, seed=3, max_noise_std=0.0, device="cpu", progress=False)
    assert len(noisy_history) == len(clean_history) == 1 and not noisy.training
    assert all(torch.equal(a, b) for a, b in zip(clean.state_dict().values(), again.state_dict().values()))
    assert not torch.equal(noisy.state_dict()["encoder.0.weight"], clean.state_dict()["encoder.0.weight"])
