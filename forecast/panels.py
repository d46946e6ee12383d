"""A file's rows as series: a panel's rows made contiguous per series and sorted in time, each
series' static covariates, each series' trailing future rows, and masks of each series' first rows.

Long files often interleave series by time, and a panel may hold a hundred thousand of them: all
of it is vectorised over every series at once, checked a chunk at a time, and copies a column
only where the file is not already in order.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import config as cfg
from forecast.columns import CHUNK, fits_float32
from forecast.errors import ForecastError


def panel_order(
    frame: pd.DataFrame, data: cfg.Data, path: Path, times: pd.DatetimeIndex | None
) -> tuple[np.ndarray | None, np.ndarray, list[str]]:
    """Series codes in the file's order of first appearance, and the row order that makes each
    series contiguous and sorted in time (long files often interleave series by time).

    Args:
        frame: the file as read.
        data: the config's data section (its id_column).
        path: the file, for messages.
        times: the file's stamps, in its row order (None: no time column).

    Returns:
        The file row of each row in series order (None: the file is already in order, and no
        column is copied), the row offsets of the series (n_series + 1), and each series' id.
    """
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


def _nondecreasing(values: np.ndarray) -> bool:
    """Whether values never decrease (checked a chunk at a time: no temporary the size of the file)."""
    return all((np.diff(values[i : i + CHUNK + 1]) >= 0).all() for i in range(0, len(values), CHUNK))


def _increasing_within(times: pd.DatetimeIndex, codes: np.ndarray) -> bool:
    """Whether stamps do not decrease within each run of equal codes (a duplicate is reported later)."""
    stamps = times.asi8
    return all(
        ((np.diff(stamps[i : i + CHUNK + 1]) >= 0) | (np.diff(codes[i : i + CHUNK + 1]) != 0)).all()
        for i in range(0, len(stamps), CHUNK)
    )


def static_covariates(
    frame: pd.DataFrame,
    columns: list[str],
    order: np.ndarray | None,
    starts: np.ndarray,
    ids: list[str],
    path: Path,
) -> pd.DataFrame | None:
    """One row per series of its static covariates; a value that changes within a series is an error.

    Args:
        frame: the file as read.
        columns: data.covariates.static.
        order: the file row of each row in series order (None: the file's order), see `panel_order`.
        starts: the row offsets of the series (n_series + 1).
        ids: each series' id.
        path: the file, for messages.

    Returns:
        The static columns as read, indexed by id; None without static covariates.
    """
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
            fits_float32(column, numbers, path, lambda position: f"row {row(position)}")
        changed = values != first[column].to_numpy()[series]
        if changed.any():
            position = np.flatnonzero(changed)[0]
            raise ForecastError(
                f"{path.name}: column '{column}' row {row(position)}: static covariate changes within "
                f"series '{ids[series[position]]}'"
            )
    return first.set_axis(ids, axis=0)


def future_rows(
    values: np.ndarray, targets: list[int], starts: np.ndarray, where: Callable[[int], str], path: Path
) -> np.ndarray:
    """Each series' trailing rows with every target empty are future rows (for `predict`):
    returns each series' first future row (its history's end).

    Args:
        values: the used columns, float32.
        targets: the targets' positions among them.
        starts: the row offsets of the series (n_series + 1).
        where: row -> how messages name it ("series 'a' row 12").
        path: the file, for messages.
    """
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


def leading_rows(offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """A boolean mask of the first `counts[i]` rows of each series (offsets: n_series + 1), built
    from +1/-1 steps and a running sum in int8: one byte a row, however many rows.

    Args:
        offsets: the row offsets of the series (n_series + 1).
        counts: how many of each series' first rows to mark (clipped to its length).
    """
    steps = np.zeros(int(offsets[-1]) + 1, dtype=np.int8)
    np.add.at(steps, offsets[:-1], 1)
    np.add.at(steps, offsets[:-1] + np.clip(counts, 0, np.diff(offsets)), -1)
    return np.cumsum(steps[:-1], dtype=np.int8) > 0
