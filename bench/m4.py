"""M4 Hourly, scored exactly as the competition did, with one global recurrent model.

Converts the competition files (`forecast data m4 hourly --source DIR`), trains
configs/m4/hourly.yaml through the CLI (one child process per seed, so each one's wall time and
peak RSS are its own), forecasts the 48 test hours of every series with `forecast predict` from a
copy of the data without its test rows, and scores those forecasts against the test file:

    sMAPE = mean 200 |y - f| / (|y| + |f|)                       (per series, then over series)
    MASE  = MAE / in-sample seasonal-naive MAE (m = 24, each series' training rows)
    OWA   = (sMAPE / 18.383 + MASE / 2.395) / 2                  (M4's Naive2 for Hourly)

and, when the run has 95 % intervals (the q0.025 and q0.975 columns of `forecast predict`), as the
competition scored prediction intervals:

    MSIS  = mean over the horizon of (U - L) + 40 (L - y)+ + 40 (y - U)+, / the same in-sample MAE
    coverage = share of the test values inside [L, U];  ACD = |coverage - 0.95|

The seasonal-naive forecast is scored by the same code as a check of the scorer: it must give
M4's published 13.912 / 1.193. With `--ensemble K`, every K consecutive seeds also forecast together
(`forecast predict RUN RUN ...`: the members' mean), and each ensemble is scored on the test rows and
on the validation rows (forecast from the series without their last 96 rows) the same way.
Settings were chosen on the validation rows (the last 48 training rows of each series; `val` in
each run's metrics.json), never on the test rows.

Usage:
  .venv/bin/python bench/m4.py [--source ../shared/data/m4] [--config configs/m4/hourly.yaml]
      [--seeds 1] [--ensemble K] [--set KEY=VALUE ...] [--runs DIR] [--score RUN ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.procs import child  # noqa: E402

FORECAST = str(Path(sys.executable).parent / "forecast")
HORIZON, SEASON = 48, 24
NAIVE2 = (18.383, 2.395)  # M4's Naive2 sMAPE and MASE on Hourly (Makridakis et al. 2020, Table 4)
PUBLISHED = [  # (method, sMAPE, MASE, OWA) on Hourly, from the M4 results (Makridakis et al. 2020)
    ("Smyl ES-RNN (M4 winner)", 9.328, 0.893, 0.440),
    ("Doornik et al. (best Hourly OWA in M4)", 8.913, 0.801, 0.410),
    ("Seasonal naive (M4's sNaive)", 13.912, 1.193, 0.627),
    ("M4's RNN benchmark", 14.698, 3.048, 1.036),
]
PUBLISHED_INTERVALS = [  # (method, MSIS, ACD) of 95 % intervals on Hourly, M4 (Makridakis et al. 2020)
    ("Smyl ES-RNN (1st in M4's interval ranking)", 7.928, 0.040),
    ("Doornik et al. (best Hourly MSIS)", 6.139, None),
    ("ARIMA", 7.538, None),
    ("ETS", 17.487, None),
    ("Naive", 71.245, None),
]


def owa(smape: float, mase: float) -> float:
    return 0.5 * (smape / NAIVE2[0] + mase / NAIVE2[1])


def score(history: pd.DataFrame, actual: pd.DataFrame, forecast: pd.DataFrame) -> tuple[float, float]:
    """M4's sMAPE and MASE of `forecast` (unique_id, step, prediction) against `actual` (the test rows)."""
    y, f, scale = arrays(history, actual, forecast, "prediction")
    smape = (200 * np.abs(y - f) / (np.abs(y) + np.abs(f))).mean(axis=1)
    mase = np.abs(y - f).mean(axis=1) / scale
    return float(smape.mean()), float(mase.mean())


def score_intervals(history: pd.DataFrame, actual: pd.DataFrame, forecast: pd.DataFrame) -> tuple[float, float]:
    """M4's MSIS and the coverage of the 95 % interval (columns q0.025, q0.975) of `forecast`."""
    y, low, scale = arrays(history, actual, forecast, "q0.025")
    high = arrays(history, actual, forecast, "q0.975")[1]
    interval = (high - low) + 40 * np.maximum(low - y, 0) + 40 * np.maximum(y - high, 0)
    return float((interval.mean(axis=1) / scale).mean()), float(((y >= low) & (y <= high)).mean())


def arrays(history: pd.DataFrame, actual: pd.DataFrame, forecast: pd.DataFrame, column: str):
    """(actuals, forecasts of `column`) as (series, 48) arrays, and each series' in-sample scale."""
    ids = actual["unique_id"].unique()
    y = actual["y"].to_numpy(np.float64).reshape(len(ids), HORIZON)
    f = forecast.set_index(["unique_id", "step"])[column].reindex(
        pd.MultiIndex.from_product([ids, range(1, HORIZON + 1)])
    )
    if f.isna().any():
        raise SystemExit(f"forecasts missing for {int(f.isna().sum())} (series, step) pairs")
    f = f.to_numpy(np.float64).reshape(len(ids), HORIZON)
    series = history.groupby("unique_id", sort=False)["y"]
    scale = np.array([in_sample_scale(v.to_numpy(np.float64)) for _, v in series])
    return y, f, scale


def in_sample_scale(values: np.ndarray) -> float:
    """The in-sample seasonal-naive MAE: mean |y[t] - y[t - 24]| over the training rows (M4's masep)."""
    return float(np.abs(values[SEASON:] - values[:-SEASON]).mean())


def seasonal_naive(history: pd.DataFrame) -> pd.DataFrame:
    last = history.groupby("unique_id", sort=False)["y"].apply(lambda v: v.to_numpy()[-SEASON:])
    rows = [(i, s + 1, values[s % SEASON]) for i, values in last.items() for s in range(HORIZON)]
    return pd.DataFrame(rows, columns=["unique_id", "step", "prediction"])


def train(args: argparse.Namespace, work: Path, run_dir: Path, k: int) -> tuple[float, float]:
    """Train seed k (config seed + k) through the CLI: (wall seconds, peak RSS MB)."""
    cmd = [FORECAST, "train", str(args.config), "--run-dir", str(run_dir), "--quiet"]
    for item in [f"data.path={work / 'm4-hourly.csv'}", *args.overrides]:
        cmd += ["--set", item]
    if k:
        cmd += ["--set", f"seed={forecast_seed(args) + k}"]
    seconds, peak, _ = child(cmd)
    return seconds, peak


def forecast_seed(args: argparse.Namespace) -> int:
    import forecast

    return forecast.load_config(args.config, args.overrides).seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data" / "m4")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "m4" / "hourly.yaml")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--runs", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--score", type=Path, nargs="*", default=[], help="score these trained runs instead")
    parser.add_argument("--ensemble", type=int, default=1, help="also score every K consecutive seeds together")
    args = parser.parse_args()
    if (len(args.score) or args.seeds) % args.ensemble:
        parser.error(f"--ensemble {args.ensemble} must divide the number of runs")

    work = Path(tempfile.mkdtemp(prefix="forecast-m4-"))
    runs = args.runs or work / "runs"
    subprocess.run([FORECAST, "data", "m4", "hourly", "--source", str(args.source), "--dest", str(work)], check=True)
    data = pd.read_csv(work / "m4-hourly.csv")
    last = data.groupby("unique_id", sort=False).cumcount(ascending=False) < HORIZON
    history, actual = data[~last], data[last]
    history.to_csv(work / "history.csv", index=False)
    before = history.groupby("unique_id", sort=False).cumcount(ascending=False) < HORIZON  # the validation rows
    history[~before].to_csv(work / "before-val.csv", index=False)

    naive = score(history, actual, seasonal_naive(history))
    rows = []
    scored = [(path, None, None) for path in args.score] or [
        (runs / f"seed-{k}", *train(args, work, runs / f"seed-{k}", k)) for k in range(args.seeds)
    ]
    for run_dir, seconds, peak in scored:
        predict_seconds, predict_peak, _ = child(
            [FORECAST, "predict", str(run_dir), "--data", str(work / "history.csv"), "--output", str(work / "f.csv")]
        )
        forecast = pd.read_csv(work / "f.csv")
        smape, mase = score(history, actual, forecast)
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
        if "q0.975" in forecast:
            msis, coverage = score_intervals(history, actual, forecast)
            found = metrics["test"]["intervals"]
            rows.append({"msis": msis, "coverage": coverage, "acd": abs(coverage - 0.95),
                         "val_msis": metrics["val"]["intervals"].get("msis_95"),
                         "val_coverage": metrics["val"]["intervals"]["coverage_95"],
                         "naive_msis": found["naive"].get("msis_95"), "naive_coverage": found["naive"]["coverage_95"],
                         "coverage_80": found.get("coverage_80")})  # fmt: skip
        else:
            rows.append({})
        val_smape, val_mase = metrics["val"]["model"].get("smape"), metrics["val"]["model"].get("mase")
        rows[-1].update(
            {
                "smape": smape, "mase": mase, "owa": owa(smape, mase), "train_s": seconds, "train_peak_mb": peak,
                "predict_s": predict_seconds, "predict_peak_mb": predict_peak, "epochs": metrics["epochs_run"],
                "val_smape": val_smape, "val_mase": val_mase, "val_owa": owa(val_smape, val_mase),
                "test_smape_metrics_json": metrics["test"]["model"]["smape"],
            }
        )  # fmt: skip
        print(json.dumps(rows[-1]), file=sys.stderr)

    table = pd.DataFrame(rows)
    ensembles = pd.DataFrame(
        [ensemble(work, history, actual, before, [Path(r) for r, _, _ in scored[k : k + args.ensemble]],
                  rows[k : k + args.ensemble]) for k in range(0, len(scored), args.ensemble)]
        if args.ensemble > 1 else []
    )  # fmt: skip
    settings = f" with {' '.join(args.overrides)}" if args.overrides else ""
    series = data["unique_id"].nunique()
    print(f"M4 Hourly: {series} series, horizon {HORIZON}, {len(rows)} seed(s); {args.config}{settings}")
    print()
    print("| method | sMAPE | MASE | OWA |")
    print("|---|---:|---:|---:|")

    def cell(column: str, frame: pd.DataFrame = table) -> str:
        values = frame[column]
        return f"{values.mean():.3f}" + (f" ± {values.std(ddof=1):.3f}" if len(values) > 1 else "")

    print(f"| **forecast** ({args.config.name}) | {cell('smape')} | {cell('mase')} | {cell('owa')} |")
    print(f"| seasonal naive, scored here | {naive[0]:.3f} | {naive[1]:.3f} | {owa(*naive):.3f} |")
    for name, s, m, o in PUBLISHED:
        print(f"| {name} | {s:.3f} | {m:.3f} | {o:.3f} |")
    print()
    print(f"validation (last 48 training rows): sMAPE {cell('val_smape')}, MASE {cell('val_mase')}")
    if table["train_s"].notna().all():
        print(f"train: wall s {cell('train_s')}, epochs {cell('epochs')}, peak RSS MB {cell('train_peak_mb')}")
    print(f"predict (48 hours of 414 series): wall s {cell('predict_s')}, peak RSS MB {cell('predict_peak_mb')}")
    print(f"test sMAPE from metrics.json (the run's own test windows): {cell('test_smape_metrics_json')}")
    if len(ensembles):

        def together(column: str) -> str:  # mean ± std over the ensembles
            return cell(column, ensembles)

        print()
        print(f"{len(ensembles)} ensemble(s) of {args.ensemble} seeds (`forecast predict` with the seeds together):")
        print()
        print("| method | sMAPE | MASE | OWA | val sMAPE | val MASE | val OWA |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        print(f"| **ensemble of {args.ensemble}** | {together('smape')} | {together('mase')} | {together('owa')} | "
              f"{together('val_smape')} | {together('val_mase')} | {together('val_owa')} |")  # fmt: skip
        print(f"| one seed | {cell('smape')} | {cell('mase')} | {cell('owa')} | {cell('val_smape')} | "
              f"{cell('val_mase')} | {cell('val_owa')} |")  # fmt: skip
        print()
        print(f"per ensemble: OWA {', '.join(f'{v:.4f}' for v in ensembles['owa'])}; val OWA "
              f"{', '.join(f'{v:.4f}' for v in ensembles['val_owa'])}; train wall s (members together) "
              f"{together('train_s')}; test predict wall s {together('predict_s')}")  # fmt: skip
    if "msis" in table:
        print()
        print(f"95 % prediction intervals ({method(args)}):")
        print()
        print("| method | MSIS | coverage | ACD |")
        print("|---|---:|---:|---:|")
        print(f"| **forecast** ({args.config.name}) | {cell('msis')} | {cell('coverage')} | {cell('acd')} |")
        print(f"| repeat-last + conformal, scored by forecast | {cell('naive_msis')} | {cell('naive_coverage')} | |")
        for name, m, a in PUBLISHED_INTERVALS:
            print(f"| {name} | {m:.3f} | | {'' if a is None else f'{a:.3f}'} |")
        print()
        print(f"validation: MSIS {cell('val_msis')}, coverage {cell('val_coverage')}; test coverage of the 80 % "
              f"interval {cell('coverage_80')}")  # fmt: skip


def ensemble(work: Path, history: pd.DataFrame, actual: pd.DataFrame, before: pd.Series, runs: list[Path],
             rows: list[dict]) -> dict:  # fmt: skip
    """The runs' ensemble (`forecast predict RUN RUN ...`) scored on the test rows and, forecast from
    the series without their validation rows, on those."""
    trained = all(row["train_s"] is not None for row in rows)  # not when scoring runs trained elsewhere
    scores = {"train_s": sum(row["train_s"] for row in rows) if trained else float("nan")}
    for split, data, truth, known in (("val", "before-val.csv", history[before], history[~before]),
                                      ("test", "history.csv", actual, history)):  # fmt: skip
        seconds, _, _ = child([FORECAST, "predict", *map(str, runs), "--data", str(work / data),
                               "--output", str(work / "e.csv")])  # fmt: skip
        smape, mase = score(known, truth, pd.read_csv(work / "e.csv"))
        prefix = "val_" if split == "val" else ""
        scores.update({f"{prefix}smape": smape, f"{prefix}mase": mase, f"{prefix}owa": owa(smape, mase)})
        scores["predict_s"] = seconds
    print(json.dumps({"ensemble": [str(r) for r in runs], **scores}), file=sys.stderr)
    return scores


def method(args: argparse.Namespace) -> str:
    import forecast

    config = forecast.load_config(args.config, args.overrides)
    return f"intervals.method {config.intervals.method}, levels {config.intervals.levels}"


if __name__ == "__main__":
    main()
