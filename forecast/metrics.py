"""Errors of the model and of the common-sense baseline, in original units and scaled.

Averages run over every window, horizon step and target column. Scaled errors use the run's
target scaler, so ETTh1 numbers compare with published tables (StandardScaler, all channels).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, mean_squared_error, root_mean_squared_error

from forecast.windows import Prepared


def scores(true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    true, pred = true.reshape(-1).astype(np.float64), pred.reshape(-1).astype(np.float64)
    return {
        "mae": float(mean_absolute_error(true, pred)),
        "rmse": float(root_mean_squared_error(true, pred)),
        "mse": float(mean_squared_error(true, pred)),
        "mape": float(mean_absolute_percentage_error(true, pred)),
    }


def split_metrics(prepared: Prepared, origins: np.ndarray, scaled_pred: np.ndarray) -> dict:
    """The metrics.json block for one split, from the model's scaled predictions at `origins`."""
    spec, y = prepared.spec, prepared.y
    true = spec.targets(y, origins)
    naive = spec.last_values(y, origins)
    inverse = prepared.scalers.inverse_targets
    true_units = inverse(true)
    return {
        "model": scores(true_units, inverse(scaled_pred)),
        "naive": scores(true_units, inverse(naive)),
        "scaled": {"model": scores(true, scaled_pred), "naive": scores(true, naive)},
        "windows": int(len(origins)),
    }


# Inference batch: large for throughput, and one constant so that `forecast evaluate` sees the
# same batches as `forecast train` and reproduces its numbers exactly.
PREDICT_BATCH = 1024


def predict_splits(model, prepared: Prepared, splits: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Scaled predictions (windows, horizon, targets) for every window of each split."""
    from forecast.dataset import predict

    return {s: predict(model, prepared.x, prepared.origins[s], prepared.spec, PREDICT_BATCH) for s in splits}


def evaluate(prepared: Prepared, predictions: dict[str, np.ndarray]) -> dict[str, dict]:
    return {split: split_metrics(prepared, prepared.origins[split], pred) for split, pred in predictions.items()}


def aggregate(results: list[dict]) -> dict:
    """Mean and standard deviation of every number across repeated runs (same structure)."""
    first = results[0]
    if isinstance(first, dict):
        return {k: aggregate([r[k] for r in results]) for k in first if all(isinstance(r, dict) and k in r for r in results)}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        values = np.asarray(results, dtype=np.float64)
        return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return first


def means(aggregated: dict) -> dict:
    """The aggregate with each {mean, std} replaced by its mean (the shape report.table reads)."""
    if set(aggregated) == {"mean", "std"}:
        return aggregated["mean"]
    return {k: means(v) if isinstance(v, dict) else v for k, v in aggregated.items()}
