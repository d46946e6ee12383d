"""The columns a config uses: which ones (the features, the targets, the covariates), checked to
hold numbers, and read into the one float32 array forecast trains on.

A stray text cell is an error naming its row, never a silently dropped column, and a value beyond
float32's range is an error too, since it would otherwise become infinite in training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import config as cfg
from forecast.errors import ForecastError

CHUNK = 1 << 22  # rows checked at a time: a large panel's temporaries stay small


def used_columns(frame: pd.DataFrame, data: cfg.Data, path: Path) -> tuple[list[str], list[str]]:
    """The features (covariates last) and the targets the config names, each checked to be numeric.

    Without data.features every column but the time, id and static ones is a feature, so a text
    column the user meant as times or ids is reported with the fix rather than dropped. Covariates
    are inputs only: never targets, by default either.

    Args:
        frame: the file as read.
        data: the config's data section (a run's columns named, for evaluate and predict).
        path: the file, for messages.
    """
    covariates = data.covariates
    not_inputs = {data.time_column, data.id_column, *covariates.static}
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
    return features, targets


def as_float32(
    frame: pd.DataFrame, columns: list[str], order: np.ndarray | None, path: Path, where: Callable[[int], str]
) -> np.ndarray:
    """One float32 array of `columns`, filled column by column (reordered by `order` when the file
    interleaves series): the one copy of a large panel's values, with no float64 copy of them all.
    Each column's range is checked before the cast (`fits_float32`).

    Args:
        frame: the file as read.
        columns: the used columns, in the array's order.
        order: the file row of each row (None: the file's order).
        path: the file, for messages.
        where: row -> how messages name it ("series 'a' row 12").
    """
    values = np.empty((len(frame), len(columns)), dtype=np.float32)
    for k, column in enumerate(columns):
        column_values = frame[column].to_numpy()
        if column_values.dtype != np.float32:
            column_values = column_values.astype(np.float64)  # bools and ints too; a float32 cannot overflow
        column_values = column_values[order] if order is not None else column_values
        if column_values.dtype != np.float32:
            fits_float32(column, column_values, path, where)
        values[:, k] = column_values
    return values


def _numeric(frame: pd.DataFrame, columns: list[str], key: str, path: Path, hint: str = "") -> None:
    """Each column is in the file and numeric; the error names the config key that asked for it and
    the first cell that is not a number."""
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


def fits_float32(column: str, values: np.ndarray, path: Path, where: Callable[[int], str]) -> None:
    """Series are trained in float32: a value beyond its range (~3.4e38) would become infinite.
    (Missing values, a predict file's future targets, are not checked.)

    Args:
        column: the column's name, for messages.
        values: its values (float64).
        path: the file, for messages.
        where: row -> how messages name it ("series 'a' row 12").
    """
    limit = float(np.finfo(np.float32).max)
    for start in range(0, len(values), CHUNK):  # inf is a missing value for data.fill, not too big
        part = values[start : start + CHUNK]
        big = np.isfinite(part) & (np.abs(part) > limit)
        if big.any():
            row = start + int(np.flatnonzero(big)[0])
            raise ForecastError(
                f"{path.name}: column '{column}' {where(row)}: {values[row]:g} is beyond float32 (3.4e38)"
            )
