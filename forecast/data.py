"""Reading a series from CSV/Parquet and checking it (the scalers live in `forecast.scalers`).

Every problem a user can fix in the file becomes a ForecastError that names the file, the column
and the row, so a batch job fails in one line instead of deep inside Keras.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.memory import release_memory
from forecast.readers import numbers_again, parquet, read_table
from forecast.timegrid import frequency
from forecast.timeparse import parse_times


@dataclass
class Series:
    """The columns a config uses, as float32 arrays in original units, with their time axis."""

    features: np.ndarray  # (rows, n_features)
    targets: np.ndarray  # (rows, n_targets)
    feature_names: list[str]
    target_names: list[str]
    times: pd.DatetimeIndex | None  # None: rows are identified by their index
    notes: list[str] = field(default_factory=list)  # what loading changed, for the user to read
    filled: dict[str, int] = field(default_factory=dict)  # values data.fill filled (or dropped), per column
    dtypes: dict[str, str] = field(default_factory=dict)  # each used column's type as read (int64, float64)
    # a panel (data.id_column): the rows of each series are contiguous, in the file's order of ids
    starts: np.ndarray | None = None  # row offsets of the series (n_series + 1); None: one series
    ids: list[str] | None = None  # each series' id
    ends: np.ndarray | None = None  # first row after each series' history; rows from there on (to
    # the next series) are future rows read for `predict` (future covariates, targets empty)
    static: pd.DataFrame | None = None  # static covariates as read, one row per series (index: ids)
    calendar: list[str] = field(default_factory=list)  # data.calendar: computed from `times` into x when scaled

    def __len__(self) -> int:
        return len(self.features)

    @property
    def calendar_names(self) -> list[str]:
        """The generated columns: hour_sin, hour_cos, ..."""
        from forecast import calendar as cal

        return cal.names(self.calendar)

    @property
    def offsets(self) -> np.ndarray:
        """Row offsets of each series (n_series + 1); [0, rows] for a single series."""
        return self.starts if self.starts is not None else np.array([0, len(self)], dtype=np.int64)

    @property
    def history_ends(self) -> np.ndarray:
        """First row after each series' history (its forecast origin + 1)."""
        return self.ends if self.ends is not None else self.offsets[1:]

    @property
    def n_series(self) -> int:
        return len(self.offsets) - 1

    def row_series(self) -> np.ndarray:
        """The series of every row, int32 (4 bytes a row: a panel's largest index array)."""
        return np.repeat(np.arange(self.n_series, dtype=np.int32), np.diff(self.offsets))

    def series_of(self, rows: np.ndarray) -> np.ndarray:
        """The series (0-based) each row belongs to."""
        return np.searchsorted(self.offsets, rows, side="right") - 1

    def label(self, series: int) -> str:
        """How messages name a series: "series 'H12'"."""
        return f"series '{self.ids[series]}'" if self.ids is not None else "the series"


@dataclass(frozen=True)
class InputSchema:
    """The columns a run was trained on, recorded in RUN_DIR/schema.json.

    `evaluate` and `predict` select a new file's columns by these names, never by position: the
    same columns in another order give the same forecasts, and a missing or renamed column is an
    error naming it. `listed` says whether the config named its features; when it did not (every
    numeric column is a feature), an extra column in a new file is an error too, since the
    run would otherwise silently ignore what the user meant as an input.
    """

    features: list[str]
    targets: list[str]
    time_column: str | None
    listed: bool
    frequency: str | None = None  # pandas' name for the training stamps' frequency ('h', 'W-SUN'), if regular
    dtypes: dict[str, str] | None = None  # each column's type as read from the training file
    id_column: str | None = None  # a panel's series id column
    static: list[str] | None = None  # static covariate columns

    @classmethod
    def of(cls, data: cfg.Data, series: Series) -> InputSchema:
        frequency_name = data.frequency
        if frequency_name is None and series.times is not None:
            end = int(series.offsets[1])  # the first series' stamps (a panel's series interleave in time)
            frequency_name = frequency(series.times[: min(end, 10_000)])
        features, targets = list(series.feature_names), list(series.target_names)
        listed = data.features is not None
        static = list(data.covariates.static) or None
        return cls(
            features, targets, data.time_column, listed, frequency_name, dict(series.dtypes), data.id_column, static
        )

    def to_dict(self) -> dict:
        return {
            "features": self.features,
            "targets": self.targets,
            "time_column": self.time_column,
            "listed": self.listed,
            "frequency": self.frequency,
            "dtypes": self.dtypes,
        } | ({"id_column": self.id_column, "static": self.static} if self.id_column else {})

    @classmethod
    def from_dict(cls, raw: object, source: str) -> InputSchema:
        """Read back and check a schema.json like user input (names are non-empty unique strings)."""
        required = {"features", "targets", "time_column", "listed"}
        ok = isinstance(raw, dict) and required <= set(raw) <= {*required, "frequency", "dtypes", "id_column", "static"}
        for key in ("features", "targets"):
            names = raw.get(key) if ok else None
            ok = ok and isinstance(names, list) and bool(names) and all(isinstance(n, str) for n in names)
            ok = ok and len(set(names)) == len(names)
        ok = (
            ok
            and (raw["time_column"] is None or isinstance(raw["time_column"], str))
            and isinstance(raw["listed"], bool)
            and isinstance(raw.get("frequency"), str | None)
            and isinstance(raw.get("dtypes"), dict | None)
            and isinstance(raw.get("id_column"), str | None)
            and isinstance(raw.get("static"), list | None)
        )
        if not ok:
            raise ForecastError(
                f"{source}: not a forecast schema file (expected features, targets, time_column, listed)"
            )
        return cls(
            raw["features"],
            raw["targets"],
            raw["time_column"],
            raw["listed"],
            raw.get("frequency"),
            raw.get("dtypes"),
            raw.get("id_column"),
            raw.get("static"),
        )

    def apply(self, data: cfg.Data) -> cfg.Data:
        """The run's data section with its columns named, so a new file is read by name."""
        return data.model_copy(update={"features": self.features, "targets": self.targets})

    def check_columns(self, frame: pd.DataFrame, path: Path) -> None:
        """Every column the run was trained on is in the file; with unlisted features, no other column is."""
        extra_columns = [c for c in (self.id_column, *(self.static or [])) if c is not None]
        missing = [c for c in dict.fromkeys([*self.features, *self.targets, *extra_columns]) if c not in frame.columns]
        if missing:
            raise ForecastError(
                f"{path.name}: column '{missing[0]}' is missing; the run was trained on "
                f"{', '.join(self.features)} (matched by name, in any order)"
            )
        if self.listed:
            return
        known = {*self.features, *self.targets, self.time_column, *extra_columns}
        extra = [str(c) for c in frame.columns if c not in known]
        if extra:
            raise ForecastError(
                f"{path.name}: column '{extra[0]}' was not in the training data (the run's features: "
                f"{', '.join(self.features)}); drop it or train a run that uses it"
            )


def _numeric(frame: pd.DataFrame, columns: list[str], key: str, path: Path, hint: str = "") -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ForecastError(
            f"{key}: column '{missing[0]}' not in {path.name} (columns: {', '.join(map(str, frame.columns))})"
        )
    for column in columns:
        if pd.api.types.is_bool_dtype(frame[column]) or not pd.api.types.is_numeric_dtype(frame[column]):
            values = pd.to_numeric(frame[column], errors="coerce")
            bad = np.flatnonzero(values.isna().to_numpy() & frame[column].notna().to_numpy())
            example = f": row {bad[0]} is {frame[column].iloc[bad[0]]!r}" if len(bad) else ""
            raise ForecastError(f"{key}: column '{column}' in {path.name} is not numeric{example}{hint}")


def _group_fill(values: np.ndarray, groups: np.ndarray, how: str) -> np.ndarray:
    """ffill or linear interpolation within each series (never across two), vectorised over all of them.

    Interpolation matches pandas' `interpolate(limit_direction="both")` on each series: linear
    between the nearest values before and after, the nearest one at either end.
    """
    if how == "ffill":
        return pd.DataFrame(values).groupby(groups, sort=False).ffill().to_numpy(values.dtype)
    out = values.copy()
    index = pd.Series(np.arange(len(values), dtype=np.float64))
    for k in range(values.shape[1]):
        column = values[:, k].astype(np.float64)
        holes = np.isnan(column)
        if not holes.any():
            continue
        by_series = index.where(~holes).groupby(groups, sort=False)
        before, after = by_series.ffill().to_numpy(), by_series.bfill().to_numpy()
        before_value = np.where(np.isnan(before), np.nan, column[np.nan_to_num(before).astype(np.int64)])
        after_value = np.where(np.isnan(after), np.nan, column[np.nan_to_num(after).astype(np.int64)])
        span = after - before
        weight = np.where(span > 0, (index.to_numpy() - before) / np.where(span > 0, span, 1), 0.0)
        line = before_value + (after_value - before_value) * weight
        filled = np.where(np.isnan(before), after_value, np.where(np.isnan(after), before_value, line))
        out[:, k] = np.where(holes, filled, column)
    return out


def _fill(
    values: np.ndarray, columns: list[str], how: str, path: Path, groups: np.ndarray | None, where
) -> tuple[np.ndarray, np.ndarray | None, dict[str, int], list[str]]:
    """Treat missing values as data.fill says (`values` may be changed in place).

    Returns the values, the rows kept (data.fill=drop; None when all are), the count filled (or,
    for drop, dropped) per column, and notes for the user. `groups` (a panel's series of each row)
    keeps ffill and interpolation inside each series.
    """
    values[np.isinf(values)] = np.nan
    missing = np.isnan(values)
    counts = {columns[k]: int(n) for k, n in enumerate(missing.sum(axis=0)) if n}
    notes = []
    if counts and how != "none":
        verb = "dropped the rows of" if how == "drop" else "filled"
        touched = ", ".join(f"{n} in '{c}'" for c, n in counts.items())
        notes.append(f"data.fill={how} {verb} {sum(counts.values())} missing values ({touched})")
        if how == "drop":
            notes.append(
                f"data.fill=drop removed {int(missing.any(axis=1).sum())} rows: the series' spacing is now uneven"
            )
        elif groups is None and missing[-1].any():
            notes.append(f"the last row ({len(values) - 1}), the forecast origin, holds filled values")
    kept = None
    if counts and how in ("ffill", "interpolate"):
        values = _group_fill(values, groups if groups is not None else np.zeros(len(values), np.int32), how)
    elif counts and how == "drop":
        kept = np.flatnonzero(~missing.any(axis=1))
        values = values[kept]
    del missing
    holes = np.isnan(values)
    if holes.any():
        row, col = (int(v[0]) for v in np.nonzero(holes))
        fix = "set data.fill to ffill, interpolate or drop" if how == "none" else f"data.fill={how} cannot fill it"
        place = where(int(kept[row]) if kept is not None else row)
        raise ForecastError(f"{path.name}: column '{columns[col]}' {place}: missing or infinite value ({fix})")
    if len(values) == 0:
        raise ForecastError(f"{path.name}: no rows left after data.fill={how}")
    return values, kept, counts if how != "none" else {}, notes


def _fits_float32(column: str, values: np.ndarray, path: Path, where) -> None:
    """Series are trained in float32: a value beyond its range (~3.4e38) would become infinite.
    (Missing values, a predict file's future targets, are not checked.)"""
    limit = float(np.finfo(np.float32).max)
    for start in range(0, len(values), CHUNK):  # inf is a missing value for data.fill, not too big
        part = values[start : start + CHUNK]
        big = np.isfinite(part) & (np.abs(part) > limit)
        if big.any():
            row = start + int(np.flatnonzero(big)[0])
            raise ForecastError(
                f"{path.name}: column '{column}' {where(row)}: {values[row]:g} is beyond float32 (3.4e38)"
            )


def _panel_order(frame: pd.DataFrame, data: cfg.Data, path: Path, times: pd.DatetimeIndex | None):
    """Series codes in the file's order of first appearance, and the row order that makes each
    series contiguous and sorted in time (long files often interleave series by time)."""
    column = data.id_column
    if column not in frame.columns:
        raise ForecastError(
            f"data.id_column: column '{column}' not in {path.name} (columns: {', '.join(map(str, frame.columns))})"
        )
    ids_column = frame[column]
    codes = None
    if isinstance(ids_column.dtype, pd.CategoricalDtype):  # read as a category: its codes, if in file order
        codes = ids_column.cat.codes.to_numpy()
        if not (len(codes) and codes.min() >= 0 and _nondecreasing(codes)):
            codes = None
        else:
            used = np.unique(codes[np.r_[0, np.flatnonzero(np.diff(codes)) + 1]])
            uniques = ids_column.cat.categories[used]
            codes = (
                np.searchsorted(used, codes).astype(np.int32) if len(used) < len(ids_column.cat.categories) else codes
            )
    if codes is None:
        codes, uniques = pd.factorize(ids_column, sort=False)
    if (codes < 0).any():
        raise ForecastError(f"{path.name}: column '{column}' row {int(np.flatnonzero(codes < 0)[0])}: no series id")
    ids = [str(u) for u in uniques]
    if len(set(ids)) < len(ids):  # 1 and "1" in one column
        raise ForecastError(f"{path.name}: column '{column}' holds ids that read the same as text ('{ids[0]}')")
    if _nondecreasing(codes) and (times is None or _increasing_within(times, codes)):
        order = None  # already grouped and sorted (the usual file): no copy of every column
    elif times is None:
        order = np.argsort(codes, kind="stable")
    else:
        order = np.lexsort((times.asi8, codes))
    if times is not None:
        ordered_codes = codes if order is None else codes[order]
        ordered_times = times.asi8 if order is None else times.asi8[order]
        same = (np.diff(ordered_codes) == 0) & (np.diff(ordered_times) == 0)
        if same.any():
            row = int(np.flatnonzero(same)[0] + 1)
            row = int(order[row]) if order is not None else row
            raise ForecastError(f"{path.name}: series '{ids[codes[row]]}' row {row}: duplicate timestamp {times[row]}")
    starts = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(ids)))]).astype(np.int64)
    return order, starts, ids


CHUNK = 1 << 22  # rows checked at a time: a large panel's temporaries stay small


def _nondecreasing(values: np.ndarray) -> bool:
    return all((np.diff(values[i : i + CHUNK + 1]) >= 0).all() for i in range(0, len(values), CHUNK))


def _increasing_within(times: pd.DatetimeIndex, codes: np.ndarray) -> bool:
    """Whether stamps do not decrease within each run of equal codes (a duplicate is reported later)."""
    stamps = times.asi8
    return all(
        ((np.diff(stamps[i : i + CHUNK + 1]) >= 0) | (np.diff(codes[i : i + CHUNK + 1]) != 0)).all()
        for i in range(0, len(stamps), CHUNK)
    )


def _static(frame: pd.DataFrame, columns: list[str], order, starts, ids, path: Path) -> pd.DataFrame | None:
    """One row per series of its static covariates; a value that changes within a series is an error."""
    if not columns:
        return None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ForecastError(f"data.covariates.static: column '{missing[0]}' not in {path.name}")
    sorted_frame = frame[columns] if order is None else frame[columns].iloc[order]
    first = sorted_frame.iloc[starts[:-1]]
    series = np.repeat(np.arange(len(ids)), np.diff(starts))

    def row(position: int) -> int:
        return int(order[position]) if order is not None else int(position)

    for column in columns:
        values = sorted_frame[column].to_numpy()
        if pd.isna(values).any():
            raise ForecastError(
                f"{path.name}: column '{column}' row {row(np.flatnonzero(pd.isna(values))[0])}: missing static value"
            )
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = values.astype(np.float64)  # standardized across series: one inf makes every value NaN
            if np.isinf(numbers).any():
                position = np.flatnonzero(np.isinf(numbers))[0]
                raise ForecastError(
                    f"{path.name}: column '{column}' row {row(position)}: infinite static value "
                    f"in series '{ids[series[position]]}'"
                )
            _fits_float32(column, numbers, path, lambda position: f"row {row(position)}")
        changed = values != first[column].to_numpy()[series]
        if changed.any():
            position = np.flatnonzero(changed)[0]
            raise ForecastError(
                f"{path.name}: column '{column}' row {row(position)}: static covariate changes within "
                f"series '{ids[series[position]]}'"
            )
    return first.set_axis(ids, axis=0)


def _future_rows(values: np.ndarray, targets: list[int], starts: np.ndarray, where, path: Path) -> np.ndarray:
    """Each series' trailing rows with every target empty are future rows (for `predict`):
    returns each series' first future row (its history's end)."""
    known = np.zeros(len(values), bool)
    for k in targets:
        known |= ~np.isnan(values[:, k])
    nonempty = np.diff(starts) > 0
    if known[starts[1:][nonempty] - 1].all():  # every series ends with a target value: no future rows
        return starts[1:].copy()
    position = np.where(known, np.arange(len(values)), -1)
    last = np.full(len(starts) - 1, -1)
    last[nonempty] = np.maximum.reduceat(position, starts[:-1][nonempty])
    empty = np.flatnonzero(last < starts[:-1])
    if len(empty):
        raise ForecastError(f"{path.name}: {where(int(starts[empty[0]]))}: no row with a target value")
    return (last + 1).astype(np.int64)


def load_series(
    data: cfg.Data,
    path: Path | None = None,
    schema: InputSchema | None = None,
    future: bool = False,
    only: list | None = None,
) -> Series:
    """Load the columns a config asks for.

    Args:
        data: the config's data section.
        path: replaces data.path (evaluate/predict on new data).
        schema: a run's recorded columns; the file's columns are then matched to them by name.
        future: `predict`: trailing rows of each series whose targets are all empty are future
            rows (they carry future covariates); they are kept, untouched by data.fill.
        only: a panel's series to load (a shard of `predict`), by id; None: all of them.
    """
    path = Path(path or data.path)
    selection = (data.id_column, only) if only is not None and data.id_column else None
    frame = read_table(path, [data.id_column] if data.id_column else [], selection)
    if schema is not None:
        schema.check_columns(frame, path)
        data = schema.apply(data)
    panel = data.id_column is not None
    times = (
        parse_times(frame, data.time_column, path, data.time_format, ordered=not panel) if data.time_column else None
    )
    order, starts, ids = _panel_order(frame, data, path, times) if panel else (None, None, None)
    covariates = data.covariates
    not_inputs = {data.time_column, data.id_column, *covariates.static}
    if only is not None and not parquet(path):
        frame = numbers_again(frame, keep=not_inputs)
    if data.features is None:
        # every column but the time axis; a stray text cell is an error, never a silently dropped column
        features = [str(c) for c in frame.columns if c not in not_inputs]
        _numeric(
            frame,
            features,
            "data.features",
            path,
            hint=" (name it in data.time_column if it holds times, or list data.features)",
        )
    else:
        features = list(data.features)
        _numeric(frame, features, "data.features", path)
    features += [c for c in (*covariates.past, *covariates.future) if c not in features]
    _numeric(frame, [*covariates.past, *covariates.future], "data.covariates", path)
    inputs_only = {*covariates.past, *covariates.future}  # covariates are never targets, by default either
    targets = list(data.targets) if data.targets is not None else [c for c in features if c not in inputs_only]
    if not targets:
        raise ForecastError("data.targets: every feature is a covariate; name the targets")
    _numeric(frame, targets, "data.targets", path)
    columns = list(dict.fromkeys(features + targets))
    dtypes = {str(c): str(frame[c].dtype) for c in columns}
    static = _static(frame, covariates.static, order, starts, ids, path) if panel else None
    if order is not None:
        times = times[order] if times is not None else None
    source = order  # each row's row in the file (None: the same; -1: a stamp data.frequency inserted)
    starts = starts if starts is not None else np.array([0, len(frame)], dtype=np.int64)

    def where(row: int) -> str:
        series = int(np.searchsorted(starts, row, side="right") - 1)
        name = f"series '{ids[series]}' " if panel else ""
        if source is None or source[row] >= 0:
            return f"{name}row {row if source is None else source[row]}"
        return f"{name}{times[row]} (a stamp data.frequency inserted)"

    # One float32 array of every used column, filled column by column (reordered when the file
    # interleaves series): the one copy of a large panel's values. Range is checked before the cast.
    values = np.empty((len(frame), len(columns)), dtype=np.float32)
    for k, column in enumerate(columns):
        column_values = frame[column].to_numpy()
        if column_values.dtype != np.float32:
            column_values = column_values.astype(np.float64)  # bools and ints too; a float32 cannot overflow
        column_values = column_values[order] if order is not None else column_values
        if column_values.dtype != np.float32:
            _fits_float32(column, column_values, path, where)
        values[:, k] = column_values
    del frame, column_values
    release_memory()
    notes = []
    for column, sentinels in data.missing_values.items():
        if column not in columns:
            raise ForecastError(f"data.missing_values: column '{column}' is not among the features or targets")
        k = columns.index(column)
        hit = np.isin(values[:, k], np.asarray(sentinels, dtype=np.float32))
        if hit.any():
            values[hit, k] = np.nan
            notes.append(
                f"{int(hit.sum())} rows of '{column}' held {'/'.join(f'{v:g}' for v in sentinels)} (missing): "
                f"data.fill={data.fill}"
            )
    if data.frequency is not None:
        from forecast.timegrid import regularize

        regular = regularize(times, starts, data.frequency, where, path.name)
        if regular is not None:
            grid = np.full((len(regular.times), len(columns)), np.nan, dtype=np.float32)
            grid[regular.rows] = values
            inserted_source = np.full(len(regular.times), -1)
            inserted_source[regular.rows] = source if source is not None else np.arange(len(values))
            values, source, times, starts = grid, inserted_source, regular.times, regular.starts
            notes.append(f"data.frequency={data.frequency} inserted {regular.inserted} missing time stamps")
    target_index = [columns.index(t) for t in targets]
    ends = _future_rows(values, target_index, starts, where, path)
    if not future:  # rows with empty targets after a series' last value: future rows, not training data
        trailing = int((starts[1:] - ends).sum())
        if trailing:
            notes.append(f"{trailing} rows after the last target value of their series (future rows) are not used")
            keep = np.arange(len(values)) < np.repeat(ends, np.diff(starts))
            values = values[keep]
            source = (source if source is not None else np.arange(len(keep)))[keep]
            times = times[keep] if times is not None else None
            starts = np.concatenate([[0], np.cumsum(ends - starts[:-1])]).astype(np.int64)
        ends = None
    groups = np.repeat(np.arange(len(starts) - 1, dtype=np.int32), np.diff(starts)) if panel else None
    history = None if ends is None else leading_rows(starts, ends - starts[:-1])
    if history is not None and not _any_missing(values, history):
        history = None  # nothing to fill among the history rows: the future rows' NaN stay as they are
        values, kept, filled, fill_notes = values, None, {}, []
    elif history is None:
        values, kept, filled, fill_notes = _fill(values, columns, data.fill, path, groups, where)
    else:  # predict: the future rows are left as they are
        past = np.flatnonzero(history)
        part, kept, filled, fill_notes = _fill(
            values[past], columns, data.fill, path, groups[past] if groups is not None else None,
            lambda row: where(int(past[row])),
        )  # fmt: skip
        if kept is not None:  # data.fill=drop: positions among all rows, in their order
            kept = np.concatenate([past[kept], np.flatnonzero(~history)])
            values = np.concatenate([part, values[~history]])
            order = np.argsort(kept, kind="stable")
            kept, values = kept[order], values[order]
        else:
            values[past] = part
    notes += fill_notes
    if kept is not None:  # data.fill=drop
        times = times[kept] if times is not None else None
        series_of_row = np.repeat(np.arange(len(starts) - 1), np.diff(starts))[kept]
        counts = np.bincount(series_of_row, minlength=len(starts) - 1)
        if ends is not None:
            ends = np.cumsum(counts) - counts + np.bincount(series_of_row[history[kept]], minlength=len(counts))
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Series(
        features=_columns(values, [columns.index(c) for c in features]),
        targets=_columns(values, target_index),
        feature_names=features,
        target_names=targets,
        times=times,
        notes=notes,
        filled=filled,
        dtypes=dtypes,
        starts=starts if panel else None,
        ids=ids,
        ends=ends,
        static=static,
        calendar=list(data.calendar),
    )


def leading_rows(offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """A boolean mask of the first `counts[i]` rows of each series (offsets: n_series + 1), built
    from +1/-1 steps and a running sum in int8: one byte a row, however many rows."""
    steps = np.zeros(int(offsets[-1]) + 1, dtype=np.int8)
    np.add.at(steps, offsets[:-1], 1)
    np.add.at(steps, offsets[:-1] + np.clip(counts, 0, np.diff(offsets)), -1)
    return np.cumsum(steps[:-1], dtype=np.int8) > 0


def _any_missing(values: np.ndarray, rows: np.ndarray) -> bool:
    """Whether any value of the selected rows is NaN or infinite (checked a chunk at a time)."""
    return any((~np.isfinite(values[i : i + CHUNK]))[rows[i : i + CHUNK]].any() for i in range(0, len(values), CHUNK))


def _columns(values: np.ndarray, index: list[int]) -> np.ndarray:
    """Some columns of `values`: a view when they are consecutive (features are the first columns,
    and a target among them often one of those), else a copy."""
    if index == list(range(index[0], index[0] + len(index))):
        return values[:, index[0] : index[0] + len(index)]
    return values[:, index]
