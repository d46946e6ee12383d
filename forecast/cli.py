"""The `forecast` command line: parsing and printing over `forecast.api`, nothing else.

Only the config schema and Typer load at start-up: pandas, scikit-learn and above all TensorFlow
(5-8 s) are imported inside the API functions that need them, so `--help` and `validate` are quick.
Exit codes: 0 success, 1 runtime failure, 2 bad config or bad input (one line, no traceback).
Results go to stdout; progress, notes and warnings (the "forecast" logger) to stderr.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
from pathlib import Path

import typer

from forecast import api
from forecast import cli_options as o  # the typed arguments and options
from forecast.ensemble import members
from forecast.errors import Error, ForecastError, path_error
from forecast.gates import check
from forecast.m4 import convert

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Keras time-series forecasting from one YAML file.",
)
config_app = typer.Typer(no_args_is_help=True, help="Inspect the config schema.")
app.add_typer(config_app, name="config")
data_app = typer.Typer(no_args_is_help=True, help="Fetch public datasets.")
app.add_typer(data_app, name="data")

_debug = False
MAX_ERROR = 300  # characters of an error line: messages echo input, never all of it
log = logging.getLogger("forecast")


def command(fn=None, *, name: str | None = None, on=app):
    """Register a command whose failures print one line and exit with the error's code.

    Our own errors (`forecast.errors.Error`) carry their exit code and a message written for the
    user; anything else is a bug or an environment failure (exit 1). Usage errors (unknown
    option, missing argument) are Typer's: exit 2 with its message.
    """
    if fn is None:
        return lambda f: command(f, name=name, on=on)

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            print("forecast: interrupted", file=sys.stderr)
            raise typer.Exit(130) from None
        except Exception as exc:
            if _debug:
                raise
            if isinstance(exc, OSError) and exc.filename is not None:  # a file that cannot be read or written
                exc = path_error(exc)
            ours = isinstance(exc, Error)
            message = str(exc) if ours else f"{type(exc).__name__}: {exc} (run with --debug for the traceback)"
            message = " ".join(message.split())  # one line, however the message was built
            message = message if len(message) <= MAX_ERROR else message[: MAX_ERROR - 3] + "..."
            print(f"forecast: error: {message}", file=sys.stderr)
            raise typer.Exit(exc.exit_code if ours else 1) from None

    return on.command(name)(run)


def _logging(quiet: bool) -> None:
    """The "forecast" logger on stderr: notes unless --quiet, warnings always."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False


def _verbose(quiet: bool) -> int:
    return 0 if quiet else (1 if sys.stderr.isatty() else 2)  # Keras progress goes to stderr


@app.callback()
def _options(debug: o.DebugOpt = False) -> None:
    """Keras time-series forecasting from one YAML file."""
    global _debug
    _debug = debug
    if debug:  # TensorFlow's own start-up lines too (forecast.startup silences them otherwise)
        os.environ["FORECAST_DEBUG"] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    _logging(quiet=False)


@command
def train(
    config: o.OptionalConfigArg = None,
    set_: o.SetOpt = None,
    run_dir: o.RunDirOpt = None,
    resume: o.ResumeOpt = None,
    repeats: o.RepeatsOpt = 1,
    quiet: o.QuietOpt = False,
) -> None:
    """Train the model a config describes and write the run directory."""
    from forecast.report import repeats_text, table  # deferred: report loads pandas, which --help never needs

    _logging(quiet)
    if resume is not None:
        if config is not None or set_ or run_dir is not None or repeats > 1:
            raise ForecastError("--resume continues a run with its own config.yaml: give no CONFIG, --set or --run-dir")
        run = api.resume(resume, _verbose(quiet))
    elif config is None:
        raise ForecastError("train: give a CONFIG file, or --resume RUN_DIR")
    elif repeats > 1:
        print(repeats_text(api.repeat(api.load_config(config, set_ or ()), repeats, run_dir, _verbose(quiet))))
        return
    else:
        run = api.train(api.load_config(config, set_ or ()), run_dir, _verbose(quiet))
    print(table(run.metrics))
    log.info(f"report: {run.report_file}")


@command
def evaluate(
    run_dir: o.RunArg,
    data: o.DataOpt = None,
    split: o.SplitOpt = None,
    output: o.OutputOpt = None,
    require: o.RequireOpt = None,
) -> None:
    """Reload a run and recompute its metrics (JSON)."""
    from forecast.outputs import STDOUT, check_output, write_output  # deferred: loads pandas and pyarrow
    from forecast.report import table  # deferred: report loads pandas, which --help never needs

    check_output(output)
    metrics = api.evaluate(run_dir, data, split)
    write_output(output or STDOUT, json.dumps(metrics.to_dict(), indent=2) + "\n")
    if output and output != STDOUT:
        print(table(metrics))
    for line in check(metrics, require or []):
        log.info(f"requirement met: {line}")


@command
def export(run_dir: o.RunArg, format: o.ExportFormatOpt = "saved_model", output: o.ExportOutputOpt = ...) -> None:
    """Export a run as a SavedModel or ONNX file that serves without forecast (scalers inside)."""
    signature = api.export(run_dir, format, output)
    print(json.dumps({"output": str(output), **{k: signature[k] for k in ("format", "inputs", "outputs")}}, indent=2))


@command
def predict(
    run_dir: o.EnsembleArg,
    data: o.SeriesOpt = None,
    output: o.PredictionsOpt = None,
    all_origins: o.OriginsOpt = False,
    layout: o.LayoutOpt = "long",
    shard: o.PredictShardOpt = None,
    template: o.TemplateOpt = None,
    plot: o.PlotOpt = None,
    series: o.PlotSeriesOpt = None,
) -> None:
    """Forecast the horizon after the end of a series (original units; CSV, Parquet or NumPy)."""
    from forecast.outputs import STDOUT, check_output, output_format  # deferred: loads pandas and pyarrow
    from forecast.shards import is_part  # deferred: loads pandas

    if template is not None:
        given = {
            "--output": output,
            "--all-origins": all_origins,
            "--format": layout != "long",
            "--shard": shard,
            "--plot": plot,
            "--series": series,
        }
        conflicting = [name for name, value in given.items() if value]
        if conflicting:
            raise ForecastError(f"--template writes rows to fill in, not forecasts: give it without {conflicting[0]}")
        check_output(template, "--template")
        api.template(run_dir, data, template)
        return
    part = _predict_shard(run_dir, shard, output)
    if output is not None and "{shard}" in str(output):
        output = Path(str(output).replace("{shard}", str(part[0] if part else 0)))
    elif is_part(part) and output is not None and output != STDOUT:
        raise ForecastError(f"--output {output}: with --shard give each shard its file, e.g. preds-{{shard}}.parquet")
    check_output(output)
    output_format(output, layout)  # an unknown extension fails here, before TensorFlow loads
    if series and plot is None:
        raise ForecastError("--series chooses the series --plot draws: give --plot FILE.png too")
    if plot is not None:  # drawn first: an unknown --series id fails before any output is written
        if plot.suffix.lower() != ".png":
            raise ForecastError(f"--plot: {plot}: give a file name ending in .png")
        check_output(plot, "--plot")
    api.write_predictions(run_dir, output or STDOUT, data, all_origins, layout, part, plot, series)
    if plot is not None:
        log.info(f"plot: {plot}")


def _predict_shard(runs: list[Path], shard: str | None, output: Path | None) -> tuple[int, int] | None:
    """--shard I/N; else, for a panel run whose --output holds {shard}, Slurm's array variables
    (a plain predict inside an array job forecasts everything, as it would outside one)."""
    from forecast.shards import is_part, shard_of  # deferred: loads pandas

    if shard is not None:
        return shard_of(shard)
    if output is None or "{shard}" not in str(output):
        return None
    part = shard_of(None) if members(runs)[0].config.data.id_column is not None else None
    if is_part(part):
        log.info(f"shard {part[0]}/{part[1]} from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT")
    return part


@command
def validate(config: o.ConfigArg, set_: o.SetOpt = None) -> None:
    """Check a config and its data without training (no TensorFlow import)."""
    from forecast.report import validation_text  # deferred: report loads pandas, which --help never needs

    print(validation_text(api.validate(api.load_config(config, set_ or ())), config))


@command
def summary(config: o.ConfigArg, set_: o.SetOpt = None) -> None:
    """Print the Keras model summary: layers, output shapes and parameters per layer."""
    from forecast.report import layers_text  # deferred: report loads pandas, which --help never needs

    conf = api.Run.open(config).model_config if config.is_dir() else api.load_config(config, set_ or ())
    print(layers_text(api.build_model(conf)))
    print(f"closed-form count (forecast validate): {api.validate(api.shape_only(conf)).parameters:,}")


@command
def backtest(
    source: o.SourceArg,
    set_: o.SetOpt = None,
    folds: o.FoldsOpt = 3,
    refit: o.RefitOpt = False,
    output: o.OutputOpt = None,
    quiet: o.QuietOpt = False,
) -> None:
    """Rolling-origin evaluation over K consecutive test folds, model vs naive."""
    from forecast.outputs import STDOUT, check_output, write_output  # deferred: loads pandas and pyarrow

    _logging(quiet)
    if output == STDOUT:
        raise ForecastError("--output: backtest writes a JSON file and a plot beside it; give a file name, not -")
    check_output(output)
    if source.is_dir() and set_:
        raise ForecastError("--set changes a config; a run directory is scored with its own config.yaml")
    target = source if source.is_dir() else api.load_config(source, set_ or ())
    result = api.backtest(target, folds, refit, output.with_suffix("") if output else None, 0 if quiet else 2)
    print(result.table())
    if output:
        write_output(output, json.dumps(result.to_dict(), indent=2) + "\n")
        result.plot(output.with_suffix(".png"))
        log.info(f"backtest: {output}")


@command
def sweep(
    config: o.ConfigArg,
    grid: o.GridOpt,
    set_: o.SetOpt = None,
    random_draws: o.RandomOpt = None,
    shard: o.ShardOpt = None,
    sweep_dir: o.SweepDirOpt = None,
    metric: o.MetricOpt = "val.model.mae",
    restart: o.RestartOpt = False,
    quiet: o.QuietOpt = False,
) -> None:
    """Run a grid of configs as ordinary run directories; resumable, shardable; writes a leaderboard."""
    _logging(quiet)
    board = api.sweep(config, grid, sweep_dir, random_draws, shard, metric, set_ or (), restart)
    print(board.markdown.rstrip())
    log.info(f"leaderboard: {board.directory / 'leaderboard.md'} ({len(board.rows)} completed)")


@command
def tune(
    config: o.OptionalConfigArg = None,
    space: o.SpaceOpt = None,
    trials: o.TrialsOpt = 20,
    study: o.StudyOpt = None,
    storage: o.StorageOpt = None,
    sweep_dir: o.TuneDirOpt = None,
    metric: o.TuneMetricOpt = "val.model.mae",
    timeout: o.TimeoutOpt = None,
    sampler: o.SamplerOpt = "tpe",
    pruner: o.PrunerOpt = "median",
    jobs: o.JobsOpt = 1,
    set_: o.SetOpt = None,
    best: o.BestOpt = None,
    restart: o.RestartOpt = False,
    quiet: o.QuietOpt = False,
) -> None:
    """Search hyperparameters with Optuna (pruning, shared study); every trial is a run directory."""
    _logging(quiet)
    if best is not None:
        if config is not None or space is not None:
            raise ForecastError("--best reads a tuning directory: give no CONFIG or --space")
        print(api.best_config(best, storage).rstrip())
        log.info(f"written to {best / 'best.yaml'}")
        return
    if config is None or space is None:
        raise ForecastError("tune: give a CONFIG file and --space SPACE.yaml (or --best SWEEP_DIR)")
    board = api.tune(
        config,
        space,
        trials,
        sweep_dir=sweep_dir,
        study=study,
        storage=storage,
        metric=metric,
        timeout=timeout,
        sampler=sampler,
        pruner=pruner,
        jobs=jobs,
        overrides=set_ or (),
        restart=restart,
    )
    print(board.markdown.rstrip())
    log.info(f"leaderboard: {board.directory / 'leaderboard.md'}")


@command
def leaderboard(sweep_dir: o.SweepDirArg, metric: o.OptionalMetricOpt = None, storage: o.StorageOpt = None) -> None:
    """Rebuild leaderboard.csv/.md of a sweep directory, or of a tuned study (every trial's state)."""
    print(api.leaderboard(sweep_dir, metric, storage).markdown.rstrip())


@command
def compare(runs: o.RunsArg) -> None:
    """Print the runs' metrics side by side, with each run's change against the first."""
    print(api.compare(runs))


@command(name="download", on=data_app)
def data_download(
    name: o.DatasetArg,
    dest: o.DestOpt = Path("data"),
    url: o.UrlOpt = None,
    sha256: o.Sha256Opt = None,
    size: o.SizeOpt = None,
) -> None:
    """Download and unpack a dataset (checked, atomic, never overwriting a different file)."""
    path, what = api.download(name, dest, url=url, sha256=sha256, size=size)
    print(f"{path}: {what}")


@command(name="m4", on=data_app)
def data_m4(frequency: o.FrequencyArg, source: o.SourceOpt = None, dest: o.DestOpt = Path("data")) -> None:
    """Convert the M4 competition's wide train/test CSVs into one long CSV (unique_id, t, y)."""
    path, what = convert(frequency, source, dest)
    print(f"{path}: {what}")


@command(name="schema", on=config_app)
def schema() -> None:
    """Print the config's JSON Schema (every key, its type, default and meaning)."""
    print(json.dumps(api.cfg.Config.model_json_schema(), indent=2))


class Terminated(BaseException):
    """SIGTERM outside training (which stops cleanly between batches instead). A BaseException, like
    KeyboardInterrupt, so no `except Exception` swallows it and every `finally` on the way out runs:
    a write in progress removes its temporary, a lock is let go."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main() -> None:
    # Quiet TensorFlow's C++ start-up chatter unless the user asked for it.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    signal.signal(signal.SIGTERM, _terminate)  # training's own handler takes over while it runs
    try:
        app()
    except Terminated:
        print("forecast: terminated", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)
