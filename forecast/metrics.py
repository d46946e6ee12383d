"""Errors of the model and of the common-sense baseline, in original units and scaled.

Averages run over every window, horizon step and target column. Scaled errors use the run's
target scaler, so ETTh1 numbers compare with published tables (StandardScaler, all channels).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    root_mean_squared_error,
)

from forecast.prepare import Prepared
from forecast.results import Scores, SplitScores

# An actual whose size is under this fraction of the mean absolute actual makes MAPE meaningless
# (ETTh1's loads cross zero: MAPE was 4e13); it is then reported as None ("n/a").
NEAR_ZERO = 0.01


def scores(true: np.ndarray, pred: np.ndarray) -> Scores:
    true, pred = true.reshape(-1).astype(np.float64), pred.reshape(-1).astype(np.float64)
    scale = np.abs(true).mean()
    near_zero = scale == 0 or (np.abs(true) < NEAR_ZERO * scale).any()
    return Scores(
        mae=float(mean_absolute_error(true, pred)),
        rmse=float(root_mean_squared_error(true, pred)),
        mse=float(mean_squared_error(true, pred)),
        mape=None if near_zero else float(mean_absolute_percentage_error(true, pred)),
    )


def breakdown(true: np.ndarray, model: np.ndarray, naive: np.ndarray, names: list[str], scaled: tuple):
    """MAE per target column (original units) and per horizon step (scaled values)."""
    per_target = {
        name: {
            "model": float(np.abs(true[..., k] - model[..., k]).mean()),
            "naive": float(np.abs(true[..., k] - naive[..., k]).mean()),
        }
        for k, name in enumerate(names)
    }
    true_s, model_s, naive_s = scaled
    per_step = {
        "model": [float(v) for v in np.abs(true_s - model_s).mean(axis=(0, 2))],
        "naive": [float(v) for v in np.abs(true_s - naive_s).mean(axis=(0, 2))],
    }
    return per_target, per_step


def split_scores(prepared: Prepared, origins: np.ndarray, scaled_pred: np.ndarray) -> SplitScores:
    """One split's scores, from the model's scaled predictions at `origins`."""
    spec, y = prepared.spec, prepared.y
    true = spec.targets(y, origins)
    naive = spec.last_values(y, origins)
    inverse = prepared.scalers.inverse_targets
    true_units, model_units, naive_units = inverse(true), inverse(scaled_pred), inverse(naive)
    seasonal = seasonal_scaled = None
    if prepared.seasonality is not None:
        values = spec.seasonal_values(y, origins, prepared.seasonality)
        seasonal, seasonal_scaled = scores(true_units, inverse(values)), scores(true, values)
    per_target, per_step = breakdown(
        true_units, model_units, naive_units, prepared.series.target_names, (true, scaled_pred, naive)
    )
    return SplitScores(
        windows=len(origins),
        model=scores(true_units, model_units),
        naive=scores(true_units, naive_units),
        scaled_model=scores(true, scaled_pred),
        scaled_naive=scores(true, naive),
        seasonal_naive=seasonal,
        scaled_seasonal_naive=seasonal_scaled,
        per_target=per_target,
        per_step=per_step,
    )


def evaluate(prepared: Prepared, predictions: dict[str, np.ndarray]) -> dict[str, SplitScores]:
    """Scores of each split that has predictions (see `inference.predict_splits`)."""
    return {split: split_scores(prepared, prepared.origins[split], pred) for split, pred in predictions.items()}
