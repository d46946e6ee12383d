"""Missing values: the sentinels data.missing_values names turned into NaN, then data.fill (none,
ffill, interpolate, drop) applied within each series, never across two.

Every hole left is an error naming its column and row, so a model never trains on NaN; a predict
file's future rows keep their empty targets, since forecasting them is the point.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.columns import CHUNK
from forecast.errors import ForecastError


def mark_missing(values: np.ndarray, columns: list[str], missing_values: dict[str, list[float]], how: str) -> list[str]:
    """Set the cells holding a column's sentinels (-999, 9999) to NaN, in place, so that data.fill
    treats them as the gaps they are rather than training on them as numbers.

    Args:
        values: the used columns, float32.
        columns: their names.
        missing_values: data.missing_values (column -> its sentinels).
        how: data.fill, named in the notes.

    Returns:
        A note for the user per column that held sentinels.
    """
    notes = []
    for column, sentinels in missing_values.items():
        if column not in columns:
            raise ForecastError(f"data.missing_values: column '{column}' is not among the features or targets")
        k = columns.index(column)
        hit = np.isin(values[:, k], np.asarray(sentinels, dtype=np.float32))
        if hit.any():
            values[hit, k] = np.nan
            notes.append(
                f"{int(hit.sum())} rows of '{column}' held {'/'.join(f'{v:g}' for v in sentinels)} (missing): "
                f"data.fill={how}"
            )
    return notes


def fill_history(
    values: np.ndarray,
    columns: list[str],
    how: str,
    path: Path,
    groups: np.ndarray | None,
    where: Callable[[int], str],
    history: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None, dict[str, int], list[str]]:
    """data.fill on the history rows: a predict file's future rows (after each series' last target
    value) are left as they are, their empty targets being what is forecast.

    Args:
        values: the used columns, float32 (may be changed in place).
        columns: their names.
        how: data.fill.
        path: the file, for messages.
        groups: a panel's series of each row (None: one series).
        where: row -> how messages name it ("series 'a' row 12").
        history: a mask of the history rows (None: every row is history).

    Returns:
        The values, the rows kept (data.fill=drop, positions among all rows; None when all are),
        the count filled (or dropped) per column, and notes for the user.
    """
    if history is None:
        return _fill(values, columns, how, path, groups, where)
    if not _any_missing(values, history):
        return values, None, {}, []  # nothing to fill among the history rows: the future rows' NaN stay
    past = np.flatnonzero(history)
    part, kept, filled, notes = _fill(
        values[past], columns, how, path, groups[past] if groups is not None else None,
        lambda row: where(int(past[row])),
    )  # fmt: skip
    if kept is not None:  # data.fill=drop: positions among all rows, in their order
        kept = np.concatenate([past[kept], np.flatnonzero(~history)])
        values = np.concatenate([part, values[~history]])
        order = np.argsort(kept, kind="stable")
        kept, values = kept[order], values[order]
    else:
        values[past] = part
    return values, kept, filled, notes


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


def _any_missing(values: np.ndarray, rows: np.ndarray) -> bool:
    """Whether any value of the selected rows is NaN or infinite (checked a chunk at a time)."""
    return any((~np.isfinite(values[i : i + CHUNK]))[rows[i : i + CHUNK]].any() for i in range(0, len(values), CHUNK))
