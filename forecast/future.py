"""Forecasts past the end of each series: the rows a forecast needs, and the tables and files
(long or wide; CSV, Parquet, NumPy) they are returned as.

`predict` forecasts the horizon after each series' last row with a target value. A model that
reads the horizon's known values needs them: future covariates come from rows the file carries
after that last row (targets left empty), and a missing one is an error naming the series and
the column; calendar features are computed from the stamps the series' frequency gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from forecast import config as cfg
from forecast.data import Series
from forecast.errors import ForecastError
from forecast.memory import arrow_system_pool
from forecast.windows import WindowSpec


def origins(
    series: Series, spec: WindowSpec, all_origins: bool, source: str, any_length: bool = False, part: bool = False
) -> tuple[np.ndarray, list[str]]:
    """The origin rows to forecast from: each series' last history row (or every row with a full
    window), and the ids of series too short for one window (skipped; a single series is an error).
    A variable-length model forecasting from its whole history (`any_length`) takes any length.
    A `part` of a panel (a shard) may have no series long enough: it forecasts nothing."""
    starts, ends = series.offsets[:-1], series.history_ends
    minimum = 0 if any_length and spec.variable_length and series.ids is None else spec.history
    short = (ends - starts) <= minimum
    if (short.all() and not part) or (series.ids is None and short.any()):  # a shard may hold only short series
        n = int((ends - starts).max(initial=0))
        raise ForecastError(f"{source}: {n} rows, fewer than the {spec.history + 1} one window needs")
    skipped = [series.ids[i] for i in np.flatnonzero(short)] if series.ids is not None else []
    keep = np.flatnonzero(~short)
    if not all_origins:
        return (ends[keep] - 1).astype(np.int64), skipped
    from forecast.prepare import ranges

    return ranges(starts[keep] + spec.history, ends[keep] - 1).astype(np.int64), skipped


def extend(
    series: Series, spec: WindowSpec, data: cfg.Data, frequency: str | None, source: str, check: bool = True
) -> Series:
    """The series with each one's rows reaching `delay + horizon - 1` rows past its history (the last
    forecast's target rows), appended where the file stops earlier; future covariates checked there
    (unless not `check`: a template of the rows to fill in).

    Appended rows hold NaN values and, with a time column, the next stamps on the series' grid
    (calendar features are computed from them when the series is scaled).
    """
    starts, ends = series.offsets[:-1], series.history_ends
    need = spec.delay + spec.horizon - 1
    have = series.offsets[1:] - ends
    forecast = (ends - starts) > spec.history  # a series too short for one window gets no forecast
    for column in data.covariates.future if check else ():
        k = series.feature_names.index(column)
        target_rows = ends[:, None] + np.arange(need)[None, :]  # rows after each series' history
        inside = target_rows < series.offsets[1:, None]
        values = np.where(inside, series.features[np.minimum(target_rows, len(series) - 1), k], np.nan)
        missing = np.isnan(values).any(axis=1) & forecast
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            found = int((~np.isnan(values[i])).sum())
            raise ForecastError(
                f"{source}: {series.label(i)}: future covariate '{column}' needs values in the {need} rows after "
                f"its last target row (found {found}); add those rows with the targets left empty"
            )
    add = np.maximum(need - have, 0)
    if not add.any():
        return series
    counts = np.diff(series.offsets) + add
    new_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    of_row = series.series_of(np.arange(len(series)))
    rows = new_starts[of_row] + np.arange(len(series)) - starts[of_row]  # old rows keep their order
    total = int(new_starts[-1])

    def spread(values: np.ndarray) -> np.ndarray:
        out = np.full((total, values.shape[1]), np.nan, dtype=values.dtype)
        out[rows] = values
        return out

    times = None
    if series.times is not None:
        stamps = np.empty(total, dtype="datetime64[ns]")
        stamps[rows] = _numpy(series.times)  # UTC for an aware index, without a Timestamp per row
        last = pd.DatetimeIndex(series.times[series.offsets[1:] - 1])
        reference = series.times[series.offsets[0] : series.offsets[1]]  # the first series' own stamps
        appended = stamps_after(last, int(add.max()), frequency, reference)
        for i in np.flatnonzero(add):
            first = new_starts[i + 1] - add[i]
            stamps[first : new_starts[i + 1]] = appended[i, : add[i]]
        times = pd.DatetimeIndex(stamps)  # numpy holds UTC wall time for an aware index
        if series.times.tz is not None:
            times = times.tz_localize("UTC").tz_convert(series.times.tz)
    return Series(
        features=spread(series.features),
        targets=spread(series.targets),
        feature_names=series.feature_names,
        target_names=series.target_names,
        times=times,
        notes=series.notes,
        filled=series.filled,
        dtypes=series.dtypes,
        starts=new_starts if series.starts is not None else None,
        ids=series.ids,
        ends=ends - starts + new_starts[:-1],
        static=series.static,
        calendar=series.calendar,
    )


def template(
    series: Series, spec: WindowSpec, data: cfg.Data, frequency: str | None, columns: list[str], source: str
) -> pd.DataFrame:
    """The future rows each series needs for `predict`: the `delay + horizon - 1` rows after its last
    target value, with the file's `columns` in its order (so that they can be appended to it): its
    id, the stamps on its grid (as `extend` continues them), its static covariates, the future
    covariates the file already holds there and empty cells to fill in otherwise; targets and
    every other column empty. Calendar features are computed from the stamps: none to fill in."""
    extended = extend(series, spec, data, frequency, source, check=False)
    need = spec.delay + spec.horizon - 1
    rows = (extended.history_ends[:, None] + np.arange(need)).reshape(-1)
    which = np.repeat(np.arange(series.n_series), need)
    static = series.static if series.static is not None else pd.DataFrame()
    out = {}
    for column in columns:
        if column == data.id_column:
            out[column] = np.asarray(series.ids, dtype=object)[which]
        elif column == data.time_column:
            out[column] = extended.times[rows]
        elif column in static.columns:
            out[column] = static[column].to_numpy()[which]
        elif column in data.covariates.future:
            out[column] = extended.features[rows, extended.feature_names.index(column)]
        else:
            out[column] = np.full(len(rows), np.nan, dtype=np.float32)
    return pd.DataFrame(out)


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
    import pyarrow as pa
    import pyarrow.parquet as pq

    from forecast.rundir import write_output

    kind = rows_format(path)
    if kind == "csv" and time_column is not None:
        stamps = stamp_text(pd.DatetimeIndex(frame[time_column]), time_format, _witness(history))
        frame = frame.assign(**{time_column: stamps})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    texts = [value for column in frame.columns if frame[column].dtype == object for value in frame[column].unique()]

    def write(out: BinaryIO) -> None:
        write_csv(table, out, texts) if kind == "csv" else pq.write_table(table, out)

    write_output(path, write)


def stamps_after(last: pd.DatetimeIndex, count: int, frequency: str | None, reference: pd.DatetimeIndex) -> np.ndarray:
    """(len(last), count) stamps (UTC wall time) after each of `last`: on the `frequency` grid, else
    the one pandas infers from `reference` (month ends stay month ends, years stay years), else
    steps of its median spacing."""
    from forecast.timegrid import after
    from forecast.timegrid import frequency as infer

    name = frequency or infer(reference[-1000:])
    if name is not None:
        return after(last, count, name)
    spacing = np.median(np.diff(reference.as_unit("ns").asi8)) if len(reference) > 1 else 0
    steps = (np.arange(1, count + 1) * spacing).astype("timedelta64[ns]")
    return np.asarray(last.as_unit("ns").to_numpy()[:, None] + steps[None, :], dtype="datetime64[ns]")


def future_stamps(times: pd.DatetimeIndex, count: int) -> pd.DatetimeIndex:
    """The `count` stamps after one series' last (see `stamps_after`)."""
    stamps = pd.DatetimeIndex(stamps_after(times[-1:], count, None, times)[0])
    return stamps.tz_localize("UTC").tz_convert(times.tz) if times.tz is not None else stamps


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
    from forecast.rundir import STDOUT, special_file

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


@dataclass(frozen=True)
class Forecasts:
    """Forecasts from a set of origins with their labels: the one source of every layout (long,
    wide) and file type (CSV, Parquet, NumPy), so that no two outputs can disagree.

    Labels are kept once per origin (and once per origin and step for the target times) and only
    repeated when a layout needs a row per value: 2,785 windows x 96 steps x 7 targets is 1.9
    million long rows but only 2,785 origin stamps to format.
    """

    values: np.ndarray  # (origins, horizon, targets), original units (float64: the inverse scaling's)
    origin: pd.Index  # each origin's stamp (DatetimeIndex), or its row number within its series
    target_time: pd.Index  # (origins x horizon) flattened, origin-major: stamps or row numbers
    targets: list[str]  # data.targets, the order of the last axis
    series: np.ndarray | None = None  # a panel: each origin's series (index into `ids`)
    ids: list[str] | None = None
    id_column: str = "id"
    # stamps of the whole series that fix how CSV writes stamps (dates only? fractions of a
    # second?), so that every chunk of a streamed output writes them alike (see `_labels`)
    witness: pd.DatetimeIndex | None = None
    # a run with intervals: each bound by its quantile's name ("q0.025", ...), shaped like `values`
    bounds: dict[str, np.ndarray] | None = None
    # how the input writes its stamps (see data.stamp_format): CSV writes origins and target times alike
    time_format: str | None = None
    # the series forecast from (original units), for `plot`'s history; only on a whole forecast
    history: Series | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(
        cls,
        series: Series,
        spec: WindowSpec,
        origins: np.ndarray,
        values: np.ndarray,
        id_column: str = "id",
        witness: pd.DatetimeIndex | None = None,
        bounds: dict[str, np.ndarray] | None = None,
        time_format: str | None = None,
    ) -> Forecasts:
        """Label `values` (one forecast per origin row of `series`): with a time column, origins and
        targets are stamps; without, row numbers within each series. `witness`: `_witness` of the
        series' stamps when the caller has it (a streamed forecast computes it once); `bounds`: the
        intervals' bounds by name; `time_format`: the input's stamp format (data.stamp_format)."""
        target_rows = origins[:, None] + spec.target_offsets()
        which = series.series_of(origins)
        if series.times is not None:
            origin, target_time = series.times[origins], series.times[target_rows.reshape(-1)]
        else:
            base = series.offsets[which]
            origin, target_time = pd.Index(origins - base), pd.Index((target_rows - base[:, None]).reshape(-1))
        panel = series.ids is not None
        witness = _witness(series.times) if witness is None else witness
        return cls(values, origin, target_time, list(series.target_names), which if panel else None,
                   series.ids, id_column, witness, bounds, time_format)  # fmt: skip

    def table(self, layout: str = "long", text_stamps: bool = False):
        """The forecasts as a pyarrow Table in `layout`.

        long: [id,] origin, target_time, step, column, prediction[, q0.025, ...]; one row per origin,
        step and target, a column per interval bound. wide: [id,] origin, column[, output],
        step_1 ... step_H; one row per origin and target, and with intervals per output
        ("prediction", "q0.025", ...).
        Text columns are dictionary-encoded (each label stored once); with `text_stamps`, stamps
        are too, formatted once each as the input writes them (`stamp_text`), for CSV. Forecasts
        are float32, the precision the network computes them in: CSV then writes each as the
        shortest text that reads back as that float32 (128067.5, not 128067.50029298446).
        """
        import pyarrow as pa

        check_layout(layout)
        n, horizon, n_targets = self.values.shape
        per_origin = {}
        if self.ids is not None:
            per_origin[self.id_column] = _dictionary(self.series, self.ids)
        per_origin["origin"] = self._labels(self.origin, text_stamps)
        names = list(self.targets)
        outputs = {"prediction": self.values, **(self.bounds or {})}
        if layout == "long":
            rows = pa.array(np.repeat(np.arange(n), horizon * n_targets))
            columns = {key: labels.take(rows) for key, labels in per_origin.items()}
            steps = pa.array(np.repeat(np.arange(n * horizon), n_targets))
            columns["target_time"] = self._labels(self.target_time, text_stamps).take(steps)
            columns["step"] = np.tile(np.repeat(np.arange(1, horizon + 1), n_targets), n)
            columns["column"] = _dictionary(np.tile(np.arange(n_targets), n * horizon), names)
            columns.update({name: values.reshape(-1).astype(np.float32) for name, values in outputs.items()})
        else:
            per = n_targets * len(outputs)  # rows per origin: each target's outputs in turn
            rows = pa.array(np.repeat(np.arange(n), per))
            columns = {key: labels.take(rows) for key, labels in per_origin.items()}
            columns["column"] = _dictionary(np.tile(np.repeat(np.arange(n_targets), len(outputs)), n), names)
            if self.bounds:
                columns["output"] = _dictionary(np.tile(np.arange(len(outputs)), n * n_targets), list(outputs))
            stacked = np.stack(list(outputs.values()), axis=3, dtype=np.float32)  # (origins, horizon, targets, outputs)
            by_row = np.ascontiguousarray(stacked.transpose(0, 2, 3, 1).reshape(n * per, horizon).T)
            columns.update({f"step_{k + 1}": by_row[k] for k in range(horizon)})
        return pa.table(columns)

    def _labels(self, index: pd.Index, text: bool):
        """Origins or target times as a pyarrow array: stamps as text when asked (`stamp_text`),
        each distinct stamp formatted once; row numbers as they are."""
        import pyarrow as pa

        if text and isinstance(index, pd.DatetimeIndex):
            codes, uniques = pd.factorize(index)
            return _dictionary(codes, stamp_text(uniques, self.time_format, self.witness))
        return pa.array(index)

    def frame(self, layout: str = "long") -> pd.DataFrame:
        """The forecasts as a pandas DataFrame in `layout` (see `table`): stamps as datetime64 (their
        zone kept), text as strings, forecasts float32."""
        return _plain(self.table(layout)).to_pandas()

    def write(self, path: Path, layout: str = "long") -> None:
        """Write `path` (`-`: stdout) as its extension says (see `output_format`), atomically."""
        write_parts(path, layout, [self], len(self.values))

    def arrays(self) -> dict[str, np.ndarray]:
        """What a .npz holds: `predictions` (origins, horizon, targets) float32, `origin` (origins,),
        `target_time` (origins, horizon), `target` (targets,) and, for a panel, `id` (origins,).
        Stamps are datetime64[ns] (UTC when the data's stamps carry a zone), else row numbers;
        text is unicode, so `np.load` needs no pickle. With intervals, one array per bound, named by
        its quantile (`q0.025`, ...), shaped like `predictions`."""
        out = {
            "predictions": self.values.astype(np.float32),
            "origin": _numpy(self.origin),
            "target_time": _numpy(self.target_time).reshape(self.values.shape[:2]),
            "target": np.asarray(self.targets, dtype=str),
        }
        if self.ids is not None:
            out["id"] = np.asarray(self.ids, dtype=str)[self.series]
        out.update({name: values.astype(np.float32) for name, values in (self.bounds or {}).items()})
        return out

    def plot(self, path: Path, series: list | None = None):
        """A PNG of the forecast from each chosen series' last origin (`series`: ids; default, a
        panel's first plots.SERIES series with a forecast), its intervals, and the last rows of
        its history (four horizons, or three seasons where that is longer): a panel per series
        and target, plots.MAX_PANELS at most. Returns the matplotlib Figure."""
        from forecast.plots import MAX_PANELS, SERIES, plot_fans

        present = list(dict.fromkeys(self.series.tolist())) if self.series is not None else [0]
        if self.ids is None:
            if series:
                raise ForecastError(ONE_SERIES)
            chosen = present
        elif series:
            by_text = {str(self.ids[s]): s for s in present}
            unknown = [name for name in series if str(name) not in by_text]
            if unknown:
                raise ForecastError(
                    f"--series: '{unknown[0]}' has no forecast (not in the data, or too short for one window)"
                )
            chosen = [by_text[str(name)] for name in series]
        else:
            chosen = present[:SERIES]
        if not len(self.values):
            raise ForecastError("--plot: no series has a forecast to draw (each is too short for one window)")
        cells = [(s, k) for s in chosen for k in range(len(self.targets))]
        panels = [self._panel(s, k) for s, k in cells[:MAX_PANELS]]
        horizon = self.values.shape[1]
        title = (
            f"the {horizon}-step forecast after the last row of {'each series' if len(chosen) > 1 else 'the series'}"
        )
        title += ", with its intervals" if self.bounds else ""
        left = [f"{len(panels)} of {len(cells)} panels"] if len(cells) > len(panels) else []
        return plot_fans(path, panels, title + (f" ({left[0]})" if left else ""))

    def _panel(self, s: int, k: int):
        """Target `k` of series `s` (0 for a single series): the forecast from its last origin and
        the end of its history."""
        from forecast.plots import Fan, Panel
        from forecast.prepare import infer_seasonality

        i = int(np.flatnonzero(self.series == s)[-1]) if self.series is not None else len(self.values) - 1
        horizon = self.values.shape[1]
        levels = _levels(self.bounds or {})
        bands = tuple((level, self.bounds[low][i, :, k], self.bounds[high][i, :, k]) for level, low, high in levels)
        fan = Fan(self.origin[i], self.target_time[i * horizon : (i + 1) * horizon], self.values[i, :, k], bands)
        x, actual = self.origin[i : i + 1], np.full(1, np.nan)
        if self.history is not None:
            start, end = int(self.history.offsets[s]), int(self.history.history_ends[s])
            times = self.history.times[start:end] if self.history.times is not None else None
            season = infer_seasonality(times) if times is not None and len(times) > 2 else None
            rows = np.arange(max(start, end - max(4 * horizon, 3 * (season or 0))), end)
            x = self.history.times[rows] if times is not None else pd.Index(rows - start)
            actual = self.history.targets[rows, k]
        name = self.targets[k]
        where = f"series '{self.ids[s]}': {name}" if self.ids is not None else name
        return Panel(f"{where}, forecast from {stamp(self.origin[i])}", name, x, actual, [fan])

    def _csv(self, stream: BinaryIO, layout: str, header: bool = True) -> None:
        write_csv(self.table(layout, text_stamps=True), stream, [*self.targets, *(self.ids or [])], header)


def write_csv(table, stream: BinaryIO, labels: list[str], header: bool = True) -> None:
    """CSV through pyarrow's writer (C++; pandas' to_csv formats every cell in Python), with a
    pandas-style header (unless this is a later chunk); no quotes, unless one of the text `labels`
    needs them, and then around every text cell. Floats are written shortest-exact for their type."""
    import csv
    import io

    import pyarrow.csv as pacsv

    if header:
        names = io.StringIO()
        csv.writer(names, lineterminator="\n").writerow(table.column_names)
        stream.write(names.getvalue().encode())
    plain = not any(set(str(label)) & set(',"\r\n') for label in labels)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none" if plain else "needed")
    pacsv.write_csv(table, stream, options)


# --series (or `series`) for a run without data.id_column
ONE_SERIES = "--series picks series of a panel (data.id_column); this run forecasts one series"


def stamp(value: Any) -> str:
    """A stamp (or row) as a title shows it: no seconds unless it has some, no time at midnight."""
    if not isinstance(value, pd.Timestamp):
        return f"row {value}"
    if value == value.normalize():
        return f"{value:%Y-%m-%d}"
    return f"{value:%Y-%m-%d %H:%M}" if value.second == 0 and not value.microsecond else str(value)


def _levels(bounds: dict[str, np.ndarray]) -> list[tuple[float, str, str]]:
    """(level, lower name, upper name) of the intervals whose bounds `bounds` holds by quantile
    name: "q0.025" with "q0.975" is 0.95."""
    names = sorted(bounds, key=lambda name: float(name[1:]))
    pairs = zip(names[: len(names) // 2], names[::-1], strict=False)
    return [(round(float(high[1:]) - float(low[1:]), 10), low, high) for low, high in pairs]


def _mean(members: list[np.ndarray]) -> np.ndarray:
    """One member's array as it is; several members' mean, in float64."""
    return members[0] if len(members) == 1 else np.mean(members, axis=0, dtype=np.float64)


# Forecast values per streamed chunk: its long table is ~15 MB (half a million rows), so a predict
# that writes a file holds one chunk at a time, however many origins it forecasts. Measured on
# ETTh1's 17,325 origins: Parquet peaked at 1,080 / 1,145 / 1,242 MB with 2^19 / 2^20 / 2^21.
CHUNK_VALUES = 1 << 19


@dataclass
class Forecaster:
    """A loaded run, its scaled series and the origins to forecast: `all()` gives every forecast
    at once, `write()` streams them to a file chunk by chunk (forecast, label, write, forget).

    Chunks are whole numbers of inference batches, so every window is predicted in the same batch
    position as by `all()`: the numbers do not depend on the chunking.
    """

    model: Any
    x: np.ndarray  # the scaled series (features)
    series: Series
    spec: WindowSpec
    origins: np.ndarray
    scalers: Any
    id_column: str = "id"
    whole: bool = False  # a variable-length model forecasting from the whole history (one origin)
    feed: Any = None  # a panel model's other inputs (windows.Feed)
    calibration: Any = None  # the run's intervals (intervals.Calibration), or None
    y: np.ndarray | None = None  # the scaled targets: each window's scale for its intervals
    witness: pd.DatetimeIndex | None = None  # computed on the first chunk
    skipped: int = 0  # series too short for one window (no forecast)
    others: list = field(default_factory=list)  # an ensemble's other members: (model, calibration) each
    time_format: str | None = None  # how the input writes its stamps (data.stamp_format)

    def witness_with(self, earlier: pd.DatetimeIndex | None) -> pd.DatetimeIndex | None:
        """This series' `_witness` with an earlier part's: the stamps that fix how CSV prints stamps,
        carried from one group of a panel's series to the next."""
        own = _witness(self.series.times)
        return own if earlier is None or own is None else own.append(earlier)

    @property
    def members(self) -> list[tuple[Any, Any]]:
        """(model, calibration) of each member: this run's, then an ensemble's others."""
        return [(self.model, self.calibration), *self.others]

    def chunk_size(self) -> int:
        """Origins per chunk: as many whole inference batches (of every member) as fit CHUNK_VALUES
        values, counting each member's forecasts and bounds, and at least one batch (a wide,
        long-horizon model's chunk is one batch, however large)."""
        import math

        from forecast.inference import predict_batch

        batch = math.lcm(*(predict_batch(model) for model, _ in self.members))
        outputs = 1 + (len(self.calibration.bound_quantiles) if self.calibration is not None else 0)
        copies = 1 if not self.others else len(self.members) + 1  # an ensemble holds each member's and the mean
        per_window = self.spec.horizon * len(self.series.target_names) * outputs * copies
        return batch * max(1, CHUNK_VALUES // (batch * per_window))

    def chunks(self, size: int | None = None) -> Iterator[Forecasts]:
        """The forecasts, `size` origins at a time (at least one chunk, maybe empty)."""
        size = len(self.origins) if self.whole else size or self.chunk_size()
        for start in range(0, max(len(self.origins), 1), max(size, 1)):
            yield self._forecast(self.origins[start : start + size])

    def all(self) -> Forecasts:
        """Every forecast at once, with the series they came from (for `Forecasts.plot`)."""
        return replace(self._forecast(self.origins), history=self.series)

    def _forecast(self, origins: np.ndarray) -> Forecasts:
        from forecast.inference import finite, forecast_origins

        history = self.x[: int(self.series.history_ends[0])] if self.whole else self.x  # not the appended rows
        points, bands = [], []
        for model, calibration in self.members:
            raw = forecast_origins(model, history, self.spec, origins, whole_history=self.whole, feed=self.feed)
            if calibration is not None:
                bands.append(calibration.named(calibration.bounds(raw, calibration.scale(self.y, origins, self.spec))))
                raw = calibration.point(raw)
            points.append(raw)
        # an ensemble's forecast: the members' mean, and each bound's mean (quantile averaging), in scaled units
        which, bounds = self.series.series_of(origins), None
        if bands:
            bounds = {
                name: finite(self.scalers.forecast_units(_mean([b[name] for b in bands]), which), "bounds")
                for name in bands[0]
            }
        values = finite(self.scalers.forecast_units(_mean(points), which))
        if self.witness is None:
            self.witness = _witness(self.series.times)  # once: it scans the whole series
        return Forecasts.of(
            self.series, self.spec, origins, values, self.id_column, self.witness, bounds, self.time_format
        )

    def write(self, path: Path, layout: str = "long", size: int | None = None) -> None:
        """Write `path` as its extension says (see `output_format`). A file is written atomically and
        streamed: CSV and Parquet (one row group per chunk) and .npy (its header first, from the
        known shape) hold one chunk in memory; .npz, a zip of whole arrays, holds them all.
        Standard output, a FIFO or a device get everything at once after the last forecast, so
        that a failure (a non-finite forecast) leaves nothing half-written there either."""
        from forecast.rundir import STDOUT, special_file

        kind = output_format(path, layout)
        if Path(path) == STDOUT or special_file(Path(path)) or kind == "npz":
            self.all().write(path, layout)
            return
        write_parts(path, layout, self.chunks(size), len(self.origins))


def write_parts(path: Path, layout: str, parts: Iterable[Forecasts], origins: int) -> None:
    """Write consecutive parts of one forecast (`origins` in all) to `path` as its extension says:
    CSV with one header, Parquet one row group per part, .npy its header first (from the known
    shape), .npz (a zip of whole arrays) from a single part. Atomic (see rundir.write_output)."""
    from forecast.rundir import write_output

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
                        part._csv(out, layout, header=k == 0)
                    else:
                        import pyarrow.parquet as pq

                        table = _plain(part.table(layout))
                        parquet = parquet or pq.ParquetWriter(out, table.schema)
                        parquet.write_table(table)
            finally:
                if parquet is not None:  # also after a failed part: an unclosed writer complains when collected
                    parquet.close()

    write_output(path, write)


def _dictionary(codes: np.ndarray, labels: list[str]):
    """A dictionary-encoded text column: `labels[codes]`, each label stored once."""
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, dtype=np.int32)), pa.array(labels, pa.string()))


def stamp_text(stamps: pd.DatetimeIndex, time_format: str | None, witness: pd.DatetimeIndex | None = None) -> list[str]:
    """Stamps as the input writes them: in its `time_format` (data.stamp_format: '2024-05-01 13:00'
    gets no invented seconds, dates stay dates) where that format writes every one of them exactly;
    else as pandas' to_csv does (ISO: dates only when every stamp is midnight, the zone's offset when
    there is one, 0, 3, 6 or 9 digits of seconds), formatted beside the `witness` stamps so that the
    format is the whole series' rather than this chunk's. Fractions of a second (%f) and zones (%z)
    take pandas' form, which writes them as they were read."""
    if _writes_exactly(time_format, stamps):
        return list(stamps.strftime(time_format))
    both = stamps.append(witness) if witness is not None and len(witness) else stamps
    return [str(s) for s in both.astype(str)[: len(stamps)]]


def _writes_exactly(time_format: str | None, stamps: pd.DatetimeIndex) -> bool:
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


def _witness(times: pd.DatetimeIndex | None) -> pd.DatetimeIndex | None:
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


def _plain(table):
    """`table` with its dictionary columns decoded: strings for pandas and Parquet readers, not
    categoricals."""
    import pyarrow as pa

    return pa.table(
        {
            name: column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
            for name, column in zip(table.column_names, table.columns, strict=True)
        }
    )


def _numpy(index: pd.Index) -> np.ndarray:
    """Stamps as naive datetime64[ns] (UTC for zoned ones), row numbers as int64."""
    if isinstance(index, pd.DatetimeIndex):
        return index.as_unit("ns").asi8.view("datetime64[ns]")
    return np.asarray(index, dtype=np.int64)
