"""Forecasts and the engine that makes them: `Forecasts`, one forecast per origin with its labels,
the one source of every layout and file type; `Forecaster`, a loaded run and its scaled series,
forecasting all origins at once or chunk by chunk (forecast, label, write, forget) so that a file
of any size is written in bounded memory. An ensemble's members forecast together here: their
forecasts and interval bounds are averaged in scaled units.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from forecast.data import Series
from forecast.errors import ForecastError
from forecast.outputs import (
    STDOUT,
    check_layout,
    output_format,
    plain,
    special_file,
    stamp_text,
    witness_of,
    write_parts,
)
from forecast.plots import MAX_PANELS, SERIES, Fan, Panel, plot_fans
from forecast.prepare import infer_seasonality
from forecast.timegrid import as_numpy
from forecast.windows import WindowSpec


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
    # how the input writes its stamps (see timeparse.stamp_format): CSV writes origins and target times alike
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
        targets are stamps; without, row numbers within each series. `witness`: `witness_of` the
        series' stamps when the caller has it (a streamed forecast computes it once); `bounds`: the
        intervals' bounds by name; `time_format`: the input's stamp format (timeparse.stamp_format)."""
        target_rows = origins[:, None] + spec.target_offsets()
        which = series.series_of(origins)
        if series.times is not None:
            origin, target_time = series.times[origins], series.times[target_rows.reshape(-1)]
        else:
            base = series.offsets[which]
            origin, target_time = pd.Index(origins - base), pd.Index((target_rows - base[:, None]).reshape(-1))
        panel = series.ids is not None
        witness = witness_of(series.times) if witness is None else witness
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
        if text and isinstance(index, pd.DatetimeIndex):
            codes, uniques = pd.factorize(index)
            return _dictionary(codes, stamp_text(uniques, self.time_format, self.witness))
        return pa.array(index)

    def frame(self, layout: str = "long") -> pd.DataFrame:
        """The forecasts as a pandas DataFrame in `layout` (see `table`): stamps as datetime64 (their
        zone kept), text as strings, forecasts float32."""
        return plain(self.table(layout)).to_pandas()

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
            "origin": as_numpy(self.origin),
            "target_time": as_numpy(self.target_time).reshape(self.values.shape[:2]),
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


def _dictionary(codes: np.ndarray, labels: list[str]):
    """A dictionary-encoded text column: `labels[codes]`, each label stored once."""
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, dtype=np.int32)), pa.array(labels, pa.string()))


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
    time_format: str | None = None  # how the input writes its stamps (timeparse.stamp_format)

    def witness_with(self, earlier: pd.DatetimeIndex | None) -> pd.DatetimeIndex | None:
        """`witness_of` this series' stamps, with an earlier part's: the stamps that fix how CSV prints stamps,
        carried from one group of a panel's series to the next."""
        own = witness_of(self.series.times)
        return own if earlier is None or own is None else own.append(earlier)

    @property
    def members(self) -> list[tuple[Any, Any]]:
        """(model, calibration) of each member: this run's, then an ensemble's others."""
        return [(self.model, self.calibration), *self.others]

    def chunk_size(self) -> int:
        """Origins per chunk: as many whole inference batches (of every member) as fit CHUNK_VALUES
        values, counting each member's forecasts and bounds, and at least one batch (a wide,
        long-horizon model's chunk is one batch, however large)."""
        from forecast.inference import predict_batch  # deferred: loads Keras

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
        from forecast.inference import finite, forecast_origins  # deferred: loads Keras

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
            self.witness = witness_of(self.series.times)  # once: it scans the whole series
        return Forecasts.of(
            self.series, self.spec, origins, values, self.id_column, self.witness, bounds, self.time_format
        )

    def write(self, path: Path, layout: str = "long", size: int | None = None) -> None:
        """Write `path` as its extension says (see `output_format`). A file is written atomically and
        streamed: CSV and Parquet (one row group per chunk) and .npy (its header first, from the
        known shape) hold one chunk in memory; .npz, a zip of whole arrays, holds them all.
        Standard output, a FIFO or a device get everything at once after the last forecast, so
        that a failure (a non-finite forecast) leaves nothing half-written there either."""
        kind = output_format(path, layout)
        if Path(path) == STDOUT or special_file(Path(path)) or kind == "npz":
            self.all().write(path, layout)
            return
        write_parts(path, layout, self.chunks(size), len(self.origins))
