"""The one-class benchmark (benchmarks/one_class.py): splits, validation anomalies, detectors, aggregation,
published values, figure."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

import one_class as oc  # benchmarks/one_class.py (pytest puts benchmarks/ on the path)
from helpers import pca_reconstruct, per_example_errors, roc_auc


# ----------------------------------------------------------------------------- fixtures
def _bars(n, rng, noise=0.0):
    """Images of one bright horizontal bar at a random height; anomalies get a noisy background."""
    X = torch.zeros(n, 1, 28, 28)
    for i, pos in enumerate(rng.integers(6, 22, size=n)):
        X[i, 0, pos - 1:pos + 2, 4:24] = 1.0
    if noise:
        X = (X + noise * torch.from_numpy(rng.random(X.shape)).float()).clamp(0, 1)
    return X


def _toy_split():
    rng = np.random.default_rng(0)
    X_test = torch.cat([_bars(60, rng), _bars(60, rng, noise=0.5)])
    y_test = torch.tensor([3] * 60 + [7] * 60)
    return oc.OneClassSplit(digit=3, seed=0, X_train=_bars(200, rng), X_valid=_bars(40, rng),
                            X_test=X_test, y_test=y_test, batch_size=32)


@pytest.fixture
def toy_split():
    """A small synthetic one-class split: clean bars are normal, bars on a noisy background anomalous."""
    return _toy_split()


@pytest.fixture(scope="module")
def split3():
    return oc.one_class_split(3, seed=0)


def _fake_results(methods=(("pca", 0.90), ("detector", 0.97))):
    rows = []
    for method, base in methods:
        for digit in range(10):
            for seed in (0, 1, 2):
                row = {"digit": digit, "method": method, "seed": seed,
                       "auc": base + 0.001 * digit + 0.002 * seed, "fit_seconds": 1.5}
                for family in oc.FAMILIES:
                    row[f"valid_{family}"] = base - 0.01 + 0.001 * digit
                row["valid_auc"] = base - 0.01 + 0.001 * digit
                rows.append(row)
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
    again = oc.one_class_split(3, seed=0)
    other = oc.one_class_split(3, seed=1)
    assert torch.equal(again.X_train, split3.X_train)
    assert not torch.equal(other.X_valid, split3.X_valid)
    with pytest.raises(ValueError, match="0..9"):
        oc.one_class_split(10)


def test_eval_images_are_test_then_held_out_normals_then_each_family(toy_split):
    parts, X = toy_split.parts, toy_split.X_eval
    assert list(parts) == ["test", "normal", *oc.FAMILIES]
    assert len(X) == 120 + 40 * 7 and parts["mix"].stop == len(X)
    assert torch.equal(X[parts["test"]], toy_split.X_test) and torch.equal(X[parts["normal"]], toy_split.X_valid)
    assert torch.equal(X[parts["rot180"]], toy_split.anomalies["rot180"])


# ----------------------------------------------------------------------------- synthetic anomalies
def test_synthetic_anomalies_are_made_from_the_normal_images_only(toy_split):
    X = toy_split.X_valid
    anomalies = oc.synthetic_anomalies(X, seed=0)
    assert list(anomalies) == list(oc.FAMILIES)
    for family, A in anomalies.items():
        assert A.shape == X.shape and A.min() >= 0 and A.max() <= 1, family
        assert not torch.equal(A, X), f"{family} left the images unchanged"
    assert torch.equal(anomalies["rot180"], torch.rot90(X, 2, (2, 3)))
    assert torch.equal(anomalies["rot90"][0], torch.rot90(X[0], 1, (1, 2)))
    # erasing removes ink, pasting and mixing add it
    ink = X.sum((1, 2, 3))
    assert (anomalies["erase"].sum((1, 2, 3)) < ink).all()
    assert (anomalies["paste"].sum((1, 2, 3)) >= ink).all() and (anomalies["mix"].sum((1, 2, 3)) >= ink).all()


def test_synthetic_anomalies_depend_on_the_seed_only(toy_split):
    X = toy_split.X_valid
    first, again, other = (oc.synthetic_anomalies(X, seed=s) for s in (0, 0, 1))
    assert all(torch.equal(first[f], again[f]) for f in oc.FAMILIES)
    assert not torch.equal(first["erase"], other["erase"])
    with pytest.raises(ValueError, match="at least two images"):
        oc.synthetic_anomalies(X[:1])
    with pytest.raises(ValueError, match="at least two images"):
        oc.synthetic_anomalies(X[:, 0])


# ----------------------------------------------------------------------------- detectors
@pytest.mark.parametrize("scores", [
    lambda s: per_example_errors(s.X_test, pca_reconstruct(s.X_train, s.X_test, 4)),
    lambda s: oc.ocsvm_scores(s.X_train, s.X_test),
    lambda s: oc.isolation_forest_scores(s.X_train, s.X_test, n_estimators=50),
    lambda s: oc.knn_scores(s.X_train, s.X_test, k=1, sigma=2.0),
    lambda s: oc.kde_scores(oc.gcn_minmax(s.X_train, s.X_train), oc.gcn_minmax(s.X_train, s.X_test))[0],
])
def test_baselines_score_anomalies_higher(toy_split, scores):
    values = scores(toy_split)
    assert values.shape == (120,) and np.isfinite(values).all()
    assert roc_auc(values, toy_split.is_anomaly) > 0.9


def test_gcn_minmax_scales_the_training_images_into_the_unit_interval(toy_split):
    rows = oc.gcn_minmax(toy_split.X_train, toy_split.X_train)
    assert rows.shape == (200, 784) and rows.min() == pytest.approx(0) and rows.max() == pytest.approx(1)
    # each image is normalised on its own: its brightness does not matter
    assert np.allclose(oc.gcn_minmax(toy_split.X_train, 0.5 * toy_split.X_test[:5]),
                       oc.gcn_minmax(toy_split.X_train, toy_split.X_test[:5]))
    with pytest.raises(ValueError, match="constant"):
        oc.gcn_minmax(toy_split.X_train, torch.zeros(2, 1, 28, 28))


def test_kde_picks_its_bandwidth_on_the_training_rows_only(toy_split):
    rows = oc.gcn_minmax(toy_split.X_train, toy_split.X_train)
    _, h = oc.kde_scores(rows, rows[:3], bandwidths=(0.01, 0.1, 1.0))
    _, h_again = oc.kde_scores(rows, rows[:7], bandwidths=(0.01, 0.1, 1.0))
    assert h in (0.01, 0.1, 1.0) and h == h_again


def test_knn_distance_is_zero_on_training_images_and_checks_k(toy_split):
    assert np.allclose(oc.knn_scores(toy_split.X_train, toy_split.X_train[:5]), 1e-12, atol=1e-4)
    with pytest.raises(ValueError, match="k must"):
        oc.knn_scores(toy_split.X_train, toy_split.X_test, k=0)


@pytest.mark.parametrize("name, overrides", [
    ("pca", {}), ("iforest_gcn", {"n_estimators": 20}), ("kde_gcn", {}),
    ("dense_ae", {"num_epochs": 1}), ("detector", {"num_epochs": 1}),
])
def test_methods_return_one_row_per_output_with_test_and_validation_aucs(toy_split, name, overrides):
    rows = oc.run_method(name, toy_split, **overrides)
    assert [row["method"] for row in rows] == list(oc.METHODS[name].outputs)
    for row in rows:
        assert set(row) == set(oc.RESULT_COLUMNS) | set(oc.VALID_COLUMNS)
        assert row["digit"] == 3 and row["seed"] == 0 and row["fit_seconds"] > 0
        assert all(0.0 <= row[c] <= 1.0 for c in ("auc",) + oc.VALID_COLUMNS)
        assert row["valid_auc"] == pytest.approx(np.mean([row[f"valid_{f}"] for f in oc.FAMILIES]))


def test_detector_sums_three_calibrated_scores_and_times_each(toy_split):
    rows = {r["method"]: r for r in oc.run_method("detector", toy_split, num_epochs=1)}
    seconds = {name: rows[name]["fit_seconds"] for name in oc.COMPONENTS}
    assert rows["detector"]["fit_seconds"] == pytest.approx(sum(seconds.values()))
    assert rows["conv_ae"]["fit_seconds"] == rows["conv_ae_s15"]["fit_seconds"]
    # on clean bars against noisy bars every part and the sum separate well
    assert rows["detector"]["auc"] > 0.9


def test_runs_repeat_with_the_same_seed(toy_split):
    first = oc.run_method("detector", toy_split, num_epochs=1)
    second = oc.run_method("detector", _toy_split(), num_epochs=1)
    assert [r["auc"] for r in first] == [r["auc"] for r in second]


def test_a_method_must_return_one_score_per_image(toy_split):
    broken = oc.Method("broken", "shallow", ("broken",), lambda split, seed: {"broken": np.zeros(3)})
    with pytest.raises(RuntimeError, match="expected"):
        oc.run_method(broken, toy_split)


def test_methods_have_labels_and_quick_settings():
    outputs = [o for m in oc.METHODS.values() for o in m.outputs]
    assert set(outputs) == set(oc.LABELS) and len(outputs) == len(set(outputs))
    assert oc.BEST in outputs and set(oc.COMPONENTS) <= set(outputs)
    for method in oc.METHODS.values():
        assert method.kind in ("shallow", "autoencoder")
        if "num_epochs" in method.settings():
            assert method.settings(quick=True)["num_epochs"] < method.settings()["num_epochs"]


def test_the_vae_row_runs_only_when_its_module_is_there(monkeypatch, tmp_path):
    monkeypatch.setattr(oc, "VAE_MODULE", tmp_path / "missing.py")
    assert "vae" not in oc.default_methods() and "detector" in oc.default_methods()
    monkeypatch.setattr(oc, "VAE_MODULE", tmp_path)
    (tmp_path / "x").write_text("")
    monkeypatch.setattr(oc, "VAE_MODULE", tmp_path / "x")
    assert "vae" in oc.default_methods()


# ----------------------------------------------------------------------------- aggregation
def test_summarize_gives_mean_std_and_count_per_method_and_digit():
    summary = oc.summarize(_fake_results())
    row = summary[(summary["method"] == "detector") & (summary["digit"] == 4)].iloc[0]
    assert row["mean"] == pytest.approx(0.974 + 0.002) and row["n"] == 3
    assert row["std"] == pytest.approx(0.002)
    assert list(summary["method"].unique()) == ["detector", "pca"]  # the order of LABELS


def test_overall_averages_digits_and_spreads_over_seeds():
    totals = oc.overall(_fake_results()).set_index("method")
    assert totals.at["pca", "mean"] == pytest.approx(0.90 + 0.0045 + 0.002)
    assert totals.at["pca", "std"] == pytest.approx(0.002)
    assert totals.at["pca", "worst_digit"] == 0 and totals.at["pca", "runs"] == 30
    assert totals.at["pca", "worst_run"] == pytest.approx(0.90)
    single = _fake_results().query("seed == 0")
    assert math.isnan(oc.overall(single).set_index("method").at["pca", "std"])


def test_validation_summary_and_ablation_in_percent():
    names = [oc.BEST] + [f"detector_without_{c}" for c in oc.COMPONENTS] + list(oc.COMPONENTS)
    results = _fake_results(tuple((name, 0.95 + 0.005 * i) for i, name in enumerate(names)))
    valid = oc.validation_summary(results)
    assert valid.at[oc.BEST, "V"] == pytest.approx(100 * (0.94 + 0.0045))
    assert valid.at[oc.BEST, "worst digit"] == 0 and valid.at[oc.BEST, "worst V"] == pytest.approx(94.0)
    table = oc.ablation(results)
    assert len(table) == 7 and table.iloc[0]["test vs detector (points)"] == 0
    assert table.iloc[1]["test vs detector (points)"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="validation"):
        oc.validation_summary(results.drop(columns=list(oc.VALID_COLUMNS)))


def test_timing_reports_seconds_per_run():
    table = oc.timing(_fake_results()).set_index("row")
    assert table.at["pca", "runs"] == 30 and table.at["pca", "total_seconds"] == pytest.approx(45.0)
    assert table.at["pca", "mean_seconds"] == pytest.approx(1.5)


def test_results_are_checked():
    results = _fake_results()
    with pytest.raises(ValueError, match="fraction"):
        oc.check_results(results.assign(auc=results["auc"] * 100))
    with pytest.raises(ValueError, match="valid_auc"):
        oc.check_results(results.assign(valid_auc=results["valid_auc"] * 100))
    with pytest.raises(ValueError, match="more than one row"):
        oc.check_results(pd.concat([results, results.head(1)]))
    with pytest.raises(ValueError, match="columns"):
        oc.check_results(results.drop(columns="fit_seconds"))


def test_results_table_formats_percent_with_spread():
    table = oc.results_table(_fake_results())
    assert list(table.columns) == [str(d) for d in range(10)] + ["mean"]
    assert table.at[oc.LABELS["detector"], "0"] == "97.2 ± 0.2"
    assert list(table.index) == [oc.LABELS["detector"], oc.LABELS["pca"]]
    assert list(oc.results_table(_fake_results(), methods=["pca"]).index) == [oc.LABELS["pca"]]


def test_results_dir_is_beside_the_module_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("ONE_CLASS_RESULTS", raising=False)
    assert oc.results_dir() == oc.BENCHMARKS_DIR / "results" and oc.PUBLISHED_CSV.is_file()
    monkeypatch.setenv("ONE_CLASS_RESULTS", str(tmp_path))
    assert oc.results_dir() == tmp_path.resolve()


# ----------------------------------------------------------------------------- published values
def test_published_values_name_their_source_and_whether_it_was_read():
    published = oc.load_published()
    svdd = published[published["method"] == "One-class Deep SVDD"].set_index("digit")["auc_percent"]
    assert svdd[[str(d) for d in range(10)]].tolist() == [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5]
    assert (published["source"].str.contains("Table|table")).all()
    for method, group in published.groupby("method"):
        per_digit = group[group["digit"] != "mean"]["auc_percent"]
        means = group[group["digit"] == "mean"]["auc_percent"]
        if len(per_digit) == 10 and len(means):  # a published mean agrees with its digits, or the note says not
            agrees = per_digit.mean() == pytest.approx(means.iloc[0], abs=0.06)
            assert agrees or "not the mean of its ten digits" in group["note"].iloc[0], method
    table = oc.published_table(published)
    assert table.at["OCGAN", "mean"] == "97.5" and table.at["MemAE (source not read)", "3"] == ""
    assert "One-class Deep SVDD (source not read)" in table.index


@pytest.mark.parametrize("line, message", [
    ("X,mean,90.0,,yes,", "source"),
    ("X,mean,90.0,Some paper Table 1,maybe,", "verified"),
    ("X,11,90.0,Some paper Table 1,yes,", "digit"),
    ("X,mean,190.0,Some paper Table 1,yes,", "auc_percent"),
])
def test_load_published_rejects_bad_rows(tmp_path, line, message):
    bad = tmp_path / "published.csv"
    bad.write_text("method,digit,auc_percent,source,verified,note\n" + line + "\n")
    with pytest.raises(ValueError, match=message):
        oc.load_published(bad)


def test_benchmark_figure_is_not_registered_with_pyplot():
    before = plt.get_fignums()
    fig = oc.plot_one_class_benchmark(_fake_results(), oc.load_published(), target=oc.TARGET_MEAN)
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    assert len(fig.axes) == 2
