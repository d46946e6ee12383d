"""The predict lifecycle every forecast goes through: members -> read -> check -> scale -> forecast -> write.

`forecast predict`, the API's `predict`, `forecasts`, `forecaster`, `template` and
`plot_predictions`, an ensemble's members and each shard of a job array all run these same
stages, so a forecast is the same whichever path made it:

- members: the run, or an ensemble's runs (`ensemble.members`: they read the data alike).
- read: the whole file, a shard's series (`shards`), or a panel a group of about GROUP_ROWS rows
  at a time, so that memory stays flat however large the panel (`write`); each series extended
  past its end by the rows its forecast needs (`future.extend`: future covariates checked there).
- check: the origins (`future.origins`), series too short for one window, the scalers against
  the columns; every check is made before Keras loads.
- scale: the series by the run's scalers (a panel's per series), and a panel model's other
  inputs (`windows.Feed`).
- forecast: the members' networks loaded once (`load_networks`), then `forecasts.Forecaster`:
  every origin at once, or chunk by chunk.
- write: `outputs`: CSV, Parquet or NumPy, long or wide, atomic and streamed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast import config as cfg
from forecast import future, shards
from forecast.data import InputSchema, Series, load_series
from forecast.ensemble import members
from forecast.errors import ForecastError
from forecast.forecasts import ONE_SERIES, Forecaster, Forecasts
from forecast.memory import release_memory
from forecast.outputs import STDOUT, output_format, rows_format, special_file, witness_of, write_parts, write_rows
from forecast.plots import SERIES
from forecast.prepare import extras_of, model_shapes
from forecast.readers import parquet, parquet_dataset, series_ids, series_rows
from forecast.rundir import Run
from forecast.scalers import Scalers, SeriesScalers
from forecast.timeparse import stamp_format, time_batches, time_format_of
from forecast.windows import Feed, WindowSpec

log = logging.getLogger("forecast")

# Rows of a panel read and forecast at a time by `write`: about 270 MB of series, scalers and
# windows' labels, so that with TensorFlow and the model a predict stays near 1.5 GB whatever the
# panel's size (BENCHMARKS.md, "Panels at scale").
GROUP_ROWS = 1 << 21


def forecaster(
    runs: Any, data: Path | str | None = None, all_origins: bool = False, shard: tuple[int, int] | None = None
) -> Forecaster:
    """`forecast.forecaster`: the members (anything `ensemble.members` takes) loaded and the series
    of `data` (default: the run's data.path), or of its `shard`, read, checked and scaled."""
    return open_forecaster(members(runs), Path(data) if data is not None else None, all_origins, shard)


def plot(runs: Any, path: Path | str, data: Path | str | None = None, series: list | None = None):
    """`forecast.plot_predictions`: the Figure of the series drawn (only they are read)."""
    return draw(members(runs), Path(path), data, series)[0]


def template(runs: Any, data: Path | str | None = None, output: Path | str | None = None) -> pd.DataFrame:
    """`forecast.template`: the future rows each series of `data` needs, written to `output` when
    given (`outputs.write_rows`). Loads no model."""
    run = members(runs)[0]
    config, schema = run.config, run.load_schema()
    path = Path(data if data is not None else config.data.path)
    if output is not None:
        rows_format(Path(output))  # a wrong extension: before the data is read
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
        write_rows(rows, Path(output), column, written, series.times)
    return rows


def write(
    runs: Any,
    output: Path | str,
    data: Path | str | None = None,
    all_origins: bool = False,
    layout: str = "long",
    shard: tuple[int, int] | None = None,
    plot: Path | str | None = None,
    series: list | None = None,
) -> None:
    """`forecast predict`: forecasts written to `output` (see `api.write_predictions`).

    A panel written to a CSV or Parquet file is read and forecast a group of series at a time
    (`group_forecasts`), or a shard's series alone; anything else in one piece, streamed in chunks.
    """
    runs = members(runs)
    config = runs[0].config
    data, output = Path(data if data is not None else config.data.path), Path(output)
    kind = output_format(output, layout)
    loaded = draw(runs, Path(plot), data, series, quiet=True)[1] if plot is not None else None
    streamed = kind in ("csv", "parquet") and output != STDOUT and not special_file(output)
    if config.data.id_column is None or not streamed:
        open_forecaster(runs, data, all_origins, shard, loaded).write(output, layout)
        return
    try:
        ids, rows = series_rows(data, config.data.id_column)
    except ForecastError:  # no file, no id column, an empty file: the whole read names the problem
        open_forecaster(runs, data, all_origins, shard, loaded).write(output, layout)
        return
    sharded = shards.is_part(shard)
    if sharded:
        ids, rows = shards.select(ids, shard, config.data.id_column, data), rows[shard[0] :: shard[1]]
    groups = row_groups(rows, GROUP_ROWS)
    if len(groups) <= 1 and not sharded:
        open_forecaster(runs, data, all_origins, None, loaded).write(output, layout)
        return
    # read in groups, or a shard: stamps parsed and printed as the whole file's are (see file_witness)
    time_format = file_time_format(config.data, data)
    witness = file_witness(config.data, data, time_format) if kind == "csv" else None
    if len(groups) <= 1:
        only = ids or series_rows(data, config.data.id_column)[0][:1]
        part = forecaster_for(runs, data, all_origins, only, empty=not ids, loaded=loaded, time_format=time_format)
        part.witness = part.witness_with(witness)
        part.write(output, layout)
        return
    shards.check_ids(ids, config.data.id_column, data)  # a row without an id would be in no group
    log.info(f"predict: {len(ids):,} series in {len(groups)} groups of about {GROUP_ROWS:,} rows, one at a time")
    tally = Tally()
    parts = group_forecasts(runs, data, all_origins, ids, groups, loaded, time_format, witness, tally, sharded)
    write_parts(output, layout, parts, 0)
    if tally.skipped:
        log.info(f"data: {tally.skipped:,} series in all are too short for one window and get no forecast")


@dataclass
class Tally:
    """What the groups of one predict forecast, counted as they are written."""

    origins: int = 0
    skipped: int = 0  # series too short for one window
    longest: int = 0  # the longest history, for the message when no series has one window

    def add(self, part: Forecaster) -> None:
        self.origins += len(part.origins)
        self.skipped += part.skipped
        history = part.series.history_ends - part.series.offsets[:-1]
        self.longest = max(self.longest, int(history.max(initial=0)))


def group_forecasts(
    runs: list[Run],
    data: Path,
    all_origins: bool,
    ids: list,
    groups: list[tuple[int, int]],
    loaded: list | None,
    time_format: str | None,
    witness: pd.DatetimeIndex | None,
    tally: Tally,
    sharded: bool,
) -> Iterator[Forecasts]:
    """The forecasts of a panel's `groups` of series (`row_groups` of `ids`), chunk by chunk: each
    group read, checked, scaled, forecast and released before the next, the networks loaded once.
    Every group's stamps must share one zone and print alike (`witness`: the whole file's). No
    series long enough for one window (a shard may have none) is refused after the last group,
    while writing, so that nothing is left behind."""
    config = runs[0].config
    held, zone = loaded, _UNSEEN
    for k in range(len(groups)):
        part = read_group(runs, data, all_origins, ids, groups, k, held, time_format)
        held = part.members
        if part.series.times is not None:  # one zone for the panel, as a whole read requires
            zone = same_zone(zone, part.series.times, config.data.time_column, data)
        part.witness = part.witness_with(witness)  # stamps print alike in every group's CSV rows
        tally.add(part)
        yield from part.chunks()
        del part
        release_memory()
    if not tally.origins and not sharded:  # raised while writing: nothing is left behind
        need = WindowSpec.from_config(config.window).history + 1
        raise ForecastError(f"{data}: {tally.longest} rows, fewer than the {need} one window needs")


def read_group(
    runs: list[Run],
    data: Path,
    all_origins: bool,
    ids: list,
    groups: list[tuple[int, int]],
    k: int,
    loaded: list | None,
    time_format: str | None,
) -> Forecaster:
    """Group `k` of `groups` ready to forecast; an error naming a row says which group it counts in."""
    first, last = groups[k]
    try:
        return forecaster_for(
            runs, data, all_origins, ids[first:last], loaded=loaded, group=(k, len(groups)), time_format=time_format
        )
    except ForecastError as error:
        if " row " not in str(error):
            raise
        raise ForecastError(
            f"{error} (series group {k + 1} of {len(groups)}, '{ids[first]}' to '{ids[last - 1]}': row "
            "numbers count that group's rows in file order)"
        ) from None


def row_groups(rows, limit: int) -> list[tuple[int, int]]:
    """Consecutive (first, last) ranges of series whose rows add up to at most `limit` (a longer
    series is a group of its own)."""
    groups, first, total = [], 0, 0
    for k, n in enumerate(np.asarray(rows, dtype=np.int64).tolist()):
        if total and total + n > limit:
            groups.append((first, k))
            first, total = k, 0
        total += n
    if total or first < len(rows):
        groups.append((first, len(rows)))
    return groups


def file_time_format(data: cfg.Data, path: Path) -> str | None:
    """data.time_format, or the format a whole read of the file would infer (see `time_format_of`)."""
    if data.time_column is None or data.time_format is not None:
        return data.time_format
    return time_format_of(path, data.time_column)


def file_witness(data: cfg.Data, path: Path, time_format: str | None) -> pd.DatetimeIndex | None:
    """The stamps that decide how a CSV prints the whole file's stamps (`outputs.witness_of`), read a
    batch at a time: every group's (and every shard's) rows then print their stamps as a predict of
    the whole file in one piece does. None where the time column cannot be read this way (missing,
    a bad stamp, zones that differ): the read of a group reports it, naming the row."""
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


def same_zone(zone: Any, times: pd.DatetimeIndex, column: str, path: Path) -> Any:
    """The panel's time zone (None: naive), checked against one more group's stamps."""
    if zone is not _UNSEEN and str(times.tz) != str(zone):
        raise ForecastError(f"{path.name}: column '{column}': time zones differ between series ({zone} and {times.tz})")
    return times.tz


def open_forecaster(
    runs: list[Run], data: Path | None, all_origins: bool, shard: tuple[int, int] | None, loaded: list | None = None
) -> Forecaster:
    """`forecaster` for members already resolved: the whole file, or shard (I, N) of a panel's
    series (a shard past the last series: an empty output, same columns); `loaded`: as
    `forecaster_for`'s."""
    config = runs[0].config
    data = Path(data if data is not None else config.data.path)
    only = shards.shard_ids(config.data.id_column, data, shard) if shards.is_part(shard) else None
    if only is None:
        return forecaster_for(runs, data, all_origins, None, loaded=loaded)
    time_format = file_time_format(config.data, data)  # a shard reads its stamps as the whole file would
    if not only:  # a shard past the last series: an empty output, same columns
        first = series_ids(data, config.data.id_column)[:1]
        return forecaster_for(runs, data, all_origins, first, empty=True, loaded=loaded)
    return forecaster_for(runs, data, all_origins, only, time_format=time_format, loaded=loaded)


def draw(runs: list[Run], path: Path, data: Path | str | None, series: list | None, quiet: bool = False):
    """`plot` for members already resolved: the Figure, and the members' (network, intervals) for
    forecasts made after it; `quiet`: log none of the data's notes (when `write` reads the same
    series again and logs them itself)."""
    config = runs[0].config
    data = Path(data if data is not None else config.data.path)
    forecaster = forecaster_for(runs, data, False, plotted_ids(config, data, series), quiet=quiet)
    return forecaster.all().plot(path, series), forecaster.members


def plotted_ids(config: cfg.Config, data: Path, series: list | None) -> list | None:
    """The series a plot reads: `series` (ids, as text or as stored), checked against the file;
    by default a panel's first few (more than are drawn, in case the first are too short for a
    forecast); None for a single series."""
    if config.data.id_column is None:
        if series:
            raise ForecastError(ONE_SERIES)
        return None
    ids = series_ids(data, config.data.id_column)
    by_text = {str(i): i for i in ids}
    unknown = [name for name in series or () if str(name) not in by_text]
    if unknown:
        raise ForecastError(f"--series: '{unknown[0]}' is not a series of {data}")
    return [by_text[str(name)] for name in series] if series else ids[: 10 * SERIES]


def forecaster_for(
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
    ensemble's other members, `runs[1:]`: same data, scalers and intervals, see `forecast.ensemble`):
    read, checked, scaled, and the networks loaded.

    Args:
        empty: forecast none of them (a shard past the panel's end).
        loaded: the members' (network, intervals) when a previous group or the plot loaded them.
        group: (k, n): this is group k of n of one predict (its notes say so; a group of short
            series forecasts none).
        time_format: the whole file's, for a group's text stamps.
        quiet: log none of its notes.
    """
    run = runs[0]
    config = run.config
    scalers = run.load_scalers(config)
    schema = run.load_schema()
    section = config.data if time_format is None else config.data.model_copy(update={"time_format": time_format})
    series, spec = read_series(config, schema, section, data, only)
    origins, skipped = choose_origins(series, spec, all_origins, data, only is not None, empty)
    scalers = series_scalers(runs, scalers, series, skipped, data)
    where = f" (group {group[0] + 1} of {group[1]})" if group is not None else ""
    for note in series.notes if not quiet else ():
        log.info(f"data{where}: {note}")
    x, y, feed = scale(config, scalers, series, run.scaler_file)
    release_memory()
    if loaded is None:  # Keras loads here, after the data checks
        loaded = load_networks(runs, spec, series)
    (model, calibration), *others = loaded
    whole = not all_origins and series.ids is None and feed is None
    y = y if calibration is not None else None  # each window's scale, for its intervals only
    written = stamp_format(data, config.data.time_column, section.time_format)  # a group given the file's: no read
    return Forecaster(
        model, x, series, spec, origins, scalers, config.data.id_column or "id", whole, feed, calibration, y,
        skipped=len(skipped), others=others, time_format=written,
    )  # fmt: skip


def read_series(
    config: cfg.Config, schema: InputSchema | None, section: cfg.Data, data: Path, only: list | None
) -> tuple[Series, WindowSpec]:
    """The series `only` (None: all) of `data` as the run reads them (`section`: its data section),
    each extended by the rows its last forecast's targets need (`future.extend`)."""
    series = load_series(section, data, schema, future=True, only=only)
    spec = WindowSpec.from_config(config.window)
    series = future.extend(series, spec, config.data, config.data.frequency or schema.frequency, str(data))
    return series, spec


def choose_origins(
    series: Series, spec: WindowSpec, all_origins: bool, data: Path, part: bool, empty: bool
) -> tuple[np.ndarray, list]:
    """The origins to forecast (`future.origins`) and the series skipped as too short, noted; none
    when `empty`. A `part` of a panel may hold no series long enough."""
    origins, skipped = future.origins(series, spec, all_origins, str(data), any_length=not all_origins, part=part)
    if empty:
        origins, skipped = origins[:0], []
    if skipped:
        series.notes.append(
            f"{len(skipped)} series are too short for one window and get no forecast (first: '{skipped[0]}')"
        )
    return origins, skipped


def series_scalers(runs: list[Run], scalers: Scalers, series: Series, skipped: list, data: Path) -> Scalers:
    """A panel run's scalers for the series read (`SeriesScalers.for_series`; a series skipped
    needs none), their notes added to the series'; a single series' as they are."""
    if not isinstance(scalers, SeriesScalers):
        return scalers
    forecast = ~np.isin(np.asarray(series.ids, dtype=object), skipped)  # a skipped series needs no scaler
    scale_free = all(member.config.model.instance_norm != "none" for member in runs)  # every member's
    scalers, notes = scalers.for_series(series, runs[0].config.scaler, scale_free, str(data), needed=forecast)
    series.notes.extend(notes)
    return scalers


def scale(
    config: cfg.Config, scalers: Scalers, series: Series, source: Path
) -> tuple[np.ndarray, np.ndarray, Feed | None]:
    """The series scaled, checked against the scalers' columns (`source`: the scaler file, for
    the message): features, targets, and a panel model's other inputs (None without)."""
    scalers.check(len(series.feature_names), len(series.target_names), source=str(source))
    x, y = scalers.transform(series)
    extras = extras_of(config, series, scalers)
    if not extras.any:
        return x, y, None
    static, categories = scalers.static.encode(series.static) if scalers.static is not None else (None, None)
    return x, y, Feed(series.offsets, list(extras.future), static, categories)


def load_networks(runs: list[Run], spec: WindowSpec, series: Series) -> list[tuple[Any, Any]]:
    """Each member's (network, intervals), the network built for the shapes of `series`' windows."""
    return [(member.load_model(*model_shapes(spec, series)), member.load_intervals()) for member in runs]
