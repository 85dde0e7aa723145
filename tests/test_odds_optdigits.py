"""The ODDS optdigits benchmark: its label-free task, its tables, and the results it committed (fast: no training)."""
import json

import numpy as np
import pandas as pd
import pytest

import odds_optdigits as bench
from helpers import load_table


def test_thinned_cluster_hides_the_contamination_in_the_fit_rows_and_the_rest_in_the_check_rows():
    rng = np.random.default_rng(0)
    U = rng.random((1000, 4)).astype(np.float32)
    clusters = np.repeat(np.arange(10), 100)
    fit_rows, check_rows, is_anomaly = bench.thinned_cluster_task(U, clusters, cluster=3, seed=0)
    n_others = 900
    n_check_normal = int(round(bench.SELECTION["check_fraction"] * n_others))
    n_hidden = len(fit_rows) - (n_others - n_check_normal)
    assert n_hidden / len(fit_rows) == pytest.approx(bench.SELECTION["contamination"], abs=0.002)
    assert len(check_rows) == len(is_anomaly) == n_check_normal + 100 - n_hidden
    assert is_anomaly.sum() == 100 - n_hidden and is_anomaly.dtype.kind == "i"
    members = {row.tobytes() for row in U[clusters == 3]}
    assert all(row.tobytes() in members for row in check_rows[is_anomaly == 1])
    assert not any(row.tobytes() in members for row in check_rows[is_anomaly == 0])
    used = [row.tobytes() for row in np.vstack([fit_rows, check_rows])]
    assert len(used) == len(set(used)) == 1000  # every row once
    with pytest.raises(ValueError, match="too few"):
        bench.thinned_cluster_task(U, np.r_[np.zeros(995, int), np.ones(5, int)], cluster=1, seed=0)


def test_side_by_side_puts_published_values_beside_pyod_rows_only():
    results = pd.DataFrame({"detector": ["HBOS", "HBOS", "AE 64-32-2, 5 seeds", "AE 64-32-2, 5 seeds"],
                            "source": ["PyOD", "PyOD", "course", "course"], "split": [0, 1, 0, 1],
                            "roc_auc": [0.8, 0.9, 0.9, 0.95], "precision_at_n": [0.2, 0.3, 0.1, 0.2],
                            "seconds": [1.0, 1.0, 2.0, 2.0]})
    table = bench.side_by_side(results, load_table("pyod_published_optdigits")).set_index("detector")
    assert table.loc["HBOS", "roc_auc"] == pytest.approx(0.85)
    assert table.loc["HBOS", "published_roc_auc"] == pytest.approx(0.8732)
    assert table.loc["HBOS", "published_precision_at_n"] == pytest.approx(0.2194)
    assert np.isnan(table.loc["AE 64-32-2, 5 seeds", "published_roc_auc"])
    assert list(table.index) == ["AE 64-32-2, 5 seeds", "HBOS"]  # best first


def test_arguments_default_to_the_full_run_and_a_quick_run_writes_elsewhere():
    args = bench.parse_args([])
    assert args.splits == list(range(10)) and args.out == bench.TABLES
    assert args.detectors == list(bench.PYOD_DEFAULT + bench.COURSE_DEFAULT)
    quick = bench.parse_args(["--quick"])
    assert quick.splits == [0] and quick.out != bench.TABLES
    with pytest.raises(SystemExit):
        bench.parse_args(["--splits", "-1"])


def test_committed_results_are_a_full_run():
    results = load_table(bench.NAME)
    assert tuple(results.columns) == bench.RESULT_COLUMNS
    meta = json.loads((bench.TABLES / f"{bench.NAME}.json").read_text())
    assert meta["mode"] == "full" and meta["splits"] == list(range(10))
    runs = results.groupby("detector")["split"].agg(["nunique", "size"])
    assert (runs["nunique"] == 10).all(), runs
    assert runs.loc["AE 64-32-2", "size"] == 10 * len(bench.ENSEMBLE_SEEDS)  # every member of the ensemble alone
    assert set(bench.PYOD_DEFAULT) <= set(results["detector"])
    assert results["roc_auc"].between(0, 1).all() and results["precision_at_n"].between(0, 1).all()
    # PyOD's precision at n: n = the anomalies of the test part, so precision * n is a whole number
    hits = results["precision_at_n"] * results["n_test_anomalies"]
    assert np.allclose(hits, hits.round(), atol=1e-3)


def test_committed_selection_covers_every_split_cluster_and_code_size():
    selection = load_table(bench.SELECTION_NAME)
    assert tuple(selection.columns) == bench.SELECTION_COLUMNS
    meta = json.loads((bench.TABLES / f"{bench.SELECTION_NAME}.json").read_text())
    assert meta["mode"] == "full"
    tasks = selection.groupby(["split", "cluster"])["latent_dim"].apply(sorted)
    assert len(tasks) == 10 * bench.SELECTION["clusters_per_split"]
    assert all(t == sorted(bench.SWEEP_LATENTS) for t in tasks)


def _fake_run(folder, splits, settings=None):
    folder.mkdir()
    rows = [{c: 0 for c in bench.RESULT_COLUMNS} | {"detector": "HBOS", "source": "PyOD", "split": s} for s in splits]
    pd.DataFrame(rows, columns=bench.RESULT_COLUMNS).to_csv(folder / f"{bench.NAME}.csv", index=False)
    meta = {"command": f"python benchmarks/odds_optdigits.py --splits {splits}", "mode": "partial", "date": "d",
            "load_average_at_start": None, "load_average_at_end": None, "total_seconds": 1.0,
            "settings": settings or {"a": 1}, "splits": splits}
    (folder / f"{bench.NAME}.json").write_text(json.dumps(meta))
    return folder


def test_merge_concatenates_runs_on_groups_of_splits(tmp_path):
    runs = [_fake_run(tmp_path / "b", [5, 6, 7, 8, 9]), _fake_run(tmp_path / "a", [0, 1, 2, 3, 4])]
    bench.main(["--merge", *map(str, runs), "--out", str(tmp_path / "out")])
    merged = pd.read_csv(tmp_path / "out" / f"{bench.NAME}.csv")
    meta = json.loads((tmp_path / "out" / f"{bench.NAME}.json").read_text())
    assert merged["split"].tolist() == list(range(10)) and meta["mode"] == "full" and len(meta["command"]) == 2
    with pytest.raises(ValueError, match="more than one run"):
        bench.merge([runs[0], _fake_run(tmp_path / "c", [9])], tmp_path / "out2")
    with pytest.raises(ValueError, match="same settings"):
        bench.merge([runs[0], _fake_run(tmp_path / "d", [0], settings={"a": 2})], tmp_path / "out3")
