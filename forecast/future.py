"""The future: the rows past the end of each series that a forecast needs, and its origins.

`predict` forecasts the horizon after each series' last row with a target value. A model that
reads the horizon's known values needs them: future covariates come from rows the file carries
after that last row (targets left empty), and a missing one is an error naming the series and
the column; calendar features are computed from the stamps the series' frequency gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast import config as cfg
from forecast.data import Series
from forecast.errors import ForecastError
from forecast.prepare import ranges
from forecast.timegrid import after, as_numpy
from forecast.timegrid import frequency as infer
from forecast.windows import WindowSpec


def origins(
    series: Series, spec: WindowSpec, all_origins: bool, source: str, any_length: bool = False, part: bool = False
) -> tuple[np.ndarray, list[str]]:
    """The origin rows to forecast from: each series' last history row (or every row with a full
    window), and the ids of series too short for one window (skipped; a single series is an error).
    A variable-length model forecasting from its whole history (`any_length`) takes any length.
    A `part` of a panel (a shard) may have no series long enough: it forecasts nothing."""
    starts, ends = series.offsets[:-1], series.history_ends
    minimum = 0 if any_length and spec.variable_length and series.ids is None else spec.history
    short = (ends - starts) <= minimum
    if (short.all() and not part) or (series.ids is None and short.any()):  # a shard may hold only short series
        n = int((ends - starts).max(initial=0))
        raise ForecastError(f"{source}: {n} rows, fewer than the {spec.history + 1} one window needs")
    skipped = [series.ids[i] for i in np.flatnonzero(short)] if series.ids is not None else []
    keep = np.flatnonzero(~short)
    if not all_origins:
        return (ends[keep] - 1).astype(np.int64), skipped
    return ranges(starts[keep] + spec.history, ends[keep] - 1).astype(np.int64), skipped


def extend(
    series: Series, spec: WindowSpec, data: cfg.Data, frequency: str | None, source: str, check: bool = True
) -> Series:
    """The series with each one's rows reaching `delay + horizon - 1` rows past its history (the last
    forecast's target rows), appended where the file stops earlier; future covariates checked there
    (unless not `check`: a template of the rows to fill in).

    Appended rows hold NaN values and, with a time column, the next stamps on the series' grid
    (calendar features are computed from them when the series is scaled).
    """
    starts, ends = series.offsets[:-1], series.history_ends
    need = spec.delay + spec.horizon - 1
    have = series.offsets[1:] - ends
    if check:
        check_future_covariates(series, spec, data, source)
    add = np.maximum(need - have, 0)
    if not add.any():
        return series
    counts = np.diff(series.offsets) + add
    new_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    of_row = series.series_of(np.arange(len(series)))
    rows = new_starts[of_row] + np.arange(len(series)) - starts[of_row]  # old rows keep their order
    total = int(new_starts[-1])

    def spread(values: np.ndarray) -> np.ndarray:
        out = np.full((total, values.shape[1]), np.nan, dtype=values.dtype)
        out[rows] = values
        return out

    times = None
    if series.times is not None:
        stamps = np.empty(total, dtype="datetime64[ns]")
        stamps[rows] = as_numpy(series.times)  # UTC for an aware index, without a Timestamp per row
        last = pd.DatetimeIndex(series.times[series.offsets[1:] - 1])
        reference = series.times[series.offsets[0] : series.offsets[1]]  # the first series' own stamps
        appended = stamps_after(last, int(add.max()), frequency, reference)
        for i in np.flatnonzero(add):
            first = new_starts[i + 1] - add[i]
            stamps[first : new_starts[i + 1]] = appended[i, : add[i]]
        times = pd.DatetimeIndex(stamps)  # numpy holds UTC wall time for an aware index
        if series.times.tz is not None:
            times = times.tz_localize("UTC").tz_convert(series.times.tz)
    return Series(
        features=spread(series.features),
        targets=spread(series.targets),
        feature_names=series.feature_names,
        target_names=series.target_names,
        times=times,
        notes=series.notes,
        filled=series.filled,
        dtypes=series.dtypes,
        starts=new_starts if series.starts is not None else None,
        ids=series.ids,
        ends=ends - starts + new_starts[:-1],
        static=series.static,
        calendar=series.calendar,
    )


def check_future_covariates(series: Series, spec: WindowSpec, data: cfg.Data, source: str) -> None:
    """Refuse a series with a window whose future covariates lack a value in any of the `delay +
    horizon - 1` rows after its history (the file's rows there; a series too short for one window
    gets no forecast and needs none), naming the series and the column."""
    starts, ends = series.offsets[:-1], series.history_ends
    need = spec.delay + spec.horizon - 1
    forecast = (ends - starts) > spec.history  # a series too short for one window gets no forecast
    for column in data.covariates.future:
        k = series.feature_names.index(column)
        target_rows = ends[:, None] + np.arange(need)[None, :]  # rows after each series' history
        inside = target_rows < series.offsets[1:, None]
        values = np.where(inside, series.features[np.minimum(target_rows, len(series) - 1), k], np.nan)
        missing = np.isnan(values).any(axis=1) & forecast
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            found = int((~np.isnan(values[i])).sum())
            raise ForecastError(
                f"{source}: {series.label(i)}: future covariate '{column}' needs values in the {need} rows after "
                f"its last target row (found {found}); add those rows with the targets left empty"
            )


def template(
    series: Series, spec: WindowSpec, data: cfg.Data, frequency: str | None, columns: list[str], source: str
) -> pd.DataFrame:
    """The future rows each series needs for `predict`: the `delay + horizon - 1` rows after its last
    target value, with the file's `columns` in its order (so that they can be appended to it): its
    id, the stamps on its grid (as `extend` continues them), its static covariates, the future
    covariates the file already holds there and empty cells to fill in otherwise; targets and
    every other column empty. Calendar features are computed from the stamps: none to fill in."""
    extended = extend(series, spec, data, frequency, source, check=False)
    need = spec.delay + spec.horizon - 1
    rows = (extended.history_ends[:, None] + np.arange(need)).reshape(-1)
    which = np.repeat(np.arange(series.n_series), need)
    static = series.static if series.static is not None else pd.DataFrame()
    out = {}
    for column in columns:
        if column == data.id_column:
            out[column] = np.asarray(series.ids, dtype=object)[which]
        elif column == data.time_column:
            out[column] = extended.times[rows]
        elif column in static.columns:
            out[column] = static[column].to_numpy()[which]
        elif column in data.covariates.future:
            out[column] = extended.features[rows, extended.feature_names.index(column)]
        else:
            out[column] = np.full(len(rows), np.nan, dtype=np.float32)
    return pd.DataFrame(out)


def stamps_after(last: pd.DatetimeIndex, count: int, frequency: str | None, reference: pd.DatetimeIndex) -> np.ndarray:
    """(len(last), count) stamps (UTC wall time) after each of `last`: on the `frequency` grid, else
    the one pandas infers from `reference` (month ends stay month ends, years stay years), else
    steps of its median spacing."""
    name = frequency or infer(reference[-1000:])
    if name is not None:
        return after(last, count, name)
    spacing = np.median(np.diff(reference.as_unit("ns").asi8)) if len(reference) > 1 else 0
    steps = (np.arange(1, count + 1) * spacing).astype("timedelta64[ns]")
    return np.asarray(last.as_unit("ns").to_numpy()[:, None] + steps[None, :], dtype="datetime64[ns]")
