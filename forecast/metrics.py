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


def scores(true: np.ndarray, pred: np.ndarray) -> Scores:
    true, pred = true.reshape(-1).astype(np.float64), pred.reshape(-1).astype(np.float64)
    return Scores(
        mae=float(mean_absolute_error(true, pred)),
        rmse=float(root_mean_squared_error(true, pred)),
        mse=float(mean_squared_error(true, pred)),
        mape=float(mean_absolute_percentage_error(true, pred)),
    )


def split_scores(prepared: Prepared, origins: np.ndarray, scaled_pred: np.ndarray) -> SplitScores:
    """One split's scores, from the model's scaled predictions at `origins`."""
    spec, y = prepared.spec, prepared.y
    true = spec.targets(y, origins)
    naive = spec.last_values(y, origins)
    inverse = prepared.scalers.inverse_targets
    true_units = inverse(true)
    return SplitScores(
        windows=len(origins),
        model=scores(true_units, inverse(scaled_pred)),
        naive=scores(true_units, inverse(naive)),
        scaled_model=scores(true, scaled_pred),
        scaled_naive=scores(true, naive),
    )


def evaluate(prepared: Prepared, predictions: dict[str, np.ndarray]) -> dict[str, SplitScores]:
    """Scores of each split that has predictions (see `inference.predict_splits`)."""
    return {split: split_scores(prepared, prepared.origins[split], pred) for split, pred in predictions.items()}
