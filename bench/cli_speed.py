"""CLI start-up and batched prediction speed.

- `forecast --help` and `forecast validate` (no TensorFlow import) against
  `python -c "import tensorflow"`: median wall time of several runs each.
- `forecast predict --all-origins` over the ETTh1 test split with the default config's model and
  with issue 21's channel-independent 2 x LSTM(64), horizon 96 (trained briefly here: speed does
  not depend on the weights): windows per second of the prediction itself, and the command's
  wall time per output type against `import tensorflow` plus the prediction's first call.

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

    predict_case("the default config's LSTM(64), horizon 24", [], tf_s, ["csv"])
    predict_case(
        "issue 21's network: channel-independent 2 x LSTM(64), horizon 96",
        ["window.horizon=96", "model.layers=[{units: 64}, {units: 64}]", "model.channel_independent=true",
         "model.instance_norm=none", "training.steps_per_epoch=20"],
        tf_s,
        ["csv", "parquet", "npy"],
    )  # fmt: skip


def predict_case(name: str, overrides: list[str], tf_s: float, kinds: list[str]) -> None:
    """`forecast predict --all-origins` over the ETTh1 test split: the prediction in-process (its
    first call, tracing included, as the command pays it; then the median of 3), and the whole
    command per output type, against `import tensorflow` + the first call."""
    tmp = Path(tempfile.mkdtemp(prefix="forecast-predict-"))
    sets = [arg for o in ["training.epochs=1", *overrides] for arg in ("--set", o)]
    subprocess.run(
        [*FORECAST, "train", "configs/etth1.yaml", *sets, "--run-dir", str(tmp / "run"), "--quiet"],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    # the test split with its lookback, up to the last origin with a whole horizon
    run_config = __import__("yaml").safe_load((tmp / "run" / "config.yaml").read_text())
    horizon = run_config["window"]["horizon"]
    rows = pd.read_csv(ROOT / "data" / "ETTh1.csv").iloc[11520 - 96 : 14400 - horizon]
    rows.to_csv(tmp / "test.csv", index=False)

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
    start = time.perf_counter()
    predict(model, x, origins, spec)
    first = time.perf_counter() - start
    times = []
    for _ in range(3):
        start = time.perf_counter()
        predict(model, x, origins, spec)
        times.append(time.perf_counter() - start)
    best = statistics.median(times)
    print(f"\npredict --all-origins, ETTh1 test split, {name} ({len(origins)} origins, 7 targets, "
          f"batches of {predict_batch(model)} windows):")  # fmt: skip
    print(f"  prediction: first call {first:.2f} s (tracing included), then {best:.2f} s = "
          f"{len(origins) / best:,.0f} windows/s")  # fmt: skip
    for kind in kinds:
        out = tmp / f"p.{kind}"
        command = [*FORECAST, "predict", str(tmp / "run"), "--data", str(tmp / "test.csv"), "--all-origins"]
        command_s = wall([*command, "--output", str(out)], 1)
        print(f"  whole command, .{kind} ({out.stat().st_size / 2**20:,.0f} MB): {command_s:.1f} s = "
              f"{command_s / (tf_s + first):.2f} x (import tensorflow + first call)")  # fmt: skip


if __name__ == "__main__":
    main()
