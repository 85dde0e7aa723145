"""Each check passes on a right answer and fails, with a useful message, on a wrong one."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import TabularAutoencoder, load_optdigits, optdigits_features, reconstruction_errors
from helpers.exercises import (
    ExerciseCheckError,
    check_alternative_errors,
    check_anomaly_scores,
    check_forward,
    check_item_errors,
    check_latent_codes,
    check_pixel_errors,
    check_threshold,
    check_training_step,
)
from helpers.models import ConvAutoencoder, DenseAutoencoder


def test_error_is_an_assertion_error():
    assert issubclass(ExerciseCheckError, AssertionError)


# ------------------------------------------------------------------ check_forward
@pytest.mark.parametrize("model", [DenseAutoencoder(), ConvAutoencoder()])
def test_forward_passes_on_the_course_models(model, capsys):
    assert check_forward(model) is None  # a check cell shows only the verdict
    assert "✓ output shape (8, 1, 28, 28)" in capsys.readouterr().out


def test_forward_accepts_a_function_and_given_inputs():
    X = torch.rand(5, 1, 28, 28)
    seen = []
    check_forward(lambda x: seen.append(x) or x.clamp(0, 1), X)
    assert seen[0] is X


def test_forward_restores_training_mode():
    model = DenseAutoencoder().train()
    check_forward(model)
    assert model.training


def test_forward_flat_output_hints_at_unflatten():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 784), nn.Sigmoid())
    with pytest.raises(ExerciseCheckError, match=r"shape \(8, 784\), expected \(8, 1, 28, 28\)(.|\n)*Unflatten"):
        check_forward(model)


def test_forward_without_sigmoid_hints_at_sigmoid():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 784), nn.Unflatten(1, (1, 28, 28)))
    nn.init.constant_(model[1].bias, -3.0)
    with pytest.raises(ExerciseCheckError, match=r"expected \[0, 1\](.|\n)*Sigmoid"):
        check_forward(model)


def test_forward_tuple_output_is_refused():
    with pytest.raises(ExerciseCheckError, match="only the reconstruction"):
        check_forward(lambda x: (x, x.flatten(1)[:, :20]))


def test_forward_reports_the_students_exception():
    def broken(x):
        return x.view(-1, 100)

    with pytest.raises(ExerciseCheckError, match=r"raised RuntimeError"):
        check_forward(broken)


def test_forward_lets_a_stub_through():
    def stub(x):
        raise NotImplementedError("Exercise 1.1")

    with pytest.raises(NotImplementedError):
        check_forward(stub)
    with pytest.raises(NotImplementedError, match="not written yet"):
        check_forward(NotImplemented)


# ------------------------------------------------------------------ check_training_step
def good_step(model, X, optimizer):
    optimizer.zero_grad()
    loss = F.mse_loss(model(X), X)
    loss.backward()
    optimizer.step()
    return loss.item()


def test_training_step_passes_and_the_loss_falls(capsys):
    check_training_step(good_step)
    assert "the loss falls over 30 steps" in capsys.readouterr().out


def test_training_step_check_leaves_the_students_random_numbers_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    check_training_step(good_step)
    assert torch.equal(torch.rand(3), expected)  # the check seeds a copy of the random state, not the student's


def test_training_step_passes_on_a_course_model():
    model = DenseAutoencoder(latent_dim=8, hidden_dim=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    check_training_step(good_step, model=model, optimizer=optimizer)


def test_training_step_accepts_a_tensor_loss():
    def step(model, X, optimizer):
        optimizer.zero_grad()
        loss = F.mse_loss(model(X), X)
        loss.backward()
        optimizer.step()
        return loss.detach()

    check_training_step(step)


def test_training_step_without_zero_grad():
    def step(model, X, optimizer):
        loss = F.mse_loss(model(X), X)
        loss.backward()
        optimizer.step()
        return loss.item()

    with pytest.raises(ExerciseCheckError, match="zero_grad"):
        check_training_step(step)


def test_training_step_without_optimizer_step():
    def step(model, X, optimizer):
        optimizer.zero_grad()
        loss = F.mse_loss(model(X), X)
        loss.backward()
        return loss.item()

    with pytest.raises(ExerciseCheckError, match=r"did not change(.|\n)*optimizer.step\(\)"):
        check_training_step(step)


def test_training_step_with_a_wrong_target():
    def step(model, X, optimizer):  # trains towards random noise: the reconstruction loss cannot fall
        optimizer.zero_grad()
        F.mse_loss(model(X), torch.rand_like(X)).backward()
        optimizer.step()
        return F.mse_loss(model(X), X).item()

    with pytest.raises(ExerciseCheckError, match="did not fall"):
        check_training_step(step)


def test_training_step_without_a_return():
    def step(model, X, optimizer):
        good_step(model, X, optimizer)

    with pytest.raises(ExerciseCheckError, match=r"returned NoneType(.|\n)*return loss.item\(\)"):
        check_training_step(step)


def test_training_step_unreduced_loss():
    def step(model, X, optimizer):
        optimizer.zero_grad()
        loss = F.mse_loss(model(X), X, reduction="none")
        loss.mean().backward()
        optimizer.step()
        return loss.detach()

    with pytest.raises(ExerciseCheckError, match="single number"):
        check_training_step(step)


def test_training_step_wrong_signature_is_explained():
    def step(model, optimizer, X):
        return good_step(model, X, optimizer)

    with pytest.raises(ExerciseCheckError, match=r"step_fn\(model, X, optimizer\) raised"):
        check_training_step(step)


# ------------------------------------------------------------------ check_anomaly_scores
def mse_scores(model, X):
    model.eval()
    with torch.no_grad():
        return ((model(X) - X) ** 2).flatten(1).mean(1)


def test_anomaly_scores_pass_with_the_toy_model(capsys):
    check_anomaly_scores(mse_scores)
    out = capsys.readouterr().out
    assert "one score per example (16)" in out and "corrupted images score higher" in out


def test_anomaly_scores_accept_numpy_and_a_given_model():
    X = torch.zeros(6, 1, 28, 28)
    X[:, :, 10:18, 10:18] = 1.0

    class Template(nn.Module):  # "trained" on these images: reconstructs every input as the block
        def __init__(self):
            super().__init__()
            self.register_buffer("template", X[0].clone())
            self.w = nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return self.template.expand_as(x) + 0 * self.w

    check_anomaly_scores(lambda m, x: mse_scores(m, x).numpy(), model=Template(), X=X)


def test_anomaly_scores_reduced_over_the_batch():
    def score(model, X):
        with torch.no_grad():
            return ((model(X) - X) ** 2).mean()

    with pytest.raises(ExerciseCheckError, match=r"one score per example(.|\n)*not over the batch"):
        check_anomaly_scores(score)


def test_anomaly_scores_not_reduced_at_all():
    def score(model, X):
        with torch.no_grad():
            return (model(X) - X) ** 2

    with pytest.raises(ExerciseCheckError, match="except the first"):
        check_anomaly_scores(score)


def test_anomaly_scores_signed_difference():
    def score(model, X):
        with torch.no_grad():
            return (model(X) - X).flatten(1).mean(1) - 0.01

    with pytest.raises(ExerciseCheckError, match=r"negative(.|\n)*square"):
        check_anomaly_scores(score)


def test_anomaly_scores_that_ignore_the_reconstruction():
    with pytest.raises(ExerciseCheckError, match="inverted images scored no higher"):
        check_anomaly_scores(lambda model, X: torch.zeros(len(X)))


def test_anomaly_scores_with_gradients_attached():
    class Learnable(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

        def forward(self, x):
            return x * self.w

    with pytest.raises(ExerciseCheckError, match="torch.no_grad"):
        check_anomaly_scores(lambda m, X: ((m(X) - X) ** 2).flatten(1).mean(1), model=Learnable())


def test_anomaly_scores_in_training_mode_with_dropout():
    model = nn.Sequential(nn.Dropout(0.5), nn.Sigmoid())

    def score(m, X):  # forgets model.eval()
        with torch.no_grad():
            return ((m(X) - X) ** 2).flatten(1).mean(1)

    with pytest.raises(ExerciseCheckError, match="model.eval"):
        check_anomaly_scores(score, model=model.train())


def test_anomaly_scores_modifying_the_input():
    def score(model, X):
        with torch.no_grad():
            X -= model(X)
            return (X ** 2).flatten(1).mean(1)

    with pytest.raises(ExerciseCheckError, match="in place"):
        check_anomaly_scores(score)


# ------------------------------------------------------------------ check_latent_codes
def test_latent_codes_pass(capsys):
    check_latent_codes(torch.randn(100, 2), 100, 2)
    check_latent_codes(np.random.rand(100, 2), 100, 2)
    assert capsys.readouterr().out.count("✓ shape (100, 2)") == 2


@pytest.mark.parametrize("Z, pattern", [
    (np.zeros((100, 1, 2)) + np.arange(100)[:, None, None], r"shape \(100, 1, 2\)(.|\n)*reshape"),
    (np.random.rand(100, 20), r"latent size of this model is 2"),
    (np.random.rand(50, 2), r"encode all 100"),
    (np.ones((100, 2)), "every code is the same"),
    (np.full((100, 2), np.nan), "NaN"),
    (torch.randn(100, 2, requires_grad=True), "no_grad"),
])
def test_latent_codes_fail(Z, pattern):
    with pytest.raises(ExerciseCheckError, match=pattern):
        check_latent_codes(Z, 100, 2)


def test_latent_codes_stub():
    with pytest.raises(NotImplementedError):
        check_latent_codes(NotImplemented, 100, 2)


# --- notebook 04: codes on the edges, cluster centres, latent distance ------------------------

from helpers import encode_dataset  # noqa: E402
from helpers.exercises import check_cluster_centres, check_edge_share, check_latent_distance  # noqa: E402


def edge_share_of(model, X):
    """The right answer: the share of codes with a coordinate at its lowest or highest value."""
    Z = encode_dataset(model, X)
    on_edge = np.isclose(Z, Z.min(axis=0), atol=1e-4) | np.isclose(Z, Z.max(axis=0), atol=1e-4)
    return on_edge.any(axis=1).mean()


@pytest.fixture(scope="module")
def relu_codes():
    torch.manual_seed(0)
    model = DenseAutoencoder(latent_dim=2, bottleneck_activation=True).eval()  # the ReLU zeroes about half of each coordinate
    X = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    return model, X


def test_edge_share_accepts_the_answer(relu_codes, capsys):
    model, X = relu_codes
    check_edge_share(model, edge_share_of(model, X), X)
    check_edge_share(model, torch.tensor(edge_share_of(model, X)), X)
    assert capsys.readouterr().out.count("pile up on the edges") == 2


def test_edge_share_fails_on_wrong_answers(relu_codes):
    model, X = relu_codes
    Z = encode_dataset(model, X)
    at_min = np.isclose(Z, Z.min(axis=0), atol=1e-4)
    at_edge = at_min | np.isclose(Z, Z.max(axis=0), atol=1e-4)
    for wrong, pattern in [(100 * at_edge.any(axis=1).mean(), "percentage"),
                           (at_edge.mean(), "share of coordinates"),
                           (0.5, "lie on an edge")]:
        with pytest.raises(ExerciseCheckError, match=pattern):
            check_edge_share(model, wrong, X)
    # flip the sign of the first coordinate: its edge is now the highest value, not the lowest
    with torch.no_grad():
        model.encoder[-1].weight[0] *= -1
    try:
        Z = encode_dataset(model, X)
        only_min = np.isclose(Z, Z.min(axis=0), atol=1e-4).any(axis=1).mean()
        with pytest.raises(ExerciseCheckError, match="lowest or the highest"):
            check_edge_share(model, only_min, X)
    finally:
        with torch.no_grad():
            model.encoder[-1].weight[0] *= -1


def test_edge_share_fails_on_a_linear_code():
    model = DenseAutoencoder(latent_dim=2, bottleneck_activation=False).eval()
    X = torch.rand(200, 1, 28, 28)
    with pytest.raises(ExerciseCheckError, match="bottleneck_activation=True"):
        check_edge_share(model, edge_share_of(model, X), X)


def test_edge_share_lets_a_stub_through(relu_codes):
    model, X = relu_codes
    with pytest.raises(NotImplementedError, match="not written yet"):
        check_edge_share(NotImplemented, NotImplemented, X)
    with pytest.raises(NotImplementedError, match="not written yet"):
        check_edge_share(model, NotImplemented, X)


@pytest.fixture(scope="module")
def clusters():
    rng = np.random.default_rng(0)
    y = np.arange(100) % 5
    Z = rng.standard_normal((100, 2)) + 3 * np.stack([np.cos(y), np.sin(y)], axis=1)
    return Z, y


def test_cluster_centres_accepts_the_means(clusters, capsys):
    Z, y = clusters
    centres = np.stack([Z[y == d].mean(axis=0) for d in range(5)])
    check_cluster_centres(centres, Z, y)
    check_cluster_centres(torch.from_numpy(centres), Z, torch.from_numpy(y))
    assert capsys.readouterr().out.count("mean code of digit d") == 2


def test_cluster_centres_fails_on_wrong_answers(clusters):
    Z, y = clusters
    centres = np.stack([Z[y == d].mean(axis=0) for d in range(5)])
    wrongs = [
        (np.random.default_rng(1).random((5, 2)), "not the mean codes"),             # any 5x2 array
        (np.stack([np.median(Z[y == d], axis=0) for d in range(5)]), "medians"),
        (np.tile(Z.mean(axis=0), (5, 1)), "Z\\[y == d\\]"),
        (centres[::-1], "wrong order"),
        (centres.T, "transpose"),
        (centres[0], "that is one centre"),
        (np.full((5, 2), np.nan), "NaN"),
    ]
    for wrong, pattern in wrongs:
        with pytest.raises(ExerciseCheckError, match=pattern):
            check_cluster_centres(wrong, Z, y)


def test_cluster_centres_lets_a_stub_through(clusters):
    with pytest.raises(NotImplementedError, match="not written yet"):
        check_cluster_centres(NotImplemented, *clusters)


@pytest.fixture(scope="module")
def distances_2d():
    torch.manual_seed(0)
    model = DenseAutoencoder(latent_dim=2, bottleneck_activation=False).eval()
    g = torch.Generator().manual_seed(2)
    X_reference, X = torch.rand(300, 1, 28, 28, generator=g), torch.rand(100, 1, 28, 28, generator=g)
    from sklearn.neighbors import NearestNeighbors
    Z_reference, Z = encode_dataset(model, X_reference), encode_dataset(model, X)
    distances, _ = NearestNeighbors(n_neighbors=10).fit(Z_reference).kneighbors(Z)
    own, _ = NearestNeighbors(n_neighbors=10).fit(Z).kneighbors(Z)
    return model, X_reference, X, distances, own


def test_latent_distance_accepts_the_answer(distances_2d, capsys):
    model, X_reference, X, distances, _ = distances_2d
    check_latent_distance(distances.mean(axis=1), model, X_reference, X)
    assert "nearest training codes" in capsys.readouterr().out


def test_latent_distance_fails_on_wrong_answers(distances_2d):
    model, X_reference, X, distances, own = distances_2d
    wrongs = [
        (distances[:, 0], "nearest code only"),
        (distances.sum(axis=1), "sum"),
        ((distances ** 2).mean(axis=1), "squared"),
        (own.mean(axis=1), "training codes"),
        (distances, "average them"),
        (distances.mean(axis=1)[:50], "one score per image"),
        (np.random.default_rng(0).random(100), "differs"),
    ]
    for wrong, pattern in wrongs:
        with pytest.raises(ExerciseCheckError, match=pattern):
            check_latent_distance(wrong, model, X_reference, X)


def test_latent_distance_lets_a_stub_through(distances_2d):
    model, X_reference, X, _, _ = distances_2d
    with pytest.raises(NotImplementedError, match="not written yet"):
        check_latent_distance(NotImplemented, model, X_reference, X)


# ------------------------------------------------------------------ check_threshold
def test_threshold_accepts_either_standard_deviation(capsys):
    errors = torch.rand(1000)
    check_threshold(errors.mean() + errors.std(), errors)             # torch: ddof=1
    e = errors.numpy()
    check_threshold(float(e.mean() + e.std()), e)                      # numpy: ddof=0
    check_threshold(float(e.mean() + 2 * e.std()), e, k=2)
    assert "lie above it" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, pattern", [
    (lambda e: e.mean(), "that is the mean"),
    (lambda e: e.mean() + e.var(), "variance"),
    (lambda e: e.max(), r"expected mean \+ 1 std"),
    (lambda e: float("nan"), "nan"),
    (lambda e: "0.1", "expected mean"),
])
def test_threshold_fails(wrong, pattern):
    errors = np.random.default_rng(0).gamma(2.0, 0.01, size=500)
    with pytest.raises(ExerciseCheckError, match=pattern):
        check_threshold(wrong(errors), errors)


def test_threshold_must_be_one_number():
    errors = torch.rand(10, 4)
    with pytest.raises(ExerciseCheckError, match="one number"):
        check_threshold(errors.mean(0) + errors.std(0), errors)


# --- notebook 01: how many principal components match the autoencoder (Exercise 1.3) -----------

import pandas as pd  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from helpers import pca_reconstruct, per_example_errors  # noqa: E402
from helpers.exercises import check_pca_components  # noqa: E402

PCA_KS = range(2, 11, 2)


@pytest.fixture(scope="module")
def pca_rows():
    """Rows with a decaying spectrum, the answer of Exercise 1.3 on them, and PCA-2 from the helper."""
    rng = np.random.default_rng(0)
    scales = 0.8 ** np.arange(20)
    X_fit, X = 1 + rng.normal(size=(300, 20)) * scales, 1 + rng.normal(size=(100, 20)) * scales   # a mean far from 0
    pca = PCA(random_state=0).fit(X_fit)
    V, mean = pca.components_, pca.mean_

    def mse_by_k(center=True, reduce=np.mean):
        out = {}
        for k in PCA_KS:
            rows = ((X - mean) @ V[:k].T) @ V[:k] + (mean if center else 0)
            out[k] = float(reduce((rows - X) ** 2) if reduce is np.mean else reduce((rows - X) ** 2, axis=1).mean())
        return out

    right = mse_by_k()
    pca_mse = per_example_errors(X, pca_reconstruct(X_fit, X, PCA_KS[0])).mean()
    ae_mse = (right[6] + right[4]) / 2   # PCA-6 is the first to reach it
    return right, mse_by_k, ae_mse, pca_mse


def test_pca_components_accepts_the_answer(pca_rows, capsys):
    right, _, ae_mse, pca_mse = pca_rows
    check_pca_components(right, 6, ae_mse, pca_mse, ks=PCA_KS)
    check_pca_components(pd.Series(right), np.int64(6), ae_mse, pca_mse, ks=PCA_KS)   # a Series, a numpy int
    check_pca_components(right, None, right[PCA_KS[-1]] / 2, pca_mse, ks=PCA_KS)     # none is good enough
    out = capsys.readouterr().out
    assert "✓ k_match = 6" in out and "k_match is None" in out


def test_pca_components_fails_on_wrong_answers(pca_rows):
    right, mse_by_k, ae_mse, pca_mse = pca_rows
    wrongs = [
        (mse_by_k(center=False), 6, "lesson reaches"),                          # the mean is never added back
        (mse_by_k(reduce=np.sum), 6, "sum over the 784 pixels|lesson reaches"),  # summed, not averaged
        ({k: v for k, v in right.items() if k != 10}, 6, r"missing \[10\]"),
        ({**right, 8: right[4]}, 6, "the error grows"),
        (right, 10, "largest k"),
        (right, 4, "does not reach"),
        (right, None, "expected 6"),
        (list(right.values()), 6, "a dict"),
    ]
    for by_k, k_match, pattern in wrongs:
        with pytest.raises(ExerciseCheckError, match=pattern):
            check_pca_components(by_k, k_match, ae_mse, pca_mse, ks=PCA_KS)


def test_pca_components_lets_a_stub_through(pca_rows):
    right, _, ae_mse, pca_mse = pca_rows
    with pytest.raises(NotImplementedError, match="not written yet"):
        check_pca_components(NotImplemented, NotImplemented, ae_mse, pca_mse, ks=PCA_KS)
    with pytest.raises(NotImplementedError):
        check_pca_components(right, NotImplemented, ae_mse, pca_mse, ks=PCA_KS)


# --- notebook 02: digits turned upside down (Exercise 2.3) ------------------------------------

from helpers.exercises import check_upside_down  # noqa: E402


class PixelWeights(nn.Module):
    """Reconstructs each pixel times a fixed random weight: its error changes with any turn or mirror image."""

    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0)),
                                    requires_grad=False)

    def forward(self, X):
        return X * self.weights


@pytest.fixture(scope="module")
def turned():
    X = torch.rand(60, 1, 28, 28) ** 4
    y = torch.arange(60) % 4
    model = PixelWeights()
    errors = reconstruction_errors(model, torch.rot90(X, k=2, dims=(2, 3)))
    threshold = float(np.median(errors))
    return model, X, y, errors, threshold


def test_upside_down_accepts_the_answer(turned, capsys):
    model, X, y, errors, threshold = turned
    shares = pd.Series(errors > threshold).groupby(y.numpy()).mean()
    check_upside_down(errors, shares, model, X, y, threshold, n_checked=20)
    check_upside_down(torch.from_numpy(errors), shares.to_dict(), model, X, y, threshold)   # a tensor, a dict
    assert "least often flagged" in capsys.readouterr().out


def test_upside_down_fails_on_wrong_answers(turned):
    model, X, y, errors, threshold = turned
    shares = pd.Series(errors > threshold).groupby(y.numpy()).mean()
    flags = pd.Series(errors > threshold)
    wrong_errors = [
        (reconstruction_errors(model, X), "upright"),
        (reconstruction_errors(model, torch.rot90(X, k=1, dims=(2, 3))), "quarter turn"),
        (reconstruction_errors(model, torch.rot90(X, k=3, dims=(2, 3))), "quarter turn"),
        (reconstruction_errors(model, torch.flip(X, dims=(2,))), "mirror"),
        (errors[:30], "one error per digit"),
    ]
    for wrong, pattern in wrong_errors:
        with pytest.raises(ExerciseCheckError, match=pattern):
            check_upside_down(wrong, shares, model, X, y, threshold)
    wrong_shares = [
        (flags.groupby(y.numpy()).sum(), "counts"),
        (1 - shares, "below the threshold"),
        (flags.groupby(y.numpy()).sum() / len(flags), "not by all the digits"),
        (shares.drop(3), "one entry per label"),
        (float(flags.mean()), "a pandas Series or a dict"),
    ]
    for wrong, pattern in wrong_shares:
        with pytest.raises(ExerciseCheckError, match=pattern):
            check_upside_down(errors, wrong, model, X, y, threshold)


def test_upside_down_lets_a_stub_through(turned):
    model, X, y, errors, threshold = turned
    with pytest.raises(NotImplementedError, match="not written yet"):
        check_upside_down(NotImplemented, NotImplemented, model, X, y, threshold)


# --- notebook 03: AUC by counting pairs, precision at a prevalence -----------------------------

from helpers.exercises import check_precision_at_prevalence, check_roc_auc  # noqa: E402


def pairwise_auc(scores, is_anomaly):
    """The right answer: the share of (anomaly, normal) pairs ranked correctly, ties counting half."""
    is_anomaly = np.asarray(is_anomaly, bool)
    diff = scores[is_anomaly][:, None] - scores[~is_anomaly][None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


def test_roc_auc_check_accepts_the_pair_count(capsys):
    check_roc_auc(pairwise_auc)
    assert "scikit-learn" in capsys.readouterr().out


@pytest.mark.parametrize("auc_fn, message", [
    (lambda s, a: 1 - pairwise_auc(s, a), "reversed|perfect"),
    (lambda s, a: (s[np.asarray(a, bool)][:, None] > s[~np.asarray(a, bool)][None, :]).mean(), "tie"),
    (lambda s, a: np.array([0.5, 0.5]), "one number"),
    (lambda s, a: 1 / 0, "ZeroDivisionError"),
])
def test_roc_auc_check_explains_wrong_answers(auc_fn, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_roc_auc(auc_fn)


def test_roc_auc_check_passes_stubs_through():
    def stub(scores, is_anomaly):
        raise NotImplementedError
    with pytest.raises(NotImplementedError):
        check_roc_auc(stub)


def precision_at(recall, false_positive_rate, prevalence):
    return recall * prevalence / (recall * prevalence + false_positive_rate * (1 - prevalence))


def test_precision_check_accepts_bayes_rule(capsys):
    check_precision_at_prevalence(precision_at)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("precision_fn, message", [
    (lambda r, f, p: r * p / (r * p + f * p), "1 - prevalence"),
    (lambda r, f, p: r, "that is the recall"),
    (lambda r, f, p: 1 - f, "true positives"),
])
def test_precision_check_explains_wrong_answers(precision_fn, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_precision_at_prevalence(precision_fn)


# --- notebooks 05-07: kNN accuracy, latent path, noise, PSNR, a denoising step -----------------

from sklearn.neighbors import KNeighborsClassifier  # noqa: E402

from helpers.exercises import (check_add_noise, check_denoising_step, check_knn_accuracy,  # noqa: E402
                               check_latent_path, check_psnr)


def knn_accuracy(Z_train, y_train, Z_test, y_test, k=5):
    return float((KNeighborsClassifier(k).fit(Z_train, y_train).predict(Z_test) == y_test).mean())


def latent_path(z0, z1, steps):
    weights = torch.linspace(0, 1, steps)[:, None]
    return (1 - weights) * z0 + weights * z1


def noisy(X, noise_std, generator):
    return (X + noise_std * torch.randn(X.shape, generator=generator)).clamp(0, 1)


def psnr(X_hat, X):
    return 10 * torch.log10(1 / ((X_hat - X) ** 2).flatten(1).mean(1))


def denoising_step(model, X, optimizer, noise_std):
    loss = F.mse_loss(model(noisy(X, noise_std, None)), X)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def wrong_target_step(model, X, optimizer, noise_std):
    X_noisy = noisy(X, noise_std, None)
    loss = F.mse_loss(model(X_noisy), X_noisy)  # learns to copy the noise
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def in_place_noise(X, noise_std, generator):
    X += noise_std * torch.randn(X.shape, generator=generator)
    return X.clamp_(0, 1)


CHECKS = [
    (check_knn_accuracy, knn_accuracy, [
        lambda a, ya, b, yb, k=5: KNeighborsClassifier(k).fit(a, ya).score(a, ya),  # scored on the training set
        lambda a, ya, b, yb, k=5: 100 * knn_accuracy(a, ya, b, yb, k),             # a percentage
    ]),
    (check_latent_path, latent_path, [
        lambda z0, z1, steps: latent_path(z1, z0, steps),                           # reversed
        lambda z0, z1, steps: latent_path(z0, z1, steps + 1)[:-1],                  # misses the end point
    ]),
    (check_add_noise, noisy, [
        lambda X, s, g: X + s * torch.randn(X.shape, generator=g),                  # not clipped
        lambda X, s, g: (X + s * s * torch.randn(X.shape, generator=g)).clamp(0, 1),  # variance, not std
        lambda X, s, g: (X + s * torch.randn(X.shape)).clamp(0, 1),                 # ignores the generator
        in_place_noise,                                                              # changes the clean images
    ]),
    (check_psnr, psnr, [
        lambda X_hat, X: 10 * torch.log10(1 / ((X_hat - X) ** 2).mean()),           # one number per batch
        lambda X_hat, X: 10 * torch.log(1 / ((X_hat - X) ** 2).flatten(1).mean(1)),  # natural log
        lambda X_hat, X: 10 * torch.log10(1 / ((X_hat - X) ** 2).flatten(1).mean(1).sqrt()),  # RMSE
    ]),
    (check_denoising_step, denoising_step, [wrong_target_step]),
]


@pytest.mark.parametrize("check, right, wrongs", CHECKS, ids=[c[0].__name__ for c in CHECKS])
def test_checks_of_notebooks_05_to_07(check, right, wrongs, capsys):
    check(right)
    assert "✓" in capsys.readouterr().out
    for wrong in wrongs:
        with pytest.raises(ExerciseCheckError):
            check(wrong)
    assert_stubs_pass_through(check)


def assert_stubs_pass_through(check):
    """A student's untouched stub (it raises, or is still NotImplemented) reaches the student as NotImplementedError."""
    def stub(*args):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        check(stub)
    with pytest.raises(NotImplementedError):
        check(NotImplemented)


def test_denoising_check_leaves_the_students_random_numbers_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    check_denoising_step(denoising_step)
    assert torch.equal(torch.rand(3), expected)


# --- notebook 05: the neighbour classifier's most frequent mistakes ---------------------------
from sklearn.metrics import confusion_matrix  # noqa: E402

from helpers.exercises import check_average_digits, check_extrapolation, check_top_mistakes  # noqa: E402


def toy_predictions():
    """Labels 0..3 and predictions whose mistakes are unequal and asymmetric (3->1 happens 4 times, 1->3 never)."""
    y_true = np.repeat(np.arange(4), 20)
    y_pred = y_true.copy()
    y_pred[60:64] = 1   # four 3s read as 1
    y_pred[20:23] = 2   # three 1s read as 2
    y_pred[0:2] = 3     # two 0s read as 3
    y_pred[40] = 0      # one 2 read as 0
    return y_true, y_pred


def top_mistakes(y_true, y_pred, n=3):
    confusion = pd.DataFrame(confusion_matrix(y_true, y_pred))
    size = len(confusion)
    return confusion, confusion.where(~np.eye(size, dtype=bool)).stack().nlargest(n).astype(int)


def test_top_mistakes_check_accepts_a_series_and_rows(capsys):
    y_true, y_pred = toy_predictions()
    confusion, mistakes = top_mistakes(y_true, y_pred)
    check_top_mistakes(confusion, mistakes, y_true, y_pred, n=3)
    assert "✓ the 3 most frequent mistakes: 3->1 (4), 1->2 (3), 0->3 (2)" in capsys.readouterr().out
    rows = [(true, guess, count) for (true, guess), count in mistakes.items()]
    check_top_mistakes(confusion.to_numpy(), rows, y_true, y_pred, n=3)
    check_top_mistakes(confusion, mistakes.rename("count").to_frame(), y_true, y_pred, n=3)


@pytest.mark.parametrize("wrong, message", [
    (lambda c, m: (c.T, m), "swapped"),
    (lambda c, m: (c / c.to_numpy().sum(), m), "count the examples"),
    (lambda c, m: (c, m.iloc[:2]), "lists 2 entries"),
    (lambda c, m: (c, pd.Series(m.to_numpy(), index=m.index.swaplevel())), "read backwards"),
    (lambda c, m: (c, c.stack().nlargest(3)), "on the diagonal"),
    (lambda c, m: (c, c.where(~np.eye(4, dtype=bool)).stack().nsmallest(3)), "not the 3 most frequent"),
])
def test_top_mistakes_check_explains_wrong_answers(wrong, message):
    y_true, y_pred = toy_predictions()
    confusion, mistakes = wrong(*top_mistakes(y_true, y_pred))
    with pytest.raises(ExerciseCheckError, match=message):
        check_top_mistakes(confusion, mistakes, y_true, y_pred, n=3)


def test_top_mistakes_check_wants_the_given_predictions():
    y_true, y_pred = toy_predictions()
    confusion, mistakes = top_mistakes(y_true, y_true)  # the confusion matrix of perfect predictions
    with pytest.raises(ExerciseCheckError, match="not the confusion matrix"):
        check_top_mistakes(confusion, mistakes, y_true, y_pred, n=3)


def test_top_mistakes_check_passes_stubs_through():
    y_true, y_pred = toy_predictions()
    with pytest.raises(NotImplementedError, match="not written yet"):
        check_top_mistakes(NotImplemented, NotImplemented, y_true, y_pred)


# --- notebook 06: beyond the end points, average digits ----------------------------------------
@pytest.fixture(scope="module")
def small_conv_model():
    torch.manual_seed(0)
    return ConvAutoencoder(latent_dim=20).eval()


def far_walk(model, x0, x1, alphas):
    with torch.no_grad():
        z0, z1 = model.encode(torch.stack([x0, x1]))
        return model.decode(torch.stack([(1 - a) * z0 + a * z1 for a in alphas.tolist()]))


def test_extrapolation_check(small_conv_model, capsys):
    X = torch.rand(2, 1, 28, 28)
    alphas = torch.linspace(-1, 2, 13)
    check_extrapolation(far_walk(small_conv_model, X[0], X[1], alphas), alphas, small_conv_model, X[0], X[1])
    assert "✓ 13 weights from -1 to 2" in capsys.readouterr().out
    wrongs = [
        (far_walk(small_conv_model, X[0], X[1], alphas), torch.linspace(0, 1, 13), "weights"),
        (far_walk(small_conv_model, X[1], X[0], alphas), alphas, "backwards"),
        (((1 - alphas.view(-1, 1, 1, 1)) * X[0] + alphas.view(-1, 1, 1, 1) * X[1]).clamp(0, 1), alphas, "pixels"),
        (far_walk(small_conv_model, X[0], X[1], alphas)[:12], alphas, "shape"),
    ]
    for strip, weights, message in wrongs:
        with pytest.raises(ExerciseCheckError, match=message):
            check_extrapolation(strip, weights, small_conv_model, X[0], X[1])
    with pytest.raises(NotImplementedError):
        check_extrapolation(NotImplemented, NotImplemented, small_conv_model, X[0], X[1])


def test_average_digits_check(small_conv_model, capsys):
    X, y = torch.rand(30, 1, 28, 28), np.arange(30) % 3
    Z = small_conv_model.encode(X).detach().numpy()
    pixel_means = torch.stack([X[torch.from_numpy(y == d)].mean(dim=0) for d in range(3)])
    with torch.no_grad():
        code_means = torch.stack([torch.from_numpy(Z[y == d]).mean(dim=0) for d in range(3)])
        decoded_means = small_conv_model.decode(code_means)
        decoded_mean_images = small_conv_model(pixel_means)
    check_average_digits(pixel_means, decoded_means, small_conv_model, X, y, Z)
    assert "✓ 3 mean images, one per digit" in capsys.readouterr().out
    wrongs = [
        (X.mean(dim=0).expand(3, 1, 28, 28), decoded_means, "mean of all the images"),
        (pixel_means, decoded_mean_images, "code of the mean image"),
        (pixel_means, decoded_means.flip(0), "not the decoded mean code"),
        (pixel_means[:2], decoded_means, "shape"),
    ]
    for means, decoded, message in wrongs:
        with pytest.raises(ExerciseCheckError, match=message):
            check_average_digits(means, decoded, small_conv_model, X, y, Z)
    with pytest.raises(NotImplementedError):
        check_average_digits(NotImplemented, NotImplemented, small_conv_model, X, y, Z)


# ----------------------------------------------------------------------------- tabular rows (notebook 08)
def test_check_item_errors_accepts_the_answer_and_names_the_slips(capsys, toy_rows):
    model, X = toy_rows
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


def test_check_alternative_errors(toy_rows):
    model, X = toy_rows
    diff = (X - model(X)).abs()
    check_alternative_errors(diff.sum(dim=1), diff.amax(dim=1), model, X)
    check_alternative_errors(diff.mean(dim=1).numpy(), diff.amax(dim=1).tolist(), model, X)
    with pytest.raises(ExerciseCheckError, match="squared"):
        check_alternative_errors((diff ** 2).mean(dim=1), diff.amax(dim=1), model, X)
    with pytest.raises(ExerciseCheckError, match="errors_max"):
        check_alternative_errors(diff.sum(dim=1), diff.sum(dim=1), model, X)
    with pytest.raises(NotImplementedError):
        check_alternative_errors(NotImplemented, NotImplemented, model, X)


def test_check_pixel_errors(toy_rows):
    model, X = toy_rows
    squared = (X - model(X)) ** 2
    assert check_pixel_errors(squared[:, :-1].mean(dim=1), model, X) == pytest.approx([0.0, 0.5, 0.0, 0.25])
    check_pixel_errors(squared[:, :-1].sum(dim=1).numpy(), model, X)
    with pytest.raises(ExerciseCheckError, match="leave the last one"):
        check_pixel_errors(squared.mean(dim=1), model, X)
    with pytest.raises(ExerciseCheckError, match="first column"):
        check_pixel_errors(squared[:, 1:].mean(dim=1), model, X)
    with pytest.raises(NotImplementedError):
        check_pixel_errors(NotImplemented, model, X)


def test_tabular_checks_agree_with_the_scoring_helpers_on_a_real_model():
    X, y = load_optdigits("train")
    X = optdigits_features(X, y)[:50]
    torch.manual_seed(0)
    model = TabularAutoencoder().eval()
    answer = lambda m, X: ((X - m(X)) ** 2).sum(dim=1) / 65  # noqa: E731
    with pytest.raises(ExerciseCheckError, match="no_grad"):
        check_item_errors(answer, model, X)
    with torch.no_grad():
        errors = check_item_errors(answer, model, X)
    assert errors == pytest.approx(reconstruction_errors(model, X), rel=1e-5)


# ------------------------------------------------------------------ notebook 09: the variational autoencoder
from helpers.exercises import check_kl_monte_carlo, check_kl_per_dimension, check_sample_codes  # noqa: E402


def _sample_codes(mean, log_variance, num_samples):
    return mean + torch.exp(0.5 * log_variance) * torch.randn((num_samples, *mean.shape))


def _kl_monte_carlo(mean, log_variance, num_samples):
    z = _sample_codes(mean, log_variance, num_samples)
    q = torch.distributions.Normal(mean, torch.exp(0.5 * log_variance))
    return (q.log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z)).sum(-1).mean(0)


def _kl_per_dimension(mean, log_variance):
    return (0.5 * (mean ** 2 + log_variance.exp() - log_variance - 1)).mean(0)


@pytest.mark.parametrize("check, right, expected", [
    (check_sample_codes, _sample_codes, "gradients reach mean and log_variance"),
    (check_kl_monte_carlo, _kl_monte_carlo, "within 5 standard errors"),
    (check_kl_per_dimension, _kl_per_dimension, "KL per dimension correct"),
])
def test_notebook_09_checks_accept_the_answer(check, right, expected, capsys):
    state = torch.random.get_rng_state()
    check(right)
    assert torch.equal(torch.random.get_rng_state(), state)   # the student's random numbers are untouched
    out = capsys.readouterr().out
    assert "✓" in out and expected in out


@pytest.mark.parametrize("check, wrong, message", [
    (check_sample_codes, lambda m, lv, n: m + lv.exp() * torch.randn((n, *m.shape)), "multiplied eps by the variance"),
    (check_sample_codes, lambda m, lv, n: m + lv * torch.randn((n, *m.shape)), "standard deviation"),
    (check_sample_codes, lambda m, lv, n: torch.normal(m.expand(n, *m.shape), torch.exp(0.5 * lv).expand(n, *m.shape)),
     "gradient"),
    (check_sample_codes, lambda m, lv, n: m + torch.exp(0.5 * lv) * torch.randn(m.shape), "expected \\(20000, 2, 3\\)"),
    (check_sample_codes, lambda m, lv, n: (m + torch.exp(0.5 * lv) * torch.randn(m.shape)).expand(n, *m.shape),
     "every sample is the same code"),
    (check_kl_monte_carlo, lambda m, lv, n: 0.5 * (m ** 2 + lv.exp() - lv - 1).sum(1), "equals the closed form"),
    (check_kl_monte_carlo, lambda m, lv, n: -_kl_monte_carlo(m, lv, n), "sign is reversed"),
    (check_kl_monte_carlo, lambda m, lv, n: _kl_monte_carlo(m, lv, n).mean(), "shape \\(5,\\)"),
    (check_kl_monte_carlo, lambda m, lv, n: _kl_monte_carlo(m, lv, 1) + 0 * n, "too far"),
    (check_kl_per_dimension, lambda m, lv: (0.5 * (m ** 2 + lv.exp() - lv - 1)).sum(1), "one KL per example"),
    (check_kl_per_dimension, lambda m, lv: (0.5 * (m ** 2 + lv.exp() - lv)).mean(0), "'- 1' is missing"),
    (check_kl_per_dimension, lambda m, lv: (0.5 * (m ** 2 + lv.exp() - lv - 1)).sum(0), "sum over the examples"),
])
def test_notebook_09_checks_fail_on_wrong_answers(check, wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check(wrong)


# ------------------------------------------------------------------ notebook 10: anomalies at their real prevalence
from sklearn.metrics import average_precision_score  # noqa: E402

from helpers.exercises import (  # noqa: E402
    check_average_precision,
    check_contamination_threshold,
    check_cost_threshold,
    check_precision_at_n,
)


def _precision_at_n(scores, is_anomaly):
    n = int(np.sum(is_anomaly))
    return float(np.asarray(is_anomaly)[np.argsort(-np.asarray(scores))[:n]].mean())


def _cheapest(scores, is_anomaly, cost_miss):
    candidates = np.r_[-np.inf, np.unique(scores)]
    costs = [((scores > t) & (is_anomaly == 0)).sum() + cost_miss * ((scores <= t) & (is_anomaly == 1)).sum()
             for t in candidates]
    return float(candidates[int(np.argmin(costs))])


_NB10_SCORES = np.random.default_rng(5).normal(size=400)
_NB10_LABELS = (np.random.default_rng(6).random(400) < 0.05).astype(int)


@pytest.mark.parametrize("check, right, args, expected", [
    (check_precision_at_n, _precision_at_n, (_NB10_SCORES, _NB10_LABELS), "on the notebook's scores"),
    (check_average_precision, lambda s, y: average_precision_score(y, s), (_NB10_SCORES, _NB10_LABELS),
     "as scikit-learn says"),
    (check_contamination_threshold, lambda s, c: np.percentile(s, 100 * (1 - c)), (_NB10_SCORES, 0.05),
     "on the notebook's training scores"),
    (check_cost_threshold, _cheapest, (_NB10_SCORES, _NB10_LABELS, 10.0), "with cost_miss 10"),
])
def test_notebook_10_checks_accept_the_answer(check, right, args, expected, capsys):
    check(right, *args)
    out = capsys.readouterr().out
    assert "✓" in out and expected in out


@pytest.mark.parametrize("check, wrong, message", [
    (check_precision_at_n, lambda s, y: float(np.asarray(y)[np.argsort(s)[:int(np.sum(y))]].mean()), "lowest"),
    (check_precision_at_n, lambda s, y: float(np.mean(y)), "precision at n is 0.5, expected 1"),
    (check_average_precision, lambda s, y: __import__("sklearn.metrics").metrics.roc_auc_score(y, s), "ROC AUC"),
    (check_contamination_threshold, lambda s, c: np.percentile(s, 100 * c), "not 100 \\* contamination"),
    (check_contamination_threshold, lambda s, c: np.percentile(s, 100 - c), "is a share"),
    (check_cost_threshold, lambda s, y, c: _cheapest(s, y, 1 / c) if c else 0.0, "cheapest costs"),
    (check_cost_threshold, lambda s, y, c: float(np.min(s)), "cheapest costs"),
])
def test_notebook_10_checks_fail_on_wrong_answers(check, wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check(wrong)


@pytest.mark.parametrize("check", [check_sample_codes, check_kl_monte_carlo, check_kl_per_dimension,  # notebook 09
                                   check_precision_at_n, check_average_precision, check_contamination_threshold,
                                   check_cost_threshold])
def test_notebook_09_and_10_checks_pass_stubs_through(check):
    assert_stubs_pass_through(check)
