"""ODDS optdigits with PyOD's benchmark protocol: PyOD's detectors beside the course's autoencoders.

The set (``helpers.load_optdigits_outliers``): the UCI digits 1-9 of both files as normal rows
and 150 zeros as the anomalies, 5,216 rows, 2.88% anomalies, rebuilt from the UCI files. The
protocol of PyOD's benchmark (its ``notebooks/benchmark.py``): ten random 60/40 splits
(``train_test_split(test_size=0.4, random_state=np.random.RandomState(i))``, not stratified, the
same RandomState then handed to the detectors), z-scores fitted on the training part,
contamination = the share of anomalies, every detector fitted on the training part *with its
anomalies, unlabelled*, and scored on the test part: ROC AUC and precision at n (n = the number
of anomalies in the test part). The course's detectors read the pixel counts / 16 instead of the
z-scores (the scaling of notebook 08).

Writes, into --out (default ``helpers/tables/``, where ``helpers.load_table`` finds them):

- ``pyod_benchmark_results.csv``: one row per detector and split (detector, source, latent_dim, n_seeds, seed,
  split, roc_auc, precision_at_n, n_test, n_test_anomalies, seconds, cpu_seconds); the 2-code
  autoencoder has one row per seed of the ensemble (each model alone), the other code sizes the first seed;
- ``pyod_benchmark_code_size.csv``: the label-free choice of the bottleneck, one row per split,
  thinned cluster and bottleneck size (split, cluster, cluster_size, n_fit, n_check,
  n_check_anomalies, latent_dim, synthetic_auc); built from the training parts only;
- a ``.json`` beside each: command, date, machine, load, settings, total seconds;

and prints the mean figures beside PyOD's published values (``helpers/tables/pyod_published_optdigits.csv``).

    python benchmarks/odds_optdigits.py                  # full run (about 10 CPU minutes on one core)
    python benchmarks/odds_optdigits.py --quick          # smoke test, into a temporary folder
    python benchmarks/odds_optdigits.py --part detectors --splits 0 1
    python benchmarks/odds_optdigits.py --odds-file optdigits.mat --out /tmp/odds   # the ODDS file itself

On a busy machine, run groups of splits in parallel, each into its own folder, then merge them:

    python benchmarks/odds_optdigits.py --splits 0 1 --out /tmp/odds/0_1      # ... and 2 3, 4 5, 6 7, 8 9
    python benchmarks/odds_optdigits.py --merge /tmp/odds/*                  # into helpers/tables/
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pyod.utils.utility import precision_n_scores
from sklearn.cluster import KMeans
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import helpers
from run_info import load_average, machine  # beside this script

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "helpers" / "tables"
NAME = "pyod_benchmark_results"
SELECTION_NAME = "pyod_benchmark_code_size"
PUBLISHED_NAME = "pyod_published_optdigits"
RESULT_COLUMNS = ("detector", "source", "latent_dim", "n_seeds", "seed", "split", "roc_auc", "precision_at_n", "n_test",
                  "n_test_anomalies", "seconds", "cpu_seconds")
SELECTION_COLUMNS = ("split", "cluster", "cluster_size", "n_fit", "n_check", "n_check_anomalies", "latent_dim",
                     "synthetic_auc")

# The course's recipe for the optdigits rows (inputs = pixel counts / 16, as in notebook 08).
RECIPE = {"hidden_dim": 32, "lr": 3e-3, "batch_size": 128, "num_epochs": 60, "optimizer": "Adam", "loss": "MSE"}
QUICK_EPOCHS = 5
TEST_SIZE = 0.4
ENSEMBLE_SEEDS = (0, 1, 2, 3, 4)
SWEEP_LATENTS = (1, 2, 3, 4, 8)
PCA_COMPONENTS = 10
# The label-free choice of the bottleneck (a rare kind simulated with real rows of the training part).
SELECTION = {"n_clusters": 10, "clusters_per_split": 3, "contamination": 0.03, "check_fraction": 0.25,
             "kmeans_n_init": 4}

PYOD_DEFAULT = ("IForest", "HBOS", "OCSVM", "KNN", "LOF", "PCA", "AutoEncoder")
PYOD_EXTRA = ("ABOD", "CBLOF", "MCD")  # in PyOD's published table; run them with --detectors
COURSE_DEFAULT = ("course PCA", "course AE sweep", "course AE ensemble")


def pyod_detector(name: str, contamination: float, random_state, quick: bool = False):
    """A PyOD detector with the arguments of PyOD's benchmark script (defaults otherwise)."""
    if name == "IForest":
        from pyod.models.iforest import IForest
        return IForest(contamination=contamination, random_state=random_state)
    if name == "HBOS":
        from pyod.models.hbos import HBOS
        return HBOS(contamination=contamination)
    if name == "OCSVM":
        from pyod.models.ocsvm import OCSVM
        return OCSVM(contamination=contamination)
    if name == "KNN":
        from pyod.models.knn import KNN
        return KNN(contamination=contamination)
    if name == "LOF":
        from pyod.models.lof import LOF
        return LOF(contamination=contamination)
    if name == "PCA":
        from pyod.models.pca import PCA
        # svd_solver="full": with scikit-learn >= 1.5 the default solver returns exact-zero variances for
        # the constant pixel columns, PyOD divides by them and the scores become infinite.
        return PCA(contamination=contamination, random_state=random_state, svd_solver="full")
    if name == "AutoEncoder":
        from pyod.models.auto_encoder import AutoEncoder
        return AutoEncoder(contamination=contamination, verbose=0, device="cpu",
                           **({"epoch_num": 1} if quick else {}))
    if name == "ABOD":
        from pyod.models.abod import ABOD
        return ABOD(contamination=contamination)
    if name == "CBLOF":
        from pyod.models.cblof import CBLOF
        return CBLOF(n_clusters=10, contamination=contamination, check_estimator=False, random_state=random_state)
    if name == "MCD":
        from pyod.models.mcd import MCD
        return MCD(contamination=contamination, random_state=random_state)
    raise ValueError(f"unknown PyOD detector {name!r}")


def train_autoencoder(F: torch.Tensor, latent_dim: int, seed: int, num_epochs: int):
    """The course's recipe: a 64-32-latent-32-64 TabularAutoencoder, Adam, batch 128, MSE, on rows in [0, 1]."""
    helpers.set_seed(seed)
    model = helpers.TabularAutoencoder(in_features=F.shape[1], hidden_dim=RECIPE["hidden_dim"], latent_dim=latent_dim)
    loader = helpers.tensor_loader(F, batch_size=RECIPE["batch_size"], shuffle=True, seed=seed)
    helpers.fit(model, loader, num_epochs=num_epochs, lr=RECIPE["lr"], progress=False)
    return model


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds, self.cpu_seconds = time.perf_counter() - self.wall, time.process_time() - self.cpu


def run_split(X, is_anomaly, split: int, detectors, quick: bool) -> list[dict]:
    """Every detector on split ``split``: one row each."""
    random_state = np.random.RandomState(split)
    X_train, X_test, _, y_test = train_test_split(X, is_anomaly, test_size=TEST_SIZE, random_state=random_state)
    scaler = StandardScaler().fit(X_train)
    Z_train, Z_test = scaler.transform(X_train), scaler.transform(X_test)
    F_train, F_test = helpers.optdigits_features(X_train), helpers.optdigits_features(X_test)
    contamination = float(np.mean(is_anomaly))
    epochs = QUICK_EPOCHS if quick else RECIPE["num_epochs"]
    seeds = ENSEMBLE_SEEDS[:2] if quick else ENSEMBLE_SEEDS
    rows = []

    def record(name, source, scores, clock, latent_dim=None, n_seeds=None, seed=None):
        rows.append({"detector": name, "source": source, "latent_dim": latent_dim, "n_seeds": n_seeds, "seed": seed,
                     "split": split, "roc_auc": helpers.roc_auc(scores, y_test),
                     "precision_at_n": float(precision_n_scores(y_test, scores)), "n_test": len(y_test),
                     "n_test_anomalies": int(y_test.sum()), "seconds": clock.seconds, "cpu_seconds": clock.cpu_seconds})
        print(f"split {split}  {name:<28s} ROC AUC {rows[-1]['roc_auc']:.4f}  P@n {rows[-1]['precision_at_n']:.4f}  "
              f"{clock.seconds:6.1f} s", flush=True)

    for name in detectors:
        if name in PYOD_DEFAULT + PYOD_EXTRA:
            with Clock() as clock:
                detector = pyod_detector(name, contamination, random_state, quick).fit(Z_train)
                scores = detector.decision_function(Z_test)
            record(name, "PyOD", scores, clock)
        elif name == "course PCA":
            with Clock() as clock:
                scores = helpers.per_example_errors(F_test, helpers.pca_reconstruct(F_train, F_test, PCA_COMPONENTS))
            record(f"PCA, {PCA_COMPONENTS} components", "course", scores, clock)
        elif name == "course AE sweep":
            for latent_dim in SWEEP_LATENTS:
                if latent_dim == 2 and "course AE ensemble" in detectors:
                    continue  # the ensemble's first model is this row
                with Clock() as clock:
                    model = train_autoencoder(F_train, latent_dim, seeds[0], epochs)
                    scores = helpers.reconstruction_errors(model, F_test)
                record(f"AE 64-32-{latent_dim}", "course", scores, clock, latent_dim, 1, seeds[0])
        elif name == "course AE ensemble":
            members = []
            for seed in seeds:
                with Clock() as clock:
                    model = train_autoencoder(F_train, 2, seed, epochs)
                    members.append((helpers.reconstruction_errors(model, F_test), clock))
                # Every member alone too: one row per seed (detector "AE 64-32-2", the seed in its column)
                record("AE 64-32-2", "course", *members[-1], 2, 1, seed)
            total = Clock()
            total.seconds = sum(c.seconds for _, c in members)
            total.cpu_seconds = sum(c.cpu_seconds for _, c in members)
            record(f"AE 64-32-2, {len(seeds)} seeds", "course", np.mean([s for s, _ in members], axis=0), total,
                   2, len(seeds))
        else:
            raise ValueError(f"unknown detector {name!r}")
    return rows


def thinned_cluster_task(U: np.ndarray, clusters: np.ndarray, cluster: int, seed: int):
    """A rare kind simulated with real rows: ``cluster`` thinned to the expected contamination.

    From the rows ``U`` of a training part (labels never read): the rows of the other clusters are
    cut into a fit part (1 - check_fraction) and a check part; the fit part receives as many rows of
    ``cluster`` as make up ``contamination`` of it (nobody says which), and the check part receives
    all the others, the anomalies to find. Returns ``(fit_rows, check_rows, is_anomaly)``.
    """
    rng = np.random.default_rng(seed)
    members = rng.permutation(np.flatnonzero(clusters == cluster))
    others = rng.permutation(np.flatnonzero(clusters != cluster))
    n_check = int(round(SELECTION["check_fraction"] * len(others)))
    check, fit = U[others[:n_check]], U[others[n_check:]]
    n_hidden = int(round(SELECTION["contamination"] * len(fit) / (1 - SELECTION["contamination"])))
    if n_hidden >= len(members):
        raise ValueError(f"cluster {cluster} has {len(members)} rows: too few to hide {n_hidden} and find the rest")
    fit_rows = np.vstack([fit, U[members[:n_hidden]]])[rng.permutation(len(fit) + n_hidden)]
    check_rows = np.vstack([check, U[members[n_hidden:]]])
    is_anomaly = np.r_[np.zeros(len(check), dtype=int), np.ones(len(members) - n_hidden, dtype=int)]
    return fit_rows, check_rows, is_anomaly


def run_selection(X, is_anomaly, split: int, quick: bool) -> list[dict]:
    """The label-free choice of the bottleneck on split ``split``: only its training part, no labels."""
    # An int random_state draws the same permutation as np.random.RandomState(split): the same training part.
    X_train = train_test_split(X, test_size=TEST_SIZE, random_state=split)[0]
    U = (X_train / 16.0).astype(np.float32)
    clusters = KMeans(n_clusters=SELECTION["n_clusters"], n_init=SELECTION["kmeans_n_init"],
                      random_state=split).fit_predict(U)
    chosen = np.random.default_rng(split).choice(SELECTION["n_clusters"], SELECTION["clusters_per_split"], replace=False)
    latents = SWEEP_LATENTS[:2] if quick else SWEEP_LATENTS
    rows = []
    for cluster in (chosen[:1] if quick else chosen):
        fit_rows, check_rows, y_check = thinned_cluster_task(U, clusters, int(cluster), seed=1000 * split + int(cluster))
        F_fit, F_check = torch.from_numpy(fit_rows), torch.from_numpy(check_rows)
        for latent_dim in latents:
            model = train_autoencoder(F_fit, latent_dim, seed=split, num_epochs=QUICK_EPOCHS if quick else RECIPE["num_epochs"])
            auc = helpers.roc_auc(helpers.reconstruction_errors(model, F_check), y_check)
            rows.append({"split": split, "cluster": int(cluster), "cluster_size": int((clusters == cluster).sum()),
                         "n_fit": len(fit_rows), "n_check": len(check_rows), "n_check_anomalies": int(y_check.sum()),
                         "latent_dim": latent_dim, "synthetic_auc": auc})
        print(f"selection: split {split}, cluster {cluster} ({rows[-1]['cluster_size']} rows): "
              + ", ".join(f"latent {r['latent_dim']} {r['synthetic_auc']:.3f}" for r in rows[-len(latents):]), flush=True)
    return rows


def load_odds_file(path: Path):
    """The ODDS ``optdigits.mat`` (``X``: pixel counts, ``y``: 1 = anomaly), for a check against the rebuild."""
    from scipy.io import loadmat

    mat = loadmat(path)
    X, y = np.asarray(mat["X"], dtype=np.float64), np.asarray(mat["y"]).ravel().astype(int)
    if X.shape != (5216, 64) or int(y.sum()) != 150:
        raise ValueError(f"{path}: expected the ODDS optdigits set (5216 x 64, 150 anomalies), got {X.shape}, {y.sum()}")
    return X, y


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Per detector: mean and spread of the ROC AUC over the splits, mean precision at n and seconds."""
    grouped = results.groupby(["detector", "source"], sort=False)
    table = grouped.agg(roc_auc=("roc_auc", "mean"), roc_auc_std=("roc_auc", "std"), roc_auc_min=("roc_auc", "min"),
                        precision_at_n=("precision_at_n", "mean"), seconds=("seconds", "mean"),
                        splits=("split", "nunique")).reset_index()
    return table.sort_values("roc_auc", ascending=False, ignore_index=True)


def side_by_side(results: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """The measured means beside PyOD's published values (NaN where PyOD published none)."""
    table = summary(results)
    values = published.pivot_table(index="detector", columns="metric", values="value", aggfunc="first")
    table["published_roc_auc"] = table["detector"].map(values.get("roc_auc", pd.Series(dtype=float)))
    table["published_precision_at_n"] = table["detector"].map(values.get("precision_at_n", pd.Series(dtype=float)))
    course = table["source"] == "course"
    table.loc[course, ["published_roc_auc", "published_precision_at_n"]] = np.nan
    return table


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one split, a few epochs, fewer models: checks that the script works (not a result)")
    parser.add_argument("--part", choices=("both", "detectors", "selection"), default="both",
                        help="the detectors on the splits, the label-free choice of the bottleneck, or both")
    parser.add_argument("--splits", type=int, nargs="+", default=None, help="splits to run (default 0..9, or 0 with --quick)")
    parser.add_argument("--detectors", nargs="+", default=None,
                        choices=PYOD_DEFAULT + PYOD_EXTRA + COURSE_DEFAULT,
                        help=f"detectors to run (default: {', '.join(PYOD_DEFAULT + COURSE_DEFAULT)})")
    parser.add_argument("--odds-file", type=Path, default=None,
                        help="run on the ODDS optdigits.mat instead of the rebuild (results get the suffix _odds_file)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default helpers/tables/, or a new temporary folder with --quick)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: the models are tiny)")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="FOLDER",
                        help="merge the results of runs on groups of splits (their --out folders) into --out")
    args = parser.parse_args(argv)
    if args.splits is None:
        args.splits = [0] if args.quick else list(range(10))
    if any(not 0 <= s for s in args.splits):
        parser.error("--splits must be non-negative integers")
    if args.detectors is None:
        args.detectors = list(PYOD_DEFAULT + COURSE_DEFAULT)
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="odds_optdigits_quick_")) if args.quick else TABLES
    return args


def merge(folders, out: Path) -> None:
    """Concatenate the results of runs on groups of splits (each folder one run) into ``out``, with one ``.json``."""
    for name in (NAME, SELECTION_NAME):
        paths = [f / f"{name}.csv" for f in folders if (f / f"{name}.csv").is_file()]
        if not paths:
            continue
        metas = [json.loads(p.with_suffix(".json").read_text()) for p in paths]
        if any(m["mode"] == "quick" for m in metas) or len({json.dumps(m["settings"], sort_keys=True) for m in metas}) != 1:
            raise ValueError(f"{name}: the runs to merge must be full runs with the same settings")
        table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True).sort_values("split", kind="stable")
        splits = sorted(int(s) for s in table["split"].unique())
        if table.duplicated([c for c in table.columns if c in ("detector", "seed", "split", "cluster", "latent_dim")]).any():
            raise ValueError(f"{name}: a split appears in more than one run")
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / f"{name}.csv", index=False, float_format="%.6g")
        meta = dict(metas[0], command=[m["command"] for m in metas], date=[m["date"] for m in metas],
                    mode="full" if splits == list(range(10)) else "partial", splits=splits,
                    load_average_at_start=[m["load_average_at_start"] for m in metas],
                    load_average_at_end=[m["load_average_at_end"] for m in metas],
                    total_seconds=[m["total_seconds"] for m in metas],
                    merged="runs on groups of splits, in parallel processes, concatenated by --merge")
        (out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
        print(f"merged {len(paths)} runs, splits {splits}, into {out / name}.csv and .json")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.merge:
        merge(args.merge, args.out)
        return 0
    overall = time.perf_counter()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(["python", "benchmarks/odds_optdigits.py"] + [shlex.quote(a) for a in arguments])
    suffix = "_odds_file" if args.odds_file else ""
    if args.odds_file:
        X, is_anomaly = load_odds_file(args.odds_file)
        data = {"set": "ODDS optdigits.mat", "md5": hashlib.md5(args.odds_file.read_bytes()).hexdigest()}
    else:
        X, y = helpers.load_optdigits_outliers(seed=0)
        is_anomaly = (y == 0).astype(int)
        data = {"set": "helpers.load_optdigits_outliers(seed=0)"}
    data.update(rows=int(len(X)), anomalies=int(is_anomaly.sum()))
    mode = "quick" if args.quick else "full" if sorted(args.splits) == list(range(10)) else "partial"
    banner = "  [QUICK MODE: a check that the script works, not a result]" if args.quick else ""

    def write_meta(name, started, load_start, seconds, settings):
        meta = {"command": command, "mode": mode, "date": started.isoformat(timespec="seconds"),
                "machine": machine("pyod", "scikit-learn", "numpy"),
                "load_average_at_start": load_start, "load_average_at_end": load_average(),
                "total_seconds": round(seconds, 1), "data": data, "splits": args.splits, "settings": settings}
        (args.out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")

    recipe = dict(RECIPE, num_epochs=QUICK_EPOCHS if args.quick else RECIPE["num_epochs"])
    if args.part in ("both", "detectors"):
        started, load_start, start = dt.datetime.now(dt.timezone.utc), load_average(), time.perf_counter()
        rows = []
        for split in args.splits:
            rows.extend(run_split(X, is_anomaly, split, args.detectors, args.quick))
            # Rewritten after every split: an interrupted run keeps what it measured.
            pd.DataFrame(rows, columns=RESULT_COLUMNS).to_csv(args.out / f"{NAME}{suffix}.csv", index=False,
                                                              float_format="%.6g")
        seconds = time.perf_counter() - start
        write_meta(f"{NAME}{suffix}", started, load_start, seconds, {
            "detectors": args.detectors, "protocol": "train_test_split(test_size=0.4, random_state="
            "np.random.RandomState(split)); StandardScaler fitted on the training part (PyOD detectors); "
            "pixel counts / 16 (course detectors); contamination = share of anomalies",
            "course_recipe": recipe, "ensemble_seeds": list(ENSEMBLE_SEEDS[:2] if args.quick else ENSEMBLE_SEEDS),
            "sweep_latent_dims": list(SWEEP_LATENTS), "pca_components": PCA_COMPONENTS,
            "pyod_pca": {"svd_solver": "full"}, "pyod_autoencoder": "defaults" + (", epoch_num=1" if args.quick else "")})
        results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
        published = helpers.load_table(PUBLISHED_NAME)
        pd.set_option("display.width", 200)
        print(f"\nMean over splits {args.splits} (std and min of the ROC AUC over the splits){banner}")
        print(side_by_side(results, published).round(4).to_string(index=False))
        print(f"\nwrote {args.out / (NAME + suffix)}.csv and .json ({seconds:.0f} s; load average at start "
              f"{load_start}, at end {load_average()})")
    if args.part in ("both", "selection"):
        started, load_start, start = dt.datetime.now(dt.timezone.utc), load_average(), time.perf_counter()
        rows = []
        for split in args.splits:
            rows.extend(run_selection(X, is_anomaly, split, args.quick))
            pd.DataFrame(rows, columns=SELECTION_COLUMNS).to_csv(args.out / f"{SELECTION_NAME}{suffix}.csv",
                                                                 index=False, float_format="%.6g")
        seconds = time.perf_counter() - start
        write_meta(f"{SELECTION_NAME}{suffix}", started, load_start, seconds, dict(
            SELECTION, course_recipe=recipe, latent_dims=list(SWEEP_LATENTS[:2] if args.quick else SWEEP_LATENTS),
            ae_seed="the split number", cluster_choice="numpy.random.default_rng(split).choice(n_clusters, "
            "clusters_per_split, replace=False)", kmeans_random_state="the split number",
            rule="the bottleneck with the highest mean synthetic AUC over all tasks (ties: the smaller)"))
        selection = pd.DataFrame(rows, columns=SELECTION_COLUMNS)
        means = selection.groupby("latent_dim")["synthetic_auc"].agg(["mean", "median", "count"])
        print(f"\nLabel-free choice of the bottleneck: synthetic ROC AUC per bottleneck size{banner}")
        print(means.round(4).to_string())
        print(f"chosen by the rule (highest mean): latent_dim {int(means['mean'].idxmax())}")
        print(f"wrote {args.out / (SELECTION_NAME + suffix)}.csv and .json ({seconds:.0f} s; load average at start "
              f"{load_start}, at end {load_average()})")
    print(f"total wall time {time.perf_counter() - overall:.0f} s{banner}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
