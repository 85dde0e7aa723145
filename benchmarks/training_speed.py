"""How much faster does the course train the notebook-02 conv AE than the reference did?

Measured side by side in one run on this machine:
1. data loading alone: images/s through the classic ``datasets.MNIST(...,
   transform=ToTensor())`` + ``DataLoader`` the reference notebooks use, and through
   the in-memory ``helpers.mnist_loaders``;
2. training throughput of the notebook-02 conv AE at batch 64 through each;
3. time to quality: the reference recipe (classic loader, batch 64, Adam lr 1e-3,
   weight decay 1e-5, validation after each epoch, stop at a validation MSE of
   0.0075 or after 20 epochs) against the course recipe through ``helpers``
   (``COURSE_CONV_RECIPE``), to the same validation MSE.

Both recipes train through the same ``helpers.fit`` loop on the same train/validation
split; only the loader and the recipe differ. Results go to
``benchmarks/results/training_speed.csv`` (and ``.json`` with the machine details).

    python benchmarks/training_speed.py            # the full measurement (~8 min on 2 cores)
    python benchmarks/training_speed.py --quick    # a smoke test: checks the script, measures nothing
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader, Subset
from torchvision import datasets
from torchvision.transforms import ToTensor

import helpers
from helpers.data import split_indices

ROOT = Path(__file__).resolve().parents[1]
TARGET_MSE = helpers.REFERENCE_VALID_MSE


def classic_loaders(root, batch_size: int, seed: int):
    """The reference's loaders: one PIL image -> ToTensor per item, on the same split as helpers."""
    train_idx, valid_idx = split_indices(seed)  # the split of helpers.mnist_splits
    full = datasets.MNIST(root=str(root), train=True, download=False, transform=ToTensor())
    generator = torch.Generator().manual_seed(seed)
    return {
        "train": DataLoader(Subset(full, train_idx.tolist()), batch_size=batch_size, shuffle=True,
                            generator=generator),
        "valid": DataLoader(Subset(full, valid_idx.tolist()), batch_size=1000),
    }


def images_per_second(loader, max_images: int) -> float:
    count, start = 0, time.perf_counter()
    for X, _ in loader:
        count += len(X)
        if count >= max_images:
            break
    return count / (time.perf_counter() - start)


def training_images_per_second(loader, max_images: int, seed: int) -> float:
    helpers.set_seed(seed)
    model = helpers.ConvAutoencoder(latent_dim=20)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    loss_fn = torch.nn.MSELoss()
    model.train()
    count, start = 0, time.perf_counter()
    for X, _ in loader:
        loss = loss_fn(model(X), X)
        opt.zero_grad()
        loss.backward()
        opt.step()
        count += len(X)
        if count >= max_images:
            break
    return count / (time.perf_counter() - start)


def time_to_quality(name: str, train: callable) -> dict:
    print(f"\n== time to quality: {name}", flush=True)
    start = time.perf_counter()
    history = train()
    seconds = time.perf_counter() - start
    final = float(history["valid_mse"].iloc[-1])
    print(f"   {int(history['epoch'].iloc[-1])} epochs, {seconds:.1f} s, validation MSE {final:.5f}", flush=True)
    return {"recipe": name, "epochs": int(history["epoch"].iloc[-1]), "seconds": seconds,
            "valid_mse": final, "reached": final <= TARGET_MSE}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(helpers.data_dir()))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: tiny measurements, one epoch each; figures mean nothing")
    args = parser.parse_args(argv)
    helpers.load_mnist(root=args.root)  # verify/extract the raw files before timing anything

    sample = 5_000 if args.quick else 50_000
    train_sample = 1_280 if args.quick else 12_800
    classic = classic_loaders(args.root, 64, args.seed)
    course = helpers.mnist_loaders(batch_size=64, seed=args.seed, root=args.root)

    print("== data loading alone (batch 64)", flush=True)
    load_classic = images_per_second(classic["train"], sample)
    load_course = images_per_second(course["train"], sample)
    print(f"   classic {load_classic:,.0f} images/s, helpers {load_course:,.0f} images/s", flush=True)
    print("== training throughput, notebook-02 conv AE, batch 64", flush=True)
    step_classic = training_images_per_second(classic["train"], train_sample, args.seed)
    step_course = training_images_per_second(course["train"], train_sample, args.seed)
    print(f"   classic {step_classic:,.0f} images/s, helpers {step_course:,.0f} images/s", flush=True)

    reference, recipe = helpers.REFERENCE_CONV_RECIPE, helpers.COURSE_CONV_RECIPE
    if args.quick:
        reference, recipe = replace(reference, num_epochs=1), replace(recipe, num_epochs=1)

    def reached_quality(model, row) -> bool:  # fit's per-epoch hook: stop at the target
        return row["valid_mse"] <= TARGET_MSE

    def reference_run():
        return helpers.train_conv_autoencoder(reference, seed=args.seed, loaders=classic, device="cpu",
                                              callback=reached_quality)[1]

    def course_run():
        fresh = helpers.mnist_loaders(batch_size=recipe.batch_size, seed=args.seed, root=args.root)
        return helpers.train_conv_autoencoder(recipe, seed=args.seed, loaders=fresh, device="cpu",
                                              callback=reached_quality)[1]

    runs = [time_to_quality("reference (classic loader, batch 64, Adam 1e-3, <= 20 epochs)", reference_run),
            time_to_quality(f"course (in-memory loader, batch {recipe.batch_size}, one-cycle to lr "
                            f"{recipe.lr}, <= {recipe.num_epochs} epochs)", course_run)]

    rows = [
        {"measure": "data loading (images/s)", "classic": load_classic, "helpers": load_course,
         "ratio": load_course / load_classic},
        {"measure": "training, batch 64 (images/s)", "classic": step_classic, "helpers": step_course,
         "ratio": step_course / step_classic},
        {"measure": f"time to validation MSE {TARGET_MSE} (s)", "classic": runs[0]["seconds"],
         "helpers": runs[1]["seconds"], "ratio": runs[0]["seconds"] / runs[1]["seconds"]},
    ]
    table = pd.DataFrame(rows).set_index("measure")
    quality = pd.DataFrame(runs).set_index("recipe")
    pd.set_option("display.width", 120)
    print("\n" + table.to_string(float_format=lambda v: f"{v:,.2f}"))
    print("\n" + quality.to_string(float_format=lambda v: f"{v:.5f}" if v < 1 else f"{v:.1f}"))
    print(f"\nreference notebook: {helpers.REFERENCE_SECONDS} s for 20 epochs on its own machine")
    for run in runs:
        if not run["reached"]:
            print(f"NOTE: {run['recipe']} stopped at validation MSE {run['valid_mse']:.5f} without reaching "
                  f"{TARGET_MSE}; its time is a lower bound on its time to quality.")
    if not args.quick:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / "training_speed.csv")
        quality.to_csv(out / "training_speed_recipes.csv")
        meta = {"command": "python " + " ".join([os.path.relpath(__file__, ROOT), *(argv or sys.argv[1:])]),
                "date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
                "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                "torch": torch.__version__, "python": platform.python_version()}
        (out / "training_speed.json").write_text(json.dumps(meta, indent=2) + "\n")
    prefix = "(quick mode: not a result) " if args.quick else ""
    print(f"{prefix}time-to-quality speedup: {rows[2]['ratio']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
