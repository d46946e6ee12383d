"""bench/realdata.py's scorer and converters, on hand-computed values (the bench itself trains for hours)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.realdata import months, scores, summary, table


def test_r_monthly_time_becomes_month_starts():
    stamps = months(pd.Series([1956.0, 1956 + 1 / 12, 1956 + 11 / 12, 1957.0]))
    assert list(stamps.strftime("%Y-%m-%d")) == ["1956-01-01", "1956-02-01", "1956-12-01", "1957-01-01"]


def test_scores_average_windows_within_a_series_then_series():
    # series 0: two windows with errors 1 and 3 (scale 2); series 1: one window with error 10 (scale 5)
    y = np.array([[[10.0], [10.0]], [[10.0], [10.0]], [[20.0], [20.0]]])
    pred = y + np.array([1.0, 3.0, 10.0])[:, None, None]
    scale = np.array([[2.0], [2.0], [5.0]])
    got = scores(y, pred, scale, np.array([0, 0, 1]))
    assert got["mae"] == pytest.approx((2 + 10) / 2)  # series 0's mean error 2, series 1's 10
    assert got["rmse"] == pytest.approx((np.sqrt(5) + 10) / 2)  # sqrt((1 + 9) / 2) for series 0
    assert got["mase"] == pytest.approx((1 + 2) / 2)  # 2 / 2 and 10 / 5
    smape_0 = (200 * 1 / 21 + 200 * 3 / 23) / 2
    assert got["smape"] == pytest.approx((smape_0 + 200 * 10 / 50) / 2)


def test_a_target_without_a_mase_scale_is_left_out_of_mase_only():
    y = np.ones((1, 2, 2))
    pred = y + np.array([1.0, 4.0])  # target 0 off by 1, target 1 off by 4
    got = scores(y, pred, np.array([[0.5, np.nan]]), np.array([0]))
    assert got["mase"] == pytest.approx(2.0) and got["mae"] == pytest.approx(2.5)


def run_result(mase: float, val: float, naive_val: float, base: str = "seasonal_linear") -> dict:
    scores_ = {"mae": 1.0, "rmse": 1.0, "mase": mase, "smape": 1.0, "seconds": 1.0}
    return {**scores_, "val_mase": val, "val_seasonal_naive_mase": naive_val, "base": base}


def test_the_table_shows_validation_mase_beside_the_test_scores():
    # two seeds of forecast (val 0.5 and 0.7) and the statistical models: the seasonal naive's val
    # MASE comes from the runs' metrics.json, the others have none
    stats = {m: {"mae": 2.0, "rmse": 2.0, "mase": v, "smape": 2.0, "seconds": 0.0}
             for m, v in (("SeasonalNaive", 1.2), ("AutoETS", 0.9))}  # fmt: skip
    runs = [run_result(1.0, 0.5, 0.8, "ets"), run_result(1.1, 0.7, 0.8), run_result(1.2, 0.6, 0.8, "ets")]
    results = {"gas": {"forecast": runs, "stats": stats}}
    lines = table(results, [1, 2, 3])
    assert lines[0].endswith("| wall s | val MASE | base |")
    assert lines[2].endswith("| 0.6000 ± 0.1000 | ets ×2, seasonal_linear ×1 |")  # mean ± sample std; auto's bases
    assert lines[3].startswith("| gas | SeasonalNaive |") and lines[3].endswith("| 0.8000 | |")
    assert lines[4].endswith("|  | |")  # AutoETS: no validation score
    assert summary(results)[0] == "mean validation MASE over 1 datasets (metrics.json): forecast 0.6000"
