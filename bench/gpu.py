"""GPU throughput of `forecast train` under the current KERAS_BACKEND, against raw cuDNN.

Runs on a machine with torch and/or JAX and a CUDA GPU (no TensorFlow needed): see gpu.sh.
For one backend (KERAS_BACKEND), on a Jena-shaped series (lookback 1440, step 6 -> 240
timesteps x 14 features, delay 144, batch 256, 2 x LSTM(32)):

1. `forecast train` itself, as a user runs it: median training windows/s over epochs 2+
   (history.csv's epoch_seconds; validation included as always).
2. The cuDNN check: the same Keras LSTM stack fit on in-memory arrays with use_cudnn=True
   and with use_cudnn=False. True raises if the backend has no cuDNN path for these
   settings; a large speed gap shows which path `forecast`'s default ("auto") takes.
3. Raw cuDNN: torch.nn.LSTM with the same shapes, data already on the GPU, Adam, MAE loss:
   the ceiling a framework can reach. Ratio = (1) / (3); target >= 0.8.

Usage: KERAS_BACKEND=torch python bench/gpu.py [--rows 420551] [--steps 200] [--epochs 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.series import TIME_FORMAT, jena_like  # noqa: E402

LOOKBACK, STEP, DELAY, BATCH, UNITS = 1440, 6, 144, 256, 32
TIMESTEPS, FEATURES = LOOKBACK // STEP, 14


def forecast_train(rows: int, steps: int, epochs: int, tmp: Path) -> tuple[float, str]:
    data = tmp / "jena.parquet"
    if not data.exists():
        jena_like(rows).to_parquet(data)
    config = {
        "name": "gpu",
        "seed": 1,
        "data": {
            "path": str(data),
            "time_column": "Date Time",
            "time_format": TIME_FORMAT,
            "targets": ["T (degC)"],
            "split": {"train_end": rows // 2, "val_end": rows * 3 // 4},
        },
        "window": {"lookback": LOOKBACK, "step": STEP, "delay": DELAY},
        "model": {"cell": "lstm", "base": "none", "layers": [{"units": UNITS}, {"units": UNITS}]},  # as recorded
        "training": {
            "optimizer": "adam",
            "loss": "mae",
            "epochs": epochs,
            "batch_size": BATCH,
            "steps_per_epoch": steps,
            "validation_steps": max(1, steps // 10),
            "early_stopping": False,
        },
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    run = tmp / f"run-{os.environ.get('KERAS_BACKEND', 'default')}"
    out = subprocess.run(
        [sys.executable, "-m", "forecast", "train", str(tmp / "config.yaml"), "--run-dir", str(run), "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode != 0:
        sys.exit(f"forecast train failed:\n{out.stderr[-4000:]}")
    seconds = pd.read_csv(run / "history.csv")["epoch_seconds"].iloc[1:]
    device = __import__("json").loads((run / "metrics.json").read_text())["device"]
    return steps * BATCH / statistics.median(seconds), device


def keras_cudnn(steps: int) -> dict[bool, float]:
    import keras

    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps * BATCH, TIMESTEPS, FEATURES), dtype=np.float32)
    y = rng.standard_normal((steps * BATCH, 1), dtype=np.float32)
    out = {}
    for use_cudnn in (True, False):
        model = keras.Sequential(
            [
                keras.Input((TIMESTEPS, FEATURES)),
                keras.layers.LSTM(UNITS, return_sequences=True, use_cudnn=use_cudnn),
                keras.layers.LSTM(UNITS, use_cudnn=use_cudnn),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer="adam", loss="mae")
        try:
            model.fit(x[: 4 * BATCH], y[: 4 * BATCH], batch_size=BATCH, epochs=1, verbose=0)  # trace
            start = time.perf_counter()
            model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
            out[use_cudnn] = len(x) / (time.perf_counter() - start)
        except Exception as exc:  # use_cudnn=True refuses when the backend has no cuDNN path
            print(f"  use_cudnn={use_cudnn}: {type(exc).__name__}: {str(exc)[:200]}")
    return out


def raw_torch(steps: int) -> float:
    import torch

    device = torch.device("cuda")
    lstm = torch.nn.LSTM(FEATURES, UNITS, num_layers=2, batch_first=True).to(device)
    head = torch.nn.Linear(UNITS, 1).to(device)
    params = [*lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    x = torch.randn(steps, BATCH, TIMESTEPS, FEATURES, device=device)
    y = torch.randn(steps, BATCH, 1, device=device)

    def epoch():
        for i in range(steps):
            optimizer.zero_grad(set_to_none=True)
            out, _ = lstm(x[i])
            loss = (head(out[:, -1]) - y[i]).abs().mean()
            loss.backward()
            optimizer.step()
        torch.cuda.synchronize()

    epoch()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - start)
    return steps * BATCH / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=420_551)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    tmp = Path(os.environ.get("FORECAST_BENCH_TMP") or tempfile.mkdtemp(prefix="forecast-gpu-"))
    tmp.mkdir(parents=True, exist_ok=True)

    print(f"== KERAS_BACKEND={backend}: 2 x LSTM({UNITS}), input ({TIMESTEPS}, {FEATURES}), batch {BATCH}")
    ours, device = forecast_train(args.rows, args.steps, args.epochs, tmp)
    print(
        f"forecast train on {device}: {ours:,.0f} training windows/s "
        f"(median of epochs 2-{args.epochs}, validation included)"
    )
    paths = keras_cudnn(args.steps)
    for use_cudnn, speed in paths.items():
        print(f"keras fit, in-memory arrays, use_cudnn={use_cudnn}: {speed:,.0f} windows/s")
    if True in paths and False in paths:
        print(
            f"cuDNN path: {'taken' if paths[True] > 1.5 * paths[False] else 'NOT clearly faster'} "
            f"(use_cudnn=True is {paths[True] / paths[False]:.1f}x use_cudnn=False)"
        )
    try:
        raw = raw_torch(args.steps)
        print(f"raw torch.nn.LSTM (cuDNN, data on the GPU): {raw:,.0f} windows/s")
        print(f"forecast / raw cuDNN: {ours / raw:.2f}  (target >= 0.8)")
    except Exception as exc:
        print(f"raw torch.nn.LSTM: unavailable ({type(exc).__name__}: {exc})")


if __name__ == "__main__":
    main()
