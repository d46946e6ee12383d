"""forecast.seasonal and the seasonal base's profile (`model.base_seasons`): the forecast by hand, the
layer against its numpy twin, what the window holds, and auto's choice on the training windows."""

import json

import keras
import numpy as np
import pytest

from forecast import api, seasonal
from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.layers import SeasonalNaive
from forecast.model import build, seasonal_lags
from forecast.prepare import prepare
from forecast.windows import WindowSpec

SPEC = WindowSpec(timesteps=12, step=1, delay=1, horizon=4)
STEP2 = WindowSpec(timesteps=12, step=2, delay=1, horizon=8)


def test_the_profile_by_hand():
    # a season of 4 rising 2 a season, with a spike of +4 at row 8: seasonal naive repeats the spike,
    # the profile of 3 seasons spreads it thin and keeps the last season's level
    y = np.array([1, 2, 3, 4, 3, 4, 5, 6, 9, 6, 7, 8], float)[:, None]
    origin = np.array([11])
    naive = seasonal.forecast(y, origin, SPEC, 4, 1)[0, :, 0]
    np.testing.assert_array_equal(naive, [9, 6, 7, 8])
    # row 12: mean(9, 3, 1) = 13/3, plus the last season's mean 7.5 less the three seasons' 58/12
    profile = seasonal.forecast(y, origin, SPEC, 4, 3)[0, :, 0]
    np.testing.assert_allclose(profile, [7, 20 / 3, 23 / 3, 26 / 3])
    # a shifted series gives a shifted profile (its weights sum to one)
    np.testing.assert_allclose(seasonal.forecast(y + 100, origin, SPEC, 4, 3)[0, :, 0], profile + 100)


def test_the_profile_reads_only_the_window():
    y = np.random.default_rng(0).standard_normal((40, 2))
    later = y.copy()
    later[21:] = 1e6
    origins = np.array([15, 20])
    np.testing.assert_array_equal(
        seasonal.forecast(later, origins, SPEC, 4, 3), seasonal.forecast(y, origins, SPEC, 4, 3)
    )


@pytest.mark.parametrize(("spec", "season", "seasons"), [(SPEC, 4, 3), (STEP2, 6, 3), (STEP2, 6, 1), (SPEC, 4, 2)])
def test_the_layer_computes_the_numpy_forecast(spec, season, seasons):
    y = np.random.default_rng(1).standard_normal((60, 3)).astype("float32")
    origins = np.arange(spec.history, 60 - spec.horizon - 1)
    period = season // spec.step if seasons > 1 else None
    layer = SeasonalNaive([2, 0], seasonal_lags(spec, season), seasons, period)
    out = keras.ops.convert_to_numpy(layer(spec.inputs(y, origins)))
    np.testing.assert_allclose(out, seasonal.forecast(y[:, [2, 0]], origins, spec, season, seasons), atol=1e-5)
    again = SeasonalNaive.from_config(layer.get_config())  # saved and loaded with its seasons
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(spec.inputs(y, origins))), out)


def test_what_the_window_holds():
    assert seasonal.whole_seasons(SPEC, 4) == 3  # 12 rows
    assert seasonal.whole_seasons(SPEC, 5) == 2  # the oldest target's point of the season is 4 rows back
    assert seasonal.whole_seasons(STEP2, 6) == 4  # 24 rows sampled every 2: period 3 timesteps
    assert seasonal.whole_seasons(STEP2, 5) == 1  # a season of 5 is not sampled every 2 rows
    seasonal.check_seasons(SPEC, 4, 3)
    with pytest.raises(ForecastError, match=r"model\.base_seasons=4: the 12-timestep window holds 3"):
        seasonal.check_seasons(SPEC, 4, 4)
    with pytest.raises(ForecastError, match=r"model\.base_seasons=2: a season of 5 rows is not a multiple"):
        seasonal.check_seasons(STEP2, 5, 2)


def test_a_model_with_a_profile_base_starts_as_its_profile():
    windows = np.random.default_rng(2).standard_normal((5, 12, 3)).astype("float32")
    model = build(cfg.Model(base="seasonal_linear", base_seasons=3, instance_norm="last"), SPEC, 3, [1], season=4)
    out = keras.ops.convert_to_numpy(model(windows))  # the head starts at zero: the base alone
    for window, forecast in zip(windows, out, strict=True):  # each window as a series whose last row is the origin
        np.testing.assert_allclose(
            forecast, seasonal.forecast(window[:, [1]], np.array([11]), SPEC, 4, 3)[0], atol=1e-5
        )


def series_config(values: np.ndarray, tmp_path, lookback: int = 21, **model) -> cfg.Config:
    """A daily series (season 7) written to a CSV, with a lookback of three weeks."""
    import pandas as pd

    path = tmp_path / "series.csv"
    pd.DataFrame({"date": pd.date_range("2020-01-06", periods=len(values), freq="D"), "y": values}).to_csv(path)
    return cfg.Config.model_validate(
        {"data": {"path": str(path), "time_column": "date", "features": ["y"]},
         "window": {"lookback": lookback, "horizon": 7}, "model": model}
    )  # fmt: skip


def test_auto_averages_the_seasons_of_a_steady_noisy_week(tmp_path):
    rng = np.random.default_rng(3)
    days = np.arange(400)
    values = 10 + 3 * np.sin(2 * np.pi * days / 7) + rng.standard_normal(400)  # the same week, noisy
    p = prepare(series_config(values, tmp_path))
    assert (p.model.base, p.model.base_seasons) == ("seasonal_linear", 3)
    assert "the profile of the window's 3 seasons" in p.base_note
    explicit = prepare(series_config(values, tmp_path, base="seasonal_linear"))
    assert explicit.model.base_seasons is None and explicit.base_note is None  # written: seasonal naive
    assert prepare(series_config(values, tmp_path, base_seasons=2)).model.base_seasons == 2


@pytest.mark.slow  # trains a Keras model
def test_a_run_records_the_seasons_its_base_averages(tmp_path):
    values = 10 + 3 * np.sin(2 * np.pi * np.arange(400) / 7) + np.random.default_rng(3).standard_normal(400)
    # base_shared: false (one target: the same map) keeps auto to seasonal_linear, without ets beside it
    config = series_config(values, tmp_path, base_shared=False).model_copy(update={"training": cfg.Training(epochs=1)})
    run = api.train(config, tmp_path / "run")
    metrics = json.loads(run.metrics_file.read_text())
    assert (metrics["base"], metrics["base_seasons"]) == ("seasonal_linear", 3)
    line = "- base forecast: seasonal_linear, its seasonal part the profile of 3 seasons (chosen by model.base auto)"
    assert line in run.report_file.read_text()
    assert api.validate(config).base_seasons == 3
    # the saved graph averages the seasons: predict and export load it as it is
    assert keras.saving.load_model(run.model_file, safe_mode=True).get_layer("seasonal_base").seasons == 3


def test_auto_repeats_the_last_season_where_the_season_drifts(tmp_path):
    # the week's amplitude wanders from one week to the next: the last week is the best guess of the
    # next, and an average of three weeks lags behind it
    rng = np.random.default_rng(4)
    days = np.arange(400)
    amplitude = np.repeat(np.cumsum(rng.standard_normal(400 // 7 + 1)), 7)[:400]
    values = 10 + amplitude * np.sin(2 * np.pi * days / 7) + 0.05 * rng.standard_normal(400)
    p = prepare(series_config(values, tmp_path))
    assert p.model.base == "seasonal_linear" and p.model.base_seasons is None
    assert "its seasonal part the last season" in p.base_note


def test_base_seasons_is_refused_where_it_cannot_apply(tmp_path):
    with pytest.raises(ValueError, match="base_seasons needs base: seasonal_naive"):
        cfg.Model(base="linear", base_seasons=2)
    with pytest.raises(ValueError, match="base_seasons: base_calendar's profile"):
        cfg.Model(base="seasonal_naive", base_seasons=2, base_calendar=3)
    values = np.sin(np.arange(200) * 2 * np.pi / 7)
    with pytest.raises(ForecastError, match=r"model\.base_seasons=4"):
        prepare(series_config(values, tmp_path, base_seasons=4))
    with pytest.raises(ForecastError, match=r"model\.base_seasons: model\.base auto chose linear"):
        prepare(series_config(values, tmp_path, lookback=5, base_seasons=2))  # a week does not fit: linear


def test_the_ets_base_takes_every_whole_season_the_window_holds(tmp_path):
    values = 10 + 3 * np.sin(2 * np.pi * np.arange(200) / 7)
    p = prepare(series_config(values, tmp_path, base="ets"))
    assert (p.model.base, p.base_season, p.model.base_seasons, p.model.averaged_seasons) == ("ets", 7, 3, 3)
    assert p.base_note == "model.base ets: the profile of 3 season(s) of 7 rows, under the level exponentially smoothed"
    assert prepare(series_config(values, tmp_path, base="ets", base_seasons=2)).model.base_seasons == 2
    short = prepare(series_config(values, tmp_path, lookback=5, base="ets"))  # a week does not fit: the level alone
    assert (short.base_season, short.model.base_seasons) == (None, None)
    assert short.base_note.endswith("without a season (a season of 7 rows does not fit the 5-timestep window)")
    with pytest.raises(ForecastError, match=r"model\.base_seasons: base ets has no season here"):
        prepare(series_config(values, tmp_path, lookback=5, base="ets", base_seasons=2))
    with pytest.raises(ForecastError, match=r"^model\.base=ets: a season of 7 rows needs window\.lookback // window"):
        prepare(series_config(values, tmp_path, lookback=5, base="ets", base_season=7))  # named: refused
    # a season of one timestep has no profile to smooth around: the level alone, or refused where named
    assert prepare(series_config(values, tmp_path, base="ets", base_season=[7, 1])).base_season == 7
    with pytest.raises(ForecastError, match=r"^model\.base_season: a season of 1 rows is a single timestep"):
        prepare(series_config(values, tmp_path, base="ets", base_season=1))
    daily = series_config(values, tmp_path, base="ets").model_dump()
    one = cfg.Config.model_validate({**daily, "metrics": {"seasonality": 1}})
    assert (prepare(one).base_season, prepare(one).model.base_seasons) == (None, None)
    with pytest.raises(ForecastError, match=r"model\.base=ets maps a fixed number of timesteps"):
        cfg.validate({"model": {"base": "ets"}, "window": {"variable_length": True}})
    with pytest.raises(ValueError, match="base_calendar: not with base ets"):
        cfg.Model(base="ets", base_calendar=3)
