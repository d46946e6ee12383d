"""Where forecasts go and how they are written: `--output`'s path rules, its file types (CSV,
Parquet, NumPy) and layouts (long, wide), and the writers, each atomic and streamed.

Every output is written through `write_output`: `-` is stdout, a symlink writes its target, a FIFO
or a device is written directly, and anything else atomically (a temporary renamed into place), so
a failed predict leaves no half-written file. CSV writes stamps as the input does (`stamp_text`),
alike in every chunk of a streamed file (`witness_of`), and numbers shortest-exact for their type.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from forecast.errors import ForecastError
from forecast.memory import arrow_system_pool
from forecast.rundir import write_atomic, write_text

STDOUT = Path("-")


def check_output(path: Path | None, option: str = "--output") -> None:
    """Before any work: where an output goes can be written. `-` is stdout; a symlink is followed
    to its target; a FIFO or a device (/dev/stdout) is fine; a folder, or a file in a folder that
    does not exist, is bad input."""
    if path is None or Path(path) == STDOUT or special_file(Path(path)):
        return
    target = Path(path).resolve()  # follows every symlink in the path
    if target.is_dir():
        raise ForecastError(f"{option}: {path} is a folder; give a file name")
    if not target.parent.is_dir():
        raise ForecastError(f"{option}: the folder {target.parent} does not exist")


def write_output(path: Path, content: str | Callable[[BinaryIO], Any]) -> None:
    """Write a user's `--output`: what it names, never what stands in its place.

    `content` is text, or a function that writes bytes to a binary stream (a Parquet or NumPy
    file, or a large CSV streamed without first becoming one string in memory).
    `-` writes to stdout; a symlink writes its target (atomically, beside the target); a FIFO,
    a terminal or /dev/stdout is written to directly, since a rename would replace the special
    file with a regular one; anything else is written atomically.
    """
    text = isinstance(content, str)
    if Path(path) == STDOUT:
        if text:
            sys.stdout.write(content)
        elif (buffer := getattr(sys.stdout, "buffer", None)) is not None:
            sys.stdout.flush()  # whatever was printed before stays before
            content(buffer)
            buffer.flush()
        else:  # a notebook's stdout takes text only
            stream = io.BytesIO()
            content(stream)
            sys.stdout.write(stream.getvalue().decode())
        sys.stdout.flush()
        return
    if special_file(Path(path)):  # open the name as given: /dev/stdout through a pipe resolves to nothing
        with open(path, "w" if text else "wb") as stream:
            if text:
                stream.write(content)
            else:
                content(stream)
        return
    if text:
        write_text(Path(path).resolve(), content)
        return

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as stream:
            content(stream)

    write_atomic(Path(path).resolve(), write)


def special_file(path: Path) -> bool:
    """An existing path (links followed) that is not a regular file or a folder: a FIFO, a device."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


LAYOUTS = ("long", "wide")


FORMATS = {".csv": "csv", ".parquet": "parquet", ".npy": "npy", ".npz": "npz"}  # --output's extension


def check_layout(layout: str) -> None:
    """Bad input: a layout other than long or wide."""
    if layout not in LAYOUTS:
        raise ForecastError(f"--format: expected long or wide (got '{layout}')")


def output_format(path: Path | None, layout: str = "long", option: str = "--output") -> str:
    """The file type `--output` asks for, from its extension: csv, parquet, npy or npz.

    Checked before any work, so a typo costs nothing and writes nothing. Standard output (`-` or no
    `--output`) and a FIFO or device (`/dev/stdout`), which have no meaningful extension, get CSV.
    A NumPy array has one layout, (origins, horizon, targets), so `wide` with .npy/.npz is refused
    rather than silently ignored.
    """
    check_layout(layout)
    if path is None or Path(path) == STDOUT:
        return "csv"
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        if special_file(path):  # a FIFO or a device
            return "csv"
        raise ForecastError(
            f"{option}: {path}: unknown extension '{path.suffix}'; use .csv, .parquet, .npy or .npz"
            if path.suffix
            else f"{option}: {path} has no extension; use .csv, .parquet, .npy or .npz"
        )
    if layout == "wide" and kind in ("npy", "npz"):
        raise ForecastError(
            f"--output: {path}: --format wide is for .csv and .parquet; a NumPy file holds the "
            "(origins, horizon, targets) array"
        )
    return kind


def rows_format(path: Path) -> str:
    """The file type of rows to fill in (`--template`), from its extension: csv or parquet."""
    kind = output_format(path, option="--template")
    if kind not in ("csv", "parquet"):
        raise ForecastError(f"--template: {path}: rows to fill in go to a .csv or .parquet file")
    return kind


def write_rows(
    frame: pd.DataFrame, path: Path, time_column: str | None, time_format: str | None, history: pd.DatetimeIndex | None
) -> None:
    """Write a table of input rows (a `template`) to `path` (`-`: stdout) as its extension says,
    CSV or Parquet, atomically: in CSV, stamps as the input writes them (`stamp_text`, beside the
    stamps of the `history` they follow), empty cells for missing values, float32 numbers shortest."""
    kind = rows_format(path)
    if kind == "csv" and time_column is not None:
        stamps = stamp_text(pd.DatetimeIndex(frame[time_column]), time_format, witness_of(history))
        frame = frame.assign(**{time_column: stamps})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    texts = [value for column in frame.columns if frame[column].dtype == object for value in frame[column].unique()]

    def write(out: BinaryIO) -> None:
        write_csv(table, out, texts) if kind == "csv" else pq.write_table(table, out)

    write_output(path, write)


class Part(Protocol):
    """What `write_parts` writes: a `forecasts.Forecasts`, whole or one chunk of a streamed forecast."""

    values: np.ndarray  # (origins, horizon, targets)
    targets: list[str]
    ids: list[str] | None

    def table(self, layout: str = "long", text_stamps: bool = False) -> pa.Table: ...

    def arrays(self) -> dict[str, np.ndarray]: ...


def write_parts(path: Path, layout: str, parts: Iterable[Part], origins: int) -> None:
    """Write consecutive parts of one forecast (`origins` in all) to `path` as its extension says:
    CSV with one header, Parquet one row group per part, .npy its header first (from the known
    shape), .npz (a zip of whole arrays) from a single part. Atomic (see `write_output`)."""
    kind = output_format(path, layout)

    def write(out: BinaryIO) -> None:
        with arrow_system_pool():  # each part's table goes back to the system, not into Arrow's pool
            parquet = None
            try:
                for k, part in enumerate(parts):
                    if kind == "npz":
                        np.savez(out, **part.arrays())
                    elif kind == "npy":
                        if k == 0:
                            shape = (origins, *part.values.shape[1:])
                            np.lib.format.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False,
                                                                       "shape": shape})  # fmt: skip
                        out.write(part.values.astype("<f4").tobytes())
                    elif kind == "csv":
                        labels = [*part.targets, *(part.ids or [])]
                        write_csv(part.table(layout, text_stamps=True), out, labels, header=k == 0)
                    else:
                        table = plain(part.table(layout))
                        parquet = parquet or pq.ParquetWriter(out, table.schema)
                        parquet.write_table(table)
            finally:
                if parquet is not None:  # also after a failed part: an unclosed writer complains when collected
                    parquet.close()

    write_output(path, write)


def write_csv(table, stream: BinaryIO, labels: list[str], header: bool = True) -> None:
    """CSV through pyarrow's writer (C++; pandas' to_csv formats every cell in Python), with a
    pandas-style header (unless this is a later chunk); no quotes, unless one of the text `labels`
    needs them, and then around every text cell. Floats are written shortest-exact for their type."""
    if header:
        names = io.StringIO()
        csv.writer(names, lineterminator="\n").writerow(table.column_names)
        stream.write(names.getvalue().encode())
    unquoted = not any(set(str(label)) & set(',"\r\n') for label in labels)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none" if unquoted else "needed")
    pacsv.write_csv(table, stream, options)


def stamp_text(stamps: pd.DatetimeIndex, time_format: str | None, witness: pd.DatetimeIndex | None = None) -> list[str]:
    """Stamps as the input writes them: in its `time_format` (timeparse.stamp_format: '2024-05-01 13:00'
    gets no invented seconds, dates stay dates) where that format writes every one of them exactly;
    else as pandas' to_csv does (ISO: dates only when every stamp is midnight, the zone's offset when
    there is one, 0, 3, 6 or 9 digits of seconds), formatted beside the `witness` stamps so that the
    format is the whole series' rather than this chunk's. Fractions of a second (%f) and zones (%z)
    take pandas' form, which writes them as they were read."""
    if writes_exactly(time_format, stamps):
        return list(stamps.strftime(time_format))
    both = stamps.append(witness) if witness is not None and len(witness) else stamps
    return [str(s) for s in both.astype(str)[: len(stamps)]]


def writes_exactly(time_format: str | None, stamps: pd.DatetimeIndex) -> bool:
    """Whether strftime(`time_format`) writes `stamps` so that the format reads them back unchanged
    (a date-only format and a stamp at noon: no; 'ISO8601' and 'mixed' are parsing modes: no)."""
    if time_format is None or time_format in ("ISO8601", "mixed") or stamps.tz is not None:
        return False
    if any(code in time_format for code in ("%f", "%z", "%Z")) or not len(stamps):
        return False
    try:
        back = pd.to_datetime(stamps.strftime(time_format), format=time_format)
    except ValueError:
        return False
    return bool((back.as_unit("ns").asi8 == stamps.as_unit("ns").asi8).all())


def witness_of(times: pd.DatetimeIndex | None) -> pd.DatetimeIndex | None:
    """The series' first stamp off midnight and its first with a fraction of a second at each
    precision pandas prints (milli-, micro-, nanoseconds): together they make a chunk's stamps
    format as the whole series' would (pandas picks dates only, or 0, 3, 6 or 9 digits, from the
    stamps it is given)."""
    if times is None or not len(times):
        return None
    ns = times.as_unit("ns").asi8
    rows = [np.flatnonzero(ns % 86_400_000_000_000)[:1]]  # off midnight (UTC wall time for a zone)
    rows += [np.flatnonzero(ns % 10**k)[:1] for k in (9, 6, 3)]
    if times.tz is not None:  # off midnight on the zone's own clock
        rows.append(np.flatnonzero(times != times.normalize())[:1])
    return times[np.unique(np.concatenate(rows)).astype(np.int64)]


def plain(table):
    """`table` with its dictionary columns decoded: strings for pandas and Parquet readers, not
    categoricals."""
    return pa.table(
        {
            name: column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
            for name, column in zip(table.column_names, table.columns, strict=True)
        }
    )
