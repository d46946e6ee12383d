"""Tuning benchmark (issue 18): TPE with pruning against random search without, and 2 workers against 1.

1. Search: `forecast tune configs/etth1.yaml --space configs/spaces/etth1.yaml --trials N
   --metric val.scaled.model.mse`, once with `--sampler tpe --pruner median` and once with
   `--sampler random --pruner none`: the same space and trial budget. Printed per study: trials
   completed/pruned/failed, epochs trained (every trial's history.csv), wall time, the best
   trial's validation MSE (what was minimised) and its test MSE (scaled, the standard protocol).
2. Throughput: the same space at a fixed cost per trial (3 epochs, no early stopping), random
   draws, no pruning: one worker against `-j 2` on one SQLite study; trials per hour.

Usage: python bench/tune.py [--trials 24] [--throughput-trials 8] [--dir DIR] [--only search|throughput]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "etth1.yaml"
SPACE = ROOT / "configs" / "spaces" / "etth1.yaml"
METRIC = "val.scaled.model.mse"


def tune(sweep: Path, trials: int, *args: str) -> float:
    """Run one study through the CLI; its wall time in seconds."""
    command = [sys.executable, "-m", "forecast", "tune", str(CONFIG), "--space", str(SPACE), "--trials", str(trials)]
    command += ["--metric", METRIC, "--sweep-dir", str(sweep), "--quiet", *args]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)}: exit {done.returncode}")
    return time.perf_counter() - start


def summary(sweep: Path) -> dict:
    """States, epochs trained and the best completed trial of a study's directory."""
    import optuna
    import pandas as pd

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=sweep.name, storage=f"sqlite:///{sweep / 'study.db'}")
    states = [t.state.name.lower() for t in study.trials]
    epochs = 0
    for t in study.trials:
        history = sweep / f"trial-{t.number:04d}" / "history.csv"
        epochs += len(pd.read_csv(history)) if history.exists() else 0
    best = min((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    metrics = json.loads((sweep / f"trial-{best.number:04d}" / "metrics.json").read_text())
    return {
        "complete": states.count("complete"),
        "pruned": states.count("pruned"),
        "failed": states.count("fail"),
        "epochs": epochs,
        "best_val": best.value,
        "best_test": metrics["test"]["scaled"]["model"]["mse"],
        "best_trial": best.number,
        "best_params": best.params,
    }


def search(root: Path, trials: int) -> None:
    rows = {}
    for name, sampler, pruner in (("tpe-median", "tpe", "median"), ("random-none", "random", "none")):
        sweep = root / name
        seconds = tune(sweep, trials, "--sampler", sampler, "--pruner", pruner)
        rows[name] = {"seconds": seconds, **summary(sweep)}
        print(f"{name}: {json.dumps(rows[name])}", flush=True)
    columns = ["completed / pruned / failed", "epochs trained", "wall time", "best val MSE", "its test MSE"]
    print(f"\n| study ({trials} trials) | " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['complete']} / {r['pruned']} / {r['failed']} | {r['epochs']} | {r['seconds'] / 60:.1f} min "
            f"| {r['best_val']:.4f} | {r['best_test']:.4f} |"
        )
    tpe, rnd = rows["tpe-median"], rows["random-none"]
    print(f"\nepochs cut by pruning: {1 - tpe['epochs'] / rnd['epochs']:.1%} (target >= 40 %)")
    print(
        f"best val MSE: {tpe['best_val']:.4f} (TPE + pruning) vs {rnd['best_val']:.4f} (random): "
        f"{'equal or better' if tpe['best_val'] <= rnd['best_val'] else 'worse'}"
    )
    for name, r in rows.items():
        print(f"{name} best trial-{r['best_trial']:04d}: {json.dumps(r['best_params'])}")


def throughput(root: Path, trials: int) -> None:
    fixed = ["--set", "training.epochs=3", "--set", "training.early_stopping.enabled=false"]
    print("\n| workers | trials | wall time | trials / hour |")
    print("|---|---|---|---|")
    rates = {}
    for jobs in (1, 2):
        sweep = root / f"throughput-j{jobs}"
        seconds = tune(sweep, trials, "--sampler", "random", "--pruner", "none", "-j", str(jobs), *fixed)
        complete = summary(sweep)["complete"]
        rates[jobs] = complete / seconds * 3600
        print(f"| {jobs} | {complete} | {seconds:.0f} s | {rates[jobs]:.1f} |", flush=True)
    print(f"\n2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--throughput-trials", type=int, default=8)
    parser.add_argument("--dir", type=Path, default=ROOT / "sweeps" / f"bench-tune-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--only", choices=("search", "throughput"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print(f"studies in {args.dir}", flush=True)
    if args.only != "throughput":
        search(args.dir, args.trials)
    if args.only != "search":
        throughput(args.dir, args.throughput_trials)


if __name__ == "__main__":
    main()
