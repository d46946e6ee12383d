"""A large panel end to end: 100,000 series x 500 hourly rows, a future covariate and calendar features.

Writes the panel as Parquet (50 million rows: ids as a dictionary column, as a panel that size is
stored), then runs in child processes, each one's wall time and peak RSS its own:

1. load: `forecast.data.load_series` alone -> rows/s;
2. validate: `forecast validate` (load, split, scale, count windows, no TensorFlow);
3. train: `forecast train` for one epoch of --steps batches, then the full scoring of every
   series' validation and test window -> training windows/s (metrics.json), peak RSS;
4. predict: `forecast predict` of the horizon after every series' end -> series/s (one process: the
   panel is read and forecast a group of series at a time, predicting.GROUP_ROWS rows each);
4b. the same on a panel --larger times the series -> peak RSS must not grow with the panel;
4c. predict --all-origins on one 50th of the series -> windows/s;
5. predict in shards: the same in --shards processes (`forecast predict --shard I/N`, Parquet
   out), one after the other -> each shard's peak RSS, and series/s over the shards' total wall
   time; the shards' series must be exactly the whole run's.

The targets: every step within 4 GB peak RSS (memory stays O(total rows): windows are gathered
by index, never stored), and predict within 2 GB whatever the panel's size (issue 19). Usage:
  .venv/bin/python bench/panel.py [--series 100000] [--rows 500] [--steps 200] [--larger 2] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.procs import child  # noqa: E402

FORECAST = str(Path(sys.executable).parent / "forecast")
HORIZON = 24


def write_panel(path: Path, series: int, rows: int, future: int = 0, seed: int = 0) -> int:
    """Hourly series with a daily cycle, a level per series and a promotion flag (a future covariate),
    starting at different hours; written in row groups so this process never holds it twice.
    `future` more rows per series carry the promotion flag with the target left empty (for predict)."""
    rng = np.random.default_rng(seed)
    writer = None
    rows += future
    chunk = max(1, 2_000_000 // rows)
    for first in range(0, series, chunk):
        ids = np.arange(first, min(first + chunk, series))
        n = len(ids) * rows
        hour = np.tile(np.arange(rows), len(ids)) + np.repeat(rng.integers(0, 24 * 7, len(ids)), rows)
        level = np.repeat(rng.uniform(10, 1000, len(ids)), rows)
        promo = (rng.random(n) < 0.05).astype(np.float32)
        y = level * (1 + 0.3 * np.sin(2 * np.pi * hour / 24) + 0.2 * promo) + rng.normal(0, 1, n) * level * 0.05
        y[np.tile(np.arange(rows) >= rows - future, len(ids))] = np.nan
        table = pa.table(
            {
                "id": pa.DictionaryArray.from_arrays(
                    pa.array(np.repeat(np.arange(len(ids)), rows), pa.int32()),
                    pa.array([f"s{i:06d}" for i in ids]),
                ),
                "time": pa.array(pd.Timestamp("2024-01-01").value + hour * 3_600 * 10**9, pa.timestamp("ns")),
                "y": pa.array(y.astype(np.float32)),
                "promo": pa.array(promo),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()
    return series * (rows - future)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--steps", type=int, default=200, help="training batches in the one epoch")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--shards", type=int, default=4, help="processes of the sharded predict (step 5)")
    parser.add_argument("--larger", type=int, default=2, help="step 4b's panel, in times the series (0: skip)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="forecast-panel-"))
    data = work / "panel.parquet"
    start = time.perf_counter()
    total = write_panel(data, args.series, args.rows)
    write_panel(work / "with_future.parquet", args.series, args.rows, future=HORIZON)  # same seed: same history
    print(f"wrote {total:,} rows ({args.series:,} series x {args.rows}) in {time.perf_counter() - start:.0f} s: "
          f"{data.stat().st_size / 2**20:,.0f} MB Parquet", file=sys.stderr)  # fmt: skip
    config = {
        "name": "panel-bench",
        "data": {
            "path": str(data),
            "id_column": "id",
            "time_column": "time",
            "frequency": "h",
            "targets": ["y"],
            "features": ["y"],
            "covariates": {"future": ["promo"]},
            "calendar": ["hour", "day_of_week"],
            "split": {"val_last": HORIZON, "test_last": HORIZON},
        },
        "window": {"lookback": 72, "horizon": HORIZON},
        "model": {"layers": [{"units": 32}], "base": "none"},  # base: as BENCHMARKS.md's figures were trained
        "training": {"epochs": 1, "batch_size": 1024, "steps_per_epoch": args.steps, "validation_steps": 10},
        "tracking": {"tensorboard": False},
    }
    config_path = work / "panel.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    load_code = (
        "import sys, time; from forecast import config as c; from forecast.data import load_series; "
        f"cfg = c.load({str(config_path)!r}); t = time.perf_counter(); s = load_series(cfg.data); "
        "print(time.perf_counter() - t, len(s), s.n_series)"
    )
    results = {}
    seconds, peak, out = child([sys.executable, "-c", load_code])
    load_seconds, rows, n_series = out.split()
    results["load"] = (seconds, peak, f"{int(rows) / float(load_seconds):,.0f} rows/s ({float(load_seconds):.1f} s)")
    seconds, peak, _ = child([FORECAST, "validate", str(config_path)])
    results["validate"] = (seconds, peak, "")
    run_dir = work / "run"
    seconds, peak, _ = child([FORECAST, "train", str(config_path), "--run-dir", str(run_dir), "--quiet"])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    results["train"] = (seconds, peak, f"{metrics['samples_per_second']:,.0f} training windows/s; "
                        f"{metrics['test']['windows']:,} test windows scored")  # fmt: skip
    seconds, peak, _ = child(
        [FORECAST, "predict", str(run_dir), "--data", str(work / "with_future.parquet"), "--output",
         str(work / "forecasts.csv")]
    )  # fmt: skip
    forecasts = pd.read_csv(work / "forecasts.csv", usecols=["id"])
    results["predict"] = (seconds, peak, f"{forecasts['id'].nunique() / seconds:,.0f} series/s (wall, incl. start-up)")
    if args.larger:
        larger = work / "larger.parquet"
        write_panel(larger, args.series * args.larger, args.rows, future=HORIZON, seed=1)
        seconds, peak, _ = child(
            [FORECAST, "predict", str(run_dir), "--data", str(larger), "--output", str(work / "larger.parquet.csv")]
        )
        done = pd.read_csv(work / "larger.parquet.csv", usecols=["id"])["id"].nunique()
        results[f"predict, one process, {args.larger}x the series"] = (
            seconds, peak, f"{done / seconds:,.0f} series/s ({done:,} series)")  # fmt: skip
        larger.unlink()
    seconds, peak, _ = child(
        [FORECAST, "predict", str(run_dir), "--data", str(work / "with_future.parquet"), "--all-origins",
         "--shard", "0/50", "--output", str(work / "origins-{shard}.parquet")]
    )  # fmt: skip
    windows = len(pd.read_parquet(work / "origins-0.parquet", columns=["step"])) // HORIZON  # one target
    results["predict --all-origins, 1/50 of the series"] = (
        seconds, peak, f"{windows / seconds:,.0f} windows/s ({windows:,} windows, wall incl. start-up)")  # fmt: skip
    walls, peaks, ids = [], [], set()
    for i in range(args.shards):
        seconds, peak, _ = child(
            [FORECAST, "predict", str(run_dir), "--data", str(work / "with_future.parquet"), "--shard",
             f"{i}/{args.shards}", "--output", str(work / "shard-{shard}.parquet")]
        )  # fmt: skip
        walls.append(seconds)
        peaks.append(peak)
        shard_ids = set(pd.read_parquet(work / f"shard-{i}.parquet", columns=["id"])["id"].unique())
        assert not ids & shard_ids, "a series in two shards"
        ids |= shard_ids
    assert ids == set(forecasts["id"].unique()), "the shards' series differ from the whole predict's"
    results[f"predict, {args.shards} shards"] = (
        sum(walls), max(peaks), f"{len(ids) / sum(walls):,.0f} series/s over the shards' summed wall time; "
        f"peak RSS per shard {', '.join(f'{p:,.0f}' for p in peaks)} MB",
    )  # fmt: skip

    print(
        f"panel: {int(n_series):,} series x {args.rows} rows = {int(rows):,} rows; future covariate + calendar "
        f"(hour, day_of_week); lookback 72, horizon {HORIZON}; {args.steps} training steps of 1,024"
    )
    print()
    print("| step | wall s | peak RSS MB | rate |")
    print("|---|---:|---:|---|")
    for name, (seconds, peak, rate) in results.items():
        print(f"| {name} | {seconds:.1f} | {peak:,.0f} | {rate} |")
    worst = max(peak for _, peak, _ in results.values())
    print(f"\nlargest peak RSS: {worst:,.0f} MB ({'within' if worst <= 4096 else 'ABOVE'} the 4 GB target)")
    predicts = max(peak for name, (_, peak, _) in results.items() if name.startswith("predict"))
    print(f"largest predict peak RSS: {predicts:,.0f} MB ({'within' if predicts <= 2048 else 'ABOVE'} the 2 GB target)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept: {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
