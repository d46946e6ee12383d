"""Export parity and serving speed: a run exported as SavedModel and ONNX against `forecast predict`.

Exports the run in both formats (`forecast.api.export`), feeds each artifact the raw windows of
every origin of the run's data (the test windows among them) through its own runtime
(`tf.saved_model.load`, `onnxruntime.InferenceSession`), and prints the largest absolute
difference from `forecast predict --all-origins` (original units) for the forecast and each
interval bound, over all origins and over the test split's, with each export's time and size and
each runtime's windows per second. Issue 19's bar: 1e-4.

Usage: python bench/export.py RUN_DIR   (e.g. a `forecast train configs/etth1.yaml` run)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import forecast  # noqa: E402
from forecast.data import load_series  # noqa: E402
from forecast.export import run_exported  # noqa: E402
from forecast.windows import WindowSpec  # noqa: E402


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main() -> None:
    run = forecast.Run.open(Path(sys.argv[1]))
    config = run.config
    spec = WindowSpec.from_config(config.window)
    series = load_series(config.data, None, run.load_schema())
    start = time.perf_counter()
    found = forecast.api.forecasts(run, all_origins=True)
    predict_s = time.perf_counter() - start
    origins = np.arange(spec.history, len(series))
    test = np.isin(origins, forecast.prepare.prepare(config).origins["test"])  # the test split's windows
    windows = spec.inputs(series.features, origins).astype("float32")
    print(f"{run.path.name}: {len(origins)} origins ({int(test.sum())} test windows), horizon {spec.horizon}, "
          f"{len(found.targets)} targets; forecast.api.forecasts: {predict_s:.2f} s")  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="forecast-export-"))
    for fmt, name in (("saved_model", "saved"), ("onnx", "model.onnx")):
        output = work / name
        start = time.perf_counter()
        forecast.api.export(run, fmt, output)
        export_s = time.perf_counter() - start
        run_exported(output, fmt, {"window": windows[:8]})  # load and warm up
        start = time.perf_counter()
        outputs = run_exported(output, fmt, {"window": windows})
        serve_s = time.perf_counter() - start
        diffs = {"forecast": np.abs(outputs["forecast"] - found.values)}
        for k, bound in enumerate(found.bounds or {}):
            diffs[bound] = np.abs(outputs["bounds"][:, :, k, :] - found.bounds[bound])
        worst = ", ".join(f"{k} {d.max():.2e} (test {d[test].max():.2e})" for k, d in diffs.items())
        print(f"{fmt}: export {export_s:.1f} s, {size(output) / 2**20:.2f} MB; load+run {len(origins) / serve_s:,.0f} "
              f"windows/s; max |difference|: {worst}")  # fmt: skip


if __name__ == "__main__":
    main()
