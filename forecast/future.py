"""Forecasts past the end of each series: the rows a forecast needs, and the long table it returns.

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
from forecast.windows import WindowSpec


def origins(
    series: Series, spec: WindowSpec, all_origins: bool, source: str, any_length: bool = False
) -> tuple[np.ndarray, list[str]]:
    """The origin rows to forecast from: each series' last history row (or every row with a full
    window), and the ids of series too short for one window (skipped; a single series is an error).
    A variable-length model forecasting from its whole history (`any_length`) takes any length."""
    starts, ends = series.offsets[:-1], series.history_ends
    minimum = 0 if any_length and spec.variable_length and series.ids is None else spec.history
    short = (ends - starts) <= minimum
    if short.all() or (series.ids is None and short.any()):
        n = int((ends - starts).max(initial=0))
        raise ForecastError(f"{source}: {n} rows, fewer than the {spec.history + 1} one window needs")
    skipped = [series.ids[i] for i in np.flatnonzero(short)] if series.ids is not None else []
    keep = np.flatnonzero(~short)
    if not all_origins:
        return (ends[keep] - 1).astype(np.int64), skipped
    from forecast.prepare import ranges

    return ranges(starts[keep] + spec.history, ends[keep] - 1).astype(np.int64), skipped


def extend(series: Series, spec: WindowSpec, data: cfg.Data, frequency: str | None, source: str) -> Series:
    """The series with each one's rows reaching `delay + horizon - 1` rows past its history (the last
    forecast's target rows), appended where the file stops earlier; future covariates checked there.

    Appended rows hold NaN values and, with a time column, the next stamps on the series' grid
    (calendar features are computed from them when the series is scaled).
    """
    starts, ends = series.offsets[:-1], series.history_ends
    need = spec.delay + spec.horizon - 1
    have = series.offsets[1:] - ends
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
        stamps[rows] = series.times.as_unit("ns").to_numpy()
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


def stamps_after(last: pd.DatetimeIndex, count: int, frequency: str | None, reference: pd.DatetimeIndex) -> np.ndarray:
    """(len(last), count) stamps (UTC wall time) after each of `last`: on the `frequency` grid, else
    the one pandas infers from `reference` (month ends stay month ends, years stay years), else
    steps of its median spacing."""
    from forecast.data import frequency as infer
    from forecast.timegrid import after

    name = frequency or infer(reference[-1000:])
    if name is not None:
        return after(last, count, name)
    spacing = np.median(np.diff(reference.as_unit("ns").asi8)) if len(reference) > 1 else 0
    steps = (np.arange(1, count + 1) * spacing).astype("timedelta64[ns]")
    return np.asarray(last.as_unit("ns").to_numpy()[:, None] + steps[None, :], dtype="datetime64[ns]")


def future_stamps(times: pd.DatetimeIndex, count: int) -> pd.DatetimeIndex:
    """The `count` stamps after one series' last (see `stamps_after`)."""
    stamps = pd.DatetimeIndex(stamps_after(times[-1:], count, None, times)[0])
    return stamps.tz_localize("UTC").tz_convert(times.tz) if times.tz is not None else stamps


def frame(
    series: Series, spec: WindowSpec, origins: np.ndarray, predictions: np.ndarray, id_column: str = "id"
) -> pd.DataFrame:
    """Predictions (windows, horizon, targets) in long form: [id,] origin, target_time, step, column,
    prediction. With a time column, origins and targets are stamps; without, row numbers within
    each series."""
    n_windows, horizon, n_targets = predictions.shape
    target_rows = origins[:, None] + spec.target_offsets()
    which = series.series_of(origins)
    if series.times is not None:
        origin_values, target_values = series.times[origins], series.times[target_rows.reshape(-1)]
    else:
        base = series.offsets[which]
        origin_values, target_values = origins - base, (target_rows - base[:, None]).reshape(-1)
    columns = {}
    if series.ids is not None:
        columns[id_column] = np.repeat(np.asarray(series.ids, dtype=object)[which], horizon * n_targets)
    columns.update(
        {
            "origin": np.repeat(np.asarray(origin_values), horizon * n_targets),
            "target_time": np.repeat(np.asarray(target_values), n_targets),
            "step": np.tile(np.repeat(np.arange(1, horizon + 1), n_targets), n_windows),
            "column": np.tile(np.asarray(series.target_names, dtype=object), n_windows * horizon),
            "prediction": predictions.reshape(-1),
        }
    )
    return pd.DataFrame(columns)
