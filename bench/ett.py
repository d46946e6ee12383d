"""ETTh1 long-horizon benchmark under the standard protocol, through the CLI itself.

Trains configs/ett/etth1_h{96,192,336,720}.yaml (lookback 720) or configs/ett/l96/... (lookback
96) with `forecast train --repeats SEEDS` (train rows [0, 8640), val [8640 - L, 11520), test
[11520 - L, 14400), StandardScaler fit on train, all 7 channels, every test window kept) and
prints test MSE/MAE on scaled values, mean ± std over the seeds from each run's repeats.json,
beside figures published at the same lookback and our naive (repeat the last value) baseline.

Usage: python bench/ett.py [--lookback 720|96] [--seeds 1] [--horizons 96 192 336 720]
       [--set key=value ...] [--runs DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Test MSE on ETTh1 (scaled), published at each lookback. L = 96: SegRNN's repository README
# (github.com/lss-1138/SegRNN); L = 720: SegRNN's paper (Lin et al. 2023), Table II.
PUBLISHED = {
    96: {
        "SegRNN": {96: 0.368, 192: 0.408, 336: 0.444, 720: 0.446},
        "iTransformer": {96: 0.386, 192: 0.441, 336: 0.487, 720: 0.503},
        "PatchTST": {96: 0.414, 192: 0.460, 336: 0.501, 720: 0.500},
        "DLinear": {96: 0.386, 192: 0.437, 336: 0.481, 720: 0.519},
    },
    720: {
        "SegRNN": {96: 0.351, 192: 0.392, 336: 0.423, 720: 0.466},
        "PatchTST": {96: 0.375, 192: 0.418, 336: 0.462, 720: 0.495},
    },
}


def config_path(lookback: int, horizon: int) -> Path:
    folder = ROOT / "configs" / "ett" / ("l96" if lookback == 96 else "")
    return folder / f"etth1_h{horizon}.yaml"


def cell(summary: dict, digits: int = 4) -> str:
    return f"{summary['mean']:.{digits}f}" + (f" ± {summary['std']:.{digits}f}" if summary["std"] else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lookback", type=int, choices=sorted(PUBLISHED), default=720)
    parser.add_argument("--seeds", type=int, default=1, help="forecast train --repeats")
    parser.add_argument("--horizons", type=int, nargs="+", default=[96, 192, 336, 720])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="passed to forecast train")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench-ett")
    args = parser.parse_args()

    published = PUBLISHED[args.lookback]
    rows = []
    start_all = time.perf_counter()
    for horizon in args.horizons:
        run = args.runs / f"l{args.lookback}-h{horizon}-{time.strftime('%Y%m%d-%H%M%S')}"
        cmd = [sys.executable, "-m", "forecast", "train", str(config_path(args.lookback, horizon)),
               "--run-dir", str(run), "--quiet", "--repeats", str(args.seeds)]  # fmt: skip
        for o in args.overrides:
            cmd += ["--set", o]
        start = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - start
        if out.returncode != 0:
            sys.exit(f"h{horizon} failed:\n{out.stderr[-3000:]}")
        m = json.loads((run / ("repeats.json" if args.seeds > 1 else "metrics.json")).read_text())
        if args.seeds == 1:  # one run's metrics.json in the shape of repeats.json
            number = {"parse_float": float, "parse_int": int}
            m = json.loads(json.dumps(m), **{k: lambda v: {"mean": float(v), "std": 0.0} for k in number})
        test, val = m["test"]["scaled"], m["val"]["scaled"]
        rows.append((horizon, test["model"]["mse"], test["model"]["mae"], test["naive"]["mse"]["mean"],
                     val["model"]["mse"], m["epochs_run"]["mean"], seconds / args.seeds))  # fmt: skip
        print(f"h{horizon}: test MSE {cell(test['model']['mse'])} MAE {cell(test['model']['mae'])} "
              f"(val MSE {cell(val['model']['mse'])}), {m['epochs_run']['mean']:.1f} epochs, "
              f"{seconds / args.seeds:.0f} s a seed -> {run}", flush=True)  # fmt: skip

    names = list(published)
    print(f"\nETTh1, lookback {args.lookback}, test MSE on scaled values, {args.seeds} seed(s) (lower is better)")
    print("| horizon | forecast MSE | forecast MAE | " + " | ".join(names) + " | naive | val MSE | epochs | s a seed |")
    print("|---:|---:|---:|" + "---:|" * len(names) + "---:|---:|---:|---:|")
    for h, mse, mae, naive, val, epochs, seconds in rows:
        print(f"| {h} | {cell(mse)} | {cell(mae)} | " + " | ".join(f"{published[n][h]:.3f}" for n in names)
              + f" | {naive:.4f} | {cell(val)} | {epochs:.1f} | {seconds:.0f} |")  # fmt: skip
    if len(rows) > 1:
        mean = sum(r[1]["mean"] for r in rows) / len(rows)
        means = " | ".join(f"{sum(published[n][r[0]] for r in rows) / len(rows):.4f}" for n in names)
        print(f"| mean | {mean:.4f} | | {means} | | | | |")
    print(f"total wall time: {time.perf_counter() - start_all:.0f} s")


if __name__ == "__main__":
    main()
