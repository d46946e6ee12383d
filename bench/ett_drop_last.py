"""Score ETTh1 runs as the published L = 720 figures were scored: without the last partial batch.

SegRNN's paper (Lin et al. 2023, Table II) took its figures from code whose test loader had
`drop_last=True` (github.com/lss-1138/SegRNN, data_provider/data_factory.py at the first commit,
f5970fa; fixed on 2024-06-14 in d130248, whose README names the bug). With its ETTh1 script's batch
of 256, the last `windows % 256` test windows, the latest ones, were never scored: 225 of 2,785
at horizon 96. The L = 96 figures in that README were produced after the fix, over every window.

This prints each run's test MSE over every window (what metrics.json holds) and over the first
`windows // batch * batch` windows, so the L = 720 table can say how much of a gap is the metric.

Usage: python bench/ett_drop_last.py RUN [RUN ...] [--batch 256] [--data data/ETTh1.csv]
       (a RUN made with --repeats is read seed by seed)
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

from forecast.rundir import Run

ROOT = Path(__file__).resolve().parents[1]


def test_errors(path: Path, data: Path) -> np.ndarray:
    """Squared errors (windows, horizon, targets) on the scaled test windows of one run, on `data`
    (the project's ETTh1.csv: a run made in a worktree since removed names a path that is gone).
    Over every window it must give the run's own metrics.json figure, or the data is not the run's."""
    from forecast.inference import predict_splits
    from forecast.prepare import prepare

    run = Run.open(path)
    config = run.config
    prepared = prepare(config, run.load_scalers(config), path=data, schema=run.load_schema())
    model = run.load_model(prepared.input_shape, prepared.output_shape)
    origins = prepared.origins["test"]
    raw = predict_splits(model, prepared, ("test",))["test"]
    pred = prepared.scalers.clip_scaled(raw, prepared.series.series_of(origins))
    errors = np.subtract(pred, prepared.spec.targets(prepared.y, origins), dtype=np.float64) ** 2
    recorded = run.metrics.test.scaled_model.mse
    if not np.isclose(errors.mean(), recorded, rtol=1e-6):
        sys.exit(f"{path}: test MSE {errors.mean():.6f} on {data}, but {recorded:.6f} in its metrics.json")
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--batch", type=int, default=256, help="the published code's test batch size")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "ETTh1.csv")
    args = parser.parse_args()
    print(f"| run | windows | test MSE, every window | test MSE, last {args.batch}-batch remainder dropped |")
    print("|---|---:|---:|---:|")
    for path in args.runs:
        seeds = sorted(path.glob("seed-*")) or [path]
        every, kept = [], []
        for seed in seeds:
            errors = test_errors(seed, args.data)
            n = len(errors) // args.batch * args.batch
            every.append(float(errors.mean()))
            kept.append(float(errors[:n].mean()))

        def cell(values: list[float]) -> str:
            return f"{statistics.mean(values):.4f}" + (f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else "")

        print(f"| {path.name} ({len(seeds)} seed(s)) | {len(errors)} | {cell(every)} | {cell(kept)} |", flush=True)


if __name__ == "__main__":
    main()
