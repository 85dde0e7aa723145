"""One-class MNIST for every digit, every method, several seeds (Ruff et al., 2018 protocol).

For each normal digit d, seed s and method m: train on the training-set images
of d only, score the 10,000 test images, and record the ROC AUC with "not d" as
the anomaly. Every model also scores the validation set of its split (the
held-out normal images of d and synthetic anomalies made from them, see
one_class.synthetic_anomalies): the figures the detector was chosen on.
Writes, into --out (default benchmarks/results/):

- one_class_mnist.csv: one row per digit, seed and scored output (digit, method, seed, auc,
  fit_seconds, then the validation AUCs valid_auc and valid_<family>); a trained model may be
  scored several ways (the ablation rows share it);
- one_class_mnist.json: how the CSV was made (command, date, machine, load,
  settings, total wall time);
- one_class_mnist.png: the summary figure, beside the quoted published values;

and prints the per-digit means and the overall mean per method.

    OMP_NUM_THREADS=1 python benchmarks/one_class_mnist.py   # full run: 3 seeds x 10 digits x every model
    python benchmarks/one_class_mnist.py --quick         # 1 seed, few epochs: checks that it works
    python benchmarks/one_class_mnist.py --digits 2 8 --seeds 0 --methods detector --out /tmp/oc
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import shlex
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

import helpers
import one_class as oc  # beside this script
from run_info import load_average, machine  # beside this script

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = list(oc.RESULT_COLUMNS + oc.VALID_COLUMNS)

CSV_NAME = "one_class_mnist.csv"
META_NAME = "one_class_mnist.json"
FIGURE_NAME = "one_class_mnist.png"
PUBLISHED = oc.PUBLISHED_CSV
FULL_SEEDS = (0, 1, 2)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one seed and a few epochs per autoencoder: checks the script works (not a result)")
    parser.add_argument("--digits", type=int, nargs="+", default=list(oc.DIGITS), help="normal digits to run")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help=f"seeds (default {list(FULL_SEEDS)}, or [0] with --quick)")
    parser.add_argument("--methods", nargs="+", default=oc.default_methods(), choices=list(oc.METHODS),
                        help="models to train (each reports the rows listed in one_class.METHODS; "
                             "default: all, the VAE when benchmarks/one_class_vae.py is there)")
    parser.add_argument("--out", type=Path, default=oc.RESULTS_DIR, help="output folder")
    parser.add_argument("--data", type=Path, default=helpers.data_dir(), help="folder holding MNIST/raw")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes running the (digit, seed, method) runs in parallel (default 2)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads per worker (default 1: small models scale better across processes)")
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = [0] if args.quick else list(FULL_SEEDS)
    if any(d not in oc.DIGITS for d in args.digits):
        parser.error("--digits must lie in 0..9")
    return args


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _run(task) -> list[dict]:
    """One run in a worker: the split is rebuilt there (MNIST is read once per process)."""
    digit, seed, method, quick, data = task
    return oc.run_method(method, oc.one_class_split(digit, seed, root=data), quick=quick)


def main(argv=None) -> pd.DataFrame:
    args = parse_args(argv)
    _init_worker(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python " + " ".join(shlex.quote(a) for a in
                                   [str(Path(sys.argv[0]).resolve().relative_to(ROOT))
                                    if Path(sys.argv[0]).resolve().is_relative_to(ROOT) else sys.argv[0]]
                                   + list(sys.argv[1:] if argv is None else argv))
    started = dt.datetime.now(dt.timezone.utc)
    load_start = load_average()
    start = time.perf_counter()

    # Slowest models first, so that the workers finish together.
    order = {name: oc._COST.index(name) if name in oc._COST else len(oc._COST) for name in oc.METHODS}
    runs = sorted(((d, s, m, args.quick, args.data) for d in args.digits for s in args.seeds for m in args.methods),
                  key=lambda run: (order[run[2]], run[0], run[1]))
    rows = []
    bar = tqdm(total=len(runs), desc="one-class MNIST", unit="run", dynamic_ncols=True, mininterval=1.0)
    pool = None
    if args.workers > 1:
        pool = multiprocessing.get_context("spawn").Pool(args.workers, initializer=_init_worker,
                                                         initargs=(args.threads,))
    try:
        for run_rows in (pool.imap_unordered(_run, runs) if pool else map(_run, runs)):
            rows.extend(run_rows)
            last = run_rows[-1]
            bar.set_postfix(digit=last["digit"], seed=last["seed"], method=last["method"], auc=f"{last['auc']:.3f}")
            bar.update(1)
            # Rewritten after every run: an interrupted benchmark keeps what it measured.
            pd.DataFrame(rows, columns=COLUMNS).to_csv(args.out / CSV_NAME, index=False, float_format="%.6f")
    finally:
        if pool is not None:
            pool.close()  # let the workers exit on their own (terminate() leaves their semaphores behind)
            pool.join()
    bar.close()
    total = time.perf_counter() - start

    results = oc.check_results(pd.DataFrame(rows, columns=COLUMNS))
    results.to_csv(args.out / CSV_NAME, index=False, float_format="%.6f")
    published = oc.load_published(PUBLISHED)
    fig = oc.plot_one_class_benchmark(
        results, published, target=oc.TARGET_MEAN,
        title="QUICK MODE: a check that the script works, not a result" if args.quick else None)
    fig.savefig(args.out / FIGURE_NAME, dpi=120)
    meta = {
        "command": command,
        # "full" only for the whole benchmark: every digit and model, at least three seeds.
        "mode": "quick" if args.quick else (
            "full" if set(args.digits) == set(oc.DIGITS) and len(set(args.seeds)) >= 3
            and set(oc.default_methods()) <= set(args.methods) else "partial"),
        "date": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine("scikit-learn", "numpy"),
        "load_average_at_start": load_start,
        "load_average_at_end": load_average(),
        "total_seconds": round(total, 1),
        "workers": args.workers, "torch_threads_per_worker": args.threads,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "vae": "vae" in args.methods,
        "digits": args.digits, "seeds": args.seeds, "methods": args.methods,
        "settings": {m: oc.METHODS[m].settings(args.quick) for m in args.methods},
        "valid_size": oc.VALID_SIZE,
        "validation_families": list(oc.FAMILIES),
    }
    (args.out / META_NAME).write_text(json.dumps(meta, indent=2) + "\n")

    pd.set_option("display.width", 200)
    print(f"\nROC AUC (%) per normal digit, mean ± std over seeds {args.seeds}"
          f"{'  [QUICK MODE: a check that the script works, not a result]' if args.quick else ''}")
    print(oc.results_table(results).to_string())
    print("\nPublished (quoted, see benchmarks/published_one_class.csv):")
    print(oc.published_table(published).to_string())
    totals = oc.overall(results)
    if set(oc.COMPONENTS) | {oc.BEST} <= set(results["method"]):
        print("\nWhat each part of the chosen detector adds (validation V and test AUC, %):")
        print(oc.ablation(results).round(2).to_string())
    print("\nMean test AUC over digits per method (± spread over seeds):")
    for row in totals.itertuples():
        spread = "" if pd.isna(row.std) else f" ± {100 * row.std:.1f}"
        print(f"  {oc.LABELS.get(row.method, row.method).strip()[:55]:<55s} {100 * row.mean:5.1f}%{spread:<7s}  "
              f"worst digit {row.worst_digit} ({100 * row.worst_auc:.1f}%)")
    print("\nWall time per run (training + scoring the test and validation images):")
    print(oc.timing(results).round(1).to_string(index=False))
    print(f"\nwrote {args.out / CSV_NAME}, {args.out / META_NAME}, {args.out / FIGURE_NAME}")
    print(f"total wall time {total / 60:.1f} min ({total:.0f} s) for {len(runs)} runs "
          f"on {meta['machine']['cores']} cores; load average at start {load_start}, at end {meta['load_average_at_end']}")
    return results


if __name__ == "__main__":
    main()
