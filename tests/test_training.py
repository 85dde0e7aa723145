"""The fit loop: the loss falls, seeds repeat, divergence stops, checkpoints round-trip."""
import os
from functools import partial

import pandas as pd
import pytest
import torch
from torch import nn

from helpers import (ConvAutoencoder, DenseAutoencoder, TabularAutoencoder, TrainingDivergedError, add_noise, fit,
                     load_checkpoint, reconstruct, save_checkpoint, set_seed, tensor_loader)


def small_batch(n=64, seed=0):
    """A few blurry strokes: structured enough for an autoencoder to learn quickly."""
    g = torch.Generator().manual_seed(seed)
    X = torch.zeros(n, 1, 28, 28)
    rows = torch.randint(6, 22, (n,), generator=g)
    for i, r in enumerate(rows):
        X[i, 0, r - 2:r + 2, 4:24] = 1.0
    return X


def loader(X, batch_size=16, seed=0):
    return tensor_loader(X, batch_size=batch_size, shuffle=True, seed=seed)


def test_loss_falls_on_a_small_batch():
    set_seed(0)
    model = DenseAutoencoder(latent_dim=8, hidden_dim=64)
    X = small_batch()
    history = fit(model, loader(X), loader(X), num_epochs=15, lr=1e-2, progress=False)
    assert isinstance(history, pd.DataFrame)
    assert list(history.columns) == ["epoch", "train_loss", "train_mse", "valid_loss", "valid_mse", "lr", "seconds"]
    assert history["valid_mse"].tolist() == pytest.approx(history["valid_loss"].tolist())  # MSE is the loss
    assert history["train_loss"].iloc[-1] < 0.5 * history["train_loss"].iloc[0]
    assert history["valid_loss"].notna().all()
    assert not model.training  # left in eval mode, ready for scoring


def test_same_seed_gives_the_same_losses():
    def run():
        set_seed(123)
        model = ConvAutoencoder(latent_dim=4)
        return fit(model, loader(small_batch(32), seed=1), num_epochs=2, lr=1e-3, progress=False)["train_loss"]
    assert run().tolist() == run().tolist()


def test_the_optimizer_is_any_torch_optimizer_and_onecycle_anneals():
    set_seed(0)
    model = TabularAutoencoder()
    X = torch.rand(30, 65)
    history = fit(model, tensor_loader(X, batch_size=10), num_epochs=3, lr=0.1, optimizer=torch.optim.SGD,
                  lr_schedule="onecycle", progress=False)
    assert history["lr"].iloc[-1] < 0.01  # one-cycle anneals towards zero
    assert history["seconds"].is_monotonic_increasing and history["seconds"].iloc[0] > 0
    set_seed(0)
    momentum = partial(torch.optim.SGD, momentum=0.9)
    fit(TabularAutoencoder(), tensor_loader(X, batch_size=10), num_epochs=1, lr=0.1, optimizer=momentum,
        progress=False)


def test_nan_inputs_are_named_before_they_reach_the_loss():
    model = DenseAutoencoder(latent_dim=4, hidden_dim=16)
    X = small_batch(32)
    X[20] = float("nan")
    with pytest.raises(ValueError, match="input of DenseAutoencoder contains NaN"):
        fit(model, tensor_loader(X, batch_size=16), num_epochs=2, lr=1e-3, progress=False)


def test_nan_loss_stops_with_epoch_and_batch():
    calls = []

    def nan_on_the_second_batch(out, target):
        calls.append(1)
        loss = nn.functional.mse_loss(out, target)
        return loss * float("nan") if len(calls) == 2 else loss

    with pytest.raises(TrainingDivergedError, match=r"epoch 1, batch 2 of 2"):
        fit(DenseAutoencoder(latent_dim=4, hidden_dim=16), tensor_loader(small_batch(32), batch_size=16),
            num_epochs=2, lr=1e-3, loss_fn=nan_on_the_second_batch, progress=False)


def test_exploding_learning_rate_is_reported_not_silently_continued():
    set_seed(0)
    model = TabularAutoencoder()

    def explode(out, target):  # a loss that overflows, as a runaway lr would
        return ((out - target) * 1e30).pow(2).sum() * 1e30

    with pytest.raises(TrainingDivergedError, match="diverged"):
        fit(model, tensor_loader(torch.rand(20, 65), batch_size=10), num_epochs=1, lr=1.0, loss_fn=explode,
            progress=False)


def test_mse_is_recorded_whatever_the_loss():
    set_seed(0)
    X = small_batch(32)
    history = fit(DenseAutoencoder(latent_dim=4, hidden_dim=16), loader(X), loader(X), num_epochs=2, lr=1e-3,
                  loss_fn=nn.BCELoss(), optimizer=partial(torch.optim.Adam, betas=(0.9, 0.99)), progress=False)
    assert (history["valid_loss"] > 2 * history["valid_mse"]).all()  # BCE >= 2 MSE (Pinsker), MSE recorded apart
    assert (history["train_mse"] > 0).all() and (history["train_mse"] < history["train_loss"]).all()


def test_a_model_with_its_own_objective_gets_its_mse_measured_not_copied_from_the_loss():
    # the variational autoencoder (notebook 09) ignores fit's default MSELoss: train_mse is measured apart
    from helpers import VariationalAutoencoder
    set_seed(0)
    X = small_batch(32)
    history = fit(VariationalAutoencoder(latent_dim=4), loader(X), loader(X), num_epochs=1, lr=1e-3, progress=False)
    assert (history["train_loss"] > 100).all()          # the negative ELBO, in nats per image
    assert (history["train_mse"] < 1).all() and (history["valid_mse"] < 1).all()

def test_denoising_uses_clean_targets():
    seen = []

    def spy(out, target):
        seen.append(target.clone())
        return nn.functional.mse_loss(out, target)

    X = small_batch(16)
    fit(DenseAutoencoder(latent_dim=4, hidden_dim=16), tensor_loader(X, batch_size=16), num_epochs=1, lr=1e-3,
        loss_fn=spy, noise_std=0.3, progress=False)
    assert torch.equal(seen[0], X)


def test_add_noise_stays_in_range_and_repeats_with_a_generator():
    X = torch.rand(4, 1, 28, 28)
    a = add_noise(X, 0.5, torch.Generator().manual_seed(1))
    b = add_noise(X, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1 and not torch.equal(a, X)
    with pytest.raises(ValueError, match="noise_std"):
        add_noise(X, -0.1)


def test_the_callback_adds_columns_and_stops_early():
    set_seed(0)
    X = small_batch()
    snapshots = {}

    def watch(model, row):
        snapshots[row["epoch"]] = reconstruct(model, X[:9])
        row["ink"] = float(snapshots[row["epoch"]].mean())
        return row["valid_mse"] <= 0.05

    history = fit(DenseAutoencoder(latent_dim=8, hidden_dim=64), loader(X), loader(X), num_epochs=30, lr=1e-2,
                  callback=watch, progress=False)
    assert len(history) < 30 and history["valid_mse"].iloc[-1] <= 0.05
    assert history["valid_mse"].iloc[:-1].gt(0.05).all()  # it stopped at the first epoch that reached it
    assert sorted(snapshots) == history["epoch"].tolist() and snapshots[1].shape == (9, 1, 28, 28)
    assert "ink" in history.columns


def test_progress_is_text_on_stdout_with_a_line_per_epoch(capsys):
    set_seed(0)
    X = small_batch(32)
    fit(DenseAutoencoder(latent_dim=4, hidden_dim=16), loader(X), loader(X), num_epochs=3, lr=1e-3)
    out, err = capsys.readouterr()
    assert err == ""
    lines = [line.strip("\r") for line in out.replace("\r", "\n").splitlines()]
    assert sum(line.startswith("epoch ") for line in lines) == 3
    assert "epoch 3/3  train_loss" in out and "valid_mse" in out
    assert "training: 100%" in out


@pytest.mark.parametrize("kwargs, message", [
    ({"num_epochs": 0, "lr": 1e-3}, "num_epochs"),
    ({"num_epochs": 1, "lr": 0}, "lr"),
    ({"num_epochs": 1, "lr": 1e-3, "lr_schedule": "cosine"}, "lr_schedule"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit(DenseAutoencoder(), loader(small_batch(16)), progress=False, **kwargs)


def test_checkpoint_round_trip(tmp_path):
    set_seed(0)
    model = ConvAutoencoder(latent_dim=5).eval()
    path = save_checkpoint(model, tmp_path / "sub" / "conv.pt", seed=0, valid_loss=0.01)
    loaded = load_checkpoint(path, device="cpu")
    assert isinstance(loaded, ConvAutoencoder) and loaded.config == {"latent_dim": 5}
    assert loaded.metadata == {"seed": 0, "valid_loss": 0.01}
    X = torch.rand(3, 1, 28, 28)
    assert torch.equal(loaded(X), model(X))
    assert os.listdir(path.parent) == ["conv.pt"]  # no temporary file left behind


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")
    with pytest.raises(TypeError, match="course models"):
        save_checkpoint(nn.Linear(2, 2), tmp_path / "x.pt")


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_corrupted_checkpoint_names_the_file_and_the_remedy(tmp_path, damage):
    path = save_checkpoint(DenseAutoencoder(latent_dim=3), tmp_path / "m.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not a checkpoint at all")
    with pytest.raises(ValueError, match=r"m\.pt is not a readable checkpoint.*delete it"):
        load_checkpoint(path, "cpu")


def test_interrupted_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(DenseAutoencoder(latent_dim=3), tmp_path / "m.pt")
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(DenseAutoencoder(latent_dim=3), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.pt"]
    assert load_checkpoint(path, "cpu").config == {"latent_dim": 3, "hidden_dim": 256, "bottleneck_activation": True}


def test_add_noise_with_a_range_draws_one_level_per_image():
    X = torch.full((400, 1, 8, 8), 0.5)
    noisy = add_noise(X, (0.0, 0.2), torch.Generator().manual_seed(0))
    levels = (noisy - X).flatten(1).std(dim=1)
    assert levels.min() < 0.02 and levels.max() > 0.17  # from nearly clean to nearly the top of the range
    assert torch.all(levels < 0.25)
    same = add_noise(X, (0.1, 0.1), torch.Generator().manual_seed(0))
    assert torch.equal(same, add_noise(X, 0.1, torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("noise_std, error", [(-0.1, ValueError), ((0.3, 0.1), ValueError), ((0.1,), TypeError),
                                              ("0.2", TypeError), (float("nan"), ValueError)])
def test_bad_noise_levels_fail_before_training(noise_std, error):
    model = DenseAutoencoder(latent_dim=2)
    loader = [torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28)]
    with pytest.raises(error, match="noise_std"):
        fit(model, loader, num_epochs=1, lr=1e-3, noise_std=noise_std, progress=False)
