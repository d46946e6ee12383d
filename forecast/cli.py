"""The `forecast` command line.

Only the config schema and Typer load at start-up: pandas, scikit-learn and above all TensorFlow
(5-8 s) are imported inside the commands that need them, so `--help` and `validate` are quick.
Exit codes: 0 success, 1 runtime failure, 2 bad config or bad input (one line, no traceback).
"""

from __future__ import annotations

import functools
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
data_app = typer.Typer(no_args_is_help=True, help="Fetch public datasets.")
app.add_typer(data_app, name="data")

ConfigArg = Annotated[Path, typer.Argument(help="YAML config file.", show_default=False)]
RunArg = Annotated[Path, typer.Argument(help="Run directory written by `forecast train`.", show_default=False)]
SetOpt = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="Override a config key, e.g. --set model.layers[0].units=32 (repeatable)."),
]


_debug = False


def command(fn=None, *, name: str | None = None, on=app):
    """Register a command whose failures print one line and exit with the error's code.

    Our own errors carry their exit code (bad input 2, divergence 1, signals 128+n) and a
    message written for the user; anything else is a bug or an environment failure (exit 1).
    Usage errors (unknown option, missing argument) are Typer's: exit 2 with its message.
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
            ours = hasattr(exc, "exit_code")
            message = str(exc) if ours else f"{type(exc).__name__}: {exc} (run with --debug for the traceback)"
            print(f"forecast: error: {message}", file=sys.stderr)
            raise typer.Exit(getattr(exc, "exit_code", 1)) from None

    return on.command(name)(run)


def say(message: str, quiet: bool = False) -> None:
    """Progress and notes go to stderr, so stdout holds only the result (table, JSON, CSV)."""
    if not quiet:
        print(message, file=sys.stderr, flush=True)


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks on errors.")] = False) -> None:
    """Keras time-series forecasting from one YAML file."""
    global _debug
    _debug = debug


@command
def train(
    config: Annotated[Optional[Path], typer.Argument(help="YAML config file.", show_default=False)] = None,
    set_: SetOpt = None,
    run_dir: Annotated[Optional[Path], typer.Option("--run-dir", help="Write the run here instead of runs/<name>-<time>/.")] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue an interrupted run from its last completed epoch.")] = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Train with seeds seed, seed+1, ... and report mean ± std.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final table.")] = False,
) -> None:
    """Train the model a config describes and write the run directory."""
    from forecast.model import cudnn_blockers, target_index
    from forecast.rundir import Run, write_text
    from forecast.windows import prepare

    if resume is not None:
        if config is not None or set_ or run_dir is not None or repeats > 1:
            raise ForecastError("--resume continues a run with its own config.yaml: give no CONFIG, --set or --run-dir")
        run = Run.open(resume, trained=False)
        if run.status == "completed":
            raise ForecastError(f"--resume: {resume} is completed; there is nothing to resume")
        conf = run.load_config()
        prepared = prepare(conf, run.load_scalers(conf))
    else:
        if config is None:
            raise ForecastError("train: give a CONFIG file, or --resume RUN_DIR")
        conf = cfg.load(config, set_ or ())
        prepared = prepare(conf)  # every data problem surfaces here, before a run directory exists
        target_index(conf.model, prepared.series.feature_names, prepared.series.target_names)
        from forecast.tracking import check_available

        check_available(conf)
    for reason in cudnn_blockers(conf.model)[:1]:
        say(f"warning: this model cannot use the cuDNN kernel on a GPU ({reason}); it will train with the slower generic loop")
    say(f"data: {conf.data.path}", quiet)
    for note in prepared.series.notes:
        say(f"data: {note}", quiet)
    if resume is None:
        run = Run.create(conf.name, run_dir)
    say(f"run directory: {run.path}", quiet)

    from forecast import report
    from forecast.train import train_run

    verbose = 0 if quiet else (1 if sys.stdout.isatty() else 2)
    if repeats == 1:
        if resume is None:
            write_text(run.config, conf.to_yaml())
            run.save_scalers(prepared.scalers)
        results = train_run(conf, prepared, run, verbose)
        print(report.table(results))
        say(f"report: {run.report}", quiet)
        return
    _repeat(conf, prepared, run, repeats, verbose, quiet)


def _repeat(conf: cfg.Config, prepared, parent, repeats: int, verbose: int, quiet: bool) -> None:
    """One ordinary run per seed under `parent`, then repeats.json: mean and std of every metric."""
    from forecast import metrics as m
    from forecast import report
    from forecast.rundir import Run, write_json, write_text
    from forecast.train import train_run

    results = []
    for seed in range(conf.seed, conf.seed + repeats):
        seeded = conf.model_copy(update={"seed": seed})
        run = Run.create(conf.name, parent.path / f"seed-{seed}")
        write_text(run.config, seeded.to_yaml())
        run.save_scalers(prepared.scalers)
        say(f"seed {seed}: {run.path}", quiet)
        results.append(train_run(seeded, prepared, run, verbose))
    summary = m.aggregate(results)
    write_json(parent.path / "repeats.json", {"seeds": list(range(conf.seed, conf.seed + repeats)), **summary})
    print(f"mean of {repeats} seeds ({conf.seed}..{conf.seed + repeats - 1}):")
    print(report.table(m.means(summary)))
    for split in ("val", "test"):
        mae = summary[split]["model"]["mae"]
        print(f"{split} model MAE {mae['mean']:.4f} ± {mae['std']:.4f}; scaled MSE "
              f"{summary[split]['scaled']['model']['mse']['mean']:.4f} ± {summary[split]['scaled']['model']['mse']['std']:.4f}")


def _shapes(spec, series) -> tuple[tuple[int | None, int], tuple[int, int]]:
    """The (timesteps, features) -> (horizon, targets) a run's model must have."""
    timesteps = None if spec.variable_length else spec.timesteps
    return (timesteps, len(series.feature_names)), (spec.horizon, len(series.target_names))


@command
def evaluate(
    run_dir: RunArg,
    data: Annotated[Optional[Path], typer.Option("--data", help="Evaluate on this file instead of the run's data.path.")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="val or test (default: both).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the JSON here instead of stdout.")] = None,
    require: Annotated[
        Optional[list[str]],
        typer.Option("--require", help="Gate: 'test.model.mae<=0.5', 'val.scaled.model.mse<0.45' or beats-naive; exit 1 if unmet (repeatable)."),
    ] = None,
) -> None:
    """Reload a run and recompute its metrics (JSON)."""
    from forecast import metrics as m
    from forecast.rundir import Run, write_json
    from forecast.windows import prepare

    if split not in (None, "val", "test"):
        raise ForecastError(f"--split: expected val or test, got {split!r}")
    run = Run.open(run_dir)
    conf = run.load_config()
    prepared = prepare(conf, run.load_scalers(conf), path=data)
    model = run.load_model(*_shapes(prepared.spec, prepared.series))
    results = m.evaluate(prepared, m.predict_splits(model, prepared, (split,) if split else ("val", "test")))
    if output:
        from forecast.report import table

        write_json(output, results)
        print(table(results))
    else:
        print(json.dumps(results, indent=2))
    if require:
        from forecast.gates import check

        for line in check(results, require):
            say(f"requirement met: {line}")


@command
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
    scalers = run.load_scalers(conf)
    series = load_series(conf.data, data)
    spec = WindowSpec.from_config(conf.window)
    if len(series) <= (0 if spec.variable_length and not all_origins else spec.history):
        raise ForecastError(f"{data}: {len(series)} rows, fewer than the {spec.history + 1} one window needs")
    origins = np.arange(spec.history, len(series)) if all_origins else np.array([len(series) - 1])
    x, _ = scalers.transform(series)
    model = run.load_model(*_shapes(spec, series))
    if spec.variable_length and not all_origins:
        # a variable-length model forecasts from all the history it is given, sampled every step
        history = x[(len(x) - 1) % spec.step :: spec.step]
        scaled = np.asarray(model.predict(history[None], verbose=0))
    else:
        scaled = predict_windows(model, x, origins, spec, PREDICT_BATCH)
    frame = long_frame(series, spec, origins, scalers.inverse_targets(scaled))
    if output:
        write_text(output, frame.to_csv(index=False))
    else:
        frame.to_csv(sys.stdout, index=False)


@command
def validate(config: ConfigArg, set_: SetOpt = None) -> None:
    """Check a config and its data without training (no TensorFlow import)."""
    from forecast.model import count_parameters, cudnn_blockers, target_index
    from forecast.windows import prepare

    conf = cfg.load(config, set_ or ())
    p = prepare(conf)
    s, spec = p.series, p.spec
    target_index(conf.model, s.feature_names, s.target_names)
    train_end, val_end, test_end = p.borders
    blockers = cudnn_blockers(conf.model)
    print(f"config: {config} is valid")
    for note in s.notes:
        print(f"data: {note}")
    print(f"data: {conf.data.path}: {len(s)} rows, {len(s.feature_names)} features, {len(s.target_names)} targets ({', '.join(s.target_names)})")
    print(f"split rows: train [0, {train_end}), val [{train_end}, {val_end}), test [{val_end}, {test_end})")
    print("windows: " + ", ".join(f"{k} {len(v)}" for k, v in p.origins.items()))
    print(f"input shape: ({spec.timesteps}, {len(s.feature_names)}) -> output ({spec.horizon}, {len(s.target_names)})")
    print(f"parameters: {count_parameters(conf.model, spec, len(s.feature_names), len(s.target_names)):,}")
    print("cuDNN: " + ("eligible" if not blockers else "not eligible: " + "; ".join(blockers)))


@command
def summary(config: ConfigArg, set_: SetOpt = None) -> None:
    """Print the Keras model summary: layers, output shapes and parameters per layer."""
    from forecast.model import build, count_parameters, target_index
    from forecast.windows import prepare

    conf = cfg.load(config, set_ or ())
    p = prepare(conf)
    s = p.series
    model = build(conf.model, p.spec, len(s.feature_names), target_index(conf.model, s.feature_names, s.target_names))
    # a plain table: Keras's rich summary is cropped to 80 columns when stdout is a log, not a terminal
    print(f"{'layer':<28}{'type':<20}{'output shape':<24}{'parameters':>12}")
    import keras

    for layer in model.layers:
        try:
            shape = str(keras.tree.map_structure(lambda t: tuple(t.shape), layer.output))
        except (AttributeError, ValueError):  # a layer called more than once (shared decoder cells)
            shape = "(shared)"
        print(f"{layer.name:<28}{type(layer).__name__:<20}{shape[:23]:<24}{layer.count_params():>12,}")
    print(f"total: {model.count_params():,} parameters")
    print(f"closed-form count (forecast validate): {count_parameters(conf.model, p.spec, len(s.feature_names), len(s.target_names)):,}")


@command
def backtest(
    source: Annotated[Path, typer.Argument(help="A run directory, or a config to train first.", show_default=False)],
    folds: Annotated[int, typer.Option("--folds", min=1, help="Consecutive test folds.")] = 3,
    refit: Annotated[bool, typer.Option("--refit", help="Train a model per fold on all rows before it (expanding window).")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the JSON here (and a .png plot beside it).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the table.")] = False,
) -> None:
    """Rolling-origin evaluation over K consecutive test folds, model vs naive."""
    from forecast import backtest as bt
    from forecast import metrics as m
    from forecast.data import load_series
    from forecast.rundir import Run, write_json, write_text
    from forecast.windows import WindowSpec, arrange, split_origins

    run = Run.open(source) if source.is_dir() else None
    conf = run.load_config() if run else cfg.load(source)
    series = load_series(conf.data)
    spec = WindowSpec.from_config(conf.window)
    plan = bt.fold_borders(conf, len(series), folds)
    for train_end, val_end, _, end in plan:  # every fold has its windows before anything trains
        split_origins(spec, (train_end, val_end, end))
    root = output.with_suffix("") if output else Path("runs") / f"{conf.name}-backtest"

    def trained(config: cfg.Config, name: str) -> Run:
        from forecast.train import train_run

        new = Run.create(config.name, root / name)
        prepared = arrange(series, config)
        write_text(new.config, config.to_yaml())
        new.save_scalers(prepared.scalers)
        say(f"training {new.path}", quiet)
        train_run(config, prepared, new, 0 if quiet else 2)
        return new

    if run is None and not refit:
        run = trained(conf, "model")
    results = []
    for k, (train_end, val_end, start, end) in enumerate(plan, 1):
        fold_conf = bt.with_split(conf, train_end, val_end, end)
        fold_run = trained(fold_conf, f"fold-{k}") if refit else run
        prepared = arrange(series, fold_conf, fold_run.load_scalers(fold_conf))
        model = fold_run.load_model(*_shapes(prepared.spec, prepared.series))
        scores = m.evaluate(prepared, m.predict_splits(model, prepared, ("test",)))["test"]
        results.append({"fold": k, "rows": [start, end], "windows": scores["windows"], "model": scores["model"],
                        "naive": scores["naive"], "scaled": scores["scaled"]})
    summary = bt.summarize(results)
    print(bt.table(results, summary))
    if output:
        write_json(output, {"refit": refit, "folds": results, **summary})
        bt.plot(output.with_suffix(".png"), results)
        say(f"backtest: {output}", quiet)


@command
def sweep(
    config: ConfigArg,
    grid: Annotated[Path, typer.Option("--grid", help="YAML mapping dotted keys to lists of values.", show_default=False)],
    random_draws: Annotated[Optional[int], typer.Option("--random", min=1, help="Run N random draws of the grid instead of all of it.")] = None,
    shard: Annotated[Optional[str], typer.Option("--shard", help="Run shard I/N of the trials (default: from SLURM_ARRAY_TASK_ID/COUNT).")] = None,
    sweep_dir: Annotated[Optional[Path], typer.Option("--sweep-dir", help="Default: sweeps/<name>-<time>; shards share one.")] = None,
    metric: Annotated[str, typer.Option("--metric", help="Rank by this metrics.json path (lower is better).")] = "val.model.mae",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the leaderboard.")] = False,
) -> None:
    """Run a grid of configs as ordinary run directories; resumable, shardable; writes a leaderboard."""
    from datetime import datetime

    from forecast import sweep as sw
    from forecast.rundir import Run, write_text
    from forecast.windows import prepare

    base = cfg.load(config)
    planned = sw.trials(sw.read_grid(grid), random_draws, base.seed)
    index, count = sw.shard_of(shard)
    configs = [cfg.load(config, sw.overrides(t)) for t in planned]  # every trial validates before any trains
    sweep_dir = sweep_dir or Path("sweeps") / f"{base.name}-{datetime.now():%Y%m%d-%H%M%S}"
    sweep_dir.mkdir(parents=True, exist_ok=True)
    sw.record(sweep_dir, config, planned)
    mine = [i for i in range(len(planned)) if i % count == index]
    say(f"sweep {sweep_dir}: {len(planned)} trials, shard {index}/{count} runs {len(mine)}", quiet)

    import keras

    from forecast.train import train_run

    for done, i in enumerate(mine, 1):
        run = Run(sweep_dir / f"trial-{i:03d}")
        label = " ".join(sw.overrides(planned[i]))
        if run.status == "completed":
            say(f"[{done}/{len(mine)}] trial-{i:03d} already completed: {label}", quiet)
            continue
        if run.path.exists():  # a trial killed part-way starts over
            import shutil

            shutil.rmtree(run.path)
        run.path.mkdir(parents=True)
        trial_conf = configs[i]
        prepared = prepare(trial_conf)
        write_text(run.config, trial_conf.to_yaml())
        run.save_scalers(prepared.scalers)
        say(f"[{done}/{len(mine)}] trial-{i:03d}: {label}", quiet)
        results = train_run(trial_conf, prepared, run, 0)
        say(f"[{done}/{len(mine)}] trial-{i:03d}: val MAE {results['val']['model']['mae']:.4f}, test MAE {results['test']['model']['mae']:.4f}", quiet)
        keras.backend.clear_session()
    rows = sw.leaderboard(sweep_dir, metric)
    print((sweep_dir / "leaderboard.md").read_text().rstrip())
    say(f"leaderboard: {sweep_dir / 'leaderboard.md'} ({len(rows)} completed)", quiet)


@command
def leaderboard(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep directory (shards merged).", show_default=False)],
    metric: Annotated[str, typer.Option("--metric", help="Rank by this metrics.json path (lower is better).")] = "val.model.mae",
) -> None:
    """Rebuild leaderboard.csv/.md from whatever trial runs exist in a sweep directory."""
    from forecast import sweep as sw

    sw.leaderboard(sweep_dir, metric)
    print((sweep_dir / "leaderboard.md").read_text().rstrip())


@command
def compare(runs: Annotated[list[Path], typer.Argument(help="Two or more run directories.", show_default=False)]) -> None:
    """Print the runs' metrics side by side, with each run's change against the first."""
    from forecast.gates import comparison

    if len(runs) < 2:
        raise ForecastError("compare: give two or more run directories")
    loaded = []
    for run in runs:
        try:
            loaded.append(json.loads((run / "metrics.json").read_text()))
        except (OSError, ValueError):
            raise ForecastError(f"{run}: no readable metrics.json (not a completed run)") from None
    print(comparison([r.name for r in runs], loaded))


@command(name="download", on=data_app)
def data_download(
    name: Annotated[str, typer.Argument(help="Dataset: jena (Jena climate 2009-2016, 10-minute rows).", show_default=False)],
    dest: Annotated[Path, typer.Option("--dest", help="Folder to unpack into.")] = Path("data"),
    url: Annotated[Optional[str], typer.Option("--url", help="Download from here instead of the official address.")] = None,
    sha256: Annotated[Optional[str], typer.Option("--sha256", help="Expected SHA-256 of the archive.")] = None,
    size: Annotated[Optional[int], typer.Option("--size", help="Expected size of the archive in bytes (default: the official one's).")] = None,
) -> None:
    """Download and unpack a dataset (checked, atomic, never overwriting a different file)."""
    from forecast.download import download

    path, what = download(name, dest, url=url, sha256=sha256, size=size)
    print(f"{path}: {what}")


@command(name="schema", on=config_app)
def schema() -> None:
    """Print the config's JSON Schema (every key, its type, default and meaning)."""
    print(json.dumps(cfg.Config.model_json_schema(), indent=2))


def main() -> None:
    # Quiet TensorFlow's C++ start-up chatter unless the user asked for it.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app()
