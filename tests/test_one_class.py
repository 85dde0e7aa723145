"""The one-class benchmark (benchmarks/one_class.py): splits, detectors, aggregation, published values, figure."""
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

import one_class as oc  # benchmarks/one_class.py (pytest puts benchmarks/ on the path)
from helpers import pca_reconstruct, per_example_errors, roc_auc

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
PUBLISHED = ROOT / "benchmarks" / "published_one_class.csv"


# ----------------------------------------------------------------------------- fixtures
def _bars(n, rng, noise=0.0):
    """Images of one bright horizontal bar at a random height; anomalies get a noisy background."""
    X = torch.zeros(n, 1, 28, 28)
    for i, pos in enumerate(rng.integers(6, 22, size=n)):
        X[i, 0, pos - 1:pos + 2, 4:24] = 1.0
    if noise:
        X = (X + noise * torch.from_numpy(rng.random(X.shape)).float()).clamp(0, 1)
    return X


@pytest.fixture(scope="module")
def toy_split():
    """A small synthetic one-class split: clean bars are normal, bars on a noisy background anomalous."""
    rng = np.random.default_rng(0)
    X_test = torch.cat([_bars(60, rng), _bars(60, rng, noise=0.5)])
    y_test = torch.tensor([3] * 60 + [7] * 60)
    return oc.OneClassSplit(digit=3, seed=0, X_train=_bars(200, rng), X_valid=_bars(40, rng),
                            X_test=X_test, y_test=y_test, batch_size=32)


@pytest.fixture(scope="module")
def split3():
    return oc.one_class_split(3, seed=0, root=DATA)


def _fake_results():
    rows = []
    for method, base in (("pca", 0.90), ("best_ae", 0.97)):
        for digit in range(10):
            for seed in (0, 1, 2):
                rows.append({"digit": digit, "method": method, "seed": seed,
                             "auc": base + 0.001 * digit + 0.002 * seed, "fit_seconds": 1.5})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- split
def test_split_trains_on_the_normal_digit_and_tests_on_all_ten_thousand(split3):
    assert split3.digit == 3 and split3.seed == 0
    assert split3.X_test.shape == (10_000, 1, 28, 28)
    assert split3.is_anomaly.sum() == 10_000 - 1010  # the test set holds 1,010 threes
    # about 90% of the 6,131 training threes are trained on, the rest held out
    assert 5300 < len(split3.X_train) < 5800 and len(split3.X_train) + len(split3.X_valid) == 6131
    X, y = next(iter(split3.train_loader))
    assert X.shape[1:] == (1, 28, 28) and len(X) == split3.batch_size


def test_split_is_drawn_by_the_seed(split3):
    again = oc.one_class_split(3, seed=0, root=DATA)
    other = oc.one_class_split(3, seed=1, root=DATA)
    assert torch.equal(again.X_train, split3.X_train)
    assert not torch.equal(other.X_valid, split3.X_valid)
    with pytest.raises(ValueError, match="0..9"):
        oc.one_class_split(10, root=DATA)


# ----------------------------------------------------------------------------- detectors
@pytest.mark.parametrize("scores", [
    lambda s: per_example_errors(s.X_test, pca_reconstruct(s.X_train, s.X_test, 4)),
    lambda s: oc.ocsvm_scores(s.X_train, s.X_test),
    lambda s: oc.isolation_forest_scores(s.X_train, s.X_test, n_estimators=50),
])
def test_shallow_baselines_score_anomalies_higher(toy_split, scores):
    values = scores(toy_split)
    assert values.shape == (120,) and np.isfinite(values).all()
    assert roc_auc(values, toy_split.is_anomaly) > 0.9


@pytest.mark.parametrize("name", ["pca", "dense_ae", "conv_ae"])
def test_methods_return_one_row_per_output(toy_split, name):
    rows = oc.run_method(name, toy_split, **({} if name == "pca" else {"num_epochs": 1}))
    assert [row["method"] for row in rows] == list(oc.METHODS[name].outputs)
    for row in rows:
        assert set(row) == set(oc.RESULT_COLUMNS) and row["digit"] == 3 and row["seed"] == 0
        assert 0.0 <= row["auc"] <= 1.0 and row["fit_seconds"] > 0
    assert len({row["fit_seconds"] for row in rows}) == 1  # the outputs share one trained model


def test_runs_repeat_with_the_same_seed(toy_split):
    first = oc.run_method("conv_ae", toy_split, num_epochs=1)
    second = oc.run_method("conv_ae", toy_split, num_epochs=1)
    assert [r["auc"] for r in first] == [r["auc"] for r in second]


def test_methods_have_labels_and_quick_settings():
    outputs = [o for m in oc.METHODS.values() for o in m.outputs]
    assert set(outputs) == set(oc.LABELS) and len(outputs) == len(set(outputs))
    assert oc.BEST in outputs
    for method in oc.METHODS.values():
        assert method.kind in ("shallow", "autoencoder")
        if method.kind == "autoencoder":
            assert method.settings(quick=True)["num_epochs"] < method.settings()["num_epochs"]


# ----------------------------------------------------------------------------- aggregation
def test_summarize_gives_mean_std_and_count_per_method_and_digit():
    summary = oc.summarize(_fake_results())
    row = summary[(summary["method"] == "best_ae") & (summary["digit"] == 4)].iloc[0]
    assert row["mean"] == pytest.approx(0.974 + 0.002) and row["n"] == 3
    assert row["std"] == pytest.approx(0.002)
    assert list(summary["method"].unique()) == ["pca", "best_ae"]  # the order of METHODS


def test_overall_averages_digits_and_spreads_over_seeds():
    totals = oc.overall(_fake_results()).set_index("method")
    assert totals.at["pca", "mean"] == pytest.approx(0.90 + 0.0045 + 0.002)
    assert totals.at["pca", "std"] == pytest.approx(0.002)
    assert totals.at["pca", "worst_digit"] == 0 and totals.at["pca", "runs"] == 30
    single = _fake_results().query("seed == 0")
    assert math.isnan(oc.overall(single).set_index("method").at["pca", "std"])


def test_timing_counts_each_trained_model_once():
    results = _fake_results()
    extra = results[results["method"] == "best_ae"].assign(method="conv_ae")
    table = oc.timing(pd.concat([results, extra])).set_index("model")
    assert table.at["conv_ae", "runs"] == 30 and table.at["conv_ae", "total_seconds"] == pytest.approx(45.0)
    assert "best_ae" in table.at["conv_ae", "rows"]


def test_results_are_checked():
    results = _fake_results()
    with pytest.raises(ValueError, match="fraction"):
        oc.check_results(results.assign(auc=results["auc"] * 100))
    with pytest.raises(ValueError, match="more than one row"):
        oc.check_results(pd.concat([results, results.head(1)]))
    with pytest.raises(ValueError, match="columns"):
        oc.check_results(results.drop(columns="fit_seconds"))


def test_results_table_formats_percent_with_spread():
    table = oc.results_table(_fake_results())
    assert list(table.columns) == [str(d) for d in range(10)] + ["mean"]
    assert table.at[oc.LABELS["best_ae"], "0"] == "97.2 ± 0.2"
    assert list(table.index) == [oc.LABELS["pca"], oc.LABELS["best_ae"]]


def test_published_values_name_their_source_and_match_their_mean():
    published = oc.load_published(PUBLISHED)
    svdd = published[published["method"] == "One-class Deep SVDD"].set_index("digit")["auc_percent"]
    assert svdd[[str(d) for d in range(10)]].tolist() == [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5]
    assert svdd[[str(d) for d in range(10)]].mean() == pytest.approx(svdd["mean"], abs=0.05)
    assert (published["source"].str.len() > 20).all()
    table = oc.published_table(published)
    assert table.at["OCGAN", "mean"] == "97.5" and table.at["OCGAN", "3"] == ""


def test_load_published_rejects_rows_without_source(tmp_path):
    bad = tmp_path / "published.csv"
    bad.write_text("method,digit,auc_percent,source,read_at,note\nX,mean,90.0,,somewhere,\n")
    with pytest.raises(ValueError, match="source"):
        oc.load_published(bad)


def test_benchmark_figure_is_not_registered_with_pyplot():
    before = plt.get_fignums()
    fig = oc.plot_one_class_benchmark(_fake_results(), oc.load_published(PUBLISHED))
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    assert len(fig.axes) == 2
