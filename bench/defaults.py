"""Should `model.instance_norm` default to "last"? The default model with none vs last, on four series.

For each dataset the script writes a config that sets only `name`, the `data` section and the
`window` (every model/training key keeps the library's default but model.base, pinned to none as
the recorded figures were trained; Jena also lowers training.epochs, see JENA_EPOCHS), trains it
twice, `--set model.instance_norm=none` and `=last`, through the Python API, and prints a
Markdown table of test MAE (original units) against the naive repeat-last baseline. ETTh1 is the
exception: it trains the repo's configs/etth1.yaml as it is (its own model and training keys)
with instance_norm forced none vs last; `etth1-default` is the same data and window with the
library's default model (base: none).

Datasets (generated CSVs go to a temporary directory, never into the repository):
  etth1          data/ETTh1.csv through configs/etth1.yaml: 7 channels, lookback 96, horizon 24
  etth1-default  data/ETTh1.csv, its split and window from configs/etth1.yaml, default model
  co2            statsmodels co2 (Mauna Loa weekly, 1958-2001), NaNs interpolated, lookback 52, horizon 4
  sunspots       statsmodels sunspots (yearly 1700-2008), lookback 22, horizon 1
  sunspots-h4    the same, horizon 4
  jena           bench.series.jena_like (20,000 synthetic 10-minute rows), target 'T (degC)',
                 lookback 720 step 6 delay 144 horizon 1, training.epochs 5

Small datasets (co2, sunspots*) run `forecast.repeat` over --seeds seeds (seed 42, 43, ...);
the others one seed (--big-seeds). With several seeds the table shows mean ± std, and the winner
is marked "(within noise)" when the difference of the means is below the larger std.

Needs statsmodels for co2 and sunspots: .venv/bin/pip install statsmodels

Usage:
  .venv/bin/python bench/defaults.py [--datasets etth1 co2 ...] (default: all six, about 6 min on 2 cores) [--seeds 3]
      [--big-seeds 1] [--jena-rows 20000] [--jena-epochs 5] [--runs DIR] [--keep]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/defaults.py` from anywhere: bench.series must import
    sys.path.insert(0, str(ROOT))

import forecast  # noqa: E402

MODES = ("none", "last")
JENA_EPOCHS = 5


@dataclass
class Case:
    key: str
    label: str
    config: Path  # the YAML to load; instance_norm is set by override
    rows: int
    window: str
    small: bool  # several seeds
    overrides: list[str] = field(default_factory=list)
    note: str = ""


# ---------------------------------------------------------------- datasets -> configs


def _write_config(
    tmp: Path, name: str, data: dict[str, Any], window: dict[str, Any], extra: dict | None = None
) -> Path:
    # model.base: none, as BENCHMARKS.md's "Defaults" figures were trained (before model.base auto)
    doc: dict[str, Any] = {"name": name, "data": data, "window": window, "model": {"base": "none"}}
    if extra:
        doc.update(extra)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _etth1(tmp: Path) -> Case:
    path = ROOT / "configs" / "etth1.yaml"
    c = forecast.load_config(path)
    return Case(
        "etth1",
        "ETTh1 (configs/etth1.yaml, 7 ch)",
        path,
        c.data.split.test_end or 0,
        f"{c.window.lookback}/{c.window.horizon}",
        small=False,
        note="the repo's config as it is (LSTM 64, 30 epochs, its own callbacks), only instance_norm changed",
    )


def _etth1_default(tmp: Path) -> Case:
    c = forecast.load_config(ROOT / "configs" / "etth1.yaml")
    data = {
        "path": str(ROOT / "data" / "ETTh1.csv"),
        "time_column": "date",
        "split": {"train_end": 8640, "val_end": 11520, "test_end": 14400},
    }
    window = {"lookback": c.window.lookback, "step": 1, "delay": 1, "horizon": c.window.horizon}
    return Case(
        "etth1-default",
        "ETTh1 (default model, 7 ch)",
        _write_config(tmp, "etth1-default", data, window),
        14400,
        f"{window['lookback']}/{window['horizon']}",
        small=False,
        note="configs/etth1.yaml's data and window, every model/training key at the library default",
    )


def _co2(tmp: Path) -> Case:
    from statsmodels.datasets import co2

    frame = co2.load_pandas().data
    frame.index.name = "date"
    frame = frame.reset_index()
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    csv = tmp / "co2.csv"
    frame.to_csv(csv, index=False)
    data = {"path": str(csv), "time_column": "date", "fill": "interpolate"}
    window = {"lookback": 52, "horizon": 4}
    return Case(
        "co2",
        "CO2 Mauna Loa (weekly)",
        _write_config(tmp, "co2", data, window),
        len(frame),
        "52/4",
        small=True,
        note=f"{int(frame['co2'].isna().sum())} missing weeks interpolated; split 0.7/0.1/0.2 (default)",
    )


def _sunspots_csv(tmp: Path) -> tuple[Path, int]:
    from statsmodels.datasets import sunspots

    frame = sunspots.load_pandas().data
    years = frame.pop("YEAR").astype(int)
    frame.insert(0, "date", [f"{y:04d}-12-31" for y in years])
    csv = tmp / "sunspots.csv"
    if not csv.exists():
        frame.to_csv(csv, index=False)
    return csv, len(frame)


def _sunspots(tmp: Path, horizon: int) -> Case:
    csv, rows = _sunspots_csv(tmp)
    data = {"path": str(csv), "time_column": "date"}
    window = {"lookback": 22, "horizon": horizon}
    name = "sunspots" if horizon == 1 else f"sunspots-h{horizon}"
    return Case(
        name,
        "Sunspots (yearly)",
        _write_config(tmp, name, data, window),
        rows,
        f"22/{horizon}",
        small=True,
        note="YEAR 1700.0 -> 1700-12-31; split 0.7/0.1/0.2 (default)",
    )


def _jena(tmp: Path, rows: int, epochs: int) -> Case:
    from bench.series import TIME_FORMAT, jena_like

    frame = jena_like(rows, seed=0)
    csv = tmp / "jena_like.csv"
    frame.to_csv(csv, index=False)
    data = {"path": str(csv), "time_column": "Date Time", "time_format": TIME_FORMAT, "targets": ["T (degC)"]}
    window = {"lookback": 720, "step": 6, "delay": 144, "horizon": 1}
    return Case(
        "jena",
        "Jena-like (synthetic, 10 min)",
        _write_config(tmp, "jena", data, window, {"training": {"epochs": epochs}}),
        rows,
        "720 step 6/delay 144, h1",
        small=False,
        note=f"bench.series.jena_like(seed=0), 14 inputs -> T (degC); training.epochs={epochs} (default 20); "
        "split 0.7/0.1/0.2 (default)",
    )


# ---------------------------------------------------------------- training


@dataclass
class Result:
    mae: float
    mae_std: float
    naive: float
    val_mae: float
    scaled_mse: float
    epochs: str
    seeds: int
    seconds: float


def _run(case: Case, mode: str, seeds: int, runs: Path) -> Result:
    config = forecast.load_config(case.config, [*case.overrides, f"model.instance_norm={mode}"])
    run_dir = runs / f"{case.key}-{mode}"
    start = time.perf_counter()
    if seeds == 1:
        m = forecast.train(config, run_dir=run_dir).metrics
        return Result(
            m.test.model.mae,
            0.0,
            m.test.naive.mae,
            m.val.model.mae,
            m.get("test.scaled.model.mse"),
            str(m.training.epochs_run),
            1,
            time.perf_counter() - start,
        )
    rep = forecast.repeat(config, seeds, run_dir=run_dir)
    s = rep.summary
    epochs = [r.metrics.training.epochs_run for r in rep.runs]
    return Result(
        s["test"]["model"]["mae"]["mean"],
        s["test"]["model"]["mae"]["std"],
        s["test"]["naive"]["mae"]["mean"],
        s["val"]["model"]["mae"]["mean"],
        s["test"]["scaled"]["model"]["mse"]["mean"],
        ",".join(map(str, epochs)),
        seeds,
        time.perf_counter() - start,
    )


def _fmt(r: Result) -> str:
    return f"{r.mae:.3f} ± {r.mae_std:.3f}" if r.seeds > 1 else f"{r.mae:.3f}"


def _winner(none: Result, last: Result) -> str:
    diff = none.mae - last.mae
    best = "last" if diff > 0 else "none"
    rel = abs(diff) / max(none.mae, last.mae)
    text = f"{best} (−{rel:.0%})"
    if max(none.seeds, last.seeds) > 1 and abs(diff) < max(none.mae_std, last.mae_std):
        text += " (within noise)"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    choices = ["etth1", "etth1-default", "co2", "sunspots", "sunspots-h4", "jena"]
    parser.add_argument("--datasets", nargs="+", choices=choices, default=choices)
    parser.add_argument("--seeds", type=int, default=3, help="seeds for co2 and sunspots (forecast.repeat)")
    parser.add_argument("--big-seeds", type=int, default=1, help="seeds for etth1 and jena")
    parser.add_argument("--jena-rows", type=int, default=20_000)
    parser.add_argument("--jena-epochs", type=int, default=JENA_EPOCHS)
    parser.add_argument("--runs", type=Path, default=None, help="keep run directories here (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (configs, CSVs, runs)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="forecast-defaults-"))
    runs = args.runs or tmp / "runs"
    logging.getLogger("forecast").setLevel(logging.WARNING)
    start_all = time.perf_counter()
    makers = {
        "etth1": lambda: _etth1(tmp),
        "etth1-default": lambda: _etth1_default(tmp),
        "co2": lambda: _co2(tmp),
        "sunspots": lambda: _sunspots(tmp, 1),
        "sunspots-h4": lambda: _sunspots(tmp, 4),
        "jena": lambda: _jena(tmp, args.jena_rows, args.jena_epochs),
    }
    table = []
    try:
        for key in args.datasets:
            case = makers[key]()
            seeds = args.seeds if case.small else args.big_seeds
            results = {}
            for mode in MODES:
                r = _run(case, mode, seeds, runs)
                results[mode] = r
                print(
                    f"{case.key} instance_norm={mode}: test MAE {_fmt(r)} (naive {r.naive:.3f}), val MAE "
                    f"{r.val_mae:.3f}, test scaled MSE {r.scaled_mse:.4f}, epochs {r.epochs}, {r.seconds:.0f} s",
                    flush=True,
                )
            table.append((case, results))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")

    print("\n| dataset | rows | lookback/horizon | seeds | test MAE none | test MAE last | naive MAE | winner |")
    print("|---|---:|---|---:|---:|---:|---:|---|")
    for case, r in table:
        none, last = r["none"], r["last"]
        print(
            f"| {case.label} | {case.rows:,} | {case.window} | {none.seeds} | {_fmt(none)} | {_fmt(last)} "
            f"| {none.naive:.3f} | {_winner(none, last)} |"
        )
    print("\nTest MAE in the target's original units, averaged over test windows, horizon steps and targets.")
    print("Winner: lower mean test MAE, with its relative improvement over the other.")
    for case, r in table:
        print(f"- {case.key}: {case.note}; epochs run none [{r['none'].epochs}], last [{r['last'].epochs}]")
    print(f"\nwall time {time.perf_counter() - start_all:.0f} s")


if __name__ == "__main__":
    main()
