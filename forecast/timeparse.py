"""A file's time column: parsed into stamps (numbers as years or by data.time_format), checked in
order, and the format its text is written in, so that stamps forecast writes look like the file's.

A bare number would be read by pandas as nanoseconds since 1970, and a day-first date read
month-first: both silent wrong answers, so every rule here fails loudly or reads as the file means.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import ForecastError
from forecast.readers import ROWS_AT_A_TIME, parquet, parquet_dataset


def parse_times(
    frame: pd.DataFrame, column: str, path: Path, time_format: str | None, ordered: bool = True
) -> pd.DatetimeIndex:
    """A frame's time column as stamps, every value a date or an error naming its row.

    Args:
        frame: the file as read.
        column: data.time_column.
        path: the file, for messages.
        time_format: data.time_format (None: pandas infers it; whole numbers are years).
        ordered: a single series, whose stamps must increase row by row; False for a panel, whose
            rows are sorted by series and time, and checked per series, later (`panels.panel_order`).
    """
    if column not in frame.columns:
        raise ForecastError(
            f"data.time_column: column '{column}' not in {path.name} (columns: {', '.join(map(str, frame.columns))})"
        )
    raw = frame[column]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        raw = _numeric_times(raw, column, path, time_format)
        time_format = time_format or "%Y"
    with warnings.catch_warnings():  # "could not infer format": the bad value is reported below
        warnings.simplefilter("ignore", UserWarning)
        try:
            times = pd.to_datetime(raw, errors="coerce", format=time_format)
        except (ValueError, TypeError) as exc:  # a bad format directive; time zones that differ by row
            reason = str(exc).split(". ")[0]
            raise ForecastError(
                f"{path.name}: column '{column}': {reason} (data.time_format: {time_format!r})"
            ) from None
    bad = np.flatnonzero(times.isna().to_numpy())
    if len(bad):
        fix = f"in the format {time_format!r}" if time_format else "(set data.time_format)"
        raise ForecastError(
            f"{path.name}: column '{column}' row {bad[0]}: {raw.iloc[bad[0]]!r} is not a date/time {fix}"
        )
    index = pd.DatetimeIndex(times)
    if not ordered:  # a panel: sorted by series and time later, and checked per series there
        return index
    steps = np.diff(index.asi8)
    if (steps == 0).any():
        row = int(np.flatnonzero(steps == 0)[0]) + 1
        raise ForecastError(f"{path.name}: column '{column}' row {row}: duplicate timestamp {index[row]}")
    if (steps < 0).any():
        row = int(np.flatnonzero(steps < 0)[0]) + 1
        raise ForecastError(
            f"{path.name}: column '{column}' row {row}: timestamps are not sorted ({index[row]} after {index[row - 1]})"
        )
    return index


def _numeric_times(raw: pd.Series, column: str, path: Path, time_format: str | None) -> pd.Series:
    """A numeric time column as text pandas can parse: whole numbers 1..9999 without a format are
    years (1700 or 1700.0 -> '1700'); with a format, whole numbers are read by it ('%Y%m%d').

    pandas would read a bare number as nanoseconds since 1970, a silent wrong answer for years.
    """
    values = raw.to_numpy(np.float64)
    whole = np.isfinite(values) & (values == np.round(values))
    if not whole.all():
        row = int(np.flatnonzero(~whole)[0])
        raise ForecastError(
            f"{path.name}: column '{column}' row {row}: {values[row]:g} is a number, not a date "
            "(whole years like 1700 are read as years; otherwise write dates or set data.time_format)"
        )
    if time_format is None and not ((values >= 1) & (values <= 9999)).all():
        raise ForecastError(
            f"{path.name}: column '{column}' holds numbers that are not years; "
            "set data.time_format (e.g. '%Y%m%d' for 20200131) or write dates"
        )
    text = pd.Series(values.astype(np.int64).astype(str), index=raw.index)
    return text.str.zfill(4) if time_format is None else text  # year 999 -> '0999' for '%Y'


def time_batches(path: Path, column: str, time_format: str | None) -> Iterator[pd.DatetimeIndex]:
    """A file's time column, parsed a batch at a time (each as `load_series` parses a panel's)."""
    if parquet(path):
        for batch in parquet_dataset(path).to_batches(columns=[column]):
            yield parse_times(batch.to_pandas(), column, path, time_format, ordered=False)
        return
    with pd.read_csv(path, usecols=[column], chunksize=ROWS_AT_A_TIME) as chunks:
        for chunk in chunks:
            yield parse_times(chunk, column, path, time_format, ordered=False)


def time_format_of(path: Path, column: str) -> str | None:
    """The format pandas would infer for a text time column when it reads the whole file: the one
    its first value has (None: not text, no value, or no single format). A panel read a group of
    series at a time is parsed with it, so that every group reads its stamps as the whole read
    would (a group whose first stamp is 03/04 must not read day-first dates month-first)."""
    return _format_of(_first_time(path, column))


def _format_of(first: object) -> str | None:
    """`time_format_of` for the file's first time value."""
    if not isinstance(first, str) or _number(first):
        return None  # numbers (years, 20200131) are times of their own kind (see _numeric_times)
    with warnings.catch_warnings():  # "dayfirst=False was specified": pandas' own inference says no more
        warnings.simplefilter("ignore", UserWarning)
        return pd.tseries.api.guess_datetime_format(first)


def stamp_format(path: Path, column: str | None, time_format: str | None) -> str | None:
    """The format a file writes its stamps in, so that stamps written from it (forecasts' origins
    and target times, a template's rows) look like its own: `time_format` (data.time_format) when
    given, else its first text value's ('2024-05-01 13:00' has no seconds), '%Y' for years written
    as numbers; None where the file says nothing (no time column, Parquet timestamps, text of no
    single format)."""
    if column is None:
        return None
    if time_format is not None:
        return time_format
    first = _first_time(path, column)
    if (isinstance(first, str) and _number(first)) or isinstance(first, int | float | np.number):
        return "%Y"  # the only numbers read without a format (see _numeric_times)
    return _format_of(first)  # the head read once, not again by time_format_of


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_time(path: Path, column: str) -> object:
    """A file's first non-empty value of its time column (a CSV's as text); None: none, or unreadable."""
    try:
        if parquet(path):
            batches = parquet_dataset(path).to_batches(columns=[column])
            batch = next((b for b in batches if b.column(0).null_count < b.num_rows), None)  # empty parts skipped
            values = batch.column(0).to_pandas() if batch is not None else pd.Series([], dtype=object)
        else:
            values = pd.read_csv(path, usecols=[column], nrows=1000, dtype=str)[column]
    except (OSError, ValueError, KeyError):
        return None  # the read of a group reports the problem
    values = values.dropna()
    return values.iloc[0] if len(values) else None
