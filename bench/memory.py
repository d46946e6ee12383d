"""Peak memory of `forecast train` on a Jena-sized series: windows are gathered, never stored.

Writes a Jena-shaped series (420,551 rows x 14 columns, the real file's size), then runs
`forecast train` in a child process with Chollet's windowing (lookback 1440, step 6, delay 144,
batch 128) for a bounded number of steps, followed by the full evaluation of every validation
and test window, and reports the child's peak RSS next to what materializing the training
windows alone would take.

Usage: python bench/memory.py [--rows 420551] [--steps 50]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.series import COLUMNS, TIME_FORMAT, jena_like  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=420_551)
    parser.add_argument("--steps", type=int, default=50, help="training batches (one epoch)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="forecast-memory-"))
    data = tmp / "jena_climate_2009_2016.csv"
    jena_like(args.rows).to_csv(data, index=False)
    lookback, step, delay, batch = 1440, 6, 144, 128
    config = {
        "name": "memory",
        "data": {
            "path": str(data),
            "time_column": "Date Time",
            "time_format": TIME_FORMAT,
            "targets": ["T (degC)"],
            "split": {"train_end": 200_000, "val_end": 300_000},
        },
        "window": {"lookback": lookback, "step": step, "delay": delay},
        "model": {"cell": "gru", "base": "none", "layers": [{"units": 32}]},  # base: as recorded
        "training": {
            "optimizer": "rmsprop",
            "loss": "mae",
            "epochs": 1,
            "batch_size": batch,
            "steps_per_epoch": args.steps,
            "validation_steps": 10,
        },
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "forecast", "train", str(tmp / "config.yaml"), "--run-dir", str(tmp / "run"), "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"forecast train failed:\n{out.stderr}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: kB
    train_windows = 200_000 - (lookback // step - 1) * step - delay
    materialized_mb = train_windows * (lookback // step) * len(COLUMNS) * 4 / 2**20
    series_mb = args.rows * len(COLUMNS) * 4 / 2**20
    print(out.stdout.strip())
    print(
        f"\nseries: {args.rows:,} rows x {len(COLUMNS)} columns ({series_mb:.0f} MB as float32); "
        f"{train_windows:,} training windows of {lookback // step} x {len(COLUMNS)}"
    )
    print(f"forecast train ({args.steps} steps of {batch}, then evaluation of every val/test window): {seconds:.1f} s")
    print(f"peak RSS of forecast train: {peak_mb:,.0f} MB")
    print(f"materializing the training windows alone would take: {materialized_mb:,.0f} MB")


if __name__ == "__main__":
    main()
