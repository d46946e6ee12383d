"""Regular time: each series' stamps placed on the grid of `data.frequency`, gaps inserted as rows.

Real series lose stamps (a meter offline, a store closed); a model that assumes one row per hour
would silently read 23 hours as a day. With a frequency, every stamp must lie on that grid (a
stamp off it is an error naming the series and row), and the missing ones become rows whose
values `data.fill` treats. Everything here is vectorised over all series at once: a panel of
100,000 series is regularised without a Python loop over them. Without a configured frequency,
`frequency` asks pandas for the stamps' own (for the run's schema, the season and future stamps).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.errors import ForecastError

# A frequency that would add more rows than this many times the file's own is almost surely wrong
# ('min' for hourly data): refuse it rather than allocate the grid.
MAX_GROWTH = 20
CHUNK = 1 << 22  # rows checked at a time


@dataclass(frozen=True)
class Regular:
    """Where each row of the file goes on the regular grid.

    Attributes:
        rows: the new row of each old row.
        starts: offsets of each series in the new rows (n_series + 1).
        times: the stamp of every new row.
        inserted: how many rows were added.
    """

    rows: np.ndarray
    starts: np.ndarray
    times: pd.DatetimeIndex
    inserted: int


def frequency(times: pd.DatetimeIndex) -> str | None:
    """pandas' name for the stamps' frequency ('h', 'W-SUN', 'ME'), or None when they are irregular
    or too few: the one place forecast asks pandas, for the schema, the season and future stamps."""
    if len(times) < 3:
        return None
    with contextlib.suppress(TypeError, ValueError), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces an offset object instead of the name
        found = pd.infer_freq(times)
        return getattr(found, "freqstr", found)
    return None


def _positions(times: pd.DatetimeIndex, freq: str) -> tuple[np.ndarray, np.ndarray, object]:
    """Grid position of each stamp, a mask of the stamps off the grid (None: every one is on it), and
    how to turn positions into stamps."""
    offset = pd.tseries.frequencies.to_offset(freq)
    times = times.as_unit("ns")  # pandas 3 may parse to microseconds; offsets count nanoseconds
    stamps = times.asi8
    if isinstance(offset, pd.offsets.Tick):
        # Anchored at midnight: 'h' stamps fall on the hour, '15min' on quarters. With a time zone,
        # whole days count on its wall clock (a day is midnight to midnight across DST) and shorter
        # steps in UTC (a DST change neither repeats nor skips an hour there), from local midnight.
        step, day = offset.nanos, 86_400 * 10**9
        wall = times.tz_localize(None).asi8 if times.tz is not None else stamps
        first = int(np.argmin(stamps))
        origin = int(wall[first]) // day * day
        on_wall = times.tz is None or step % day == 0
        clock = wall if on_wall else stamps
        if not on_wall:
            origin -= int(wall[first] - stamps[first])  # local midnight of the first day, in UTC
        relative = clock - origin
        off = None
        if any((relative[i : i + CHUNK] % step).any() for i in range(0, len(relative), CHUNK)):
            off = relative % step != 0
        relative //= step  # in place: the grid position

        def to_stamps(p: np.ndarray) -> pd.DatetimeIndex:
            index = pd.DatetimeIndex((origin + p * step).astype("datetime64[ns]"))
            if times.tz is None:
                return index
            if not on_wall:
                return index.tz_localize("UTC").tz_convert(times.tz)
            return index.tz_localize(times.tz, ambiguous=np.zeros(len(index), bool), nonexistent="shift_forward")

        return relative, off, to_stamps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid = pd.date_range(times.min(), times.max(), freq=offset)
    position = np.minimum(grid.searchsorted(times), max(len(grid) - 1, 0))
    off = np.ones(len(times), bool) if len(grid) == 0 else grid[position].as_unit("ns").asi8 != stamps
    return position, (off if off.any() else None), lambda p: grid[p]


def regularize(times: pd.DatetimeIndex, starts: np.ndarray, freq: str, where: callable, source: str) -> Regular | None:
    """Place sorted stamps (rows of each series contiguous, `starts` their offsets) on the grid of `freq`.

    Args:
        times: the stamps, sorted within each series.
        starts: row offsets of the series (n_series + 1).
        freq: pandas offset alias.
        where: row -> "series 'a' row 12" (or "row 12"), for error messages.
        source: the file's name, for error messages.

    Returns:
        Where the rows go, or None when no stamp is missing (the file is used as it is).
    """
    position, off, stamp = _positions(times, freq)
    if off is not None:
        row = int(np.flatnonzero(off)[0])
        raise ForecastError(f"{source}: {where(row)}: {times[row]} is not on the data.frequency grid ({freq})")
    first, last = position[starts[:-1]], position[starts[1:] - 1]
    lengths = last - first + 1
    if int(lengths.sum()) == len(times):
        return None
    new_starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    total = int(new_starts[-1])
    if total > MAX_GROWTH * len(times) + 1000:
        raise ForecastError(
            f"data.frequency={freq} would turn {len(times):,} rows into {total:,}: is that the data's frequency?"
        )
    series = np.repeat(np.arange(len(lengths)), np.diff(starts))
    rows = new_starts[series] + position - first[series]
    new_series = np.repeat(np.arange(len(lengths)), lengths)
    new_positions = first[new_series] + (np.arange(total) - new_starts[new_series])
    return Regular(rows, new_starts, stamp(new_positions), total - len(times))


def after(last: pd.DatetimeIndex, count: int, freq: str) -> np.ndarray:
    """The `count` stamps after each of `last` on the grid of `freq`: (len(last), count) datetime64."""
    offset = pd.tseries.frequencies.to_offset(freq)
    with warnings.catch_warnings():  # pandas warns that a non-tick offset is applied element by element
        warnings.simplefilter("ignore")
        columns = [np.asarray(last + k * offset, dtype="datetime64[ns]") for k in range(1, count + 1)]
    return np.stack(columns, axis=1) if columns else np.empty((len(last), 0), "datetime64[ns]")


def as_numpy(index: pd.Index) -> np.ndarray:
    """Stamps as naive datetime64[ns] (UTC for zoned ones), row numbers as int64."""
    if isinstance(index, pd.DatetimeIndex):
        return index.as_unit("ns").asi8.view("datetime64[ns]")
    return np.asarray(index, dtype=np.int64)
