"""The Python API: everything the CLI does, callable from a notebook or an orchestrator.

    import forecast

    config = forecast.load_config("configs/etth1.yaml", ["training.epochs=5"])
    run = forecast.train(config)                      # a Run: run.path, run.metrics, run.config
    print(run.metrics.test.model.mae, run.metrics.test.naive.mae)
    frame = forecast.predict(run, "data/recent.csv")  # long-form forecasts in original units

Importing this module (and `forecast`) loads neither TensorFlow nor Keras: they load when a
function needs them. Errors are `forecast.errors.Error` subclasses carrying the CLI's exit code;
progress and warnings go to the "forecast" logger (the CLI prints them on stderr).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forecast import config as cfg
from forecast.errors import Error, ForecastError
from forecast.results import SCORED, Metrics, aggregate, means
from forecast.rundir import Run
from forecast.startup import load_keras

if TYPE_CHECKING:
    import keras
    import pandas as pd

    from forecast.backtesting import Backtest
    from forecast.forecasts import Forecaster, Forecasts
    from forecast.sweeps import Leaderboard

log = logging.getLogger("forecast")

PathLike = str | Path
Runs = Run | PathLike | list[Run | PathLike]  # a run, or an ensemble: several, or a --repeats directory


def load_config(path: PathLike, overrides: list[str] | tuple[str, ...] = ()) -> cfg.Config:
    """Read, override and validate a YAML config.

    Args:
        path: the YAML file; a relative data.path is looked up beside it, then in the working directory.
        overrides: `--set` assignments, e.g. ["model.layers[0].units=32", "training.epochs=5"].

    Returns:
        The validated config, data.path made absolute. Raises ForecastError naming the first bad key.
    """
    return cfg.load(path, overrides)


def _config(config: cfg.Config | PathLike) -> cfg.Config:
    return config if isinstance(config, cfg.Config) else load_config(config)


def _run(run: Run | PathLike, trained: bool = True) -> Run:
    return Run.open(run.path if isinstance(run, Run) else Path(run), trained=trained)


def train(config: cfg.Config | PathLike, run_dir: PathLike | None = None, verbose: int = 0) -> Run:
    """Train the model a config describes and write its run directory.

    Args:
        config: a Config, or the path of a YAML config.
        run_dir: write the run here (must be empty or absent) instead of `runs/<name>-<time>/`.
        verbose: Keras's progress output (0 none, 1 progress bar, 2 one line per epoch).

    Returns:
        The completed run. Every data problem raises before the directory is created.
    """
    from forecast import lifecycle

    config = _config(config)
    prepared = lifecycle.plan(config)
    return lifecycle.train(config, prepared, Path(run_dir) if run_dir is not None else None, verbose)


def resume(run: Run | PathLike, verbose: int = 0) -> Run:
    """Continue an interrupted (or failed) run from its last completed epoch; returns it completed."""
    from forecast import lifecycle

    return lifecycle.resume(run.path if isinstance(run, Run) else Path(run), verbose)


@dataclass(frozen=True)
class Repeats:
    """One run per seed, and mean ± std of every metric across them (repeats.json)."""

    seeds: list[int]
    runs: list[Run]
    summary: dict[str, Any] = field(repr=False)

    @property
    def means(self) -> Metrics:
        """The mean of every metric, in the shape of one run's metrics."""
        return Metrics.from_dict(means(self.summary))


def repeat(config: cfg.Config | PathLike, repeats: int, run_dir: PathLike | None = None, verbose: int = 0) -> Repeats:
    """Train with seeds seed, seed+1, ..., each an ordinary run in RUN_DIR/seed-N, and aggregate them.

    Args:
        config: a Config or the path of one.
        repeats: how many seeds.
        run_dir: the parent directory (default `runs/<name>-<time>/`); repeats.json is written there.
        verbose: Keras's progress output.
    """
    from forecast import lifecycle
    from forecast.rundir import write_json

    config = _config(config)
    prepared = lifecycle.plan(config)
    parent = Run.create(config.name, Path(run_dir) if run_dir is not None else None)
    log.info(f"run directory: {parent.path}")
    seeds = list(range(config.seed, config.seed + repeats))
    runs, results = [], []
    for seed in seeds:
        seeded = config.model_copy(update={"seed": seed})
        log.info(f"seed {seed}: {parent.path / f'seed-{seed}'}")
        run = lifecycle.create(seeded, prepared, parent.path / f"seed-{seed}")
        results.append(lifecycle.execute(seeded, prepared, run, verbose).to_dict())
        runs.append(run)
    summary = aggregate(results)
    write_json(parent.path / "repeats.json", {"seeds": seeds, **summary})
    return Repeats(seeds, runs, summary)


def evaluate(run: Run | PathLike, data: PathLike | None = None, split: str | None = None) -> Metrics:
    """Recompute a run's scores, on its own data or another file with the same columns.

    Args:
        run: a completed run (or its directory).
        data: evaluate on this file instead of the run's data.path (same split rules).
        split: "val" or "test" (default: both).

    Returns:
        The scores per split (no training statistics).
    """
    from forecast.prepare import prepare

    if split not in (None, *SCORED):
        raise ForecastError(f"--split: expected val or test, got {split!r}")
    run = _run(run)
    config = run.config
    prepared = prepare(config, run.load_scalers(config), path=data, schema=run.load_schema())
    for note in prepared.series.notes:
        log.info(f"data: {note}")
    calibration = run.load_intervals()
    model = run.load_model(prepared.input_shape, prepared.output_shape)  # Keras loads here, after the data checks
    from forecast.inference import predict_splits
    from forecast.metrics import evaluate as score

    predictions = predict_splits(model, prepared, (split,) if split else SCORED)
    from forecast.baselines import forecasts
    from forecast.lifecycle import panel_counts

    statistical = forecasts(prepared, config.metrics.baselines, list(predictions))
    return Metrics(score(prepared, predictions, calibration, statistical), **panel_counts(prepared))


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
    from forecast.outputs import check_layout

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
    from forecast.ensemble import members

    return _open(members(run), Path(data) if data is not None else None, all_origins, shard)


def plot_predictions(run: Runs, path: PathLike, data: PathLike | None = None, series: list | None = None):
    """`forecast predict --plot`: a PNG of the forecast after each chosen series' end with its
    intervals and the last rows of its history (see `Forecasts.plot`); returns the Figure.
    Only the series drawn are read and forecast: `series`, by id, or a panel's first few."""
    from forecast.ensemble import members

    return _plot(members(run), Path(path), data, series)[0]


def _plot(runs: list[Run], path: Path, data: PathLike | None, series: list | None, quiet: bool = False):
    """`plot_predictions` for members already resolved: the Figure, and the members' (network,
    intervals) for forecasts made after it; `quiet`: log none of the data's notes (when
    `write_predictions` reads the same series again and logs them itself)."""
    from forecast.data import series_ids
    from forecast.forecasts import ONE_SERIES
    from forecast.plots import SERIES

    config = runs[0].config
    data = Path(data if data is not None else config.data.path)
    only = None
    if config.data.id_column is not None:
        ids = series_ids(data, config.data.id_column)
        by_text = {str(i): i for i in ids}
        unknown = [name for name in series or () if str(name) not in by_text]
        if unknown:
            raise ForecastError(f"--series: '{unknown[0]}' is not a series of {data}")
        # by default a few more than drawn, in case the first are too short for a forecast
        only = [by_text[str(name)] for name in series] if series else ids[: 10 * SERIES]
    elif series:
        raise ForecastError(ONE_SERIES)
    forecaster = _forecaster(runs, data, False, only, quiet=quiet)
    return forecaster.all().plot(path, series), forecaster.members


def _open(
    runs: list[Run], data: Path | None, all_origins: bool, shard: tuple[int, int] | None, loaded: list | None = None
) -> Forecaster:
    """`forecaster` for members already resolved (`forecast.ensemble.members`); `loaded`: as
    `_forecaster`'s."""
    from forecast.data import series_ids
    from forecast.shards import is_part

    config = runs[0].config
    data = Path(data if data is not None else config.data.path)
    only = shard_ids(config, data, shard) if is_part(shard) else None
    if only is None:
        return _forecaster(runs, data, all_origins, None, loaded=loaded)
    time_format = _time_format(config.data, data)  # a shard reads its stamps as the whole file would
    if not only:  # a shard past the last series: an empty output, same columns
        return _forecaster(
            runs, data, all_origins, series_ids(data, config.data.id_column)[:1], empty=True, loaded=loaded
        )
    return _forecaster(runs, data, all_origins, only, time_format=time_format, loaded=loaded)


def template(run: Runs, data: PathLike | None = None, output: PathLike | None = None) -> pd.DataFrame:
    """`forecast predict --template`: the future rows each series of `data` (default: the run's
    data.path) needs for `predict`, to fill in: the `delay + horizon - 1` rows after its last
    target value, in the file's columns and their order (id, the stamps on the series' frequency,
    static covariates filled; future covariates empty where the file holds no value yet; targets
    empty). Written to `output` (.csv or .parquet; `-`: stdout) when given. Append the filled rows
    to the history and predict from it. A run without future covariates needs no such rows (a note
    says so): the template still lists the stamps `predict` will forecast. Loads no model."""
    import pandas as pd

    from forecast import future, outputs
    from forecast.data import load_series, parquet, parquet_dataset, stamp_format
    from forecast.ensemble import members
    from forecast.windows import WindowSpec

    run = members(run)[0]
    config, schema = run.config, run.load_schema()
    path = Path(data if data is not None else config.data.path)
    if output is not None:
        outputs.rows_format(Path(output))  # a wrong extension: before the data is read
    series = load_series(config.data, path, schema, future=True)
    if not config.data.covariates.future:
        log.info(
            "note: this run has no future covariates: predict needs no future rows (these are the stamps it forecasts)"
        )
    columns = parquet_dataset(path).schema.names if parquet(path) else list(pd.read_csv(path, nrows=0).columns)
    spec = WindowSpec.from_config(config.window)
    frequency = config.data.frequency or schema.frequency
    rows = future.template(series, spec, config.data, frequency, [str(c) for c in columns], str(path))
    if output is not None:
        column = config.data.time_column
        written = stamp_format(path, column, config.data.time_format)
        outputs.write_rows(rows, Path(output), column, written, series.times)
    return rows


def write_predictions(
    run: Runs,
    output: PathLike,
    data: PathLike | None = None,
    all_origins: bool = False,
    layout: str = "long",
    shard: tuple[int, int] | None = None,
    plot: PathLike | None = None,
    series: list | None = None,
) -> None:
    """`forecast predict`: forecasts written to `output` (`-`: stdout) as its extension says;
    with `plot`, `plot_predictions`' PNG of `series` too, drawn first (an unknown id is refused
    before anything is written), its network loaded once for both.

    A panel written to a CSV or Parquet file is forecast a group of series at a time (about
    `GROUP_ROWS` rows each, read alone), so memory stays flat however large the panel: the run is
    loaded once, each group's series are read, checked, scaled, forecast and written, then
    released. Anything else is forecast in one piece and streamed in chunks (`Forecaster.write`).
    Arguments as `predict`'s and `forecaster`'s.
    """
    from forecast.data import release_memory, series_rows
    from forecast.ensemble import members
    from forecast.outputs import STDOUT, output_format, special_file, write_parts
    from forecast.shards import check_ids, is_part, select
    from forecast.windows import WindowSpec

    runs = members(run)
    config = runs[0].config
    data = Path(data if data is not None else config.data.path)
    kind = output_format(Path(output), layout)
    loaded = _plot(runs, Path(plot), data, series, quiet=True)[1] if plot is not None else None
    streamed = kind in ("csv", "parquet") and Path(output) != STDOUT and not special_file(Path(output))
    if config.data.id_column is None or not streamed:
        _open(runs, data, all_origins, shard, loaded).write(Path(output), layout)
        return
    try:
        ids, rows = series_rows(data, config.data.id_column)
    except ForecastError:  # no file, no id column, an empty file: the whole read names the problem
        _open(runs, data, all_origins, shard, loaded).write(Path(output), layout)
        return
    sharded = is_part(shard)
    if sharded:
        ids, rows = select(ids, shard, config.data.id_column, data), rows[shard[0] :: shard[1]]
    groups = row_groups(rows, GROUP_ROWS)
    if len(groups) <= 1 and not sharded:
        _open(runs, data, all_origins, None, loaded).write(Path(output), layout)
        return
    # read in groups, or a shard: stamps parsed and printed as the whole file's are (see _file_witness)
    time_format = _time_format(config.data, data)
    witness = _file_witness(config.data, data, time_format) if kind == "csv" else None
    if len(groups) <= 1:
        only = ids or series_rows(data, config.data.id_column)[0][:1]
        part = _forecaster(runs, data, all_origins, only, empty=not ids, loaded=loaded, time_format=time_format)
        part.witness = part.witness_with(witness)
        part.write(Path(output), layout)
        return
    check_ids(ids, config.data.id_column, data)  # a row without an id would be in no group
    log.info(f"predict: {len(ids):,} series in {len(groups)} groups of about {GROUP_ROWS:,} rows, one at a time")
    counts = {"origins": 0, "skipped": 0, "longest": 0}

    def parts():
        held, zone = loaded, _UNSEEN
        for k, (first, last) in enumerate(groups):
            try:
                part = _forecaster(runs, data, all_origins, ids[first:last], loaded=held, group=(k, len(groups)),
                                   time_format=time_format)  # fmt: skip
            except ForecastError as error:
                if " row " not in str(error):
                    raise
                raise ForecastError(
                    f"{error} (series group {k + 1} of {len(groups)}, '{ids[first]}' to '{ids[last - 1]}': row "
                    "numbers count that group's rows in file order)"
                ) from None
            held = part.members
            if part.series.times is not None:  # one zone for the panel, as a whole read requires
                zone = _same_zone(zone, part.series.times, config.data.time_column, data)
            part.witness = part.witness_with(witness)  # stamps print alike in every group's CSV rows
            counts["origins"] += len(part.origins)
            counts["skipped"] += part.skipped
            history = part.series.history_ends - part.series.offsets[:-1]
            counts["longest"] = max(counts["longest"], int(history.max(initial=0)))
            yield from part.chunks()
            del part
            release_memory()
        if not counts["origins"] and not sharded:  # raised while writing: nothing is left behind
            need = WindowSpec.from_config(config.window).history + 1
            raise ForecastError(f"{data}: {counts['longest']} rows, fewer than the {need} one window needs")

    write_parts(Path(output), layout, parts(), 0)
    if counts["skipped"]:
        log.info(f"data: {counts['skipped']:,} series in all are too short for one window and get no forecast")


def _time_format(data: cfg.Data, path: Path) -> str | None:
    """data.time_format, or the format a whole read of the file would infer (see `time_format_of`)."""
    from forecast.data import time_format_of

    if data.time_column is None or data.time_format is not None:
        return data.time_format
    return time_format_of(path, data.time_column)


def _file_witness(data: cfg.Data, path: Path, time_format: str | None):
    """The stamps that decide how a CSV prints the whole file's stamps (`outputs.witness_of`), read a
    batch at a time: every group's (and every shard's) rows then print their stamps as a predict of
    the whole file in one piece does. None where the time column cannot be read this way (missing,
    a bad stamp, zones that differ): the read of a group reports it, naming the row."""
    from forecast.data import time_batches
    from forecast.outputs import witness_of

    if data.time_column is None:
        return None
    found = None
    try:
        for times in time_batches(path, data.time_column, time_format):
            own = witness_of(times)
            if own is None:
                continue
            if found is not None and str(found.tz) != str(own.tz):
                return None
            found = own if found is None else witness_of(found.append(own))
    except Exception:  # only a formatting aid: the groups' reads check the column
        return None
    return found


_UNSEEN = object()  # no group read yet: its zone (None for naive stamps) is not known


def _same_zone(zone, times, column: str, path: Path):
    """The panel's time zone (None: naive), checked against one more group's stamps."""
    if zone is not _UNSEEN and str(times.tz) != str(zone):
        raise ForecastError(f"{path.name}: column '{column}': time zones differ between series ({zone} and {times.tz})")
    return times.tz


# Rows of a panel read and forecast at a time by `write_predictions`: about 270 MB of series,
# scalers and windows' labels, so that with TensorFlow and the model a predict stays near 1.5 GB
# whatever the panel's size (BENCHMARKS.md, "Panels at scale").
GROUP_ROWS = 1 << 21


def row_groups(rows, limit: int) -> list[tuple[int, int]]:
    """Consecutive (first, last) ranges of series whose rows add up to at most `limit` (a longer
    series is a group of its own)."""
    import numpy as np

    groups, first, total = [], 0, 0
    for k, n in enumerate(np.asarray(rows, dtype=np.int64).tolist()):
        if total and total + n > limit:
            groups.append((first, k))
            first, total = k, 0
        total += n
    if total or first < len(rows):
        groups.append((first, len(rows)))
    return groups


def _forecaster(
    runs: list[Run],
    data: Path,
    all_origins: bool,
    only: list | None,
    empty: bool = False,
    loaded: list | None = None,
    group: tuple[int, int] | None = None,
    time_format: str | None = None,
    quiet: bool = False,
) -> Forecaster:
    """A Forecaster for the series `only` (None: all) of `data` with the run `runs[0]` (and an
    ensemble's other members, `runs[1:]`: same data, scalers and intervals, see `forecast.ensemble`);
    `empty`: none of them (a shard past the panel's end); `loaded`: the members' (network,
    intervals) when a previous group or the plot loaded them; `group` (k, n):
    this is group k of n of one predict (its notes say so; a group of short series forecasts none);
    `time_format`: the whole file's, for a group's text stamps; `quiet`: log none of its notes."""
    import numpy as np

    from forecast import future
    from forecast.data import load_series, release_memory, stamp_format
    from forecast.forecasts import Forecaster
    from forecast.prepare import extras_of, model_shapes
    from forecast.scalers import SeriesScalers
    from forecast.windows import Feed, WindowSpec

    run = runs[0]
    config = run.config
    scalers = run.load_scalers(config)
    schema = run.load_schema()
    section = config.data if time_format is None else config.data.model_copy(update={"time_format": time_format})
    series = load_series(section, data, schema, future=True, only=only)
    spec = WindowSpec.from_config(config.window)
    series = future.extend(series, spec, config.data, config.data.frequency or schema.frequency, str(data))
    origins, skipped = future.origins(
        series, spec, all_origins, str(data), any_length=not all_origins, part=only is not None
    )
    if empty:
        origins, skipped = origins[:0], []
    if skipped:
        series.notes.append(
            f"{len(skipped)} series are too short for one window and get no forecast (first: '{skipped[0]}')"
        )
    if isinstance(scalers, SeriesScalers):
        forecast = ~np.isin(np.asarray(series.ids, dtype=object), skipped)  # a skipped series needs no scaler
        scale_free = all(member.config.model.instance_norm != "none" for member in runs)  # every member's
        scalers, notes = scalers.for_series(series, config.scaler, scale_free, str(data), needed=forecast)
        series.notes.extend(notes)
    where = f" (group {group[0] + 1} of {group[1]})" if group is not None else ""
    for note in series.notes if not quiet else ():
        log.info(f"data{where}: {note}")
    scalers.check(len(series.feature_names), len(series.target_names), source=str(run.scaler_file))
    x, y = scalers.transform(series)
    extras = extras_of(config, series, scalers)
    feed = None
    if extras.any:
        static, categories = scalers.static.encode(series.static) if scalers.static is not None else (None, None)
        feed = Feed(series.offsets, list(extras.future), static, categories)
    release_memory()
    if loaded is None:  # Keras loads here, after the data checks
        loaded = [(member.load_model(*model_shapes(spec, series)), member.load_intervals()) for member in runs]
    (model, calibration), *others = loaded
    whole = not all_origins and series.ids is None and feed is None
    y = y if calibration is not None else None  # each window's scale, for its intervals only
    column = config.data.time_column
    written = stamp_format(data, column, section.time_format)  # for CSV; a group given the file's: no read
    return Forecaster(
        model, x, series, spec, origins, scalers, config.data.id_column or "id", whole, feed, calibration, y,
        skipped=len(skipped), others=others, time_format=written,
    )  # fmt: skip


def export(run: Run | PathLike, format: str, output: PathLike) -> dict[str, Any]:
    """Export a run for serving without forecast: a TensorFlow SavedModel or an ONNX file whose graph
    takes raw windows (original units) and returns forecasts in original units, scalers inside.

    Args:
        run: a completed run (or its directory).
        format: "saved_model" or "onnx" (needs `pip install 'forecast[export]'`).
        output: the SavedModel directory or .onnx file to write (must not exist).

    Returns:
        The signature (also written as signature.json: inside the SavedModel, beside the .onnx file).
    """
    from forecast import export as ex

    run = _run(run)
    ex.check(run, format, Path(output))  # before TensorFlow loads: a typo costs nothing
    load_keras()
    return ex.export(run.path, format, Path(output))


def shard_ids(config: cfg.Config, data: Path, shard: tuple[int, int]) -> list:
    """The ids of shard (I, N) of a panel file: every N-th series from the I-th, in file order."""
    from forecast.data import series_ids
    from forecast.shards import NOT_A_PANEL, select

    if config.data.id_column is None:
        raise ForecastError(NOT_A_PANEL)
    return select(series_ids(data, config.data.id_column), shard, config.data.id_column, data)


def backtest(
    source: Run | PathLike,
    folds: int = 3,
    refit: bool = False,
    root: PathLike | None = None,
    verbose: int = 0,
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
    from forecast import backtesting as bt

    trained = None
    if isinstance(source, Run) or (not isinstance(source, cfg.Config) and Path(source).is_dir()):
        trained = _run(source)
        config = trained.config
    else:
        config = _config(source)
    root = Path(root) if root is not None else Path("runs") / f"{config.name}-backtest"
    return bt.run(config, folds, refit, root, trained=trained, verbose=verbose)


def sweep(
    config: PathLike,
    grid: PathLike | dict[str, list],
    sweep_dir: PathLike | None = None,
    random_draws: int | None = None,
    shard: str | None = None,
    metric: str = "val.model.mae",
    overrides: list[str] | tuple[str, ...] = (),
    restart: bool = False,
) -> Leaderboard:
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
    from forecast import sweeps as sw

    grid = sw.read_grid(Path(grid)) if not isinstance(grid, dict) else grid
    if sweep_dir is None:
        sweep_dir = Path("sweeps") / f"{load_config(config).name}-{datetime.now():%Y%m%d-%H%M%S}"
    return sw.run(Path(config), grid, Path(sweep_dir), random_draws, shard, metric, overrides, restart)


def leaderboard(sweep_dir: PathLike, metric: str | None = None, storage: str | None = None) -> Leaderboard:
    """Rebuild leaderboard.csv/.md of a sweep directory from whatever trials completed, or of a tuning
    directory from its study (every trial: completed ones ranked, pruned and failed ones with why).

    Args:
        metric: rank by this metrics.json path (default: a sweep's val.model.mae, a study's own metric).
        storage: a tuned study's storage, when tune.json's (recorded without a password) is not enough.
    """
    from forecast import sweeps as sw

    if (Path(sweep_dir) / "tune.json").exists():
        from forecast import tuning

        return tuning.leaderboard(Path(sweep_dir), metric, storage)
    return sw.leaderboard(Path(sweep_dir), metric or "val.model.mae")


def tune(
    config: PathLike,
    space: PathLike | dict,
    trials: int,
    sweep_dir: PathLike | None = None,
    study: str | None = None,
    storage: str | None = None,
    metric: str = "val.model.mae",
    timeout: float | None = None,
    sampler: str = "tpe",
    pruner: str = "median",
    jobs: int = 1,
    overrides: list[str] | tuple[str, ...] = (),
    restart: bool = False,
) -> Leaderboard:
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
    from forecast import tuning

    parsed = tuning.read_space(space if isinstance(space, dict) else Path(space))
    if sweep_dir is None:
        sweep_dir = Path("sweeps") / f"{load_config(config).name}-tune-{datetime.now():%Y%m%d-%H%M%S}"
    return tuning.run(
        Path(config), parsed, Path(sweep_dir), trials, study, storage, metric, timeout, sampler, pruner, jobs,
        overrides, restart,
    )  # fmt: skip


def best_config(sweep_dir: PathLike, storage: str | None = None) -> str:
    """The best completed trial's config of a tuned study, as YAML (also written to SWEEP_DIR/best.yaml)."""
    from forecast import tuning

    return tuning.best(Path(sweep_dir), storage)


def compare(runs: list[Run | PathLike]) -> str:
    """Two or more runs' metrics side by side, with each run's change against the first (text table)."""
    from forecast.gates import comparison

    if len(runs) < 2:
        raise ForecastError("compare: give two or more run directories")
    paths = [r.path if isinstance(r, Run) else Path(r) for r in runs]
    loaded = []
    for path in paths:
        try:
            loaded.append(json.loads((path / "metrics.json").read_text()))
        except (OSError, ValueError):
            raise ForecastError(f"{path}: no readable metrics.json (not a completed run)") from None
    return comparison([p.name for p in paths], loaded) + _config_differences(paths)


def _config_differences(paths: list[Path]) -> str:
    """Each later run's config keys that differ from the first run's (`plans.differences`); a
    warning when they do not share data and targets (their errors are then not comparable)."""
    from forecast.plans import ABSENT, differences

    try:
        configs = [Run(path).config.model_dump(mode="json") for path in paths]
    except Error:
        return ""
    lines = []
    for path, config in zip(paths[1:], configs[1:], strict=True):
        changed = list(differences(configs[0], config))
        # the rows scored: the data, its targets, and every way of splitting it (fractions, ends, *_last)
        scored = {k.split("[")[0] for k, _, _ in changed if k.startswith(("data.path", "data.targets", "data.split."))}
        for key in sorted(scored):
            log.warning(f"warning: {path.name} differs from {paths[0].name} in {key}: its errors are not comparable")
        shown = ", ".join(
            f"{k}: {'absent' if then is ABSENT else repr(then)} -> {'absent' if now is ABSENT else repr(now)}"
            for k, then, now in changed[:8]
        )
        more = f" (and {len(changed) - 8} more)" if len(changed) > 8 else ""
        lines.append(f"{path.name} vs {paths[0].name}: " + (shown + more if changed else "same config"))
    return "\n\nconfig differences:\n" + "\n".join(lines)


@dataclass(frozen=True)
class Validation:
    """What `forecast validate` reports: the data, the split, the windows and the model's size."""

    config: cfg.Config
    rows: int
    feature_names: list[str]
    target_names: list[str]
    borders: tuple[int, int, int]
    windows: dict[str, int]
    input_shape: tuple[int, int]
    output_shape: tuple[int, ...]  # (horizon, targets); a quantile model (horizon, quantiles, targets)
    parameters: int
    cudnn_blockers: list[str]
    notes: list[str]
    series: int = 1
    series_skipped: int = 0
    extras: dict[str, Any] = field(default_factory=dict)  # a panel model's other inputs and their sizes


def validate(config: cfg.Config | PathLike) -> Validation:
    """Check a config against its data without training (no TensorFlow import): every refusal
    `train` would make before it trains (`lifecycle.check`) is made here, with the same message."""
    from forecast.lifecycle import check
    from forecast.model import count_parameters, cudnn_blockers
    from forecast.prepare import prepare

    config = _config(config)
    p = prepare(config)
    check(config, p)
    s, spec = p.series, p.spec
    return Validation(
        config=config,
        rows=len(s),
        feature_names=s.feature_names,
        target_names=s.target_names,
        borders=p.borders,
        windows={k: len(v) for k, v in p.origins.items()},
        input_shape=(spec.timesteps, p.x.shape[1]),
        output_shape=(
            spec.horizon,
            *([len(config.model.quantiles)] if config.model.quantiles else []),
            len(s.target_names),
        ),
        parameters=count_parameters(config.model, spec, p.x.shape[1], len(s.target_names), p.extras),
        cudnn_blockers=cudnn_blockers(config.model),
        notes=list(s.notes),
        series=s.n_series,
        series_skipped=len(p.skipped),
        extras={
            k: v
            for k, v in {
                "future": (spec.horizon, len(p.extras.future)) if p.extras.future else None,
                "static": p.extras.static or None,
                "categories": p.extras.categories or None,
            }.items()
            if v is not None
        },
    )


def build_model(config: cfg.Config | PathLike) -> keras.Model:
    """The (untrained, uncompiled) Keras model a config describes, built for its data."""
    load_keras()
    from forecast.model import build
    from forecast.prepare import prepare

    config = shape_only(_config(config))
    p = prepare(config)
    return build(config.model, p.spec, p.x.shape[1], p.target_index, p.extras, p.base_season)


def shape_only(config: cfg.Config) -> cfg.Config:
    """The config with missing values interpolated: for what needs only the data's shape (the
    model's layers and parameter count), a gap the training config would refuse does not matter."""
    return config.model_copy(update={"data": config.data.model_copy(update={"fill": "interpolate"})})


def download(name: str, dest: PathLike = "data", **kwargs: Any) -> tuple[Path, str]:
    """Download and unpack a public dataset (see `forecast.fetch.download`)."""
    from forecast.fetch import download as fetch

    return fetch(name, Path(dest), **kwargs)
