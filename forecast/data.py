"""Reading a series from CSV/Parquet and checking it (the scalers live in `forecast.scalers`).

Every problem a user can fix in the file becomes a ForecastError that names the file, the column
and the row, so a batch job fails in one line instead of deep inside Keras.
"""

from __future__ import annotations

import contextlib
import lzma
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import config as cfg
from forecast.errors import ForecastError


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

    def __len__(self) -> int:
        return len(self.features)


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

    @classmethod
    def of(cls, data: cfg.Data, series: Series) -> InputSchema:
        frequency_name = frequency(series.times[:10_000]) if series.times is not None else None
        features, targets = list(series.feature_names), list(series.target_names)
        listed = data.features is not None
        return cls(features, targets, data.time_column, listed, frequency_name, dict(series.dtypes))

    def to_dict(self) -> dict:
        return {
            "features": self.features,
            "targets": self.targets,
            "time_column": self.time_column,
            "listed": self.listed,
            "frequency": self.frequency,
            "dtypes": self.dtypes,
        }

    @classmethod
    def from_dict(cls, raw: object, source: str) -> InputSchema:
        """Read back and check a schema.json like user input (names are non-empty unique strings)."""
        required = {"features", "targets", "time_column", "listed"}
        ok = isinstance(raw, dict) and required <= set(raw) <= {*required, "frequency", "dtypes"}
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
        )
        if not ok:
            raise ForecastError(
                f"{source}: not a forecast schema file (expected features, targets, time_column, listed)"
            )
        return cls(
            raw["features"], raw["targets"], raw["time_column"], raw["listed"], raw.get("frequency"), raw.get("dtypes")
        )

    def apply(self, data: cfg.Data) -> cfg.Data:
        """The run's data section with its columns named, so a new file is read by name."""
        return data.model_copy(update={"features": self.features, "targets": self.targets})

    def check_columns(self, frame: pd.DataFrame, path: Path) -> None:
        """Every column the run was trained on is in the file; with unlisted features, no other column is."""
        missing = [c for c in dict.fromkeys([*self.features, *self.targets]) if c not in frame.columns]
        if missing:
            raise ForecastError(
                f"{path.name}: column '{missing[0]}' is missing; the run was trained on "
                f"{', '.join(self.features)} (matched by name, in any order)"
            )
        if self.listed:
            return
        known = {*self.features, *self.targets, self.time_column}
        extra = [str(c) for c in frame.columns if c not in known]
        if extra:
            raise ForecastError(
                f"{path.name}: column '{extra[0]}' was not in the training data (the run's features: "
                f"{', '.join(self.features)}); drop it or train a run that uses it"
            )


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning the ways it can fail into one line each."""
    if not path.is_file():
        raise ForecastError(f"data.path: file not found: {path}")
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ForecastError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ForecastError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as exc:
        # pyarrow's ArrowInvalid is a ValueError; a corrupt .gz/.bz2/.zip/.xz raises one of the others
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ForecastError(f"{path}: cannot read the file ({reason})") from None
    if frame.empty:
        raise ForecastError(f"{path}: the file has a header but no data rows")
    frame = frame.reset_index(drop=True)  # a Parquet file may carry pandas' index: rows are positions here
    duplicated = None if path.suffix.lower() in (".parquet", ".pq") else _duplicate_header(path, frame)
    if duplicated:
        raise ForecastError(f"{path.name}: column '{duplicated}' appears twice in the header")
    return frame


def _duplicate_header(path: Path, frame: pd.DataFrame) -> str | None:
    """A column name given twice in a CSV header (pandas renames the second 'a' to 'a.1' silently)."""
    if not any(str(c) != str(c).rpartition(".")[0] and str(c).rpartition(".")[2].isdigit() for c in frame.columns):
        return None  # no 'name.N' column: nothing can have been renamed
    header = pd.read_csv(path, header=None, nrows=1).iloc[0].astype(str).tolist()
    seen: set[str] = set()
    for name in header:
        if name in seen:
            return name
        seen.add(name)
    return None


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


def _parse_times(frame: pd.DataFrame, column: str, path: Path, time_format: str | None) -> pd.DatetimeIndex:
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


def _fill(frame: pd.DataFrame, how: str, path: Path) -> tuple[pd.DataFrame, dict[str, int], list[str]]:
    """Treat missing values as data.fill says; returns the frame, the count filled (or, for drop,
    the rows dropped) per column, and notes for the user."""
    frame = frame.replace([np.inf, -np.inf], np.nan)
    missing = frame.isna()
    counts = {str(c): int(n) for c, n in missing.sum().items() if n}
    notes = []
    if counts and how != "none":
        verb = "dropped the rows of" if how == "drop" else "filled"
        touched = ", ".join(f"{n} in '{c}'" for c, n in counts.items())
        notes.append(f"data.fill={how} {verb} {sum(counts.values())} missing values ({touched})")
        if how == "drop":
            notes.append(
                f"data.fill=drop removed {int(missing.any(axis=1).sum())} rows: the series' spacing is now uneven"
            )
        elif missing.iloc[-1].any():
            notes.append(f"the last row ({frame.index[-1]}), the forecast origin, holds filled values")
    if how == "ffill":
        frame = frame.ffill()
    elif how == "interpolate":
        frame = frame.interpolate(limit_direction="both")
    elif how == "drop":
        frame = frame.dropna()
    holes = frame.isna().to_numpy()
    if holes.any():
        row, col = (int(v[0]) for v in np.nonzero(holes))
        fix = "set data.fill to ffill, interpolate or drop" if how == "none" else f"data.fill={how} cannot fill it"
        raise ForecastError(
            f"{path.name}: column '{frame.columns[col]}' row {frame.index[row]}: missing or infinite value ({fix})"
        )
    if frame.empty:
        raise ForecastError(f"{path.name}: no rows left after data.fill={how}")
    return frame, counts if how != "none" else {}, notes


def _fits_float32(frame: pd.DataFrame, path: Path) -> None:
    """Series are trained in float32: a value beyond its range (~3.4e38) would become infinite."""
    limit = float(np.finfo(np.float32).max)
    big = np.abs(frame.to_numpy(np.float64)) > limit
    if big.any():
        row, col = (int(v[0]) for v in np.nonzero(big))
        value = frame.iat[row, col]
        raise ForecastError(
            f"{path.name}: column '{frame.columns[col]}' row {frame.index[row]}: {value:g} is beyond float32 (3.4e38)"
        )


def load_series(data: cfg.Data, path: Path | None = None, schema: InputSchema | None = None) -> Series:
    """Load the columns a config asks for.

    Args:
        data: the config's data section.
        path: replaces data.path (evaluate/predict on new data).
        schema: a run's recorded columns; the file's columns are then matched to them by name.
    """
    path = Path(path or data.path)
    frame = read_table(path)
    if schema is not None:
        schema.check_columns(frame, path)
        data = schema.apply(data)
    times = _parse_times(frame, data.time_column, path, data.time_format) if data.time_column else None
    if data.features is None:
        # every column but the time axis; a stray text cell is an error, never a silently dropped column
        features = [str(c) for c in frame.columns if c != data.time_column]
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
    targets = list(data.targets) if data.targets is not None else features
    _numeric(frame, targets, "data.targets", path)
    columns = list(dict.fromkeys(features + targets))
    dtypes = {str(c): str(frame[c].dtype) for c in columns}
    used = frame[columns].astype("float64")
    notes = []
    for column, sentinels in data.missing_values.items():
        if column not in used.columns:
            raise ForecastError(f"data.missing_values: column '{column}' is not among the features or targets")
        hit = used[column].isin(sentinels)
        if hit.any():
            used.loc[hit, column] = np.nan
            notes.append(
                f"{int(hit.sum())} rows of '{column}' held {'/'.join(f'{v:g}' for v in sentinels)} (missing): "
                f"data.fill={data.fill}"
            )
    used, filled, fill_notes = _fill(used, data.fill, path)
    notes += fill_notes
    _fits_float32(used, path)
    if times is not None:
        times = times[used.index.to_numpy()] if data.fill == "drop" else times
    return Series(
        features=used[features].to_numpy(np.float32),
        targets=used[targets].to_numpy(np.float32),
        feature_names=features,
        target_names=targets,
        times=times,
        notes=notes,
        filled=filled,
        dtypes=dtypes,
    )
