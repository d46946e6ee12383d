"""The one prepare-and-check step: load, regularise, split, scale, and check the config against the data.

Every path that needs a config's data (train, resume, evaluate, backtest folds, sweep trials,
validate) goes through `prepare` or `arrange`, so every data-dependent check runs, in the same
order, before anything is trained or written, and no caller has to remember that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forecast import config as cfg
from forecast.data import InputSchema, Series, frequency, load_series
from forecast.errors import ForecastError
from forecast.model import target_index
from forecast.results import SCORED, SPLITS
from forecast.scalers import Scalers
from forecast.windows import WindowSpec, seasonal_offsets, split_origins


@dataclass
class Prepared:
    """A config's series, scaled, with its split borders and the origins of each split's windows.

    Attributes:
        series: the columns in original units, with their time axis.
        scalers: fit on the training rows (or the run's own, when given).
        x: scaled features (rows, features); y: scaled targets (rows, targets).
        spec: the window arithmetic.
        borders: exclusive end rows of train, val and test.
        origins: the windows of each split, by origin row.
        target_index: where each target sits among the features (for instance norm).
        seasonality: rows per season of the seasonal-naive baseline; None when there is none.
    """

    series: Series
    scalers: Scalers
    x: np.ndarray
    y: np.ndarray
    spec: WindowSpec
    borders: tuple[int, int, int]
    origins: dict[str, np.ndarray]
    target_index: list[int]
    seasonality: int | None = None  # rows per season for the seasonal-naive baseline

    @property
    def input_shape(self) -> tuple[int | None, int]:
        """(timesteps, features) the model takes; None timesteps for a variable-length model."""
        return model_shapes(self.spec, self.series)[0]

    @property
    def output_shape(self) -> tuple[int, int]:
        """(horizon, targets) the model returns."""
        return model_shapes(self.spec, self.series)[1]


def model_shapes(spec: WindowSpec, series: Series) -> tuple[tuple[int | None, int], tuple[int, int]]:
    """The (timesteps, features) -> (horizon, targets) a run's model must have."""
    timesteps = None if spec.variable_length else spec.timesteps
    return (timesteps, len(series.feature_names)), (spec.horizon, len(series.target_names))


def split_borders(split: cfg.Split, n_rows: int) -> tuple[int, int, int]:
    """Exclusive end rows of train, val and test for a series of `n_rows` rows.

    Raises:
        ForecastError: a row border lies past the end of the series (naming the split).
    """
    if split.train_end is not None:
        ends = (split.train_end, split.val_end, split.test_end or n_rows)
        for name, end in zip(SPLITS, ends, strict=True):
            if end > n_rows:
                raise ForecastError(f"data.split: {name} ends at row {end} but the series has only {n_rows} rows")
        return ends  # type: ignore[return-value]
    train, val, test = (split.train, split.val, split.test) if split.train else (0.7, 0.1, 0.2)
    return round(n_rows * train), round(n_rows * (train + val)), round(n_rows * (train + val + test))


def prepare(
    config: cfg.Config,
    scalers: Scalers | None = None,
    path: Path | str | None = None,
    schema: InputSchema | None = None,
) -> Prepared:
    """Load the config's data (or `path` instead of data.path), then `arrange` it.

    Args:
        config: a validated config.
        scalers: a run's stored scalers; None fits new ones on the training rows.
        path: another file with the same columns (evaluate on new data).
        schema: a run's recorded input columns: the file's columns are matched by name.

    Returns:
        The prepared series. Every data problem raises a ForecastError (exit 2) here.
    """
    return arrange(load_series(config.data, path, schema), config, scalers)


def arrange(series: Series, config: cfg.Config, scalers: Scalers | None = None) -> Prepared:
    """Split, check and scale a loaded series (backtests arrange one series under several splits)."""
    spec = WindowSpec.from_config(config.window)
    borders = split_borders(config.data.split, len(series))
    origins = split_origins(spec, borders)
    targets = target_index(config.model, series.feature_names, series.target_names)
    if scalers is None:
        scalers = Scalers.fit(config.scaler, series, borders[0])
    else:
        scalers.check(len(series.feature_names), len(series.target_names))
    x, y = scalers.transform(series)
    season = config.metrics.seasonality or infer_seasonality(series.times)
    if season is not None and min(int(origins[s][0]) for s in SCORED) + int(seasonal_offsets(spec, season).min()) < 0:
        series.notes.append(f"seasonal naive: the scored windows reach back less than one season ({season} rows)")
        season = None
    return Prepared(series, scalers, x, y, spec, borders, origins, targets, season)


def infer_seasonality(times) -> int | None:
    """Rows per natural season of a series' frequency: a day for sub-daily data (24 hourly, 144 at
    10 minutes), a week for daily (7; 5 business days), a year for weekly, monthly and quarterly
    (52, 12, 4). None for yearly or irregular stamps, or without a time column."""
    import pandas as pd

    name = frequency(times) if times is not None else None  # every stamp: a gap anywhere means no season
    if name is None:
        return None
    offset = pd.tseries.frequencies.to_offset(name)
    o = pd.offsets
    per_day = {o.Hour: 24, o.Minute: 1440, o.Second: 86400}
    for kind, count in per_day.items():
        if isinstance(offset, kind):
            return count // offset.n if count % offset.n == 0 else None
    if offset.n != 1:
        return None
    yearly = ((o.Day, 7), (o.BusinessDay, 5), (o.Week, 52), (o.MonthEnd, 12), (o.MonthBegin, 12),
              (o.QuarterEnd, 4), (o.QuarterBegin, 4))  # fmt: skip
    return next((count for kind, count in yearly if isinstance(offset, kind)), None)
