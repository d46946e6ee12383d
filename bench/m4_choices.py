"""M4 Hourly: the post-processing choices of configs/m4/hourly.yaml, judged on the validation rows.

Forecasts the validation rows (the last 48 training rows of each series) with each given run
(trained without `scaler.clip`) through `forecast predict`, from the series without their last 96
rows, and scores sMAPE, MASE and OWA as bench/m4.py does, for each way of finishing the forecast:
as it is; clipped at each series' lowest, highest or both values before the validation rows (what
`scaler.clip: lower | upper | range` does); and, for the runs together, their mean or median
(`forecast predict RUN RUN ...` is the mean), with and without the lower clip. The test rows are
not read.

Usage:
  .venv/bin/python bench/m4_choices.py RUN [RUN ...] [--source ../shared/data/m4]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.m4 import FORECAST, HORIZON, arrays, owa  # noqa: E402


def scores(y: np.ndarray, f: np.ndarray, scale: np.ndarray) -> tuple[float, float, float]:
    smape = float((200 * np.abs(y - f) / (np.abs(y) + np.abs(f))).mean(axis=1).mean())
    mase = float((np.abs(y - f).mean(axis=1) / scale).mean())
    return smape, mase, owa(smape, mase)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data" / "m4")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="forecast-m4-choices-"))
    subprocess.run([FORECAST, "data", "m4", "hourly", "--source", str(args.source), "--dest", str(work)], check=True)
    data = pd.read_csv(work / "m4-hourly.csv")
    train = data[data.groupby("unique_id", sort=False).cumcount(ascending=False) >= HORIZON]  # no test rows
    last = train.groupby("unique_id", sort=False).cumcount(ascending=False) < HORIZON
    known, truth = train[~last], train[last]
    known.to_csv(work / "known.csv", index=False)
    low = known.groupby("unique_id", sort=False)["y"].min().to_numpy()[:, None]
    high = known.groupby("unique_id", sort=False)["y"].max().to_numpy()[:, None]
    forecasts = []
    for run in args.runs:
        output = work / "f.csv"
        subprocess.run([FORECAST, "predict", str(run), "--data", str(work / "known.csv"), "--output", str(output)],
                       check=True, stderr=subprocess.DEVNULL)  # fmt: skip
        y, f, scale = arrays(known, truth, pd.read_csv(output), "prediction")
        forecasts.append(f)
    finishes = {
        "as it is": lambda f: f,
        "clip lower": lambda f: np.maximum(f, low),
        "clip upper": lambda f: np.minimum(f, high),
        "clip range": lambda f: np.clip(f, low, high),
    }
    print(f"M4 Hourly, validation rows (the last 48 training rows of each series); runs: {len(args.runs)}")
    print()
    print("| forecast | val sMAPE | val MASE | val OWA |")
    print("|---|---:|---:|---:|")
    for name, finish in finishes.items():
        table = np.array([scores(y, finish(f), scale) for f in forecasts])
        spread = table.std(0, ddof=1) if len(table) > 1 else None
        mean = table.mean(0)
        cells = [f"{m:.4f}" + (f" ± {spread[k]:.4f}" if spread is not None else "") for k, m in enumerate(mean)]
        print(f"| one run, {name} | {' | '.join(cells)} |")
    if len(forecasts) > 1:
        stacked = np.stack(forecasts)
        for name, f in (("mean", stacked.mean(0)), ("median", np.median(stacked, axis=0))):
            for finish in ("as it is", "clip lower"):
                smape, mase, value = scores(y, finishes[finish](f), scale)
                print(f"| the {len(forecasts)} runs' {name}, {finish} | {smape:.4f} | {mase:.4f} | {value:.4f} |")


if __name__ == "__main__":
    main()
