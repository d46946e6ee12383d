"""Prediction intervals: calibrated once on the validation windows, applied to any window, scored.

An interval at level L (its nominal coverage) comes one of three ways (`intervals.method`):

- quantiles: a quantile model's own (1 - L) / 2 and (1 + L) / 2 outputs, as trained.
- conformal: split conformal prediction (Vovk et al. 2005; Lei et al. 2018) around the point
  forecast of any model: the forecast +- c times the window's scale, c the ceil((n + 1) L)-th
  smallest of the n validation windows' |error| / scale. If validation and later windows are
  exchangeable, the coverage is at least L, whatever the model; no retraining.
- cqr: conformalized quantile regression (Romano et al. 2019): the quantile model's bounds widened
  (or narrowed) by c times the scale, c from max(lower - y, y - upper) / scale on validation.

c is calibrated per horizon step and target. Errors are divided by each window's own scale, the
mean absolute seasonal difference of its targets over its lookback (scaled values), so the
interval is wide where the series is volatile and narrow where it is calm: per series in a panel
(series differ in scale even after scaling), per period in one long series (ETTh1's test months
are calmer than its validation months). The same repeat-last forecast with conformal bounds is
the interval baseline every score is reported beside.

Everything here is NumPy, on scaled values (the model's); `Calibration` is what intervals.json holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forecast.errors import ForecastError
from forecast.windows import WindowSpec

FLOOR = 0.1  # a window's scale is at least this fraction of the mean validation window's (flat windows)
CHUNK_VALUES = 1 << 22  # values gathered per step of `window_scale`: ~32 MB temporaries, whatever the lookback


def level_name(level: float) -> str:
    """0.95 -> "95", 0.8 -> "80", 0.975 -> "97_5": the suffix of metrics.json's interval keys."""
    return f"{level * 100:.10g}".replace(".", "_")


def quantile_name(q: float) -> str:
    """0.025 -> "q0.025": a bound's column in predict's output (never in exponent form)."""
    return "q" + f"{q:.10f}".rstrip("0").rstrip(".")


def min_windows(level: float) -> int:
    """Calibration windows split conformal needs for level L: ceil((n + 1) L) <= n."""
    return math.ceil(level / (1 - level) - 1e-9)


def point(pred: np.ndarray, quantiles: list[float] | None) -> np.ndarray:
    """The point forecast: a quantile model's median (its outputs are (windows, horizon, quantiles,
    targets)), else the prediction itself."""
    return pred[:, :, quantiles.index(0.5), :] if pred.ndim == 4 else pred


def seasonal_lag(spec: WindowSpec, season: int | None) -> int:
    """The lag of the differences that scale a window: its season when the lookback holds two of
    them, else 1."""
    return season if season and spec.history >= 2 * season else 1


def window_scale(y: np.ndarray, origins: np.ndarray, spec: WindowSpec, lag: int) -> np.ndarray:
    """(windows, targets): each window's mean |y[t] - y[t - lag]| over the rows of its lookback
    (at least lag + 1 rows back: a one-row window has one difference)."""
    span = np.arange(-max(spec.history, lag), 1)
    out = np.empty((len(origins), y.shape[1]))
    chunk = max(1, CHUNK_VALUES // (len(span) * y.shape[1]))
    for start in range(0, len(origins), chunk):
        # clipped at row 0: a variable-length model may forecast a series shorter than its lookback
        index = np.maximum(origins[start : start + chunk, None] + span, 0)
        rows = np.take(y, index, axis=0)
        out[start : start + chunk] = np.abs(rows[:, lag:] - rows[:, :-lag], dtype=np.float64).mean(axis=1)
    return out


def conformal(scores: np.ndarray, levels: list[float]) -> np.ndarray:
    """(levels, horizon, targets): per level the ceil((n + 1) L)-th smallest of the n scores
    (windows, horizon, targets), the split-conformal quantile."""
    n = len(scores)
    ordered = np.sort(scores, axis=0)
    out = []
    for level in levels:
        k = math.ceil((n + 1) * level - 1e-9)
        if k > n:
            raise ForecastError(
                f"intervals.levels: {level:g} needs at least {min_windows(level)} validation windows, the run has {n}"
            )
        out.append(ordered[k - 1])
    return np.stack(out)


@dataclass(frozen=True)
class Calibration:
    """A run's intervals: how they are made and the corrections calibrated on validation (intervals.json).

    Attributes:
        method: quantiles, conformal or cqr (see the module's docstring).
        levels: nominal coverages, ascending.
        quantiles: a quantile model's output levels; [] for a point model.
        lag: the lag of the differences that give each window its scale.
        floor: (targets,) the smallest scale a window gets (scaled values).
        corrections: (levels, horizon, targets) in units of the window's scale; None for quantiles.
        naive: (levels, horizon, targets): the repeat-last baseline's conformal corrections.
        windows: how many validation windows calibrated them.
    """

    method: str
    levels: list[float]
    quantiles: list[float]
    lag: int
    floor: np.ndarray
    corrections: np.ndarray | None
    naive: np.ndarray
    windows: int

    @property
    def bound_quantiles(self) -> list[float]:
        """The quantile each bound stands for, lower bounds first: 0.8 and 0.95 -> 0.025, 0.1, 0.9, 0.975."""
        return sorted({round((1 - level) / 2, 10) for level in self.levels} | {round((1 + level) / 2, 10)
                                                                              for level in self.levels})  # fmt: skip

    def point(self, pred: np.ndarray) -> np.ndarray:
        return point(pred, self.quantiles)

    def scale(self, y: np.ndarray, origins: np.ndarray, spec: WindowSpec) -> np.ndarray:
        """(windows, targets): each window's scale, at least `floor`."""
        return np.maximum(window_scale(y, origins, spec, self.lag), self.floor)

    def bounds(self, pred: np.ndarray, scale: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(lower, upper) per level, (windows, horizon, targets) scaled values, from the model's raw
        predictions and the windows' `scale`. The bounds hold the point forecast and each level's
        interval holds the lower levels' (CQR's per-level corrections may be negative, which could
        otherwise cross them): every quantile column stays in order."""
        s = scale[:, None, :]
        center = self.point(pred)
        out = []
        for k, level in enumerate(self.levels):
            if self.method == "conformal":
                low, high = center - self.corrections[k] * s, center + self.corrections[k] * s
            else:
                low = pred[:, :, self._index((1 - level) / 2), :]
                high = pred[:, :, self._index((1 + level) / 2), :]
                if self.method == "cqr":
                    low, high = low - self.corrections[k] * s, high + self.corrections[k] * s
            inner = out[-1] if out else (center, center)
            out.append((np.minimum(low, inner[0]), np.maximum(high, inner[1])))
        return out

    def naive_bounds(self, naive: np.ndarray, scale: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """The repeat-last baseline's (lower, upper) per level."""
        s = scale[:, None, :]
        return [(naive - c * s, naive + c * s) for c in self.naive]

    def named(self, bounds: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
        """{"q0.025": lower of 0.95, ..., "q0.975": upper of 0.95}, by bound quantile."""
        out = {}
        for level, (low, high) in zip(self.levels, bounds, strict=True):
            out[quantile_name(round((1 - level) / 2, 10))] = low
            out[quantile_name(round((1 + level) / 2, 10))] = high
        return {name: out[name] for name in map(quantile_name, self.bound_quantiles)}

    def _index(self, q: float) -> int:
        return next(i for i, v in enumerate(self.quantiles) if abs(v - q) < 1e-9)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "levels": self.levels,
            "quantiles": self.quantiles,
            "lag": self.lag,
            "floor": self.floor.tolist(),
            "corrections": None if self.corrections is None else self.corrections.tolist(),
            "naive": self.naive.tolist(),
            "windows": self.windows,
        }

    @classmethod
    def from_dict(cls, d: dict, source: str = "intervals.json") -> Calibration:
        try:
            corrections = None if d["corrections"] is None else np.asarray(d["corrections"], dtype=np.float64)
            out = cls(
                str(d["method"]), [float(v) for v in d["levels"]], [float(v) for v in d["quantiles"]],
                int(d["lag"]), np.asarray(d["floor"], dtype=np.float64), corrections,
                np.asarray(d["naive"], dtype=np.float64), int(d["windows"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ForecastError(f"{source}: not a forecast intervals file ({exc!r})") from None
        arrays = [out.naive] + ([] if corrections is None else [corrections])
        shape = (len(out.levels), *out.naive.shape[1:]) if out.naive.ndim == 3 else None
        if (
            out.method not in ("quantiles", "conformal", "cqr")
            or any(a.shape != shape or not np.isfinite(a).all() for a in arrays)
            or out.floor.shape != shape[2:]
            or not (out.floor > 0).all()
        ):
            raise ForecastError(f"{source}: not a forecast intervals file (bad method, corrections or floor)")
        return out


def calibrate(
    method: str,
    levels: list[float],
    quantiles: list[float] | None,
    y: np.ndarray,
    origins: np.ndarray,
    spec: WindowSpec,
    pred: np.ndarray,
    season: int | None,
) -> Calibration:
    """Calibrate `method`'s intervals on the validation windows at `origins`.

    Args:
        method, levels: the config's intervals section (levels resolved).
        quantiles: model.quantiles, or None for a point model.
        y: the scaled targets of every row; origins: the validation windows'.
        spec: the window arithmetic.
        pred: the model's raw predictions for those windows.
        season: the data's season (its lag scales each window, see `seasonal_lag`).
    """
    lag = seasonal_lag(spec, season)
    raw = window_scale(y, origins, spec, lag)
    mean = raw.mean(axis=0)
    floor = FLOOR * np.where(mean > 0, mean, 1.0)  # all flat: a tenth of a scaled unit
    scale = np.maximum(raw, floor)[:, None, :]
    true = spec.targets(y, origins).astype(np.float64)
    quantiles = list(quantiles or [])
    draft = Calibration("quantiles", list(levels), quantiles, lag, floor, None, np.zeros(0), len(origins))
    corrections = None
    if method == "conformal":
        corrections = conformal(np.abs(true - draft.point(pred)) / scale, levels)
    elif method == "cqr":
        per_level = []
        for level, (low, high) in zip(levels, draft.bounds(pred, scale[:, 0, :]), strict=True):
            per_level.append(conformal(np.maximum(low - true, true - high) / scale, [level])[0])
        corrections = np.stack(per_level)
    naive = conformal(np.abs(true - spec.last_values(y, origins)) / scale, levels)
    return Calibration(method, list(levels), quantiles, lag, floor, corrections, naive, len(origins))


def scores(
    true: np.ndarray,
    forecast: np.ndarray,
    bounds: list[tuple[np.ndarray, np.ndarray]],
    levels: list[float],
    scale: np.ndarray | None = None,
) -> dict[str, float]:
    """Interval scores over every window, step and target (original units), per level L:

    coverage_L (share of actuals inside), width_L (mean upper - lower), interval_score_L (Gneiting &
    Raftery 2007: width + 2/a (lower - y)+ + 2/a (y - upper)+, a = 1 - L), msis_L (M4's: the
    interval score averaged over the horizon and divided by the series' in-sample seasonal-naive
    MAE `scale` (windows, targets), averaged over windows and targets; absent without it) and
    acd_L = |coverage - L|; and `pinball`, the pinball loss averaged over the bounds' quantiles
    and the point forecast as the median (a CRPS approximation).
    """
    out: dict[str, float] = {}
    losses = [_pinball(true, forecast, 0.5)]
    for level, (low, high) in zip(levels, bounds, strict=True):
        name, alpha = level_name(level), 1 - level
        width = high - low
        penalty = np.maximum(low - true, 0) + np.maximum(true - high, 0)
        interval = width + (2 / alpha) * penalty
        coverage = float(((true >= low) & (true <= high)).mean())
        out[f"coverage_{name}"] = coverage
        out[f"width_{name}"] = float(width.mean())
        out[f"interval_score_{name}"] = float(interval.mean())
        if scale is not None:
            terms = interval.mean(axis=1) / scale
            if np.isfinite(terms).any():
                out[f"msis_{name}"] = float(np.nanmean(terms))
        out[f"acd_{name}"] = abs(coverage - level)
        losses += [_pinball(true, low, alpha / 2), _pinball(true, high, 1 - alpha / 2)]
    out["pinball"] = float(np.mean(losses))
    return out


def _pinball(true: np.ndarray, forecast: np.ndarray, q: float) -> float:
    error = true - forecast
    return float(np.maximum(q * error, (q - 1) * error).mean())
