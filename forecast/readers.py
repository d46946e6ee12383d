"""Reading a CSV or Parquet file (or a directory of Parquet files) into pandas, whole or a group of
a panel's series at a time, and reading just a panel's id column a batch at a time.

A panel's ids are text exactly as written on every path (`007`, `01` and `1.0` are three series),
and every way a read can fail becomes one ForecastError naming the file, so a batch job fails in
one line instead of deep inside pandas or pyarrow.
"""

from __future__ import annotations

import contextlib
import lzma
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from forecast.errors import ForecastError
from forecast.memory import arrow_system_pool

ROWS_AT_A_TIME = 1 << 20  # rows of a file read at a time where only some of its series are wanted


def parquet(path: Path) -> bool:
    """A Parquet file, or a directory of them (a dataset written in parts)."""
    return path.is_dir() or path.suffix.lower() in (".parquet", ".pq")


def read_table(path: Path, ids: list[str] = (), only: tuple[str, list] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file (or a directory of Parquet files), turning the ways it can fail
    into one line each.

    `ids` columns (a panel's id column) are read as text, exactly as written (`007`, `01` and `1.0`
    stay three series: pandas would read all three as the number 1 or 7), on every path: whole or
    `only`, CSV or Parquet (see `_id_text`). A CSV's are then pandas categories: a hundred thousand
    ids repeated over fifty million rows cost codes, not fifty million strings. `only` (column,
    text ids) keeps the rows whose column holds one of the ids (a group of a panel's series): a
    Parquet file is filtered as it is read, a row group at a time, and a CSV a chunk at a time, so
    only the wanted rows are ever held.
    """
    if not (path.is_file() or path.is_dir()):
        raise ForecastError(f"data.path: file not found: {path}")
    try:
        if parquet(path):
            # self_destruct frees each Arrow column as it becomes pandas: one copy of a large file, not two.
            # The system allocator (see arrow_system_pool): the columns pandas keeps are Arrow's
            # buffers, and once forecast has copied what it uses, they go back to the system
            # instead of staying in the pool (measured: about 1 GB of peak RSS for a
            # 50-million-row panel).
            with arrow_system_pool():
                if only is not None:
                    table = _parquet_rows(path, only)
                else:
                    table = pq.read_table(path, partitioning=_partitioning(path, ids[0] if ids else None))
                table = _ids_as_text(table, ids, path)
                frame = table.to_pandas(self_destruct=True, split_blocks=True)
                del table
        else:
            with warnings.catch_warnings():  # an id column absent from the header is reported below
                warnings.simplefilter("ignore")
                # text, then categories: pandas 3 infers numbers for dtype="category" (1, 01 and 1.0 are one)
                dtype = {c: str for c in ids} or None
                if only is None:
                    frame = pd.read_csv(path, dtype=dtype)
                else:  # a chunk at a time, each cut to the wanted series: never the whole file in memory
                    with pd.read_csv(path, dtype=dtype, chunksize=ROWS_AT_A_TIME) as chunks:
                        frame = pd.concat([_wanted(c, only) for c in chunks], ignore_index=True)
                for column in set(ids) & set(frame.columns):
                    frame[column] = frame[column].astype("category")
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
    duplicated = None if parquet(path) else _duplicate_header(path, frame)
    if duplicated:
        raise ForecastError(f"{path.name}: column '{duplicated}' appears twice in the header")
    return frame


def _wanted(chunk: pd.DataFrame, only: tuple[str, list]) -> pd.DataFrame:
    """The rows of a CSV chunk (its ids read as text) whose id is among `only`'s."""
    if only[0] not in chunk:  # a missing id column is reported by the caller
        return chunk
    return chunk[chunk[only[0]].isin(only[1]).to_numpy(bool)]  # an empty id: never selected


def numbers_again(frame: pd.DataFrame, keep: set) -> pd.DataFrame:
    """Text columns of some series of a CSV (read a chunk at a time) that are numbers throughout, as
    numbers, but not `keep` (ids, times, static covariates: `07` stays text): a chunk with one bad
    cell reads its whole column as text, and the series kept from it must not be blamed for a cell
    of a series that is not among them. Only the columns that must be numbers are converted.

    Args:
        frame: some series of a CSV, as `read_table` reads them with `only` (changed in place).
        keep: the columns left as read (the time and id columns, static covariates).
    """
    for column in frame.columns[[not pd.api.types.is_numeric_dtype(t) for t in frame.dtypes]]:
        if column in keep:
            continue
        with contextlib.suppress(ValueError, TypeError):
            frame[column] = pd.to_numeric(frame[column])
    return frame


def parquet_dataset(path: Path, id_column: str | None = None):
    """A Parquet file or directory as pyarrow's dataset, read as `pq.read_table` reads it (hive
    partitions, the id column's as text: see `_id_partitioning`; the first file's schema, the
    others cast to it)."""
    dataset = ds.dataset(path, format="parquet", partitioning="hive")
    partitioning = _id_partitioning(dataset, id_column)
    return dataset if partitioning is None else ds.dataset(path, format="parquet", partitioning=partitioning)


def _partitioning(path: Path, id_column: str | None):
    """`pq.read_table`'s partitioning: hive, the id column's as text (`_id_partitioning`)."""
    if id_column is None or not path.is_dir():
        return "hive"
    return _id_partitioning(parquet_dataset(path), id_column) or "hive"


def _id_partitioning(dataset, id_column: str | None):
    """Hive partitioning where a directory named for the id column (`store=007/`) gives the id as
    written: pyarrow would infer the number 7 from a name that looks like one. None: pyarrow's own
    will do (no such directory, or its names already read as text)."""
    first = next(iter(dataset.get_fragments()), None) if id_column is not None else None
    keys = ds.get_partition_keys(first.partition_expression) if first is not None else {}
    if id_column not in keys or pa.types.is_string(dataset.schema.field(id_column).type):
        return None
    fields = [pa.field(k, pa.string()) if k == id_column else dataset.schema.field(k) for k in keys]
    return ds.HivePartitioning(pa.schema(fields))


def _id_text(column, name: str, path: Path):
    """A Parquet id column (pyarrow array) as text: text as stored, whole numbers as pandas writes
    them in a CSV (7 -> '7', so a file converted from CSV keeps its series). Any other type is
    refused: a float's text is ambiguous (1.0 or 1), a date's depends on its format."""
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return column
    if pa.types.is_integer(kind):
        return pc.cast(column, pa.string())
    raise ForecastError(f"{path.name}: data.id_column '{name}' holds {kind}; ids must be text or whole numbers")


def _ids_as_text(table, ids: list[str], path: Path):
    """`table` with its id columns as text (`_id_text`); an absent one is reported by the caller."""
    for name in ids:
        at = table.schema.get_field_index(name)
        if at >= 0:
            table = table.set_column(at, name, _id_text(table.column(at), name, path))
    return table


def _parquet_rows(path: Path, only: tuple[str, list]):
    """The rows of a Parquet file (or directory) whose `only[0]` column holds one of `only[1]`.

    Read as pyarrow's dataset reads the whole (hive partitions, the first file's schema, the others
    cast to it), but only the row groups whose statistics do not rule the values out, one at a
    time: a file sorted by id reads little more than its wanted rows (measured: 0.6 s and 445 MB
    peak for a tenth of a 50-million-row panel, where the filtered read_table took 0.9 s and 897 MB).
    """
    column, values = only
    dataset = parquet_dataset(path, column)
    values = _as_stored(values, dataset.schema.field(column).type if column in dataset.schema.names else None)
    low, high = (min(values), max(values)) if values else (None, None)
    kept = []
    for fragment in dataset.get_fragments():
        for group in fragment.split_by_row_group():
            stats = group.row_groups[0].statistics.get(column) if group.row_groups else None
            with contextlib.suppress(TypeError):  # values and statistics of types that do not compare
                if values and stats and (stats["max"] < low or stats["min"] > high):
                    continue
            kept.append(group)
    subset = ds.FileSystemDataset(kept, dataset.schema, dataset.format, dataset.filesystem)
    return subset.to_table(filter=pc.field(column).isin(values), fragment_readahead=1, batch_readahead=1)


def _as_stored(ids: list, kind) -> list:
    """Text ids as a Parquet id column of `kind` stores them, what its filter and row-group
    statistics compare with: an integer column's as numbers ('7' -> 7; '007' is no integer's text,
    so no row of it matches)."""
    if kind is not None and pa.types.is_dictionary(kind):
        kind = kind.value_type
    if kind is None or not pa.types.is_integer(kind):
        return ids
    return [int(i) for i in ids if _printed_integer(i)]


def _printed_integer(text: str) -> bool:
    """Whether `text` is how an integer prints ('7', '-3'; not '007', '+7' or '7.0')."""
    try:
        return str(int(text)) == text
    except ValueError:
        return False


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


def series_ids(path: Path, id_column: str) -> list:
    """A panel file's series ids in the order they first appear (see `series_rows`)."""
    return series_rows(path, id_column)[0]


def series_rows(path: Path, id_column: str) -> tuple[list, np.ndarray]:
    """A panel file's series ids in the order they first appear, and each one's number of rows,
    reading only the id column a batch at a time: memory grows with the series, not the rows.
    Ids as text, as load_series names them (see `read_table`). An empty id is None."""
    order: dict = {}
    counts: list[int] = []
    try:
        for values, n in _id_batches(path, id_column):
            for value, count in zip(values, n, strict=True):
                k = order.setdefault(value, len(order))
                if k == len(counts):
                    counts.append(0)
                counts[k] += int(count)
    except (OSError, ValueError, KeyError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ForecastError(f"{path}: cannot read its id column '{id_column}' ({reason})") from None
    return list(order), np.asarray(counts, dtype=np.int64)


def _id_batches(path: Path, id_column: str) -> Iterator[tuple[list, np.ndarray]]:
    """(distinct ids in order of first appearance, their rows) of each batch of a file's id column."""
    if parquet(path):
        with arrow_system_pool():
            for batch in parquet_dataset(path, id_column).to_batches(columns=[id_column]):
                column = batch.column(0)
                if hasattr(column, "dictionary_decode"):
                    column = column.dictionary_decode()
                column = _id_text(column, id_column, path)
                counted = pc.value_counts(column)  # in order of first appearance
                yield counted.field("values").to_pylist(), counted.field("counts").to_numpy()
        return
    reader = pd.read_csv(path, usecols=[id_column], dtype={id_column: str}, chunksize=ROWS_AT_A_TIME)
    with reader as chunks:
        for chunk in chunks:
            codes, uniques = pd.factorize(chunk[id_column])
            names = list(uniques)
            counts = np.bincount(codes[codes >= 0], minlength=len(names))
            if (codes < 0).any():
                names, counts = [*names, None], np.append(counts, (codes < 0).sum())
            yield names, counts
