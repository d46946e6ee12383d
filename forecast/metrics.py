"""Errors of the model and of the common-sense baseline, in original units and scaled.

Averages run over every window, horizon step and target column. Scaled errors use the run's
target scaler, so ETTh1 numbers compare with published tables (StandardScaler, all channels).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.intervals import Calibration, point
from forecast.intervals import scores as interval_scores
from forecast.prepare import Prepared
from forecast.results import Scores, SplitScores

# An actual whose size is under this fraction of its series' mean absolute actual makes that
# series' MAPE meaningless (ETTh1's loads cross zero: MAPE was 4e13); it then has none ("n/a").
NEAR_ZERO = 0.01


def smape_terms(true: np.ndarray, pred: np.ndarray, error: np.ndarray | None = None) -> np.ndarray:
    """200 |y - f| / (|y| + |f|) per value (0 where both are 0): M4's sMAPE, in percent, before averaging.

    `error`, |y - f| in float64 when the caller has it, saves recomputing it. One float64 array
    is returned and at most one more is alive meanwhile: on a split of 2 million values the
    scores then need ~50 MB beside the predictions, not the ~120 MB of temporaries they took.
    """
    denominator = np.abs(true, dtype=np.float64)
    denominator += np.abs(pred)
    terms = np.abs(np.subtract(true, pred, dtype=np.float64)) if error is None else error.copy()
    terms *= 200
    np.divide(terms, denominator, out=terms, where=denominator > 0)  # 0 / 0 stays 0
    return terms


def mase_terms(true: np.ndarray, pred: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per window and target: MAE over the horizon / its series' in-sample seasonal-naive MAE.

    true, pred: (windows, horizon, targets); scale: (windows, targets), NaN where undefined.
    """
    return np.abs(true - pred).mean(axis=1) / scale


def scores(
    true: np.ndarray,
    pred: np.ndarray,
    scale: np.ndarray | None = None,
    units: bool = True,
    series: np.ndarray | None = None,
) -> Scores:
    """Errors over every value of (windows, horizon, targets) arrays; with `scale` (see
    `mase_terms`), MASE too (NaN scales left out). sMAPE only in original `units`: a percentage of
    scaled values (centred on 0) means nothing. `series`: each window's series, for a panel's MAPE
    (see `_mape`); None: one series."""
    mase = None
    if scale is not None:
        terms = mase_terms(true.astype(np.float64), pred.astype(np.float64), scale)
        mase = float(np.nanmean(terms)) if np.isfinite(terms).any() else None
    per_window = int(np.prod(true.shape[1:]))
    true, pred = true.reshape(-1), pred.reshape(-1)
    # float64 arithmetic on the float32 values without float64 copies of them (see smape_terms);
    # the definitions are scikit-learn's (MAPE divides by max(|y|, machine epsilon))
    error = np.abs(np.subtract(pred, true, dtype=np.float64))
    size = np.abs(true, dtype=np.float64)
    mape = _mape(error, size, per_window, series)
    mse = float(np.square(error, out=size).mean())  # numpy's pairwise sum, not BLAS: the same bits on any thread count
    del size
    return Scores(
        mae=float(error.mean()),
        rmse=float(np.sqrt(mse)),
        mse=mse,
        mape=mape,
        smape=float(smape_terms(true, pred, error).mean()) if units else None,
        mase=mase,
    )


def _mape(error: np.ndarray, size: np.ndarray, per_window: int, series: np.ndarray | None) -> float | None:
    """MAPE judged per series: a series with an actual under NEAR_ZERO of its own mean absolute
    actual has none (a small series beside large ones is not judged by theirs); the result is the
    mean of the series' MAPEs (a single series': its MAPE), None when no series has one.
    `error`, `size`: |y - f| and |y| of every value, window by window; `size` is overwritten."""
    if not len(size):
        return None
    which = np.zeros(len(size) // per_window, np.int64) if series is None else series
    by_window = size.reshape(-1, per_window)
    counts = np.bincount(which, minlength=int(which.max()) + 1) * per_window
    means = np.bincount(which, weights=by_window.sum(axis=1)) / np.maximum(counts, 1)
    smallest = np.full(len(counts), np.inf)
    np.minimum.at(smallest, which, by_window.min(axis=1))
    judged = (counts > 0) & (means > 0) & (smallest >= NEAR_ZERO * means)
    if not judged.any():
        return None
    np.maximum(size, np.finfo(np.float64).eps, out=size)
    ratios = np.divide(error, size, out=size).reshape(-1, per_window).sum(axis=1)
    return float((np.bincount(which, weights=ratios)[judged] / counts[judged]).mean())


def breakdown(
    true: np.ndarray, model: np.ndarray, naive: np.ndarray, names: list[str], scaled: tuple, scale=None,
    others: dict[str, np.ndarray] | None = None,
):  # fmt: skip
    """Per target column (original units): MAE ("model", "naive", and each of `others`: seasonal
    naive, AutoETS, MSTL where scored), sMAPE and, with the in-sample `scale` (windows, targets),
    MASE; per horizon step: MAE on scaled values (model and naive)."""
    per_target = {}
    for k, name in enumerate(names):
        entry = {}
        for who, pred in (("model", model), ("naive", naive), *(others or {}).items()):
            entry[who] = float(np.abs(true[..., k] - pred[..., k]).mean())
            entry[f"{who}_smape"] = float(smape_terms(true[..., k], pred[..., k]).mean())
            terms = (
                None if scale is None else mase_terms(true[..., k : k + 1], pred[..., k : k + 1], scale[:, k : k + 1])
            )
            if terms is not None and np.isfinite(terms).any():
                entry[f"{who}_mase"] = float(np.nanmean(terms))
        per_target[name] = entry
    true_s, model_s, naive_s = scaled
    per_step = {
        "model": [float(v) for v in np.abs(true_s - model_s).mean(axis=(0, 2))],
        "naive": [float(v) for v in np.abs(true_s - naive_s).mean(axis=(0, 2))],
    }
    return per_target, per_step


def split_scores(
    prepared: Prepared,
    origins: np.ndarray,
    raw: np.ndarray,
    split: str = "test",
    calibration: Calibration | None = None,
    baselines: dict[str, np.ndarray] | None = None,
) -> SplitScores:
    """One split's scores, from the model's scaled predictions at `origins` (windows of `split`);
    with a run's `calibration`, its intervals' and the baseline's interval scores too; with
    `baselines` ({"ets": forecasts in original units, ...}, see forecast.baselines), their scores."""
    spec, y = prepared.spec, prepared.y
    true = spec.targets(y, origins)
    naive = spec.last_values(y, origins)
    which = prepared.series.series_of(origins)
    scale = prepared.mase_scale[split][which] if split in prepared.mase_scale else None
    scalers = prepared.scalers  # scaler.clip acts on the model's forecasts only, never the actuals or baselines
    raw_point = point(raw, calibration.quantiles if calibration else None)
    scaled_pred = scalers.clip_scaled(raw_point, which)

    def inverse(values: np.ndarray) -> np.ndarray:
        return scalers.inverse_targets(values, which)

    true_units, model_units, naive_units = inverse(true), scalers.forecast_units(raw_point, which), inverse(naive)
    seasonal = seasonal_scaled = None
    others = dict(baselines or {})  # in original units, scored per target beside the model
    if prepared.seasonality is not None:
        values = spec.seasonal_values(y, origins, prepared.seasonality)
        others = {"seasonal_naive": inverse(values), **others}
        seasonal = scores(true_units, others["seasonal_naive"], scale, series=which)
        seasonal_scaled = scores(true, values, units=False, series=which)
    per_target, per_step = breakdown(
        true_units, model_units, naive_units, prepared.series.target_names, (true, scaled_pred, naive), scale, others
    )
    bands = None
    if calibration is not None:
        width = calibration.scale(y, origins, spec)
        model_bounds = [tuple(scalers.forecast_units(v, which) for v in b) for b in calibration.bounds(raw, width)]
        naive_bounds = [tuple(map(inverse, b)) for b in calibration.naive_bounds(naive, width)]
        bands = {
            **interval_scores(true_units, model_units, model_bounds, calibration.levels, scale),
            "naive": interval_scores(true_units, naive_units, naive_bounds, calibration.levels, scale),
        }
    return SplitScores(
        windows=len(origins),
        model=scores(true_units, model_units, scale, series=which),
        naive=scores(true_units, naive_units, scale, series=which),
        scaled_model=scores(true, scaled_pred, units=False, series=which),
        scaled_naive=scores(true, naive, units=False, series=which),
        seasonal_naive=seasonal,
        scaled_seasonal_naive=seasonal_scaled,
        **{name: scores(true_units, values, scale, series=which) for name, values in (baselines or {}).items()},
        per_target=per_target,
        per_step=per_step,
        intervals=bands,
    )


def evaluate(
    prepared: Prepared,
    predictions: dict[str, np.ndarray],
    calibration: Calibration | None = None,
    baselines: dict[str, dict[str, np.ndarray]] | None = None,
) -> dict[str, SplitScores]:
    """Scores of each split that has predictions (see `inference.predict_splits`), with the run's
    intervals when it has a `calibration` (a quantile model always has one) and the statistical
    `baselines`' forecasts of each split ({split: {name: forecasts}}, see forecast.baselines)."""
    return {
        split: split_scores(prepared, prepared.origins[split], pred, split, calibration, (baselines or {}).get(split))
        for split, pred in predictions.items()
    }


def per_series(
    prepared: Prepared,
    split: str,
    scaled_pred: np.ndarray,
    id_column: str = "id",
    baselines: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """One row per series with windows in `split`: its MAE, sMAPE and MASE for the model and the
    baselines, the statistical `baselines`' forecasts of `split` included (original units, averaged
    over its windows, steps and targets): per_series.csv. Scores are float32, the precision of the
    data they average (a CSV then writes 1432.3335, not 1432.333490782564)."""
    spec, y, origins = prepared.spec, prepared.y, prepared.origins[split]
    which = prepared.series.series_of(origins)
    inverse = prepared.scalers.inverse_targets
    true = inverse(spec.targets(y, origins), which)
    predictions = {"model": prepared.scalers.forecast_units(scaled_pred, which)}
    predictions["naive"] = inverse(spec.last_values(y, origins), which)
    if prepared.seasonality is not None:
        predictions["seasonal_naive"] = inverse(spec.seasonal_values(y, origins, prepared.seasonality), which)
    predictions.update(baselines or {})
    present, windows = np.unique(which, return_counts=True)
    frame = {id_column: [prepared.series.ids[i] for i in present] if prepared.series.ids else present}
    frame["windows"] = windows
    scale = prepared.mase_scale.get(split, np.full((len(which), true.shape[2]), np.nan))
    for name, pred in predictions.items():
        terms = {
            "mae": np.abs(true - pred).mean(axis=(1, 2)),
            "smape": smape_terms(true, pred).mean(axis=(1, 2)),
            "mase": mase_terms(true, pred, scale[which]).mean(axis=1),  # NaN: no in-sample scale
        }
        for metric, per_window in terms.items():
            sums = np.bincount(which, weights=per_window, minlength=prepared.series.n_series)
            frame[f"{name}_{metric}"] = (sums[present] / windows).astype(np.float32)  # NaN stays NaN, never 0
    return pd.DataFrame(frame)
