"""The data layer's entry point: `load_series` reads the columns a config asks for into a `Series`,
and `InputSchema` records them for a run's later reads.

`load_series` is a pipeline of stages, each in the module named after its job: `readers` (the
file, whole or some series), `timeparse` (the time column), `panels` (series order, static
covariates, future rows), `columns` (which columns, checked numeric, as float32), `fill` (missing
values), `timegrid` (data.frequency's grid) and `memory`. Every problem a user can fix in the file
becomes a ForecastError that names the file, the column and the row, so a batch job fails in one
line instead of deep inside Keras. (The scalers live in `forecast.scalers`.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import calendar as cal
from forecast import config as cfg
from forecast.columns import as_float32, used_columns
from forecast.errors import ForecastError
from forecast.fill import fill_history, mark_missing
from forecast.memory import release_memory
from forecast.panels import future_rows, leading_rows, panel_order, static_covariates
from forecast.readers import numbers_again, parquet, read_table
from forecast.timegrid import frequency, regularize
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
    frame, data = _read(data, path, schema, only)
    rows = _series_order(frame, data, path)
    features, targets = used_columns(frame, data, path)
    columns = list(dict.fromkeys(features + targets))
    dtypes = {str(c): str(frame[c].dtype) for c in columns}
    panel = data.id_column is not None
    static = (
        static_covariates(frame, data.covariates.static, rows.source, rows.starts, rows.ids, path) if panel else None
    )
    rows.values = as_float32(frame, columns, rows.source, path, rows.where)
    del frame  # from here on the one copy of a large panel's values is rows.values
    release_memory()
    notes = mark_missing(rows.values, columns, data.missing_values, data.fill)
    if data.frequency is not None:
        notes += _regularize(rows, data.frequency, path)
    target_index = [columns.index(t) for t in targets]
    rows.ends = future_rows(rows.values, target_index, rows.starts, rows.where, path)
    if not future:
        notes += _drop_future_rows(rows)
    filled, fill_notes = _fill(rows, columns, data.fill, path)
    return Series(
        features=_columns(rows.values, [columns.index(c) for c in features]),
        targets=_columns(rows.values, target_index),
        feature_names=features,
        target_names=targets,
        times=rows.times,
        notes=notes + fill_notes,
        filled=filled,
        dtypes=dtypes,
        starts=rows.starts if panel else None,
        ids=rows.ids,
        ends=rows.ends,
        static=static,
        calendar=list(data.calendar),
    )


@dataclass
class _Rows:
    """The rows as `load_series` carries them from stage to stage, in series order.

    A stage that inserts rows (data.frequency) or drops them (future rows, data.fill=drop) changes
    the values, stamps, offsets and sources together, and `where` reads them as they are at the
    moment a message is written: an error names a row by its row in the file, whatever the stages
    before it did, or by its stamp where data.frequency inserted it.
    """

    times: pd.DatetimeIndex | None  # each row's stamp; None: rows are identified by their index
    starts: np.ndarray  # row offsets of the series (n_series + 1): [0, rows] for one series
    source: np.ndarray | None = None  # each row's row in the file (None: the same; -1: a stamp data.frequency inserted)
    ids: list[str] | None = None  # a panel's series ids; None: one series
    values: np.ndarray | None = None  # the used columns, float32, once read
    ends: np.ndarray | None = None  # first row after each series' history; None: every row is history

    def where(self, row: int) -> str:
        """How messages name a row: "series 'a' row 12", "row 12", or "series 'a' 2024-01-01 03:00:00
        (a stamp data.frequency inserted)"."""
        series = int(np.searchsorted(self.starts, row, side="right") - 1)
        name = f"series '{self.ids[series]}' " if self.ids is not None else ""
        if self.source is None or self.source[row] >= 0:
            return f"{name}row {row if self.source is None else self.source[row]}"
        return f"{name}{self.times[row]} (a stamp data.frequency inserted)"


def _read(data: cfg.Data, path: Path, schema: InputSchema | None, only: list | None) -> tuple[pd.DataFrame, cfg.Data]:
    """The file (only the `only` series of a panel, if given), its columns matched to a run's schema
    by name. A CSV read a chunk at a time gets its number columns back as numbers: a chunk with one
    bad cell reads its whole column as text, and must not blame the series kept from it."""
    selection = (data.id_column, only) if only is not None and data.id_column else None
    frame = read_table(path, [data.id_column] if data.id_column else [], selection)
    if schema is not None:
        schema.check_columns(frame, path)
        data = schema.apply(data)
    if only is not None and not parquet(path):
        frame = numbers_again(frame, keep={data.time_column, data.id_column, *data.covariates.static})
    return frame, data


def _series_order(frame: pd.DataFrame, data: cfg.Data, path: Path) -> _Rows:
    """The rows' stamps and a panel's series order: each series' rows contiguous and sorted in time,
    in the file's order of ids. A single series' stamps must already increase; a panel's are
    checked per series once sorted, since long files interleave series by time."""
    panel = data.id_column is not None
    times = (
        parse_times(frame, data.time_column, path, data.time_format, ordered=not panel) if data.time_column else None
    )
    if not panel:
        return _Rows(times, np.array([0, len(frame)], dtype=np.int64))
    order, starts, ids = panel_order(frame, data, path, times)
    if order is not None and times is not None:
        times = times[order]
    return _Rows(times, starts, source=order, ids=ids)


def _regularize(rows: _Rows, freq: str, path: Path) -> list[str]:
    """data.frequency: every stamp on its grid, the missing stamps inserted as empty rows (NaN) for
    data.fill to treat, so a model never reads 23 hours as a day."""
    regular = regularize(rows.times, rows.starts, freq, rows.where, path.name)
    if regular is None:
        return []
    grid = np.full((len(regular.times), rows.values.shape[1]), np.nan, dtype=np.float32)
    grid[regular.rows] = rows.values
    inserted_source = np.full(len(regular.times), -1)
    inserted_source[regular.rows] = rows.source if rows.source is not None else np.arange(len(rows.values))
    rows.values, rows.source, rows.times, rows.starts = grid, inserted_source, regular.times, regular.starts
    return [f"data.frequency={freq} inserted {regular.inserted} missing time stamps"]


def _drop_future_rows(rows: _Rows) -> list[str]:
    """Outside `predict`, rows with empty targets after a series' last value are future rows, not
    training data: they are dropped, and said so, rather than filled into made-up targets."""
    starts, ends = rows.starts, rows.ends
    rows.ends = None
    trailing = int((starts[1:] - ends).sum())
    if not trailing:
        return []
    keep = np.arange(len(rows.values)) < np.repeat(ends, np.diff(starts))
    rows.values = rows.values[keep]
    rows.source = (rows.source if rows.source is not None else np.arange(len(keep)))[keep]
    rows.times = rows.times[keep] if rows.times is not None else None
    rows.starts = np.concatenate([[0], np.cumsum(ends - starts[:-1])]).astype(np.int64)
    return [f"{trailing} rows after the last target value of their series (future rows) are not used"]


def _fill(rows: _Rows, columns: list[str], how: str, path: Path) -> tuple[dict[str, int], list[str]]:
    """data.fill on the history rows, within each series; with data.fill=drop, the stamps and the
    series' offsets (and a predict file's history ends) follow the rows that are left.

    Returns the count filled (or dropped) per column, and notes for the user.
    """
    starts, ends = rows.starts, rows.ends
    groups = np.repeat(np.arange(len(starts) - 1, dtype=np.int32), np.diff(starts)) if rows.ids is not None else None
    history = None if ends is None else leading_rows(starts, ends - starts[:-1])
    rows.values, kept, filled, notes = fill_history(rows.values, columns, how, path, groups, rows.where, history)
    if kept is not None:  # data.fill=drop
        rows.times = rows.times[kept] if rows.times is not None else None
        series_of_row = np.repeat(np.arange(len(starts) - 1), np.diff(starts))[kept]
        counts = np.bincount(series_of_row, minlength=len(starts) - 1)
        if ends is not None:
            rows.ends = np.cumsum(counts) - counts + np.bincount(series_of_row[history[kept]], minlength=len(counts))
        rows.starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return filled, notes


def _columns(values: np.ndarray, index: list[int]) -> np.ndarray:
    """Some columns of `values`: a view when they are consecutive (features are the first columns,
    and a target among them often one of those), else a copy."""
    if index == list(range(index[0], index[0] + len(index))):
        return values[:, index[0] : index[0] + len(index)]
    return values[:, index]
