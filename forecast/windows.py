"""Window arithmetic: which rows feed a window and which rows it predicts.

A window is identified by its last input row `e` (the forecast origin). Its inputs are the rows
e-(T-1)*step, ..., e-step, e (T = lookback // step timesteps, Chollet's `step`); its targets are
the rows e+delay, ..., e+delay+horizon-1. Nothing here materializes windows: a batch is gathered
from the series by index when it is needed, so memory stays O(series).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.results import SPLITS


@dataclass(frozen=True)
class WindowSpec:
    timesteps: int
    step: int
    delay: int
    horizon: int
    variable_length: bool = False

    @classmethod
    def from_config(cls, window: cfg.Window) -> WindowSpec:
        return cls(window.timesteps, window.step, window.delay, window.horizon, window.variable_length)

    @property
    def history(self) -> int:
        """Rows before the origin that the inputs reach back: the first origin is this row."""
        return (self.timesteps - 1) * self.step

    def input_offsets(self) -> np.ndarray:
        return np.arange(-self.history, 1, self.step)

    def target_offsets(self) -> np.ndarray:
        return np.arange(self.delay, self.delay + self.horizon)

    def origins(self, start: int, end: int) -> np.ndarray:
        """Origins of the windows whose targets all lie in rows [start, end) and inputs in [0, ...)."""
        first = max(start - self.delay, self.history)
        last = end - self.delay - self.horizon
        return np.arange(first, last + 1) if last >= first else np.arange(0)

    def inputs(self, x: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """(batch, timesteps, features), gathered in one call (np.take: several times faster than
        fancy indexing for this shape)."""
        return np.take(x, origins[:, None] + self.input_offsets(), axis=0)

    def targets(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """(batch, horizon, targets)."""
        return np.take(y, origins[:, None] + self.target_offsets(), axis=0)

    def seasonal_values(self, y: np.ndarray, origins: np.ndarray, season: int) -> np.ndarray:
        """The seasonal-naive baseline: each target's value one (or more) whole seasons before it,
        at or before the origin. (batch, horizon, targets)."""
        return np.take(y, origins[:, None] + seasonal_offsets(self, season), axis=0)

    def last_values(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """The common-sense baseline: each target's value at the origin, repeated over the horizon."""
        return np.repeat(y[origins][:, None, :], self.horizon, axis=1)


@dataclass(frozen=True)
class Feed:
    """What a panel model reads beside each window: the horizon's known values (future covariates
    and calendar, gathered at the target rows) and its series' static covariates.

    Attributes:
        starts: row offsets of the series (n_series + 1): a window's series is found from its origin.
        future: the columns of the window's array (x) read at the target rows; empty for none. They
            are gathered from x itself: a panel of fifty million rows is not copied for them.
        static: (series, numeric static) or None; categories: (series, categorical codes) or None.
    """

    starts: np.ndarray
    future: list[int]
    static: np.ndarray | None
    categories: np.ndarray | None

    def gather(self, spec: WindowSpec, origins: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        if self.future:
            out["future"] = np.take(x, origins[:, None] + spec.target_offsets(), axis=0)[..., self.future]
        if self.static is not None or self.categories is not None:
            series = np.searchsorted(self.starts, origins, side="right") - 1
            if self.static is not None and self.static.shape[1]:
                out["static"] = self.static[series]
            if self.categories is not None and self.categories.shape[1]:
                out["categories"] = self.categories[series]
        return out


def seasonal_offsets(spec: WindowSpec, season: int) -> np.ndarray:
    """Row offsets from an origin to the seasonal-naive value of each target: the same point of the
    season in the last full season the origin has seen (target row minus whole seasons)."""
    d = spec.target_offsets()
    return d - season * -(-d // season)


def split_origins(spec: WindowSpec, borders: tuple[int, int, int]) -> dict[str, np.ndarray]:
    """Origins per split. Inputs may reach back into the previous split; targets never cross a border."""
    starts = (0, borders[0], borders[1])
    out = {name: spec.origins(start, end) for name, start, end in zip(SPLITS, starts, borders, strict=True)}
    for name, start, end in zip(SPLITS, starts, borders, strict=True):
        if len(out[name]) == 0:
            need = spec.history + spec.delay + spec.horizon if name == "train" else spec.horizon
            raise ForecastError(
                f"window: the {name} split (rows {start} to {end}) has {end - start} rows, too few for one "
                f"window (needs {need}); shorten window.lookback/delay/horizon or move data.split"
            )
    return out
