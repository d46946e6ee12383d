"""forecast.scalers: statistics from the training rows only, a JSON round trip, and scaler.clip: forecasts kept
within each series' training range (issue 15: M4's series never fall below their floor, and a forecast under it
costs sMAPE); actuals and baselines are never clipped."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import ETTH1, check_parity, panel_config, panel_frame
from sklearn.preprocessing import StandardScaler

import forecast
from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.prepare import prepare
from forecast.scalers import Scalers, SeriesScalers, from_state, to_state


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same panel trained twice with the same seed, without and with scaler.clip: range. One
    store trends upwards, so its forecasts go above its training rows' highest value."""
    root = tmp_path_factory.mktemp("clip")
    frame = panel_frame()
    trend = frame["store"] == frame["store"].iloc[0]
    frame.loc[trend, "sales"] += 3.0 * frame.groupby("store").cumcount()[trend]
    path = root / "panel.csv"
    frame.to_csv(path, index=False)
    plain = forecast.train(panel_config(path), root / "plain")
    config = panel_config(path).model_copy(deep=True)
    config.scaler.clip = "range"
    return frame, path, plain, forecast.train(config, root / "clipped")


def training_range(frame: pd.DataFrame) -> pd.DataFrame:
    """Each store's lowest and highest sales in its training rows (all but its last 8 + 8)."""
    train = frame.groupby("store").cumcount(ascending=False) >= 16
    return frame[train].groupby("store")["sales"].agg(["min", "max"])


def test_forecasts_are_the_unclipped_ones_clipped_to_each_series_training_range(runs):
    frame, path, plain, clipped = runs
    before, after = forecast.predict(plain, path), forecast.predict(clipped, path)
    bounds = training_range(frame).loc[before["store"]]
    expected = np.clip(before["prediction"].to_numpy(), bounds["min"].to_numpy(), bounds["max"].to_numpy())
    assert (expected != before["prediction"].to_numpy()).any()  # the clip had something to do
    np.testing.assert_allclose(after["prediction"].to_numpy(), expected, rtol=1e-7)  # the range: float32 data
    assert after.drop(columns="prediction").equals(before.drop(columns="prediction"))


def test_metrics_score_the_clipped_forecasts_and_leave_the_baseline_alone(runs):
    _, _, plain, clipped = runs
    a, b = (json.loads(r.metrics_file.read_text())["test"] for r in (plain, clipped))
    assert a["naive"] == b["naive"] and a["scaled"]["naive"] == b["scaled"]["naive"]
    assert a["model"]["mae"] != b["model"]["mae"] and a["scaled"]["model"]["mae"] != b["scaled"]["model"]["mae"]
    table = pd.read_csv(clipped.per_series_file)
    assert np.isclose(table["model_mae"].mean(), b["model"]["mae"])  # one window per series: equal weights


@pytest.mark.parametrize("fmt", ["saved_model", "onnx"])
def test_a_clipped_run_exports_with_parity(runs, fmt, tmp_path):
    assert check_parity(runs[3], tmp_path, fmt)["clip"] == "range"


def test_a_run_stored_without_its_training_range_cannot_clip(runs, tmp_path):
    _, path, _, clipped = runs
    copy = shutil.copytree(clipped.path, tmp_path / "old")
    state = json.loads((copy / "scaler.json").read_text())
    for key in ("low", "high"):
        del state["per_series"]["targets"][key]
    (copy / "scaler.json").write_text(json.dumps(state))
    with pytest.raises(ForecastError, match=r"scaler\.json.*no training range"):
        forecast.predict(copy, path)


def test_a_bound_holds_exactly_in_original_units():
    rng = np.random.default_rng(1)
    n, windows = 50, 4000
    scalers = SeriesScalers(
        [str(k) for k in range(n)], np.zeros((n, 1)), np.ones((n, 1)), rng.normal(37, 20, (n, 1)),
        rng.uniform(0.1, 30, (n, 1)), low=np.zeros((n, 1)), high=np.full((n, 1), 80.0), clip="lower",
    )  # fmt: skip
    which = rng.integers(0, n, windows)
    values = rng.normal(-1, 2, (windows, 3, 1))
    units = scalers.forecast_units(values, which)
    assert (units >= 0).all() and (units == 0).sum() > windows // 2  # at zero, not a rounding below it
    np.testing.assert_array_equal(units, np.maximum(scalers.inverse_targets(values, which), 0))
    assert (units > 80).any()  # lower leaves the top open
    assert (scalers.clip_scaled(values, which) > values).any()  # the scaled metrics' forecasts are clipped too


def test_one_scaler_for_all_clips_in_original_units_and_round_trips():
    rng = np.random.default_rng(0)
    y = rng.normal(50, 10, (200, 2))
    scalers = Scalers(StandardScaler().fit(y), StandardScaler().fit(y), low=y.min(0), high=y.max(0), clip="lower")
    again = from_state(json.loads(json.dumps(to_state(scalers))), cfg.Scaler(type="standard", clip="lower"))
    np.testing.assert_array_equal(again.low, y.min(0))
    values = rng.normal(0, 5, (30, 4, 2))  # scaled forecasts, many far below the lowest value
    units = again.forecast_units(values)
    np.testing.assert_array_equal(units, np.maximum(again.inverse_targets(values), y.min(0)))
    assert (units > y.max(0)).any()  # lower leaves the top open


def _etth1_900(scaler) -> cfg.Config:
    """ETTh1's first 900 rows split 500/200/200, lookback 8, with this scaler section."""
    split = {"train_end": 500, "val_end": 700, "test_end": 900}
    data = {"path": str(ETTH1), "time_column": "date", "split": split}
    return cfg.validate({"data": data, "window": {"lookback": 8}, "scaler": scaler})


@pytest.mark.parametrize("scaler", ["standard", "minmax", "robust", "none"])
def test_scaler_is_fit_on_training_rows_only(tmp_path, scaler):
    config = _etth1_900(scaler)
    before = prepare(config)
    wild = pd.read_csv(ETTH1, nrows=900)
    wild.iloc[500:, 1:] = wild.iloc[500:, 1:] * 1000 + 12345  # change val and test rows wildly
    path = tmp_path / "wild.csv"
    wild.to_csv(path, index=False)
    after = prepare(config.model_copy(update={"data": config.data.model_copy(update={"path": str(path)})}))
    probe = before.series.features[:10]
    np.testing.assert_allclose(
        before.scalers.features.transform(probe), after.scalers.features.transform(probe), rtol=1e-6
    )
    # and the inverse takes scaled targets back to original units
    np.testing.assert_allclose(
        before.scalers.inverse_targets(before.y[:20]), before.series.targets[:20], rtol=1e-5, atol=1e-4
    )


def test_standard_scaler_statistics_come_from_train(tmp_path):
    config = cfg.validate(
        {
            "data": {
                "path": str(ETTH1),
                "time_column": "date",
                "split": {"train_end": 8640, "val_end": 11520, "test_end": 14400},
            }
        }
    )
    prepared = prepare(config)
    train = pd.read_csv(ETTH1).iloc[:8640, 1:].to_numpy()
    np.testing.assert_allclose(prepared.scalers.features.mean_, train.mean(axis=0), rtol=1e-5)
    assert abs(prepared.x[:8640].mean()) < 1e-3 and abs(prepared.x[11520:14400].mean()) > 1e-2


@pytest.mark.parametrize("kind", ["standard", "minmax", "robust", "none"])
def test_scalers_round_trip_through_json(kind):
    import json

    config = _etth1_900({"type": kind, "feature_range": [-1, 1]})
    prepared = prepare(config)
    again = Scalers.from_dict(json.loads(json.dumps(prepared.scalers.to_dict())), config.scaler)
    np.testing.assert_array_equal(again.transform(prepared.series)[0], prepared.x)
    np.testing.assert_array_equal(
        again.inverse_targets(prepared.y[:50]), prepared.scalers.inverse_targets(prepared.y[:50])
    )
