"""The `forecast` command line.

Only the config schema and Typer load at start-up: pandas, scikit-learn and above all TensorFlow
(5-8 s) are imported inside the commands that need them, so `--help` and `validate` are quick.
Exit codes: 0 success, 1 runtime failure, 2 bad config or bad input (one line, no traceback).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from forecast import config as cfg
from forecast.errors import ForecastError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Keras time-series forecasting from one YAML file.",
)
config_app = typer.Typer(no_args_is_help=True, help="Inspect the config schema.")
app.add_typer(config_app, name="config")

ConfigArg = Annotated[Path, typer.Argument(help="YAML config file.", show_default=False)]
RunArg = Annotated[Path, typer.Argument(help="Run directory written by `forecast train`.", show_default=False)]
SetOpt = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="Override a config key, e.g. --set model.layers[0].units=32 (repeatable)."),
]


def say(message: str, quiet: bool = False) -> None:
    """Progress and notes go to stderr, so stdout holds only the result (table, JSON, CSV)."""
    if not quiet:
        print(message, file=sys.stderr, flush=True)


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks on errors.")] = False) -> None:
    """Keras time-series forecasting from one YAML file."""


@app.command()
def train(
    config: ConfigArg,
    set_: SetOpt = None,
    run_dir: Annotated[Optional[Path], typer.Option("--run-dir", help="Write the run here instead of runs/<name>-<time>/.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final table.")] = False,
) -> None:
    """Train the model a config describes and write the run directory."""
    from forecast.model import cudnn_blockers
    from forecast.rundir import Run, write_text
    from forecast.windows import prepare

    conf = cfg.load(config, set_ or ())
    prepared = prepare(conf)  # every data problem surfaces here, before a run directory exists
    for reason in cudnn_blockers(conf.model)[:1]:
        say(f"warning: this model cannot use the cuDNN kernel on a GPU ({reason}); it will train with the slower generic loop")
    run = Run.create(conf.name, run_dir)
    say(f"run directory: {run.path}", quiet)
    write_text(run.config, conf.to_yaml())
    run.save_scalers(prepared.scalers)

    from forecast import report
    from forecast.train import train_run

    verbose = 0 if quiet else (1 if sys.stdout.isatty() else 2)
    results = train_run(conf, prepared, run, verbose)
    print(report.table(results))
    say(f"report: {run.report}", quiet)


@app.command()
def evaluate(
    run_dir: RunArg,
    data: Annotated[Optional[Path], typer.Option("--data", help="Evaluate on this file instead of the run's data.path.")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="val or test (default: both).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the JSON here instead of stdout.")] = None,
) -> None:
    """Reload a run and recompute its metrics (JSON)."""
    from forecast import metrics as m
    from forecast.rundir import Run, write_json
    from forecast.windows import prepare

    if split not in (None, "val", "test"):
        raise ForecastError(f"--split: expected val or test, got {split!r}")
    run = Run.open(run_dir)
    conf = run.load_config()
    prepared = prepare(conf, run.load_scalers(), path=data)
    model = run.load_model()
    results = m.evaluate(prepared, m.predict_splits(model, prepared, (split,) if split else ("val", "test")))
    if output:
        from forecast.report import table

        write_json(output, results)
        print(table(results))
    else:
        print(json.dumps(results, indent=2))


@app.command()
def predict(
    run_dir: RunArg,
    data: Annotated[Path, typer.Option("--data", help="Series to forecast from (the run's columns).", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the CSV here instead of stdout.")] = None,
    all_origins: Annotated[bool, typer.Option("--all-origins", help="Forecast from every origin, not only the last row.")] = False,
) -> None:
    """Forecast the horizon after the end of a series (long-form CSV, original units)."""
    import numpy as np

    from forecast.data import load_series
    from forecast.dataset import predict as predict_windows
    from forecast.metrics import PREDICT_BATCH
    from forecast.report import long_frame
    from forecast.rundir import Run, write_text
    from forecast.windows import WindowSpec

    run = Run.open(run_dir)
    conf = run.load_config()
    scalers = run.load_scalers()
    series = load_series(conf.data, data)
    spec = WindowSpec.from_config(conf.window)
    if len(series) <= spec.history:
        raise ForecastError(f"{data}: {len(series)} rows, fewer than the {spec.history + 1} one window needs")
    origins = np.arange(spec.history, len(series)) if all_origins else np.array([len(series) - 1])
    x, _ = scalers.transform(series)
    scaled = predict_windows(run.load_model(), x, origins, spec, PREDICT_BATCH)
    frame = long_frame(series, spec, origins, scalers.inverse_targets(scaled))
    if output:
        write_text(output, frame.to_csv(index=False))
    else:
        frame.to_csv(sys.stdout, index=False)


@app.command()
def validate(config: ConfigArg, set_: SetOpt = None) -> None:
    """Check a config and its data without training (no TensorFlow import)."""
    from forecast.model import count_parameters, cudnn_blockers
    from forecast.windows import prepare

    conf = cfg.load(config, set_ or ())
    p = prepare(conf)
    s, spec = p.series, p.spec
    train_end, val_end, test_end = p.borders
    blockers = cudnn_blockers(conf.model)
    print(f"config: {config} is valid")
    print(f"data: {conf.data.path}: {len(s)} rows, {len(s.feature_names)} features, {len(s.target_names)} targets ({', '.join(s.target_names)})")
    print(f"split rows: train [0, {train_end}), val [{train_end}, {val_end}), test [{val_end}, {test_end})")
    print("windows: " + ", ".join(f"{k} {len(v)}" for k, v in p.origins.items()))
    print(f"input shape: ({spec.timesteps}, {len(s.feature_names)}) -> output ({spec.horizon}, {len(s.target_names)})")
    print(f"parameters: {count_parameters(conf.model, spec, len(s.feature_names), len(s.target_names)):,}")
    print("cuDNN: " + ("eligible" if not blockers else "not eligible: " + "; ".join(blockers)))


@config_app.command("schema")
def schema() -> None:
    """Print the config's JSON Schema (every key, its type, default and meaning)."""
    print(json.dumps(cfg.Config.model_json_schema(), indent=2))


def main() -> None:
    # Quiet TensorFlow's C++ start-up chatter unless the user asked for it.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    debug = "--debug" in sys.argv[1:]
    try:
        code = app(standalone_mode=False)
    except ForecastError as exc:
        if debug:
            raise
        print(f"forecast: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("forecast: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        if debug:
            raise
        print(f"forecast: error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
