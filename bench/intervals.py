"""Prediction intervals on ETTh1: calibration on the test split, and what quantiles cost to train.

Trains, for each seed, configs/etth1.yaml's network two ways, one after the other through
`forecast train`: a point model (MSE loss) with split-conformal 80 % and 95 % intervals, and a
quantile model (model.quantiles 0.025 ... 0.975, pinball loss; intervals.method as
--quantile-method says, cqr by default: what configs/etth1.yaml ships). It prints from each run's
metrics.json the test split's observed coverage, mean width (original units), interval score and
MSIS per level beside the repeat-last + conformal baseline, and the quantile model's training
seconds per epoch over the point model's (the ratio of each seed's pair: the same machine,
minutes apart).

Target (issue 16): observed test coverage within +-2 points of the nominal 80 % and 95 %.

Usage: python bench/intervals.py [--seeds 3] [--config configs/etth1.yaml] [--runs DIR] [--set K=V ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.procs import child  # noqa: E402

FORECAST = str(Path(sys.executable).parent / "forecast")
QUANTILES = "[0.025,0.1,0.5,0.9,0.975]"
LEVELS = ("80", "95")


def train(config: Path, run_dir: Path, overrides: list[str]) -> dict:
    cmd = [FORECAST, "train", str(config), "--run-dir", str(run_dir), "--quiet"]
    for item in overrides:
        cmd += ["--set", item]
    child(cmd)
    return json.loads((run_dir / "metrics.json").read_text())


def cell(values: list[float], digits: int = 4) -> str:
    mean = statistics.fmean(values)
    return f"{mean:.{digits}f}" + (f" ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "etth1.yaml")
    parser.add_argument("--quantile-method", default="cqr", choices=["quantiles", "cqr"])
    parser.add_argument("--runs", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="passed to both models")
    args = parser.parse_args()
    runs = args.runs or Path(tempfile.mkdtemp(prefix="forecast-intervals-"))

    import forecast

    seed = forecast.load_config(args.config, args.overrides).seed
    point = ["model.quantiles=null", "training.loss=mse", "intervals.method=conformal"]
    quantile = [f"model.quantiles={QUANTILES}", "training.loss=pinball", f"intervals.method={args.quantile_method}"]
    results: dict[str, list[dict]] = {"point + conformal": [], f"quantiles + {args.quantile_method}": []}
    for k in range(args.seeds):
        for (name, found), extra in zip(results.items(), (point, quantile), strict=True):
            overrides = [*args.overrides, *extra, f"seed={seed + k}"]
            found.append(train(args.config, runs / f"{name.split()[0]}-seed-{seed + k}", overrides))
            print(f"{name}, seed {seed + k}: " + json.dumps(found[-1]["test"]["intervals"]), file=sys.stderr)

    print(f"ETTh1 test split, {args.config.name}, {args.seeds} seed(s) (mean ± std); widths in original units")
    print()
    print("| model | level | coverage | mean width | interval score | MSIS | test MSE (scaled) | epochs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    point = next(iter(results.values()))
    rows = [*results.items(), ("repeat-last + conformal", [{"test": {"intervals": m["test"]["intervals"]["naive"]},
                                                           "naive": True} for m in point])]  # fmt: skip
    for name, found in rows:
        for level in LEVELS:
            values = [m["test"]["intervals"] for m in found]
            mse = "" if found[0].get("naive") else cell([m["test"]["scaled"]["model"]["mse"] for m in found])
            epochs = "" if found[0].get("naive") else cell([m["epochs_run"] for m in found], 1)
            print(
                f"| {name} | {level} % | {cell([v[f'coverage_{level}'] for v in values])} "
                f"| {cell([v[f'width_{level}'] for v in values], 3)} "
                f"| {cell([v[f'interval_score_{level}'] for v in values], 3)} "
                f"| {cell([v[f'msis_{level}'] for v in values], 3)} | {mse} | {epochs} |"
            )
    per_epoch = {name: [m["train_seconds"] / m["epochs_run"] for m in found] for name, found in results.items()}
    (point_name, point_s), (q_name, q_s) = per_epoch.items()
    ratios = [q / p for q, p in zip(q_s, point_s, strict=True)]
    print()
    print(f"training seconds per epoch: {point_name} {cell(point_s, 2)}, {q_name} {cell(q_s, 2)}; "
          f"ratio {cell(ratios, 3)}")  # fmt: skip


if __name__ == "__main__":
    main()
