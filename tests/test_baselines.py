"""forecast.baselines: AutoETS scored on the model's own windows, against statsforecast called directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast import baselines
from forecast import config as cfg
from forecast.config.schema import metrics as metrics_schema
from forecast.errors import ForecastError
from forecast.metrics import evaluate, per_series
from forecast.prepare import prepare

SEASON = 12


def monthly(tmp_path, n: int = 96) -> pd.DataFrame:
    """A monthly series with a trend and a yearly season: AutoETS picks a seasonal model for it."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    frame = pd.DataFrame(
        {
            "month": pd.date_range("2000-01-31", periods=n, freq="ME"),
            "sales": 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / SEASON) + rng.normal(0, 1, n),
        }
    )
    frame.to_csv(tmp_path / "sales.csv", index=False)
    return frame.assign(sales=frame["sales"].astype(np.float32).astype(np.float64))  # as forecast reads it


def config(tmp_path, delay: int = 1, **data) -> cfg.Config:
    return cfg.validate(
        {
            "data": {"path": str(tmp_path / "sales.csv"), "time_column": "month", "targets": ["sales"], **data},
            "window": {"lookback": 12, "delay": delay, "horizon": 3},
            "metrics": {"baselines": ["ets"]},
        }
    )


def test_without_statsforecast_validation_says_what_to_install(monkeypatch):
    monkeypatch.setattr(metrics_schema, "find_spec", lambda name: None)  # the extra not installed
    with pytest.raises(ForecastError) as err:
        cfg.validate({"metrics": {"baselines": ["ets"]}})
    assert str(err.value) == "config: metrics.baselines: ets needs statsforecast: pip install 'forecast[stats]'"
    assert cfg.validate({}).metrics.baselines == []  # nothing asked, nothing needed


def test_only_known_baselines_are_accepted():
    with pytest.raises(ForecastError, match=r"metrics.baselines\[0\]: Input should be 'ets'"):
        cfg.validate({"metrics": {"baselines": ["arima"]}})


def test_ets_is_fitted_on_the_training_rows_and_forecasts_each_window_from_its_history(tmp_path):
    statsforecast = pytest.importorskip("statsforecast.models", reason="the stats extra (statsforecast) is absent")
    y = monthly(tmp_path)["sales"].to_numpy()
    prepared = prepare(config(tmp_path, split={"train_end": 60, "val_end": 78, "test_end": 96}))
    found = baselines.forecasts(prepared, ["ets"], ["val", "test"])
    assert set(found) == {"val", "test"} and found["val"]["ets"].shape == (len(prepared.origins["val"]), 3, 1)
    fitted = statsforecast.AutoETS(season_length=SEASON).fit(y[:60])
    # the first val window's origin is the last training row: its forecast is the fit's own
    assert prepared.origins["val"][0] == 59
    np.testing.assert_allclose(found["val"]["ets"][0, :, 0], fitted.predict(h=3)["mean"], rtol=1e-12)
    # a later window: the same parameters run over that window's own history, no refit
    origin = prepared.origins["test"][5]
    expected = fitted.forward(y[: origin + 1], h=3)["mean"]
    np.testing.assert_allclose(found["test"]["ets"][5, :, 0], expected, rtol=1e-12)
    assert not np.allclose(found["test"]["ets"][5, :, 0], fitted.predict(h=3)["mean"])  # it moved with the data


def test_a_delay_skips_the_rows_before_the_first_target(tmp_path):
    statsforecast = pytest.importorskip("statsforecast.models", reason="the stats extra (statsforecast) is absent")
    y = monthly(tmp_path)["sales"].to_numpy()
    prepared = prepare(config(tmp_path, delay=2, split={"train_end": 60, "val_end": 78, "test_end": 96}))
    found = baselines.forecasts(prepared, ["ets"], ["test"])["test"]["ets"]
    fitted = statsforecast.AutoETS(season_length=SEASON).fit(y[:60])
    origin = prepared.origins["test"][0]
    np.testing.assert_allclose(found[0, :, 0], fitted.forward(y[: origin + 1], h=4)["mean"][1:], rtol=1e-12)


def test_each_series_of_a_panel_gets_its_own_fit(tmp_path):
    statsforecast = pytest.importorskip("statsforecast.models", reason="the stats extra (statsforecast) is absent")
    one = monthly(tmp_path)
    two = one.assign(sales=one["sales"] * 3 + 500)
    pd.concat([one.assign(shop="a"), two.assign(shop="b")]).to_csv(tmp_path / "sales.csv", index=False)
    prepared = prepare(config(tmp_path, id_column="shop", split={"val_last": 18, "test_last": 18}))
    found = baselines.forecasts(prepared, ["ets"], ["test"])["test"]["ets"]
    which = prepared.series.series_of(prepared.origins["test"])
    row = int(np.flatnonzero(which == 1)[0])
    origin = int(prepared.origins["test"][row] - prepared.series.offsets[1])
    y = two["sales"].to_numpy(np.float32).astype(np.float64)
    fitted = statsforecast.AutoETS(season_length=SEASON).fit(y[:60])  # b's own 60 training rows
    expected = fitted.forward(y[: origin + 1], h=3)["mean"]
    np.testing.assert_allclose(found[row, :, 0], expected, rtol=1e-12)
    origins = prepared.origins["test"]
    table = per_series(prepared, "test", prepared.spec.targets(prepared.y, origins), "shop", {"ets": found})
    truth = prepared.scalers.inverse_targets(prepared.spec.targets(prepared.y, origins), which)
    errors = np.abs(truth - found).mean(axis=(1, 2))
    assert table["ets_mae"].tolist() == pytest.approx([errors[which == 0].mean(), errors[which == 1].mean()])


def test_the_ets_scores_are_those_of_its_forecasts_on_the_models_windows(tmp_path):
    pytest.importorskip("statsforecast", reason="the stats extra (statsforecast) is absent")
    y = monthly(tmp_path)["sales"].to_numpy()
    prepared = prepare(config(tmp_path, split={"train_end": 60, "val_end": 78, "test_end": 96}))
    found = baselines.forecasts(prepared, ["ets"], ["test"])
    origins = prepared.origins["test"]
    predictions = {"test": prepared.spec.targets(prepared.y, origins)}  # a perfect model, scaled
    scored = evaluate(prepared, predictions, None, found)["test"]
    truth = y[origins[:, None] + np.arange(1, 4)]
    assert scored.ets.mae == pytest.approx(np.abs(truth - found["test"]["ets"][..., 0]).mean(), rel=1e-9)
    assert scored.windows == len(origins) and scored.model.mae == pytest.approx(0, abs=1e-4)
    assert evaluate(prepared, predictions)["test"].ets is None  # no baselines asked: none scored
