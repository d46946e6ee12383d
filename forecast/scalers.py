"""The scalers: scikit-learn's, fit on the training rows only, stored with the run as JSON.

One scaler for the inputs and one for the targets; `Scalers.to_dict` keeps each scaler's fitted
attributes as plain JSON, so opening a run directory never unpickles (never executes) anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import TransformerMixin
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, RobustScaler, StandardScaler

from forecast import calendar as cal
from forecast import config as cfg
from forecast.data import Series
from forecast.errors import ForecastError
from forecast.panels import leading_rows


def make_scaler(scaler: cfg.Scaler) -> TransformerMixin:
    if scaler.type == "standard":
        return StandardScaler()
    if scaler.type == "minmax":
        return MinMaxScaler(feature_range=tuple(scaler.feature_range))
    if scaler.type == "robust":
        return RobustScaler()
    return FunctionTransformer()  # identity, with an identity inverse


def _scaler_state(scaler: TransformerMixin) -> dict:
    """A fitted scaler as plain JSON: its fitted `*_` attributes (scikit-learn's convention).

    Stored as JSON rather than a pickle, so loading a run directory never executes code.
    """
    fitted = {k: v for k, v in vars(scaler).items() if k.endswith("_") and not k.startswith("_")}
    return {k: np.asarray(v).tolist() for k, v in fitted.items()}


def _scaler_from(state: dict, scaler: cfg.Scaler) -> TransformerMixin:
    """Rebuild a fitted scaler from its JSON state, refusing anything but finite numbers.

    Raises:
        ValueError: a value that is not a finite number, or a key that is not a fitted attribute.
    """
    out = make_scaler(scaler)
    for key, value in state.items():
        if not (isinstance(key, str) and key.endswith("_") and not key.startswith("_")):
            raise ValueError(f"{key!r} is not a fitted scaler attribute")
        value = np.asarray(value)
        if value.dtype.kind not in "iuf":
            raise ValueError(f"{key} holds {value.dtype} values, not numbers")
        if not np.isfinite(value).all():
            raise ValueError(f"{key} is not finite at index {int(np.flatnonzero(~np.isfinite(value.ravel()))[0])}")
        setattr(out, key, value.item() if value.ndim == 0 else value)
    return out


@dataclass
class StaticEncoder:
    """A panel's static covariates as model inputs: numeric ones standardized across series, text
    ones as integer codes of a vocabulary (code 0: a value the run never saw).

    Fit on every series of the training data (a static value is known in advance, so it leaks
    nothing) and stored in scaler.json, so `predict` encodes a new file's series the same way.
    """

    numeric: dict[str, tuple[float, float]]  # column -> (mean, std)
    categorical: dict[str, list[str]]  # column -> vocabulary

    @classmethod
    def fit(cls, static: pd.DataFrame) -> StaticEncoder:
        numeric, categorical = {}, {}
        for column in static.columns:
            values = static[column]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                std = float(values.std(ddof=0))
                numeric[str(column)] = (float(values.mean()), std if std > 0 else 1.0)
            else:
                categorical[str(column)] = sorted({str(v) for v in values})
        return cls(numeric, categorical)

    @property
    def vocabularies(self) -> list[int]:
        return [len(v) + 1 for v in self.categorical.values()]

    def encode(self, static: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(series, numeric) float32 and (series, categorical) int32 for a frame of one row per series."""
        values = np.zeros((len(static), len(self.numeric)), dtype=np.float32)
        for k, (column, (mean, std)) in enumerate(self.numeric.items()):
            numbers = pd.to_numeric(static[column], errors="coerce").to_numpy(np.float64)
            if np.isnan(numbers).any():
                raise ForecastError(f"data.covariates.static: column '{column}' holds a value that is not a number")
            values[:, k] = (numbers - mean) / std
        codes = np.zeros((len(static), len(self.categorical)), dtype=np.int32)
        for k, (column, vocabulary) in enumerate(self.categorical.items()):
            index = {v: i + 1 for i, v in enumerate(vocabulary)}
            codes[:, k] = [index.get(str(v), 0) for v in static[column]]
        return values, codes

    def to_dict(self) -> dict:
        return {"numeric": {k: list(v) for k, v in self.numeric.items()}, "categorical": self.categorical}

    @classmethod
    def from_dict(cls, state: dict) -> StaticEncoder:
        numeric = {str(k): (float(v[0]), float(v[1])) for k, v in state["numeric"].items()}
        if not all(np.isfinite(v).all() and v[1] > 0 for v in numeric.values()):
            raise ValueError("static numeric scales must be finite and positive")
        return cls(numeric, {str(k): [str(x) for x in v] for k, v in state["categorical"].items()})


class _Clipped:
    """scaler.clip for both kinds of scalers: `forecast_units` turns the model's scaled forecasts
    into original units within the training range (clipped after the inverse, so that a bound holds
    exactly: 0 stays 0); `clip_scaled` clips scaled forecasts for the scaled metrics (the scalers
    are increasing, so a bound in original units is a bound in scaled ones). Actuals and baselines
    go through `inverse_targets` alone."""

    clip: str

    def forecast_units(self, values: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        units = self.inverse_targets(values, series)
        return units if self.clip == "none" else _clip(units, *self._range_for(series, values.shape))

    def clip_scaled(self, values: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        if self.clip == "none":
            return values
        low, high = self._range_for(series, values.shape)
        return _clip(
            values, *(None if b is None else self._scale_targets(b, series, values.shape) for b in (low, high))
        )


@dataclass
class Scalers(_Clipped):
    """One scaler for the inputs and one for the targets, both fit on the training rows only.

    Two scalers (rather than one over the union of columns) let reports inverse-transform the
    targets alone, which scikit-learn cannot do for a subset of a fitted scaler's columns.
    """

    features: TransformerMixin
    targets: TransformerMixin
    static: StaticEncoder | None = None
    low: np.ndarray | None = None  # (targets,): the lowest and highest training value (scaler.clip)
    high: np.ndarray | None = None
    clip: str = "none"  # scaler.clip

    @classmethod
    def fit(cls, scaler: cfg.Scaler, series: Series, train: int | np.ndarray) -> Scalers:
        """Fit on the training rows: the first `train` rows, or the rows a boolean mask selects."""
        rows = slice(0, train) if isinstance(train, int) else train
        targets = series.targets[rows]
        low, high = _extremes(targets)
        return cls(
            features=make_scaler(scaler).fit(series.features[rows]),
            targets=make_scaler(scaler).fit(targets),
            low=low,
            high=high,
            clip=scaler.clip,
        )

    def transform(self, series: Series) -> tuple[np.ndarray, np.ndarray]:
        """The model's window columns (scaled features, then the series' calendar features) and the
        scaled targets, float32."""
        scaled = np.asarray(self.features.transform(series.features), dtype=np.float32)
        x = _with_calendar(series, scaled)
        return x, np.asarray(self.targets.transform(series.targets), dtype=np.float32)

    def to_dict(self) -> dict:
        state = {"features": _scaler_state(self.features), "targets": _scaler_state(self.targets)}
        if self.low is not None:
            state["target_range"] = {"low": self.low.tolist(), "high": self.high.tolist()}
        return state

    @classmethod
    def from_dict(cls, state: dict, scaler: cfg.Scaler) -> Scalers:
        low, high = _range_from(state.get("target_range"), None)
        return cls(_scaler_from(state["features"], scaler), _scaler_from(state["targets"], scaler), low=low, high=high)

    def _range_for(self, series: np.ndarray | None, shape: tuple) -> tuple[np.ndarray | None, np.ndarray | None]:
        return clip_bounds(self)  # (targets,): broadcasts over any leading shape

    def _scale_targets(self, bound: np.ndarray, series: np.ndarray | None, shape: tuple) -> np.ndarray:
        return np.asarray(self.targets.transform(bound[None]), dtype=np.float64)[0]

    def check(self, n_features: int, n_targets: int, source: str = "scaler.json") -> None:
        """A stored pair of scalers fits the data's columns: every per-column array has one value per column.

        Raises:
            ForecastError: exit 2, naming `source` and the scaler attribute whose length is wrong.
        """
        if self.low is not None and len(self.low) != n_targets:
            raise ForecastError(f"{source}: target_range has {len(self.low)} values for {n_targets} target columns")
        for name, scaler, n in (("features", self.features, n_features), ("targets", self.targets, n_targets)):
            for key, value in vars(scaler).items():
                if key.endswith("_") and not key.startswith("_") and key != "n_samples_seen_":
                    size = np.size(value) if key != "n_features_in_" else int(value)
                    if (np.ndim(value) > 0 or key == "n_features_in_") and size != n:
                        raise ForecastError(
                            f"{source}: {name}.{key} has {size} values for {n} columns; "
                            "the run's scalers do not fit these columns"
                        )

    def inverse_targets(self, values: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        """Inverse-transform an array whose last axis is the targets, whatever its leading shape.
        (`series`, each window's series, matters only to per-series scalers.)"""
        flat = values.reshape(-1, values.shape[-1])
        return np.asarray(self.targets.inverse_transform(flat), dtype=np.float64).reshape(values.shape)


def _with_calendar(series: Series, scaled: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """`scaled` features with the series' calendar features after them, written straight into `out`
    (or a new array): the calendar of a large panel is never held twice."""
    if not series.calendar:
        return scaled if out is None else out
    n = scaled.shape[1]
    if out is None:
        out = np.empty((len(scaled), n + 2 * len(series.calendar)), dtype=np.float32)
        out[:, :n] = scaled
    cal.features(series.times, series.calendar, out=out[:, n:])
    return out


CHUNK = 1 << 20  # rows at a time in per-series arithmetic: a large panel's temporaries stay small


def _sums(values: np.ndarray, groups: np.ndarray, n: int, center: np.ndarray | None = None) -> np.ndarray:
    """Per group, the sum of values (or of squared deviations from `center`), in float64, chunked."""
    out = np.zeros(n)
    for start in range(0, len(values), CHUNK):
        part, which = values[start : start + CHUNK].astype(np.float64), groups[start : start + CHUNK]
        if center is not None:
            part = (part - center[which]) ** 2
        out += np.bincount(which, weights=part, minlength=n)
    return out


def _affine(kind: cfg.Scaler, values: pd.DataFrame, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-group (center, scale) with scikit-learn's definitions, so that (x - center) / scale is what
    its scaler fit on that group's rows would give: standard (mean, population std), minmax (onto
    feature_range), robust (median, interquartile range); a zero scale becomes 1, as scikit-learn does.
    Groups are 0..n-1 with at least one row each; standard works in chunks (no copy of the column)."""
    if kind.type == "standard":
        n = int(groups[-1]) + 1 if len(groups) else 0
        column = values[0].to_numpy()
        counts = np.bincount(groups, minlength=n)
        mean = _sums(column, groups, n) / counts
        std = np.sqrt(_sums(column, groups, n, mean) / counts)
        std = np.where(std > 0, std, 1.0)
        return mean[:, None], std[:, None]
    if kind.type == "mean":  # GluonTS's mean scaling: no centre, the mean absolute value as the scale
        n = int(groups[-1]) + 1 if len(groups) else 0
        level = _sums(np.abs(values[0].to_numpy()), groups, n) / np.bincount(groups, minlength=n)
        return np.zeros((n, 1)), np.where(level > 0, level, 1.0)[:, None]
    grouped = values.groupby(groups, sort=True)
    if kind.type == "minmax":
        low, high = kind.feature_range
        lowest, highest = grouped.min(), grouped.max()
        span = (highest - lowest).where(lambda v: v > 0, 1.0)  # scikit-learn: a zero range counts as 1
        scale = span / (high - low)
        center = lowest - low * scale
    elif kind.type == "robust":
        center = grouped.median()
        scale = grouped.quantile(0.75) - grouped.quantile(0.25)
    else:
        center, scale = grouped.min() * 0.0, grouped.min() * 0.0 + 1.0
    scale = scale.where(scale > 0, 1.0).fillna(1.0)
    return center.to_numpy(np.float64), scale.to_numpy(np.float64)


@dataclass
class SeriesScalers(_Clipped):
    """One scaler per series of a panel (scaler.per_series), each fit on its own training rows.

    Stored as plain JSON arrays (center and scale per series and column, by id), and applied as
    (x - center) / scale: the same numbers scikit-learn's scaler would give on each series, for a
    hundred thousand series without a hundred thousand scaler objects.
    """

    ids: list[str]
    center: np.ndarray  # (series, features)
    scale: np.ndarray
    target_center: np.ndarray  # (series, targets)
    target_scale: np.ndarray
    static: StaticEncoder | None = None
    fitted: np.ndarray | None = None  # series that had training rows (None: all); the others hold no scaler
    low: np.ndarray | None = None  # (series, targets): each series' lowest and highest training value
    high: np.ndarray | None = None
    clip: str = "none"  # scaler.clip

    @classmethod
    def fit(cls, scaler: cfg.Scaler, series: Series, train: np.ndarray) -> SeriesScalers:
        """Fit each series on its rows that `train` (a boolean mask over all rows) selects."""
        groups = series.row_series()[train]
        n = series.n_series
        # renumbered 0..len(present)-1 for _affine; rows of a series are contiguous, so no sort is needed
        change = np.flatnonzero(np.diff(groups)) + 1
        present = groups[np.r_[0, change]] if len(groups) else groups[:0]
        groups = np.zeros(len(groups), dtype=np.int32)
        groups[change] = 1
        np.cumsum(groups, out=groups)
        parts = []
        low, high = np.zeros((n, series.targets.shape[1])), np.zeros((n, series.targets.shape[1]))  # 0: unused
        for k in range(series.targets.shape[1]):  # a column at a time, as the scalers below
            grouped = pd.Series(series.targets[train, k]).groupby(groups)
            low[present, k], high[present, k] = grouped.min().to_numpy(), grouped.max().to_numpy()
            del grouped
        for values in (series.features, series.targets):
            full_center, full_scale = np.zeros((n, values.shape[1])), np.ones((n, values.shape[1]))
            for k in range(values.shape[1]):  # column by column: the temporaries of one column at a time
                center, scale = _affine(scaler, pd.DataFrame({0: values[train, k]}), groups)
                full_center[present, k], full_scale[present, k] = center[:, 0], scale[:, 0]
            parts += [full_center, full_scale]
        fitted = np.zeros(n, dtype=bool)
        fitted[present] = True
        return cls(list(series.ids), *parts, fitted=fitted, low=low, high=high, clip=scaler.clip)

    def transform(self, series: Series) -> tuple[np.ndarray, np.ndarray]:
        """The model's window columns (scaled features, then the series' calendar features) and the
        scaled targets, float32, computed column by column: a fifty-million-row panel needs no
        float64 copy of all of it."""
        width = series.features.shape[1] + 2 * len(series.calendar)
        x = np.empty((len(series), width), dtype=np.float32)
        y = np.empty(series.targets.shape, dtype=np.float32)
        of_row = series.row_series()
        for out, values, center, scale in (
            (x, series.features, self.center, self.scale),
            (y, series.targets, self.target_center, self.target_scale),
        ):
            for start in range(0, len(series), CHUNK):  # float64 arithmetic, a chunk of rows at a time
                rows = slice(start, start + CHUNK)
                which = of_row[rows]
                out[rows, : values.shape[1]] = (values[rows] - center[which]) / scale[which]
        _with_calendar(series, x[:, : series.features.shape[1]], out=x)
        return x, y

    def inverse_targets(self, values: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        """values (windows, ..., targets) with `series` the series of each window."""
        scale, center = (
            _gather(self.target_scale, series, values.shape),
            _gather(self.target_center, series, values.shape),
        )
        return values.astype(np.float64) * scale + center

    def _range_for(self, series: np.ndarray, shape: tuple) -> tuple[np.ndarray | None, np.ndarray | None]:
        return tuple(None if b is None else _gather(b, series, shape) for b in clip_bounds(self))

    def _scale_targets(self, bound: np.ndarray, series: np.ndarray, shape: tuple) -> np.ndarray:
        return (bound - _gather(self.target_center, series, shape)) / _gather(self.target_scale, series, shape)

    def to_dict(self) -> dict:
        targets = {"center": self.target_center.tolist(), "scale": self.target_scale.tolist()}
        if self.low is not None:
            targets.update(low=self.low.tolist(), high=self.high.tolist())
        return {
            "per_series": {
                "ids": self.ids,
                "features": {"center": self.center.tolist(), "scale": self.scale.tolist()},
                "targets": targets,
                "unfitted": [i for i, ok in zip(self.ids, self.has_scaler(), strict=True) if not ok],
            }
        }

    def has_scaler(self) -> np.ndarray:
        """(series,) booleans: which series hold a scaler (had training rows); `fitted` with None spelled out.

        `for_series` treats the others as series the run never saw, and an exported graph forecasts them as NaN."""
        return self.fitted if self.fitted is not None else np.ones(len(self.ids), dtype=bool)

    @classmethod
    def from_dict(cls, state: dict) -> SeriesScalers:
        per = state["per_series"]
        arrays = [np.asarray(per[part][key], dtype=np.float64) for part in ("features", "targets")
                  for key in ("center", "scale")]  # fmt: skip
        for array in arrays:
            if array.ndim != 2 or len(array) != len(per["ids"]) or not np.isfinite(array).all():
                raise ValueError("per-series scaler arrays must be finite, one row per id")
        ids = [str(i) for i in per["ids"]]
        fitted = ~np.isin(np.asarray(ids, dtype=object), [str(i) for i in per.get("unfitted", [])])
        low, high = _range_from(per["targets"] if "low" in per["targets"] else None, len(ids))
        return cls(ids, *arrays, fitted=fitted, low=low, high=high)

    def check(self, n_features: int, n_targets: int, source: str = "scaler.json") -> None:
        ranges = self.low.shape[1] if self.low is not None else n_targets
        if self.center.shape[1] != n_features or self.target_center.shape[1] != n_targets or ranges != n_targets:
            raise ForecastError(
                f"{source}: per-series scalers have {self.center.shape[1]} feature and "
                f"{self.target_center.shape[1]} target columns, the data {n_features} and {n_targets}"
            )

    def for_series(
        self,
        series: Series,
        kind: cfg.Scaler,
        scale_free: bool,
        source: str,
        rows: np.ndarray | None = None,
        needed: np.ndarray | None = None,
    ) -> tuple[SeriesScalers, list[str]]:
        """These scalers arranged for another file's series, by id.

        A series the run never saw, or saw without training rows, has no scaler: an error naming
        it, unless the model is scale-free (instance_norm removes each window's level), in which
        case that series is scaled by its own `rows` (its training rows in evaluate, its history in
        predict; default: every row before its future rows), and a note says so. Only series
        `needed` (those that get windows; default all) are held to this.
        """
        known = {name: k for k, name in enumerate(self.ids) if self.has_scaler()[k]}
        needed = needed if needed is not None else np.ones(series.n_series, dtype=bool)
        unseen = [name for name, use in zip(series.ids, needed, strict=True) if use and name not in known]
        if unseen and not scale_free:
            raise ForecastError(
                f"{source}: series '{unseen[0]}' was not in the run's training data, so it has no scaler "
                f"({len(unseen)} such series); train on it, or use a model with instance_norm"
            )
        notes = []
        own = None
        if unseen:
            if rows is None:
                rows = leading_rows(series.offsets, series.history_ends - series.offsets[:-1])
            own = SeriesScalers.fit(kind, series, rows)
            notes.append(
                f"{len(unseen)} series the run never saw (first: '{unseen[0]}') were scaled by their own rows "
                "(the model is instance-normalized, so only their shape matters)"
            )
        index = np.array([known.get(name, -1) for name in series.ids], dtype=np.int64)
        missing = index < 0
        arrays, tables = [], (self.center, self.scale, self.target_center, self.target_scale, self.low, self.high)
        for k, array in enumerate(tables):
            if array is None:  # a run from before scaler.clip: no training range
                arrays.append(None)
                continue
            picked = array[np.maximum(index, 0)].copy()
            if own is not None:
                mine = (own.center, own.scale, own.target_center, own.target_scale, own.low, own.high)[k]
                picked[missing] = mine[missing]
            arrays.append(picked)
        fitted = ~missing | (own.has_scaler() if own is not None else False)
        low, high = arrays[4:]
        arranged = SeriesScalers(list(series.ids), *arrays[:4], static=self.static, fitted=fitted, low=low, high=high,
                                 clip=self.clip)  # fmt: skip
        return arranged, notes


def from_state(state: dict, scaler: cfg.Scaler) -> Scalers | SeriesScalers:
    """The scalers a scaler.json holds: one pair, or one per series (and a panel's static encoder)."""
    state = dict(state)
    static = state.pop("static", None)
    scalers = SeriesScalers.from_dict(state) if "per_series" in state else Scalers.from_dict(state, scaler)
    scalers.static = StaticEncoder.from_dict(static) if static is not None else None
    scalers.clip = scaler.clip
    if scaler.clip != "none" and scalers.low is None:
        raise ValueError(f"scaler.clip is {scaler.clip} but the file holds no training range (a run from before it)")
    return scalers


def _extremes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest value of each column (0 for a column without one: never used then)."""
    if not len(values) or np.isnan(values).all():
        return np.zeros(values.shape[1]), np.zeros(values.shape[1])
    return np.nanmin(values, axis=0).astype(np.float64), np.nanmax(values, axis=0).astype(np.float64)


def _range_from(state: dict | None, rows: int | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A stored training range (low, high), checked: finite numbers, one per target, and per series
    one row per id (`rows`; None: one scaler for all)."""
    if state is None:
        return None, None
    low, high = np.asarray(state["low"], dtype=np.float64), np.asarray(state["high"], dtype=np.float64)
    if low.shape != high.shape or low.ndim != (1 if rows is None else 2) or (rows is not None and len(low) != rows):
        raise ValueError("the training range must hold low and high of one shape, one row per id")
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise ValueError("the training range must be finite")
    return low, high


def clip_bounds(scalers: Scalers | SeriesScalers) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The (low, high) bounds scaler.clip applies (None: that side is open)."""
    return (scalers.low if scalers.clip in ("lower", "range") else None,
            scalers.high if scalers.clip in ("upper", "range") else None)  # fmt: skip


def _gather(table: np.ndarray, series: np.ndarray, shape: tuple) -> np.ndarray:
    """Rows of a (series, targets) table for windows of `series`, shaped to broadcast over `shape`
    (windows, ..., targets)."""
    return table[series].reshape((len(series),) + (1,) * (len(shape) - 2) + (shape[-1],))


def _clip(values: np.ndarray, low: np.ndarray | None, high: np.ndarray | None) -> np.ndarray:
    out = values if low is None else np.maximum(values, low)
    return out if high is None else np.minimum(out, high)


def to_state(scalers: Scalers | SeriesScalers) -> dict:
    """What scaler.json holds (see `from_state`)."""
    state = scalers.to_dict()
    if scalers.static is not None:
        state["static"] = scalers.static.to_dict()
    return state


def fit(scaler: cfg.Scaler, series: Series, train: np.ndarray) -> Scalers | SeriesScalers:
    """Scalers fit on the training rows (a boolean mask): per series when scaler.per_series."""
    scalers = SeriesScalers.fit(scaler, series, train) if scaler.per_series and series.ids is not None else None
    scalers = scalers or Scalers.fit(scaler, series, train)
    if series.static is not None:
        scalers.static = StaticEncoder.fit(series.static)
    return scalers
