"""ETTh1 long-horizon benchmark under the standard protocol, through the CLI itself.

Trains configs/ett/etth1_h{96,192,336,720}.yaml with `forecast train` (train rows [0, 8640),
val [8640 - L, 11520), test [11520 - L, 14400), StandardScaler fit on train, all 7 channels,
every test window kept) and prints test MSE/MAE on scaled values from each run's own
metrics.json beside the published figures and our naive (repeat the last value) baseline.

Usage: python bench/ett.py [--horizons 96 192 336 720] [--set key=value ...] [--runs DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Test MSE on ETTh1 (scaled), from the papers' tables, lookback as each paper chose.
PUBLISHED = {
    "SegRNN": {96: 0.368, 192: 0.408, 336: 0.444, 720: 0.446},
    "DLinear": {96: 0.386, 192: 0.437, 336: 0.481, 720: 0.519},
    "PatchTST": {96: 0.414, 192: 0.460, 336: 0.501, 720: 0.500},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--horizons", type=int, nargs="+", default=[96, 192, 336, 720])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="passed to forecast train")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench-ett")
    args = parser.parse_args()

    rows = []
    start_all = time.perf_counter()
    for horizon in args.horizons:
        config = ROOT / "configs" / "ett" / f"etth1_h{horizon}.yaml"
        run = args.runs / f"h{horizon}-{time.strftime('%Y%m%d-%H%M%S')}"
        cmd = [sys.executable, "-m", "forecast", "train", str(config), "--run-dir", str(run), "--quiet"]
        for o in args.overrides:
            cmd += ["--set", o]
        start = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - start
        if out.returncode != 0:
            sys.exit(f"h{horizon} failed:\n{out.stderr[-3000:]}")
        m = json.loads((run / "metrics.json").read_text())
        test, val = m["test"]["scaled"], m["val"]["scaled"]
        rows.append(
            (
                horizon,
                test["model"]["mse"],
                test["model"]["mae"],
                test["naive"]["mse"],
                val["model"]["mse"],
                m["epochs_run"],
                m["best_epoch"],
                seconds,
                m["test"]["windows"],
                run,
            )
        )
        print(
            f"h{horizon}: test MSE {test['model']['mse']:.4f} MAE {test['model']['mae']:.4f} "
            f"(val MSE {val['model']['mse']:.4f}), {m['epochs_run']} epochs, {seconds:.0f} s -> {run}",
            flush=True,
        )

    names = list(PUBLISHED)
    print("\nETTh1, test MSE on scaled values (lower is better)")
    print(
        f"{'horizon':>7} {'forecast':>9} {'MAE':>7} "
        + " ".join(f"{n:>9}" for n in names)
        + f" {'naive':>7} {'windows':>8} {'epochs':>7} {'seconds':>8}"
    )
    for h, mse, mae, naive, _, epochs, best, seconds, windows, _ in rows:
        print(
            f"{h:>7} {mse:>9.4f} {mae:>7.4f} "
            + " ".join(f"{PUBLISHED[n][h]:>9.3f}" for n in names)
            + f" {naive:>7.4f} {windows:>8} {epochs:>4}/{best:<2} {seconds:>8.0f}"
        )
    if len(rows) > 1:
        mean = sum(r[1] for r in rows) / len(rows)
        published = {n: sum(PUBLISHED[n][r[0]] for r in rows) / len(rows) for n in names}
        print(f"{'mean':>7} {mean:>9.4f} {'':>7} " + " ".join(f"{published[n]:>9.4f}" for n in names))
    print(f"total wall time: {time.perf_counter() - start_all:.0f} s")


if __name__ == "__main__":
    main()
