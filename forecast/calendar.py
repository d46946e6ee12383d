"""Calendar features: where each time stamp sits in its day, week, month and year, as sin/cos pairs.

A sin/cos pair puts the last hour of a day next to the first (a plain 0..23 would put them
furthest apart) and needs no scaling. Calendar features are known for any future stamp, so a
model gets them for its horizon as well as for its history (they are future covariates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.config.schema.data import CALENDAR


def phase(times: pd.DatetimeIndex, name: str) -> np.ndarray:
    """Position of each stamp in the cycle `name` (a data.calendar name), in [0, 1).

    Public because `layers.Calendar` computes the same numbers inside an exported graph, and must
    equal these to the last bit (a test compares them).

    Args:
        times: the stamps (naive or zoned: a zoned index's local time).
        name: hour, day_of_week, day_of_month, month, day_of_year or week_of_year.
    """
    if name == "hour":
        return (times.hour + times.minute / 60) / 24
    if name == "day_of_week":
        return times.day_of_week / 7
    if name == "day_of_month":
        return (times.day - 1) / times.days_in_month
    if name == "month":
        return (times.month - 1) / 12
    if name == "day_of_year":
        return (times.day_of_year - 1) / np.where(times.is_leap_year, 366, 365)
    if name == "week_of_year":
        return (times.isocalendar().week.to_numpy(np.float64) - 1) / 53
    raise ValueError(f"unknown calendar feature {name!r} (known: {', '.join(CALENDAR)})")


def names(features: list[str]) -> list[str]:
    """Column names of the generated features: hour_sin, hour_cos, ..."""
    return [f"{name}_{part}" for name in features for part in ("sin", "cos")]


CHUNK = 1 << 20  # rows computed at a time: the float64 temporaries of a large panel stay small


def features(times: pd.DatetimeIndex, wanted: list[str], out: np.ndarray | None = None) -> np.ndarray:
    """(rows, 2 * len(wanted)) float32: sin and cos of each wanted cycle, deterministic in the stamps;
    written into `out` when given."""
    out = np.empty((len(times), 2 * len(wanted)), dtype=np.float32) if out is None else out
    for start in range(0, len(times), CHUNK):
        part = times[start : start + CHUNK]
        for k, name in enumerate(wanted):
            angle = 2 * np.pi * np.asarray(phase(part, name), dtype=np.float64)
            out[start : start + len(part), 2 * k] = np.sin(angle)
            out[start : start + len(part), 2 * k + 1] = np.cos(angle)
    return out
