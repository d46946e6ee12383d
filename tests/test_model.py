"""forecast.model: the network built from a config, its closed-form parameter count, and its bases (seasonal
naive, linear, calendar profile) checked by hand."""

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import tiny_config

from forecast import config as cfg
from forecast.calendar import features as calendar_features
from forecast.errors import ForecastError
from forecast.model import Extras, build, choose_season, count_parameters, cudnn_blockers, seasonal_lags
from forecast.prepare import prepare
from forecast.windows import WindowSpec

SPEC = WindowSpec(timesteps=12, step=1, delay=1, horizon=3)


@pytest.mark.slow  # over 0.3 s
@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_closed_form_parameter_count_matches_keras(cell, bidirectional):
    model_cfg = cfg.Model(
        cell=cell,
        base="none",  # model.base auto is resolved with data; these build the model directly
        layers=[cfg.Layer(units=16), cfg.Layer(units=8)],
        bidirectional=bidirectional,
        dense=[10],
        dropout_between=0.1,
    )
    model = build(model_cfg, SPEC, 5, [0, 3])
    assert model.count_params() == count_parameters(model_cfg, SPEC, 5, 2)
    assert model.output_shape == (None, 3, 2)


def test_lstm_formula_by_hand():
    # One LSTM(32) on 14 features: 4*32*(32+14+1) = 6016; head Dense(1): 33.
    model_cfg = cfg.Model(cell="lstm", base="none", layers=[cfg.Layer(units=32)])
    assert count_parameters(model_cfg, WindowSpec(240, 6, 144, 1), 14, 1) == 6016 + 33


def test_stacking_sets_return_sequences():
    model = build(cfg.Model(base="none", layers=[cfg.Layer(units=4)] * 3), SPEC, 2, [1])
    rnns = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert [layer.return_sequences for layer in rnns] == [True, True, False]


def test_cudnn_blockers_name_the_setting():
    assert cudnn_blockers(cfg.Model(layers=[cfg.Layer(dropout=0.3)])) == []
    assert cudnn_blockers(cfg.Model(layers=[cfg.Layer(), cfg.Layer(recurrent_dropout=0.2)])) == [
        "model.layers[1].recurrent_dropout=0.2 > 0"
    ]
    assert "simple_rnn" in cudnn_blockers(cfg.Model(cell="simple_rnn"))[0]


# model.base (issue 33): the network learns the residual of a base forecast from the window itself
STEP2 = WindowSpec(timesteps=12, step=2, delay=1, horizon=8)
WINDOWS = np.random.default_rng(1).standard_normal((5, 12, 3)).astype("float32")


def test_seasonal_lags_by_hand():
    # a 6-row season sampled every 2nd row: horizon row e+1's value is e-5, read at the sampled e-4
    # (2 timesteps back); e+6's is e itself; e+7 wraps to the season before (e-5 again)
    assert seasonal_lags(STEP2, 6) == [2, 2, 1, 1, 0, 0, 2, 2]
    assert seasonal_lags(WindowSpec(4, 1, 1, 3), 4) == [3, 2, 1]
    with pytest.raises(ForecastError, match=r"needs window.lookback // window.step >= 12 timesteps \(it is 4\)"):
        seasonal_lags(WindowSpec(4, 1, 1, 3), 12)
    with pytest.raises(ForecastError, match=r"set model\.base_season"):
        seasonal_lags(STEP2, None)


def zero_network(model: keras.Model) -> keras.Model:
    """The model with its head's kernel and bias set to 0: the network's part of the forecast is 0."""
    head = model.get_layer("head")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    return model


@pytest.mark.slow  # over 0.3 s
@pytest.mark.parametrize("norm", ["none", "last", "mean"])
def test_a_zero_network_forecasts_the_seasonal_naive_base(norm):
    model = zero_network(build(cfg.Model(base="seasonal_naive", instance_norm=norm), STEP2, 3, [2, 0], season=6))
    out = keras.ops.convert_to_numpy(model(WINDOWS))
    rows = [11 - lag for lag in (2, 2, 1, 1, 0, 0, 2, 2)]  # seasonal_lags(STEP2, 6), by hand above
    expected = WINDOWS[:, rows][:, :, [2, 0]]
    if norm == "none":
        np.testing.assert_array_equal(out, expected)  # nothing added, nothing to round
    else:  # instance_norm's level is taken off the window and added back: float32 rounding only
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.slow  # over 0.3 s
def test_a_zero_network_forecasts_the_linear_base_with_its_weights():
    model = zero_network(build(cfg.Model(base="linear", instance_norm="none"), STEP2, 3, [2, 0]))
    assert not np.any(keras.ops.convert_to_numpy(model(WINDOWS)))  # zero-initialised: the network alone
    rng = np.random.default_rng(2)
    kernel, bias = rng.standard_normal((12, 8)).astype("float32"), rng.standard_normal(8).astype("float32")
    model.get_layer("base").set_weights([kernel, bias])
    expected = np.stack([WINDOWS[:, :, c] @ kernel + bias for c in (2, 0)], axis=-1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(WINDOWS)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # over 0.3 s
def test_a_zero_network_forecasts_the_seasonal_linear_base_its_two_parts_added():
    model = zero_network(build(cfg.Model(base="seasonal_linear", instance_norm="none"), STEP2, 3, [2, 0], season=6))
    seasonal = WINDOWS[:, [11 - lag for lag in seasonal_lags(STEP2, 6)]][:, :, [2, 0]]
    np.testing.assert_array_equal(model(WINDOWS), seasonal)  # the correction starts at zero: seasonal naive
    rng = np.random.default_rng(5)
    kernel, bias = rng.standard_normal((12, 8)).astype("float32"), rng.standard_normal(8).astype("float32")
    model.get_layer("linear_base").set_weights([kernel, bias])
    expected = seasonal + np.stack([WINDOWS[:, :, c] @ kernel + bias for c in (2, 0)], axis=-1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(WINDOWS)), expected, rtol=1e-5, atol=1e-5)
    model_cfg = cfg.Model(base="seasonal_linear", base_shared=False, instance_norm="last")
    assert build(model_cfg, STEP2, 3, [2, 0], season=6).count_params() == count_parameters(model_cfg, STEP2, 3, 2)


@pytest.mark.slow  # over 0.3 s
@pytest.mark.parametrize("decoder", ["dense", "parallel"])
def test_a_model_with_a_base_starts_as_its_base(decoder):
    # the head of a residual model starts at zero (no zero_network here): before any training the
    # forecast is the base's, seasonal naive exactly; without a base the head starts random
    segment = {"segment_len": 4} if decoder == "parallel" else {}
    model = build(cfg.Model(base="seasonal_naive", instance_norm="none", decoder=decoder, **segment), STEP2, 3, [2, 0],
                  season=6)  # fmt: skip
    seasonal = WINDOWS[:, [11 - lag for lag in seasonal_lags(STEP2, 6)]][:, :, [2, 0]]
    np.testing.assert_array_equal(model(WINDOWS), seasonal)
    assert not np.any(model.get_layer("head").get_weights()[0])
    plain = build(cfg.Model(base="none", instance_norm="none", decoder=decoder, **segment), STEP2, 3, [2, 0])
    assert np.abs(plain.get_layer("head").get_weights()[0]).min() > 0
    assert np.abs(keras.ops.convert_to_numpy(plain(WINDOWS))).max() > 1e-3


def test_the_base_reads_only_the_window():
    # a panel model with future covariates: the base ignores the horizon's known values (only the
    # network reads them), and a window's base does not change when later rows of its series do
    extras = Extras(future=[1], static=1)
    model = build(cfg.Model(base="seasonal_naive", instance_norm="last"), STEP2, 3, [0, 2], extras, season=6)
    base = keras.Model(model.inputs, model.get_layer("base").output)
    series = np.random.default_rng(3).standard_normal((60, 3)).astype("float32")
    origin = np.array([40])
    later = series.copy()
    later[41:] = 1e6
    batch = {"window": STEP2.inputs(series, origin), "future": np.ones((1, 8, 1), "float32"),
             "static": np.ones((1, 1), "float32")}  # fmt: skip
    changed = {**batch, "window": STEP2.inputs(later, origin), "future": np.full((1, 8, 1), 1e6, "float32")}
    np.testing.assert_array_equal(base(changed), base(batch))
    np.testing.assert_array_equal(base(batch)[0, 0], series[36, [0, 2]] - series[40, [0, 2]])  # e-4, less the level


def test_a_quantile_model_puts_the_base_under_every_quantile():
    model = cfg.Model(base="seasonal_naive", instance_norm="none", quantiles=[0.1, 0.9])
    out = keras.ops.convert_to_numpy(zero_network(build(model, STEP2, 3, [1], season=6))(WINDOWS))
    base = WINDOWS[:, [11 - lag for lag in seasonal_lags(STEP2, 6)]][:, :, 1]
    np.testing.assert_array_equal(out[:, :, 1, 0], base)  # the median
    # equal raw outputs (the base alone) are log(2) apart: the base reached every quantile, not the median only
    np.testing.assert_allclose(out[:, :, 2, 0] - base, np.log(2), rtol=1e-5)
    np.testing.assert_allclose(base - out[:, :, 0, 0], np.log(2), rtol=1e-5)


@pytest.mark.parametrize("shared", [True, False])
def test_the_linear_base_counts_its_parameters(shared):
    model_cfg = cfg.Model(base="linear", base_shared=shared, instance_norm="last")
    model = build(model_cfg, STEP2, 3, [2, 0])
    assert model.count_params() == count_parameters(model_cfg, STEP2, 3, 2)
    assert model.get_layer("base").count_params() == (12 + 1) * 8 * (1 if shared else 2)


@pytest.mark.slow  # over 0.3 s
def test_the_base_season_comes_from_the_config_or_the_data():
    def season(**metrics_and_model):
        config = tiny_config(model={"base": "seasonal_naive", **metrics_and_model.get("model", {})},
                             metrics=metrics_and_model.get("metrics", {}))  # fmt: skip
        return prepare(cfg.Config.model_validate(config)).base_season

    assert season() == 24  # hourly ETTh1: a day
    assert season(metrics={"seasonality": 12}) == 12
    assert season(model={"base_season": 6}, metrics={"seasonality": 12}) == 6
    assert season(model={"base_season": [48, 6, 12]}) == 12  # the longest that fits in 22 rows
    # tiny_config's 12 timesteps of every 2nd row reach back 22 rows: a 48-row season does not fit
    with pytest.raises(ForecastError, match=r"model.base=seasonal_naive: a season of 48 rows") as err:
        season(model={"base_season": 48})
    assert err.value.exit_code == 2


def test_a_list_of_seasons_uses_the_longest_that_fits():
    # STEP2 reaches back 22 rows: a day of 6 fits, a week of 42 does not; of [6, 4] the 6
    assert choose_season(STEP2, [6, 42], None) == 6 and choose_season(STEP2, [4, 6], None) == 6
    assert choose_season(STEP2, 4, 6) == 4 and choose_season(STEP2, None, 6) == 6
    with pytest.raises(ForecastError, match=r"a season of 42 rows needs"):
        choose_season(STEP2, [42, 48], None)


# model.base_calendar (issue 33): a learned seasonal profile of the calendar columns under the network
HOURLY = pd.date_range("2024-01-01", periods=24 * 21, freq="h")
CAL = calendar_features(HOURLY, ["hour", "day_of_week"])  # hour_sin, hour_cos, day_of_week_sin, day_of_week_cos
CAL_EXTRAS = Extras(future=[1, 2, 3, 4], normalized=1)  # the window: [y, the four calendar columns]
DAY = WindowSpec(timesteps=24, step=1, delay=1, horizon=24)  # a day of lookback: no week in it


def harmonic(k: int, column: int) -> int:
    """The calendar kernel's row of harmonic k's sin (column 0) or cos (1) of day_of_week, of two cycles."""
    return 4 * (k - 1) + 2 * column + 1


def calendar_batch(series: np.ndarray, origins: np.ndarray, future: np.ndarray = CAL) -> dict:
    x = np.concatenate([series[:, None], CAL], axis=1).astype("float32")
    return {"window": DAY.inputs(x, origins), "future": DAY.targets(future, origins).astype("float32")}


@pytest.mark.slow  # over 0.3 s
@pytest.mark.parametrize("base", ["none", "seasonal_naive", "linear"])
def test_a_zero_calendar_profile_leaves_the_base(base):
    batch = calendar_batch(np.random.default_rng(4).standard_normal(len(HOURLY)), np.arange(30, 200, 17))
    with_profile, without = (
        zero_network(build(cfg.Model(base=base, base_calendar=k), DAY, 5, [0], CAL_EXTRAS, season=12)) for k in (2, 0)
    )
    np.testing.assert_array_equal(with_profile(batch), without(batch))


DOW, HOUR = HOURLY.day_of_week.to_numpy(), HOURLY.hour.to_numpy()
WEEKLY = 1.5 * np.sin(2 * np.pi * DOW / 7) + 0.5 * np.cos(4 * np.pi * DOW / 7)
DAILY = 3 * np.sin(2 * np.pi * HOUR / 24) - 2 * np.cos(2 * np.pi * HOUR / 24)


@pytest.mark.slow  # over 0.3 s
@pytest.mark.parametrize("base", ["none", "seasonal_naive"])
def test_the_calendar_profile_reproduces_a_weekly_season_from_a_day_of_lookback(base):
    # instance_norm last + profile of day and week (none), or yesterday's value + the week's change (seasonal_naive):
    # both forecast a pure day-and-week series exactly with 24 rows of history, a week being 168
    series = 10 + DAILY + WEEKLY
    model_cfg = cfg.Model(base=base, base_calendar=2, instance_norm="last")
    model = zero_network(build(model_cfg, DAY, 5, [0], CAL_EXTRAS, season=24))
    kernel = np.zeros((8, 1))
    kernel[harmonic(1, 0)], kernel[harmonic(2, 1)] = 1.5, 0.5
    if base == "none":
        kernel[0], kernel[2] = 3, -2  # hour's sin and cos
    model.get_layer("calendar_base").set_weights([kernel])
    origins = np.arange(24, len(HOURLY) - 24, 5)
    out = keras.ops.convert_to_numpy(model(calendar_batch(series, origins)))[..., 0]
    np.testing.assert_allclose(out, DAY.targets(series, origins), atol=1e-4)
    no_profile = zero_network(build(cfg.Model(base=base, instance_norm="last"), DAY, 5, [0], CAL_EXTRAS, season=24))
    assert np.abs(keras.ops.convert_to_numpy(no_profile(calendar_batch(series, origins)))[..., 0]
                  - DAY.targets(series, origins)).max() > 1  # fmt: skip


def test_the_calendar_profile_reads_only_the_calendar_known_ahead():
    # a future covariate (column 1) beside the calendar: the profile ignores it, and the window's targets
    extras = Extras(future=[1, 2, 3, 4, 5], normalized=2)
    model = build(cfg.Model(base="none", base_calendar=2, instance_norm="last"), DAY, 6, [0], extras)
    model.get_layer("calendar_base").set_weights([np.random.default_rng(5).standard_normal((8, 1))])
    profile = keras.Model(model.inputs, model.get_layer("calendar_base").output)
    rng, origins = np.random.default_rng(6), np.array([50, 80])
    x = np.concatenate([rng.standard_normal((len(HOURLY), 2)), CAL], axis=1).astype("float32")
    later = x.copy()
    later[:, :2] = 1e6  # targets and covariate, past and future
    future = np.take(x[:, 1:], origins[:, None] + DAY.target_offsets(), axis=0)
    changed = future.copy()
    changed[..., 0] = 1e6
    batch = {"window": DAY.inputs(x, origins), "future": future}
    np.testing.assert_array_equal(profile({"window": DAY.inputs(later, origins), "future": changed}), profile(batch))


@pytest.mark.parametrize(("norm", "base"), [("none", "none"), ("last", "linear"), ("mean", "seasonal_naive")])
def test_the_calendar_profile_counts_its_parameters(norm, base):
    model_cfg = cfg.Model(base=base, base_calendar=3, instance_norm=norm)
    model = build(model_cfg, DAY, 5, [0, 1], CAL_EXTRAS, season=12)
    assert model.count_params() == count_parameters(model_cfg, DAY, 5, 2, CAL_EXTRAS)
    assert model.get_layer("calendar_base").count_params() == (4 * 3 + (norm == "none")) * 2  # a bias without norm


def test_a_calendar_profile_without_calendar_columns_is_refused():
    with pytest.raises(ForecastError, match=r"model.base_calendar needs data.calendar") as err:
        build(cfg.Model(base="none", base_calendar=1), DAY, 2, [0], Extras(future=[1]))
    assert err.value.exit_code == 2


def smoothed(rows: np.ndarray, alpha: float) -> np.ndarray:
    """Simple exponential smoothing's last level, by its recursion (level starts at the first row)."""
    level = rows[:, 0].astype(np.float64)
    for t in range(1, rows.shape[1]):
        level = alpha * rows[:, t] + (1 - alpha) * level
    return level


@pytest.mark.slow  # over 0.3 s
def test_a_zero_network_forecasts_the_ets_base_by_its_recursion():
    spec = WindowSpec(timesteps=12, step=1, delay=1, horizon=5)
    model_cfg = cfg.Model(base="ets", instance_norm="none", base_seasons=3)
    model = zero_network(build(model_cfg, spec, 3, [2, 0], season=4))
    assert model.count_params() == count_parameters(model_cfg, spec, 3, 2)
    out = keras.ops.convert_to_numpy(model(WINDOWS))
    for c, column in enumerate((2, 0)):  # by hand: a season of 4 rows, 3 of them in the window
        rows = WINDOWS[:, :, column].astype(np.float64)
        points = rows.reshape(5, 3, 4).mean(axis=1)  # each point of the season over the 3 seasons
        deviation = points - points.mean(axis=1, keepdims=True)
        level = smoothed(rows - np.tile(deviation, 3), alpha=2 / 5)  # alpha starts at 2 / (season + 1)
        # horizon rows 13..17 fall on points 0, 1, 2, 3, 0 of the season (row 12 is point 3)
        expected = level[:, None] + deviation[:, [0, 1, 2, 3, 0]]
        np.testing.assert_allclose(out[:, :, c], expected, rtol=1e-5, atol=1e-5)
    model.get_layer("base").set_weights([np.array([0.0, 2.0], "float32")])  # alpha 0.5 and sigmoid(2)
    out = keras.ops.convert_to_numpy(model(WINDOWS))
    rows = WINDOWS[:, :, 0].astype(np.float64)
    deviation = rows.reshape(5, 3, 4).mean(axis=1) - rows.reshape(5, 3, 4).mean(axis=(1, 2))[:, None]
    level = smoothed(rows - np.tile(deviation, 3), alpha=1 / (1 + np.exp(-2.0)))
    np.testing.assert_allclose(out[:, 0, 1], level + deviation[:, 0], rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # over 0.3 s
def test_without_a_season_the_ets_base_is_simple_exponential_smoothing():
    model = zero_network(build(cfg.Model(base="ets", instance_norm="last"), STEP2, 3, [2, 0]))
    out = keras.ops.convert_to_numpy(model(WINDOWS))
    expected = np.stack([smoothed(WINDOWS[:, :, c], alpha=0.5) for c in (2, 0)], axis=-1)[:, None]
    np.testing.assert_allclose(out, np.repeat(expected, 8, axis=1), rtol=1e-5, atol=1e-5)  # flat over the horizon
