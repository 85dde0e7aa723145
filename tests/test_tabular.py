"""The tabular (UCI digits) helpers: the reference's random stream, rankings, and the exercise checks."""
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import TabularAutoencoder, load_optdigits, optdigits_features, reconstruction_errors
from helpers.exercises import ExerciseCheckError
from helpers.tabular import (check_alternative_errors, check_item_errors, check_pixel_errors, hex_pixels,
                             label_error_share, pca_errors, ranked_errors, reference_loader, top_overlap,
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
    sums = []
    for _ in range(num_epochs):
        total = 0.0
        for batch in loader:
            opt.zero_grad()
            loss = loss_fn(model(batch), batch)
            total += loss.item()
            loss.backward()
            opt.step()
        sums.append(total)
    return model, sums


def test_training_draws_the_same_random_numbers_as_the_reference(features):
    X = features[0][:300]
    reference, sums = reference_run(X, num_epochs=3)
    model, history = train_tabular_autoencoder(X, num_epochs=3)
    assert isinstance(model, TabularAutoencoder) and not model.training
    for name in ("fc1", "fc2", "fc3", "fc4"):
        for kind in ("weight", "bias"):
            assert torch.equal(getattr(getattr(model, name), kind), getattr(getattr(reference, name), kind)), name
    assert history["batch_loss_sum"].tolist() == sums
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
    adam, history = train_tabular_autoencoder(X, num_epochs=1, optimizer="adam", lr=1e-3)
    assert len(history) == 1 and not torch.equal(sgd.fc1.weight, adam.fc1.weight)


def test_pca_errors_match_scikit_learn_and_zero_components_is_the_mean_row():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    X_fit, X = rng.uniform(size=(40, 6)), rng.uniform(size=(5, 6))
    pca = PCA(3).fit(X_fit)
    expected = ((X - pca.inverse_transform(pca.transform(X))) ** 2).mean(axis=1)
    assert pca_errors(X_fit, X, n_components=3) == pytest.approx(expected)
    assert pca_errors(torch.from_numpy(X_fit).float(), n_components=3).shape == (40,)
    assert pca_errors(X_fit, X, n_components=0) == pytest.approx(((X - X_fit.mean(axis=0)) ** 2).mean(axis=1))
    assert pca_errors(X_fit, n_components=6) == pytest.approx(np.zeros(40), abs=1e-20)
    with pytest.raises(ValueError, match="n_components"):
        pca_errors(X_fit, n_components=7)
    with pytest.raises(ValueError, match="same number of columns"):
        pca_errors(X_fit, X[:, :5])


def test_ranked_errors_sorts_descending_and_keeps_ties_in_data_order():
    table = ranked_errors([0.1, 0.5, 0.3, 0.5], y=[7, 1, 2, 3])
    assert table["index"].tolist() == [1, 3, 2, 0]
    assert table["error"].tolist() == [0.5, 0.5, 0.3, 0.1]
    assert table["label"].tolist() == [1, 3, 2, 7]
    assert list(ranked_errors([1.0, 2.0]).columns) == ["index", "error"]
    with pytest.raises(ValueError, match="one label per item"):
        ranked_errors([1.0, 2.0], y=[1])
    with pytest.raises(ValueError, match="1-D"):
        ranked_errors([])


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


class Constant(torch.nn.Module):
    """Reconstructs every row as a fixed row: errors are known in closed form."""

    def __init__(self, row):
        super().__init__()
        self.row = torch.nn.Parameter(torch.as_tensor(row, dtype=torch.float32), requires_grad=False)

    def forward(self, x):
        return self.row.expand_as(x)


def toy():
    X = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    return Constant([0.0, 0.0, 0.0]), X


def test_label_error_share_is_the_last_columns_share():
    model, X = toy()
    assert label_error_share(model, X) == pytest.approx([1.0, 0.0, 0.0, 1 / 3])


def test_check_item_errors_accepts_the_answer_and_names_the_slips(capsys):
    model, X = toy()
    sse = lambda m, X: ((X - m(X)) ** 2).sum(dim=1)  # noqa: E731
    errors = check_item_errors(lambda m, X: sse(m, X) / X.shape[1], model, X)
    assert errors == pytest.approx([1 / 3, 1 / 3, 0.0, 0.25])
    assert "most anomalous item is 0" in capsys.readouterr().out
    with pytest.raises(ExerciseCheckError, match="divide it by the number of columns"):
        check_item_errors(sse, model, X)
    with pytest.raises(ExerciseCheckError, match="dim=1"):
        check_item_errors(lambda m, X: ((X - m(X)) ** 2).mean(), model, X)
    with pytest.raises(ExerciseCheckError, match="no square root"):
        check_item_errors(lambda m, X: sse(m, X).sqrt(), model, X)
    with pytest.raises(NotImplementedError):
        check_item_errors(NotImplemented, model, X)


def test_check_alternative_errors():
    model, X = toy()
    diff = (X - model(X)).abs()
    check_alternative_errors(diff.sum(dim=1), diff.amax(dim=1), model, X)
    check_alternative_errors(diff.mean(dim=1).numpy(), diff.amax(dim=1).tolist(), model, X)
    with pytest.raises(ExerciseCheckError, match="squared"):
        check_alternative_errors((diff ** 2).mean(dim=1), diff.amax(dim=1), model, X)
    with pytest.raises(ExerciseCheckError, match="errors_max"):
        check_alternative_errors(diff.sum(dim=1), diff.sum(dim=1), model, X)
    with pytest.raises(NotImplementedError):
        check_alternative_errors(NotImplemented, NotImplemented, model, X)


def test_check_pixel_errors():
    model, X = toy()
    squared = (X - model(X)) ** 2
    assert check_pixel_errors(squared[:, :-1].mean(dim=1), model, X) == pytest.approx([0.0, 0.5, 0.0, 0.25])
    check_pixel_errors(squared[:, :-1].sum(dim=1).numpy(), model, X)
    with pytest.raises(ExerciseCheckError, match="leave the last one"):
        check_pixel_errors(squared.mean(dim=1), model, X)
    with pytest.raises(ExerciseCheckError, match="first column"):
        check_pixel_errors(squared[:, 1:].mean(dim=1), model, X)
    with pytest.raises(NotImplementedError):
        check_pixel_errors(NotImplemented, model, X)


def test_checks_agree_with_the_scoring_helpers_on_a_real_model(features):
    X = features[0][:50]
    torch.manual_seed(0)
    model = TabularAutoencoder().eval()
    answer = lambda m, X: ((X - m(X)) ** 2).sum(dim=1) / 65  # noqa: E731
    with pytest.raises(ExerciseCheckError, match="no_grad"):
        check_item_errors(answer, model, X)
    with torch.no_grad():
        errors = check_item_errors(answer, model, X)
    assert errors == pytest.approx(reconstruction_errors(model, X), rel=1e-5)
