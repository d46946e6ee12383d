"""Shards: N processes (a Slurm job array, or `--shard I/N` by hand) sharing one piece of work.

Shard I of N takes every N-th item from the I-th: a sweep's trials i with i % N == I, a predict's
panel series I, I + N, I + 2N, ... in the order they first appear in the file. Either way the
shards cover the work between them, each item once, whatever the items' sizes, and a shard that
gets nothing (more tasks than items) is not an error.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from forecast.errors import ForecastError
from forecast.readers import series_ids

log = logging.getLogger("forecast")


def shard_of(spec: str | None) -> tuple[int, int]:
    """`I/N` (0 <= I < N); without one, Slurm's array variables, else the whole sweep.

    Args:
        spec: "I/N", or None to read SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT and
            SLURM_ARRAY_TASK_MIN (the task's place in a contiguous array).

    Returns:
        (I, N); (0, 1), everything, outside an array job.
    """
    if spec is None and "SLURM_ARRAY_TASK_ID" in os.environ and "SLURM_ARRAY_TASK_COUNT" in os.environ:
        names = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN")
        try:
            task, count, first = (int(os.environ.get(name, "0")) for name in names)
        except ValueError:
            values = ", ".join(f"{n}={os.environ.get(n)!r}" for n in names if n in os.environ)
            raise ForecastError(f"Slurm array variables are not integers: {values}") from None
        if not 0 <= task - first < count:
            raise ForecastError(
                f"SLURM_ARRAY_TASK_ID={task} is outside the array ({first}..{first + count - 1}): "
                "use a contiguous array (--array=0-N) or give --shard I/N"
            )
        return task - first, count
    if spec is None:
        return 0, 1
    try:
        index, count = (int(v) for v in spec.split("/"))
    except ValueError:
        raise ForecastError(f"--shard {spec}: expected I/N, e.g. 0/4") from None
    if not 0 <= index < count:
        raise ForecastError(f"--shard {spec}: I must be in 0..N-1")
    return index, count


def is_part(shard: tuple[int, int] | None) -> bool:
    """Whether `shard` takes a part of the work: one of several, not the whole."""
    return shard is not None and shard[1] > 1


def shard_ids(id_column: str | None, data: Path, shard: tuple[int, int]) -> list:
    """The ids of shard (I, N) of a panel file: every N-th series from the I-th, in file order.

    Args:
        id_column: the run's data.id_column; None (one series) is refused: there is nothing to split.
        data: the CSV or Parquet file.
        shard: (I, N).
    """
    if id_column is None:
        raise ForecastError("--shard splits a panel's series (data.id_column); this run forecasts one series")
    return select(series_ids(data, id_column), shard, id_column, data)


def select(ids: list, shard: tuple[int, int], id_column: str, source: Path) -> list:
    """Shard (I, N) of a panel's series `ids` (in file order): every N-th from the I-th.

    Args:
        ids: every series of the file, in the order they first appear (checked: none empty).
        shard: (I, N).
        id_column: data.id_column, for the message about an empty id.
        source: the file, for the messages.

    Returns:
        The shard's ids; none, with a note, for a shard past the panel's last series.
    """
    check_ids(ids, id_column, source)
    index, count = shard
    if index >= len(ids):  # an array larger than the panel: this task has nothing to forecast
        log.warning(f"note: --shard {index}/{count}: the file has only {len(ids)} series; this shard forecasts none")
    return ids[index::count]


def check_ids(ids: list, id_column: str, source: Path) -> None:
    """Refuse a panel with an empty id: its rows would belong to no shard (and no group of series)."""
    if any(i is None for i in ids):
        raise ForecastError(f"{source}: the id column '{id_column}' has empty values")
