"""Score finished ETTh1 runs seed by seed, grouped by lookback and horizon, two ways.

1. Over every test window: the standard protocol, what each run's metrics.json holds (checked).
2. As SegRNN's paper scored: its figures (Lin et al. 2023, Table II, L = 720) came from code whose
   test loader had `drop_last=True` (github.com/lss-1138/SegRNN, data_provider/data_factory.py at
   the first commit, f5970fa; fixed on 2024-06-14 in d130248, whose README names the bug). With its
   ETTh1 script's batch of 256 the last `windows % 256` test windows, the latest ones, were never
   scored: 225 of 2,785 at horizon 96. The L = 96 figures in that README came after the fix.

Runs trained apart (one seed each, or `--repeats` folders) are pooled per (lookback, horizon); a
seed given twice is refused, so a mean is never over copies of one run.

Usage: python bench/ett_scores.py RUN [RUN ...] [--batch 256] [--data data/ETTh1.csv]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from forecast.rundir import Run

ROOT = Path(__file__).resolve().parents[1]


def test_errors(run: Run, data: Path) -> np.ndarray:
    """Squared errors (windows, horizon, targets) on the scaled test windows of one run, on `data`
    (the project's ETTh1.csv: a run made in a worktree since removed names a path that is gone).
    Over every window it must give the run's own metrics.json figure, or the data is not the run's."""
    from forecast.inference import predict_splits
    from forecast.prepare import prepare

    config = run.config
    prepared = prepare(config, run.load_scalers(config), path=data, schema=run.load_schema())
    model = run.load_model(prepared.input_shape, prepared.output_shape)
    origins = prepared.origins["test"]
    raw = predict_splits(model, prepared, ("test",))["test"]
    pred = prepared.scalers.clip_scaled(raw, prepared.series.series_of(origins))
    errors = np.subtract(pred, prepared.spec.targets(prepared.y, origins), dtype=np.float64) ** 2
    recorded = run.metrics.test.scaled_model.mse
    if not np.isclose(errors.mean(), recorded, rtol=1e-6):
        sys.exit(f"{run.path}: test MSE {errors.mean():.6f} on {data}, but {recorded:.6f} in its metrics.json")
    return errors


def cell(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f}" + (f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="runs, or --repeats folders (read seed by seed)")
    parser.add_argument("--batch", type=int, default=256, help="the published code's test batch size")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "ETTh1.csv")
    args = parser.parse_args()
    groups: dict[tuple[int, int], dict[int, Run]] = defaultdict(dict)
    for path in args.runs:
        for seed_dir in sorted(path.glob("seed-*")) or [path]:
            run = Run.open(seed_dir)
            window, seed = run.config.window, run.config.seed
            group = groups[(window.lookback, window.horizon)]
            if seed in group:
                sys.exit(f"{seed_dir}: seed {seed} is also {group[seed].path}; give each seed once")
            group[seed] = run
    dropped = f"test MSE, last partial batch of {args.batch} dropped"
    print(f"| lookback | horizon | seeds | windows | test MSE, every window | {dropped} |")
    print("|---:|---:|---|---:|---:|---:|")
    for (lookback, horizon), runs in sorted(groups.items()):
        every, kept = [], []
        for run in runs.values():
            errors = test_errors(run, args.data)
            every.append(float(errors.mean()))
            kept.append(float(errors[: len(errors) // args.batch * args.batch].mean()))
        seeds = ", ".join(map(str, runs))
        print(f"| {lookback} | {horizon} | {seeds} | {len(errors)} | {cell(every)} | {cell(kept)} |", flush=True)


if __name__ == "__main__":
    main()
