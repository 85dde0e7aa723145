"""The tabular (UCI digits) helpers of notebook 08: the reference's random stream, rankings, hex pixels."""
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import TabularAutoencoder, load_optdigits, optdigits_features
from helpers.tabular import (hex_pixels, label_error_share, rank_by_score, reference_loader, top_overlap,
                             train_tabular_autoencoder)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="module")
def features():
    X, y = load_optdigits("train", root=DATA)
    return optdigits_features(X, y), X, y


def reference_run(X: torch.Tensor, num_epochs: int):
    """The reference's own script, condensed: seeds, model, then a plain SGD loop over a shuffled DataLoader."""
    torch.manual_seed(1)
    np.random.seed(1)

    class Reference(torch.nn.Module):  # 65-32-8-32-65, layers created in the reference's order
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(65, 32)
            self.fc2 = torch.nn.Linear(32, 8)
            self.fc3 = torch.nn.Linear(8, 32)
            self.fc4 = torch.nn.Linear(32, 65)

        def forward(self, x):
            z = torch.tanh(self.fc2(torch.tanh(self.fc1(x))))
            return torch.sigmoid(self.fc4(torch.tanh(self.fc3(z))))

    model = Reference()
    model.train()
    loader = torch.utils.data.DataLoader(X, batch_size=10, shuffle=True)
    loss_fn, opt = torch.nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.005)
    means = []
    for _ in range(num_epochs):
        total = 0.0
        for batch in loader:
            opt.zero_grad()
            loss = loss_fn(model(batch), batch)
            total += loss.item() * len(batch)
            loss.backward()
            opt.step()
        means.append(total / len(X))
    return model, means


def test_training_draws_the_same_random_numbers_as_the_reference(features):
    X = features[0][:300]
    reference, means = reference_run(X, num_epochs=3)
    model, history = train_tabular_autoencoder(X, num_epochs=3)
    assert isinstance(model, TabularAutoencoder) and not model.training
    for name in ("fc1", "fc2", "fc3", "fc4"):
        for kind in ("weight", "bias"):
            assert torch.equal(getattr(getattr(model, name), kind), getattr(getattr(reference, name), kind)), name
    assert history["train_loss"].tolist() == means
    assert list(history["epoch"]) == [1, 2, 3]


def test_training_is_repeatable_and_sized_by_the_columns(features):
    X = features[0][:100, :64]
    a, _ = train_tabular_autoencoder(X, num_epochs=1, seed=3)
    b, _ = train_tabular_autoencoder(X, num_epochs=1, seed=3)
    assert a.config["in_features"] == 64
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_reference_loader_shuffles_from_the_global_generator():
    X = torch.arange(40, dtype=torch.float32).reshape(20, 2)
    torch.manual_seed(0)
    first = torch.cat(list(reference_loader(X, batch_size=3)))
    torch.manual_seed(0)
    again = torch.cat(list(reference_loader(X, batch_size=3)))
    assert torch.equal(first, again)
    assert sorted(first[:, 0].tolist()) == X[:, 0].tolist() and not torch.equal(first, X)
    assert [len(b) for b in reference_loader(X, batch_size=3)] == [3] * 6 + [2]
    with pytest.raises(TypeError, match="torch.Tensor"):
        reference_loader(X.numpy())
    with pytest.raises(ValueError, match="batch_size"):
        reference_loader(X, batch_size=0)


def test_adam_is_an_option_and_changes_the_run(features):
    X = features[0][:100]
    sgd, _ = train_tabular_autoencoder(X, num_epochs=1)
    adam, history = train_tabular_autoencoder(X, num_epochs=1, optimizer=torch.optim.Adam, lr=1e-3)
    assert len(history) == 1 and not torch.equal(sgd.fc1.weight, adam.fc1.weight)


def test_rank_by_score_sorts_descending_and_keeps_ties_in_data_order():
    table = rank_by_score([0.1, 0.5, 0.3, 0.5], y=[7, 1, 2, 3])
    assert table["index"].tolist() == [1, 3, 2, 0]
    assert table["score"].tolist() == [0.5, 0.5, 0.3, 0.1]
    assert table["label"].tolist() == [1, 3, 2, 7]
    assert list(rank_by_score([1.0, 2.0]).columns) == ["index", "score"]
    with pytest.raises(ValueError, match="one label per item"):
        rank_by_score([1.0, 2.0], y=[1])
    with pytest.raises(ValueError, match="1-D"):
        rank_by_score([])


def test_top_overlap_counts_shared_items():
    a = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    assert top_overlap(a, a, k=3) == 3
    assert top_overlap(a, a[::-1].copy(), k=2) == 0
    assert top_overlap(a, np.array([5.0, 1.0, 3.0, 2.0, 4.0]), k=2) == 1
    with pytest.raises(ValueError, match="k must"):
        top_overlap(a, a, k=6)


def test_hex_pixels_prints_eight_rows_of_two_digit_hex():
    text = hex_pixels(np.arange(64) % 17)
    lines = text.splitlines()
    assert len(lines) == 8 and lines[0] == "00 01 02 03 04 05 06 07" and lines[1] == "08 09 0A 0B 0C 0D 0E 0F"
    assert lines[2].startswith("10 00 01")
    with pytest.raises(ValueError, match="64"):
        hex_pixels(np.zeros(65))
    with pytest.raises(ValueError, match="0..16"):
        hex_pixels(np.full(64, 0.5))


def test_label_error_share_is_the_last_columns_share(toy_rows):
    model, X = toy_rows
    assert label_error_share(model, X) == pytest.approx([1.0, 0.0, 0.0, 1 / 3])
