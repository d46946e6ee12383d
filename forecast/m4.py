"""`forecast data m4`: turn the M4 competition's wide CSVs into one long file forecast can read.

The M4 files (Makridakis et al., 2018; <https://github.com/Mcompetitions/M4-methods>) hold one
series per row: `{Frequency}-train.csv` with the history and `{Frequency}-test.csv` with the next
`horizon` values, ids in the first column (`V1`) and ragged rows padded with empty cells. Training
on them needs one row per observation, so `convert` writes `m4-{frequency}.csv` with columns
`unique_id, t, y`: each series' training values then its test values (t counts on), series in the
files' order. The last `horizon` rows of every series are then exactly the M4 test set.

The data has no explicit licence, so it is never bundled: `convert` reads a folder you downloaded
into (`--source`) or fetches the two files from the M4-methods repository. Importing this module
loads neither pandas nor Keras, so `HORIZON` and `SEASONALITY` are cheap to import anywhere.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from forecast.errors import ForecastError
from forecast.fetch import make_dest

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Frequency:
    """One M4 frequency: its spelling in the file names, forecast horizon and seasonal period."""

    name: str  # "Hourly", as in Hourly-train.csv
    horizon: int  # values per series in the test file
    seasonality: int  # the competition's seasonal period (for MASE and seasonal naive)


FREQUENCIES: dict[str, Frequency] = {
    f.name.lower(): f
    for f in (
        Frequency("Yearly", horizon=6, seasonality=1),
        Frequency("Quarterly", horizon=8, seasonality=4),
        Frequency("Monthly", horizon=18, seasonality=12),
        Frequency("Weekly", horizon=13, seasonality=1),
        Frequency("Daily", horizon=14, seasonality=1),
        Frequency("Hourly", horizon=48, seasonality=24),
    )
}
"""The six M4 frequencies, keyed by lower-case name ("hourly")."""

HORIZON: dict[str, int] = {key: f.horizon for key, f in FREQUENCIES.items()}
"""M4 forecast horizon per frequency, keyed by lower-case name: `HORIZON["hourly"] == 48`."""

SEASONALITY: dict[str, int] = {key: f.seasonality for key, f in FREQUENCIES.items()}
"""M4 seasonal period per frequency, keyed by lower-case name: `SEASONALITY["hourly"] == 24`."""

BASE_URL = "https://raw.githubusercontent.com/Mcompetitions/M4-methods/master/Dataset"
COLUMNS = ("unique_id", "t", "y")


def lookup(name: str) -> Frequency:
    """The M4 frequency called `name`, in any case.

    Args:
        name: "Hourly", "hourly", "HOURLY", ...

    Raises:
        ForecastError: `name` is not one of the six M4 frequencies.
    """
    found = FREQUENCIES.get(name.strip().lower())
    if found is None:
        known = ", ".join(f.name for f in FREQUENCIES.values())
        raise ForecastError(f"data m4: unknown frequency '{name}' (known: {known})")
    return found


def urls(freq: Frequency) -> tuple[str, str]:
    """The official addresses of the train and test CSVs of `freq`.

    Args:
        freq: an entry of `FREQUENCIES`.
    """
    return (f"{BASE_URL}/Train/{freq.name}-train.csv", f"{BASE_URL}/Test/{freq.name}-test.csv")


def _download(url: str, target: Path) -> None:
    """Copy `url` to `target`.

    Args:
        url: where to read from.
        target: the file to write.

    Raises:
        ForecastError: the download failed (no network, 404, ...); the message names the URL.
    """
    try:
        with urllib.request.urlopen(url, timeout=60) as response, target.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ForecastError(
            f"data m4: cannot download {url} ({reason}); download it by hand and pass --source DIR"
        ) from None


def _read_wide(path: Path) -> pd.DataFrame:
    """One M4 file as floats, indexed by series id, checked for what the conversion relies on.

    Args:
        path: a `{Frequency}-train.csv` or `{Frequency}-test.csv`.

    Raises:
        ForecastError: unreadable file, no `V1` id column, a missing or repeated id, a value that
            is not a number, a series without values or with an empty cell before its last value.
    """
    # deferred: pandas stays out of `forecast --help` (the CLI imports this module)
    import numpy as np
    import pandas as pd

    try:
        wide = pd.read_csv(path, dtype={"V1": str}, index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ForecastError(f"{path}: not an M4 CSV ({' '.join(str(exc).split())})") from None
    if wide.index.name != "V1" or wide.shape[1] == 0:
        raise ForecastError(f'{path}: not an M4 CSV (expected a header "V1","V2",..., got \'{wide.index.name}\')')
    line = 2  # file line of row 0
    if wide.index.isna().any():
        row = int(np.flatnonzero(wide.index.isna())[0])
        raise ForecastError(f"{path}: line {row + line} has no series id")
    if wide.index.has_duplicates:
        raise ForecastError(f"{path}: series {wide.index[wide.index.duplicated()][0]} appears more than once")
    text = [c for c in wide.columns if not pd.api.types.is_numeric_dtype(wide[c])]
    if text:
        numbers = wide[text].apply(pd.to_numeric, errors="coerce")
        bad = numbers.isna() & wide[text].notna()
        if bad.to_numpy().any():
            row, col = (int(i[0]) for i in np.nonzero(bad.to_numpy()))
            raise ForecastError(
                f"{path}: series {wide.index[row]} has a value that is not a number "
                f"({str(wide[text].iat[row, col])[:30]!r} in column {text[col]})"
            )
        wide[text] = numbers
    wide = wide.astype(float)
    present = wide.notna().to_numpy()
    counts = present.sum(axis=1)
    if (counts == 0).any():
        raise ForecastError(f"{path}: series {wide.index[np.flatnonzero(counts == 0)[0]]} has no values")
    ends = present.shape[1] - present[:, ::-1].argmax(axis=1)  # one past each row's last value
    if (ends != counts).any():
        raise ForecastError(
            f"{path}: series {wide.index[np.flatnonzero(ends != counts)[0]]} has an empty cell before its last value"
        )
    return wide


def _check_ids(train: pd.DataFrame, test: pd.DataFrame, train_path: Path, test_path: Path) -> None:
    """Raise unless `train` and `test` hold the same series ids in the same order.

    Args:
        train: the training file, as `_read_wide` returns it.
        test: the test file, likewise.
        train_path: its path, for the message.
        test_path: likewise.
    """
    if train.index.equals(test.index):
        return
    missing = train.index.difference(test.index, sort=False)
    if len(missing):
        raise ForecastError(f"{test_path}: no row for series {missing[0]} of {train_path.name}")
    extra = test.index.difference(train.index, sort=False)
    if len(extra):
        raise ForecastError(f"{test_path}: series {extra[0]} is not in {train_path.name}")
    row = int((train.index != test.index).argmax())
    raise ForecastError(
        f"{test_path}: series {test.index[row]} is on line {row + 2}, where {train_path.name} has {train.index[row]} "
        "(the files must list the series in the same order)"
    )


def _long(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Both files as one long frame: per series its training values then its test values.

    Args:
        train: the training file, as `_read_wide` returns it (values contiguous from column 0).
        test: the test file, same ids in the same order.
    """
    # deferred: pandas stays out of `forecast --help` (the CLI imports this module)
    import numpy as np
    import pandas as pd

    parts = []
    offset = np.zeros(len(train), dtype=np.int64)  # t of each series' first value in this part
    for wide in (train, test):
        present = wide.notna().to_numpy()
        rows, cols = np.nonzero(present)  # row-major: series in order, values in order
        parts.append((rows, cols + offset[rows], wide.to_numpy()[rows, cols]))
        offset = offset + present.sum(axis=1)
    rows, t, y = (np.concatenate(a) for a in zip(*parts, strict=True))
    order = np.argsort(rows, kind="stable")  # each series' train rows, then its test rows
    return pd.DataFrame({"unique_id": train.index.to_numpy()[rows[order]], "t": t[order], "y": y[order]})


def convert(frequency: str, source: Path | None, dest: Path) -> tuple[Path, str]:
    """Write `dest/m4-{frequency}.csv` (columns unique_id, t, y) from the M4 train and test files.

    Args:
        frequency: Yearly, Quarterly, Monthly, Weekly, Daily or Hourly, in any case.
        source: folder holding `{Frequency}-train.csv` and `{Frequency}-test.csv`; None downloads
            both from the Mcompetitions/M4-methods repository (`urls`).
        dest: folder to write into (created if needed); the CSV is written under a temporary name
            there and renamed into place.

    Returns:
        The CSV's path and a one-line description (series, rows, where the test set is).

    Raises:
        ForecastError: unknown frequency, missing or malformed file, ids that differ between the
            two files, a test row without exactly `horizon` values, or a download that failed.
    """
    freq = lookup(frequency)
    if source is not None and not source.is_dir():
        raise ForecastError(f"--source: {source} is not a folder")
    make_dest(dest)
    target = dest / f"m4-{freq.name.lower()}.csv"
    with tempfile.TemporaryDirectory(dir=dest, prefix=".m4-") as tmp:
        if source is None:
            paths = tuple(Path(tmp) / url.rsplit("/", 1)[1] for url in urls(freq))
            for url, path in zip(urls(freq), paths, strict=True):
                _download(url, path)
        else:
            paths = (source / f"{freq.name}-train.csv", source / f"{freq.name}-test.csv")
            for path in paths:
                if not path.is_file():
                    raise ForecastError(f"--source: no {path.name} in {source}")
        train_path, test_path = paths
        train, test = _read_wide(train_path), _read_wide(test_path)
        _check_ids(train, test, train_path, test_path)
        counts = test.notna().sum(axis=1)
        wrong = counts[counts != freq.horizon]
        if len(wrong):
            raise ForecastError(
                f"{test_path}: series {wrong.index[0]} has {wrong.iloc[0]} test values, expected {freq.horizon} "
                f"(the M4 {freq.name} horizon)"
            )
        long = _long(train, test)
        written = Path(tmp) / target.name
        long.to_csv(written, index=False)
        os.replace(written, target)
    what = (
        f"{len(train):,} series, {len(long):,} rows; last {freq.horizon} rows of each series are the M4 test set: "
        f"use data.split: {{val_last: {freq.horizon}, test_last: {freq.horizon}}}"
    )
    return target, what
