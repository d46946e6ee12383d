"""The Python API: everything the CLI does, callable from a notebook or an orchestrator.

    import forecast

    config = forecast.load_config("configs/etth1.yaml", ["training.epochs=5"])
    run = forecast.train(config)                      # a Run: run.path, run.metrics, run.config
    print(run.metrics.test.model.mae, run.metrics.test.naive.mae)
    frame = forecast.predict(run, "data/recent.csv")  # long-form forecasts in original units

A facade: each function resolves its arguments (a path or an object) and hands the work to the
module that owns it: `lifecycle` (train, resume, repeat, validate, evaluate), `predicting`
(predict, forecasts, template, plots), `backtesting`, `sweeps`, `leaderboards`, `tuning` and
`export`, imported inside the functions: importing this module (and `forecast`) loads neither
TensorFlow nor Keras, nor pandas or scikit-learn, until a function needs them. Errors are
`forecast.errors.Error` subclasses carrying the CLI's exit code; progress and warnings go to the
"forecast" logger (the CLI prints them on stderr).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forecast import config as cfg
from forecast import fetch, gates
from forecast.errors import ForecastError
from forecast.results import SCORED, Metrics, Repeats, Validation
from forecast.rundir import Run
from forecast.startup import load_keras

if TYPE_CHECKING:
    import keras
    import pandas as pd

    from forecast.backtesting import Backtest
    from forecast.forecasts import Forecaster, Forecasts
    from forecast.leaderboards import Leaderboard

PathLike = str | Path
Runs = Run | PathLike | list[Run | PathLike]  # a run, or an ensemble: several, or a --repeats directory


def load_config(path: PathLike, overrides: list[str] | tuple[str, ...] = ()) -> cfg.Config:
    """Read, override and validate a YAML config: the validated config, data.path made absolute;
    ForecastError naming the first bad key.

    Args:
        path: the YAML file; a relative data.path is looked up beside it, then in the working directory.
        overrides: `--set` assignments, e.g. ["model.layers[0].units=32", "training.epochs=5"].
    """
    return cfg.load(path, overrides)


def _config(config: cfg.Config | PathLike) -> cfg.Config:
    return config if isinstance(config, cfg.Config) else load_config(config)


def _run(run: Run | PathLike, trained: bool = True) -> Run:
    return Run.open(run.path if isinstance(run, Run) else Path(run), trained=trained)


def train(config: cfg.Config | PathLike, run_dir: PathLike | None = None, verbose: int = 0) -> Run:
    """Train the model a config describes and write its run directory; returns the completed run.
    Every data problem raises before the directory is created.

    Args:
        config: a Config, or the path of a YAML config.
        run_dir: write the run here (must be empty or absent) instead of `runs/<name>-<time>/`.
        verbose: Keras's progress output (0 none, 1 progress bar, 2 one line per epoch).
    """
    from forecast import lifecycle  # deferred: loads pandas and scikit-learn

    config = _config(config)
    return lifecycle.train(config, lifecycle.plan(config), Path(run_dir) if run_dir is not None else None, verbose)


def resume(run: Run | PathLike, verbose: int = 0) -> Run:
    """Continue an interrupted (or failed) run from its last completed epoch; returns it completed."""
    from forecast import lifecycle  # deferred: loads pandas and scikit-learn

    return lifecycle.resume(run.path if isinstance(run, Run) else Path(run), verbose)


def repeat(config: cfg.Config | PathLike, repeats: int, run_dir: PathLike | None = None, verbose: int = 0) -> Repeats:
    """Train with seeds seed, seed+1, ..., each an ordinary run in RUN_DIR/seed-N, and aggregate them.

    Args:
        config: a Config or the path of one.
        repeats: how many seeds.
        run_dir: the parent directory (default `runs/<name>-<time>/`); repeats.json is written there.
        verbose: Keras's progress output.
    """
    from forecast import lifecycle  # deferred: loads pandas and scikit-learn

    return lifecycle.repeat(_config(config), repeats, Path(run_dir) if run_dir is not None else None, verbose)


def evaluate(run: Run | PathLike, data: PathLike | None = None, split: str | None = None) -> Metrics:
    """Recompute a run's scores per split (no training statistics), on its own data or another
    file with the same columns.

    Args:
        run: a completed run (or its directory).
        data: evaluate on this file instead of the run's data.path (same split rules).
        split: "val" or "test" (default: both).
    """
    from forecast import lifecycle  # deferred: loads pandas and scikit-learn

    if split not in (None, *SCORED):
        raise ForecastError(f"--split: expected val or test, got {split!r}")
    return lifecycle.evaluate(_run(run), data, split)


def predict(run: Runs, data: PathLike | None = None, all_origins: bool = False, layout: str = "long") -> pd.DataFrame:
    """Forecast the horizon after the end of each series (or from every origin), in original units.

    Args:
        run: a completed run (or its directory); several, or a `--repeats` directory, forecast as an
            ensemble: the members' forecasts and interval bounds averaged (see `forecast.ensemble`).
        data: a CSV/Parquet file with the run's columns (default: the run's own data.path). For a
            model with future covariates, each series' rows after its last target value carry them.
        all_origins: forecast from every row that has a full window, not only the last.
        layout: "long" (default), or "wide": one row per origin and target column with a column
            per horizon step.

    Returns:
        long: [id,] origin, target_time, step, column, prediction (a panel's id column first).
        wide: [id,] origin, column, step_1 ... step_H.
    """
    from forecast.outputs import check_layout  # deferred: loads pandas and pyarrow

    check_layout(layout)  # before the work, not after it
    return forecasts(run, data, all_origins).frame(layout)


def forecasts(run: Runs, data: PathLike | None = None, all_origins: bool = False) -> Forecasts:
    """What `predict` returns, before it becomes a table: the (origins, horizon, targets) array with
    its labels, which `predict` and `forecast predict` turn into a long or wide DataFrame, CSV,
    Parquet or NumPy file (`.values`, `.origin`, `.targets`, `.frame(layout)`, `.arrays()`,
    `.write(path, layout)`). Arguments as `predict`'s.
    """
    return forecaster(run, data, all_origins).all()


def forecaster(
    run: Runs, data: PathLike | None = None, all_origins: bool = False, shard: tuple[int, int] | None = None
) -> Forecaster:
    """The run loaded and the series checked and scaled, ready to forecast: `.all()` is `forecasts`,
    `.write(path, layout)` streams them to a file in chunks of bounded memory.
    Arguments as `predict`'s; `shard` (I, N): only the series I, I + N, I + 2N, ... of the file (in
    the order they first appear), so that N processes cover a panel between them."""
    from forecast import predicting  # deferred: loads pandas and scikit-learn

    return predicting.forecaster(run, data, all_origins, shard)


def plot_predictions(run: Runs, path: PathLike, data: PathLike | None = None, series: list | None = None):
    """`forecast predict --plot`: a PNG of the forecast after each chosen series' end with its
    intervals and the last rows of its history (see `Forecasts.plot`); returns the Figure.
    Only the series drawn are read and forecast: `series`, by id, or a panel's first few."""
    from forecast import predicting  # deferred: loads pandas and scikit-learn

    return predicting.plot(run, path, data, series)


def template(run: Runs, data: PathLike | None = None, output: PathLike | None = None) -> pd.DataFrame:
    """`forecast predict --template`: the future rows each series of `data` (default: the run's
    data.path) needs for `predict`, to fill in: the `delay + horizon - 1` rows after its last
    target value, in the file's columns and their order (id, the stamps on the series' frequency,
    static covariates filled; future covariates empty where the file holds no value yet; targets
    empty). Written to `output` (.csv or .parquet; `-`: stdout) when given. Append the filled rows
    to the history and predict from it. A run without future covariates needs no such rows (a note
    says so): the template still lists the stamps `predict` will forecast. Loads no model."""
    from forecast import predicting  # deferred: loads pandas and scikit-learn

    return predicting.template(run, data, output)


def write_predictions(
    run: Runs, output: PathLike, data: PathLike | None = None, all_origins: bool = False, layout: str = "long",
    shard: tuple[int, int] | None = None, plot: PathLike | None = None, series: list | None = None,
) -> None:  # fmt: skip
    """`forecast predict`: forecasts written to `output` (`-`: stdout) as its extension says;
    with `plot`, `plot_predictions`' PNG of `series` too, drawn first (an unknown id is refused
    before anything is written), its network loaded once for both. A panel written to a CSV or
    Parquet file is forecast a group of series (about `predicting.GROUP_ROWS` rows) at a time, each
    read, checked, scaled, forecast, written and released, the run loaded once: memory stays flat
    however large the panel. Anything else is forecast in one piece and streamed in chunks
    (`Forecaster.write`). Arguments as `predict`'s and `forecaster`'s."""
    from forecast import predicting  # deferred: loads pandas and scikit-learn

    predicting.write(run, output, data, all_origins, layout, shard, plot, series)


def export(run: Run | PathLike, format: str, output: PathLike) -> dict[str, Any]:
    """Export a run for serving without forecast: a TensorFlow SavedModel or an ONNX file whose graph
    takes raw windows (original units) and returns forecasts in original units, scalers inside.
    Returns the signature (also written as signature.json: inside the SavedModel, beside the .onnx file).

    Args:
        run: a completed run (or its directory).
        format: "saved_model" or "onnx" (needs `pip install 'forecast[export]'`).
        output: the SavedModel directory or .onnx file to write (must not exist).
    """
    from forecast import export as ex  # deferred: loads NumPy

    run = _run(run)
    ex.check(run, format, Path(output))  # before TensorFlow loads: a typo costs nothing
    load_keras()
    return ex.export(run.path, format, Path(output))


def backtest(
    source: Run | PathLike, folds: int = 3, refit: bool = False, root: PathLike | None = None, verbose: int = 0
) -> Backtest:
    """Rolling-origin evaluation over `folds` consecutive test folds, model vs naive.

    Args:
        source: a completed run to score, or a config (object or file) to train first.
        folds: folds tiling the test rows.
        refit: train one model per fold on every row before it (expanding window).
        root: where runs trained here go (default `runs/<name>-backtest`).
        verbose: Keras's progress output.
    """
    load_keras()
    from forecast import backtesting as bt  # deferred: loads NumPy

    run = isinstance(source, Run) or (not isinstance(source, cfg.Config) and Path(source).is_dir())
    trained = _run(source) if run else None
    config = trained.config if trained is not None else _config(source)
    root = Path(root) if root is not None else Path("runs") / f"{config.name}-backtest"
    return bt.run(config, folds, refit, root, trained=trained, verbose=verbose)


def sweep(
    config: PathLike, grid: PathLike | dict[str, list], sweep_dir: PathLike | None = None,
    random_draws: int | None = None, shard: str | None = None, metric: str = "val.model.mae",
    overrides: list[str] | tuple[str, ...] = (), restart: bool = False,
) -> Leaderboard:  # fmt: skip
    """Run a grid (or random draws of it) of configs as ordinary run directories; returns the leaderboard.

    Args:
        config: the base YAML config file.
        grid: a YAML grid file, or a dict of dotted keys -> lists of values.
        sweep_dir: default `sweeps/<name>-<time>`; shards and resumed sweeps share one.
        random_draws: run N random draws of the grid instead of all of it.
        shard: "I/N" (default: Slurm's array variables, else everything).
        metric: rank by this metrics.json path (lower is better).
        overrides: `--set` assignments applied to the base config before each trial's grid values.
        restart: sweep_dir holds another plan (config, data or grid): remove its trials and start
            over, instead of refusing (exit 2, naming the first differing key).
    """
    from forecast import sweeps  # deferred: loads pandas

    grid = grid if isinstance(grid, dict) else Path(grid)
    where = Path(sweep_dir) if sweep_dir is not None else None  # None: sweeps/<name>-<time>
    return sweeps.run(Path(config), grid, where, random_draws, shard, metric, overrides, restart)


def leaderboard(sweep_dir: PathLike, metric: str | None = None, storage: str | None = None) -> Leaderboard:
    """Rebuild leaderboard.csv/.md of a sweep directory from whatever trials completed, or of a tuning
    directory from its study (every trial: completed ones ranked, pruned and failed ones with why).

    Args:
        metric: rank by this metrics.json path (default: a sweep's val.model.mae, a study's own metric).
        storage: a tuned study's storage, when tune.json's (recorded without a password) is not enough.
    """
    from forecast import leaderboards as lb  # deferred: loads NumPy

    return lb.rebuild(Path(sweep_dir), metric, storage)


def tune(
    config: PathLike, space: PathLike | dict, trials: int, sweep_dir: PathLike | None = None, study: str | None = None,
    storage: str | None = None, metric: str = "val.model.mae", timeout: float | None = None, sampler: str = "tpe",
    pruner: str = "median", jobs: int = 1, overrides: list[str] | tuple[str, ...] = (), restart: bool = False,
) -> Leaderboard:  # fmt: skip
    """Search a space of config values with Optuna, each trial an ordinary run directory; needs
    `forecast[tune]`. Workers (`jobs`, or processes anywhere) given one sweep_dir and storage share
    the study. See `forecast.tuning` and docs/tuning.md.

    Args:
        config: the base YAML config file.
        space: a YAML space file, or a dict of dotted keys -> distribution mappings.
        trials: the study's size, all workers together.
        sweep_dir: default `sweeps/<name>-<time>`; workers share one.
        study: the study's name (default: the sweep directory's name).
        storage: a database URL or journal:PATH (default: sqlite in sweep_dir).
        metric: minimise this metrics.json path.
        timeout: a worker starts no trial after this many seconds.
        sampler: tpe or random.
        pruner: median, halving or none.
        jobs: worker processes on this machine.
        overrides: `--set` assignments applied to the base config before each trial's values.
        restart: sweep_dir holds another plan (config, data, space, metric or study): delete its
            study and trials and start over, instead of refusing.
    """
    from forecast import tuning  # deferred: loads NumPy
    from forecast.search_space import read_space  # deferred: loads NumPy

    parsed = read_space(space if isinstance(space, dict) else Path(space))
    if sweep_dir is None:
        sweep_dir = Path("sweeps") / f"{load_config(config).name}-tune-{datetime.now():%Y%m%d-%H%M%S}"
    return tuning.run(tuning.TuneSettings(
        config_path=Path(config), space=parsed, sweep_dir=Path(sweep_dir), trials=trials, study=study, storage=storage,
        metric=metric, timeout=timeout, sampler=sampler, pruner=pruner, jobs=jobs, base_overrides=tuple(overrides),
        restart=restart,
    ))  # fmt: skip


def best_config(sweep_dir: PathLike, storage: str | None = None) -> str:
    """The best completed trial's config of a tuned study, as YAML (also written to SWEEP_DIR/best.yaml)."""
    from forecast import leaderboards as lb  # deferred: loads NumPy

    return lb.best(Path(sweep_dir), storage)


def compare(runs: list[Run | PathLike]) -> str:
    """Two or more runs' metrics side by side, with each run's change against the first (text table),
    then the config keys each differs in (a warning when their data or targets differ)."""
    return gates.compare([r.path if isinstance(r, Run) else Path(r) for r in runs])


def validate(config: cfg.Config | PathLike) -> Validation:
    """Check a config against its data without training (no TensorFlow import): every refusal
    `train` would make before it trains (`lifecycle.check`) is made here, with the same message."""
    from forecast import lifecycle  # deferred: loads pandas and scikit-learn

    return lifecycle.validate(_config(config))


def build_model(config: cfg.Config | PathLike) -> keras.Model:
    """The (untrained, uncompiled) Keras model a config describes, built for its data."""
    load_keras()
    from forecast import lifecycle  # deferred: loads pandas and scikit-learn

    return lifecycle.build_model(shape_only(_config(config)))


def shape_only(config: cfg.Config) -> cfg.Config:
    """The config with missing values interpolated and no statistical baselines: for what needs only
    the data's shape (the model's layers and parameter count), a gap the training config would refuse
    does not matter, and neither does a baseline's optional extra."""
    data = config.data.model_copy(update={"fill": "interpolate"})
    return config.model_copy(update={"data": data, "metrics": config.metrics.model_copy(update={"baselines": []})})


def download(name: str, dest: PathLike = "data", **kwargs: Any) -> tuple[Path, str]:
    """Download and unpack a public dataset (see `forecast.fetch.download`)."""
    return fetch.download(name, Path(dest), **kwargs)
