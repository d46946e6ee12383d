"""forecast.baselines: AutoETS and MSTL scored on the model's own windows, against statsforecast called directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import forecast
from forecast import baselines, gates, lifecycle
from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.metrics import evaluate, per_series
from forecast.prepare import infer_seasonality, infer_seasons, prepare

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


def config(tmp_path, delay: int = 1, baselines: tuple[str, ...] = ("ets",), **data) -> cfg.Config:
    return cfg.validate(
        {
            "data": {"path": str(tmp_path / "sales.csv"), "time_column": "month", "targets": ["sales"], **data},
            "window": {"lookback": 12, "delay": delay, "horizon": 3},
            "metrics": {"baselines": list(baselines)},
        }
    )


def test_without_statsforecast_validate_says_what_to_install(tmp_path, monkeypatch):
    monthly(tmp_path)
    monkeypatch.setattr(baselines, "find_spec", lambda name: None)  # the extra not installed
    config(tmp_path)  # the config itself is valid: a run with a baseline can be read anywhere
    with pytest.raises(ForecastError) as err:
        lifecycle.validate(config(tmp_path))
    assert str(err.value) == "metrics.baselines: ets needs statsforecast: pip install 'forecast[stats]'"
    assert cfg.validate({}).metrics.baselines == []  # nothing asked, nothing needed
    baselines.check_installed([])


def test_only_known_baselines_are_accepted():
    with pytest.raises(ForecastError, match=r"metrics.baselines\[0\]: Input should be 'ets' or 'mstl'"):
        cfg.validate({"metrics": {"baselines": ["arima"]}})
    with pytest.raises(ForecastError, match=r"mstl_seasons: needs metrics\.baselines to include mstl"):
        cfg.validate({"metrics": {"baselines": ["ets"], "mstl_seasons": [24, 168]}})
    assert cfg.validate({"metrics": {"baselines": ["mstl", "ets", "mstl"]}}).metrics.baselines == ["mstl", "ets"]


@pytest.mark.parametrize(
    ("freq", "seasons"),
    [("h", [24, 168]), ("30min", [48, 336]), ("10min", [144, 1008]), ("D", [7]), ("ME", [12]), ("QE", [4])],
)
def test_mstl_takes_a_week_beside_the_day_of_sub_daily_data(freq, seasons):
    times = pd.date_range("2020-01-01", periods=50, freq=freq)
    assert infer_seasons(times, None, None, infer_seasonality(times)) == seasons
    assert infer_seasons(times, None, None, 5) == [5]  # metrics.seasonality set to something else: that alone
    assert infer_seasons(None, None, None, None) == []


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


def short_beside_long(tmp_path) -> forecast.Config:
    """A panel: 96 months of shop a, 21 of shop b, whose validation windows reach back less than a
    year, so that seasonal naive cannot be scored on the panel; a's data is `monthly`'s."""
    one = monthly(tmp_path)
    pd.concat([one.assign(shop="a"), one.head(21).assign(shop="b")]).to_csv(tmp_path / "sales.csv", index=False)
    return cfg.validate(
        {
            "data": {"path": str(tmp_path / "sales.csv"), "time_column": "month", "targets": ["sales"],
                     "id_column": "shop", "split": {"val_last": 6, "test_last": 6}},
            "window": {"lookback": 6, "horizon": 3},
            "metrics": {"baselines": ["ets"]},
        }
    )  # fmt: skip


def test_the_datas_season_stays_where_seasonal_naive_cannot_be_scored(tmp_path):
    prepared = prepare(short_beside_long(tmp_path))
    assert prepared.seasonality is None and prepared.season == SEASON
    assert any("reach back less than one season" in note for note in prepared.series.notes)


def test_ets_keeps_the_season_where_seasonal_naive_cannot_be_scored(tmp_path):
    statsforecast = pytest.importorskip("statsforecast.models", reason="the stats extra (statsforecast) is absent")
    prepared = prepare(short_beside_long(tmp_path))
    found = baselines.forecasts(prepared, ["ets"], ["test"])["test"]["ets"]
    which = prepared.series.series_of(prepared.origins["test"])
    row = int(np.flatnonzero(which == 0)[0])  # shop a: 84 training rows, a seasonal fit
    y = monthly(tmp_path)["sales"].to_numpy()
    origin = int(prepared.origins["test"][row] - prepared.series.offsets[0])
    fitted = statsforecast.AutoETS(season_length=SEASON).fit(y[:84])
    np.testing.assert_allclose(found[row, :, 0], fitted.forward(y[: origin + 1], h=3)["mean"], rtol=1e-12)


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


def test_mstl_with_a_decomposition_per_window_is_statsforecasts_forward(tmp_path, monkeypatch):
    statsforecast = pytest.importorskip("statsforecast.models", reason="the stats extra (statsforecast) is absent")
    y = monthly(tmp_path)["sales"].to_numpy()
    prepared = prepare(config(tmp_path, baselines=("mstl",), split={"train_end": 60, "val_end": 78, "test_end": 96}))
    monkeypatch.setattr(baselines, "MSTL_DECOMPOSITIONS", 10_000)
    found = baselines.forecasts(prepared, ["mstl"], ["val", "test"], [SEASON])
    fitted = statsforecast.MSTL(season_length=SEASON).fit(y[:60])
    assert prepared.origins["val"][0] == 59  # the last training row: the fit's own forecast
    np.testing.assert_allclose(found["val"]["mstl"][0, :, 0], fitted.predict(h=3)["mean"], rtol=1e-10)
    for split in ("val", "test"):
        expected = [fitted.forward(y[: o + 1], h=3)["mean"] for o in prepared.origins[split]]
        np.testing.assert_allclose(found[split]["mstl"][..., 0], expected, rtol=1e-10)


def test_mstl_continues_a_decomposition_over_the_windows_after_it(tmp_path, monkeypatch):
    statsforecast = pytest.importorskip("statsforecast.models", reason="the stats extra (statsforecast) is absent")
    from statsforecast.mstl import mstl

    y = monthly(tmp_path)["sales"].to_numpy()
    prepared = prepare(config(tmp_path, baselines=("mstl",), split={"train_end": 60, "val_end": 78, "test_end": 96}))
    monkeypatch.setattr(baselines, "MSTL_DECOMPOSITIONS", 1)  # one, at the first origin, for every window
    found = baselines.forecasts(prepared, ["mstl"], ["test"], [SEASON])["test"]["mstl"]
    fitted = statsforecast.MSTL(season_length=SEASON).fit(y[:60])
    first, origin = (int(o) for o in prepared.origins["test"][[0, 5]])
    np.testing.assert_allclose(found[0, :, 0], fitted.forward(y[: first + 1], h=3)["mean"], rtol=1e-10)
    # a later window: the seasonal component continued from the first origin's last season, by hand;
    # the rest is AutoETS run forward over the deseasonalised history without a refit
    column = mstl(y[: first + 1], SEASON)["seasonal"].to_numpy()
    seasonal = np.concatenate([column, np.tile(column[-SEASON:], 4)])
    level = fitted.trend_forecaster.forward(y[: origin + 1] - seasonal[: origin + 1], h=3)["mean"]
    np.testing.assert_allclose(found[5, :, 0], level + seasonal[origin + 1 : origin + 4], rtol=1e-10)


def test_mstl_leaves_out_seasons_the_training_rows_cannot_hold(tmp_path):
    pytest.importorskip("statsforecast", reason="the stats extra (statsforecast) is absent")
    monthly(tmp_path)
    prepared = prepare(config(tmp_path, baselines=("mstl",), split={"train_end": 60, "val_end": 78, "test_end": 96}))
    found = baselines.forecasts(prepared, ["mstl"], ["test"], [SEASON, 40])["test"]["mstl"]  # 40: 60 rows < 2 x 40
    np.testing.assert_array_equal(found, baselines.forecasts(prepared, ["mstl"], ["test"], [SEASON])["test"]["mstl"])
    alone = baselines.forecasts(prepared, ["mstl"], ["test"], [40])["test"]["mstl"]  # none left: AutoETS, no season
    ets = baselines.per_series(
        prepared, ["test"], lambda v, n, o: baselines.forward(baselines.fit_ets(v[:n], 1), v, o, prepared.spec)
    )["test"]
    np.testing.assert_array_equal(alone, ets)


def test_a_run_with_baselines_is_served_without_the_extra(tmp_path, monkeypatch):
    pytest.importorskip("statsforecast", reason="the stats extra (statsforecast) is absent")
    monthly(tmp_path)
    run = forecast.train(
        config(tmp_path, baselines=("ets", "mstl"), split={"train_end": 60, "val_end": 78, "test_end": 96}).model_copy(
            update={"training": cfg.Training(epochs=1)}
        ),
        tmp_path / "run",
    )
    metrics = run.metrics
    assert metrics.test.ets is not None and metrics.test.mstl is not None
    assert gates.check(metrics, ["test.mstl.mae>0"])[0].startswith("test.mstl.mae>0")
    monkeypatch.setattr(baselines, "find_spec", lambda name: None)  # served where the extra is absent
    assert len(forecast.predict(run)) == 3
    assert forecast.api.validate(forecast.api.shape_only(run.config)).parameters > 0  # forecast summary
    with pytest.raises(ForecastError, match=r"^metrics.baselines: ets needs statsforecast"):
        forecast.evaluate(run)  # scoring the baselines needs them
