"""CLI start-up and batched prediction speed.

- `forecast --help` and `forecast validate` (no TensorFlow import) against
  `python -c "import tensorflow"`: median wall time of several runs each.
- `forecast predict --all-origins` over the ETTh1 test split with the default config's model
  (trained for one epoch here: speed does not depend on the weights): windows per second of
  the prediction itself, and the command's wall time.

Usage: python bench/cli_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FORECAST = [sys.executable, "-m", "forecast"]


def wall(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    help_s = wall([*FORECAST, "--help"], args.repeats)
    validate_s = wall([*FORECAST, "validate", "configs/etth1.yaml"], args.repeats)
    tf_s = wall([sys.executable, "-c", "import tensorflow"], max(3, args.repeats // 2))
    print(f"forecast --help:                    {help_s:.3f} s")
    print(f"forecast validate configs/etth1.yaml: {validate_s:.3f} s")
    print(f'python -c "import tensorflow":      {tf_s:.3f} s')
    print(f"--help / import tensorflow:         {help_s / tf_s:.3f}")

    tmp = Path(tempfile.mkdtemp(prefix="forecast-predict-"))
    subprocess.run(
        [
            *FORECAST,
            "train",
            "configs/etth1.yaml",
            "--set",
            "training.epochs=1",
            "--run-dir",
            str(tmp / "run"),
            "--quiet",
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    # the test split with its lookback: rows [11520 - 96, 14400)
    pd.read_csv(ROOT / "data" / "ETTh1.csv").iloc[11520 - 96 : 14400].to_csv(tmp / "test.csv", index=False)

    sys.path.insert(0, str(ROOT))
    import numpy as np

    from forecast.data import load_series
    from forecast.inference import predict_batch
    from forecast.inference import predict_windows as predict
    from forecast.rundir import Run
    from forecast.windows import WindowSpec

    run = Run.open(tmp / "run")
    config = run.load_config()
    series = load_series(config.data, tmp / "test.csv")
    spec = WindowSpec.from_config(config.window)
    x, _ = run.load_scalers(config).transform(series)
    model = run.load_model((spec.timesteps, x.shape[1]), (spec.horizon, len(series.target_names)))
    origins = np.arange(spec.history, len(series))
    batch = predict_batch(model)
    predict(model, x, origins[:batch], spec)  # trace once
    times = []
    for _ in range(3):
        start = time.perf_counter()
        predict(model, x, origins, spec)
        times.append(time.perf_counter() - start)
    command_s = wall(
        [
            *FORECAST,
            "predict",
            str(tmp / "run"),
            "--data",
            str(tmp / "test.csv"),
            "--all-origins",
            "--output",
            str(tmp / "p.csv"),
        ],
        1,
    )
    rows = len(pd.read_csv(tmp / "p.csv"))
    best = statistics.median(times)
    print(
        f"\npredict --all-origins, ETTh1 test split ({len(origins)} origins, horizon {spec.horizon}, 7 targets, "
        f"LSTM(64), batch {batch}):"
    )
    print(f"  prediction: {best:.2f} s = {len(origins) / best:,.0f} windows/s")
    print(f"  whole command (TensorFlow import, load, predict, {rows:,} CSV rows): {command_s:.1f} s")


if __name__ == "__main__":
    main()
