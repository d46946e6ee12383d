"""Panels: many series in long format, per-series splits and scalers, covariates, regular time, sMAPE/MASE."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from conftest import ETTH1, LENGTHS, TEXT_IDS, panel_config, panel_frame, tiny_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

import forecast
from forecast import config as cfg
from forecast.calendar import features as calendar_features
from forecast.data import load_series
from forecast.errors import ForecastError
from forecast.metrics import scores, smape_terms
from forecast.model import Extras, build, count_parameters
from forecast.prepare import prepare
from forecast.readers import series_rows
from forecast.windows import WindowSpec


@pytest.fixture
def panel_csv(tmp_path):
    path = tmp_path / "panel.csv"
    panel_frame().sample(frac=1, random_state=1).to_csv(path, index=False)  # rows interleaved and shuffled
    return path


def test_rows_are_grouped_by_series_and_sorted_in_time(panel_csv):
    series = load_series(panel_config(panel_csv).data)
    assert series.ids == list(pd.read_csv(panel_csv)["store"].drop_duplicates())
    assert list(np.diff(series.starts)) == [LENGTHS[i] for i in series.ids]
    for i, name in enumerate(series.ids):
        rows = slice(series.starts[i], series.starts[i + 1])
        assert series.times[rows].is_monotonic_increasing
        expected = panel_frame().loc[lambda f, n=name: f["store"] == n, "sales"].to_numpy(np.float32)
        np.testing.assert_allclose(series.targets[rows, 0], expected, rtol=1e-6)


def test_windows_never_cross_series_and_short_series_are_counted(panel_csv):
    prepared = prepare(panel_config(panel_csv))
    series, spec = prepared.series, prepared.spec
    assert prepared.skipped == ["d"]
    assert any("1 of 4 series are too short" in note for note in series.notes)
    for split, origins in prepared.origins.items():
        assert len(origins)
        rows = np.concatenate([origins[:, None] + spec.input_offsets(), origins[:, None] + spec.target_offsets()], 1)
        which = series.series_of(rows)
        assert (which == which[:, :1]).all(), f"a {split} window crosses two series"
        assert "d" not in {series.ids[i] for i in which[:, 0]}


def test_last_rows_split_each_series_on_its_own(panel_csv):
    prepared = prepare(panel_config(panel_csv))
    series, spec = prepared.series, prepared.spec
    for i, name in enumerate(series.ids):
        n = LENGTHS[name]
        assert list(prepared.ends[i] - series.starts[i]) == [n - 16, n - 8, n]
        if name == "d":
            continue
        test = prepared.origins["test"][series.series_of(prepared.origins["test"]) == i]
        # the test targets are exactly the last 8 rows: origins whose 4-step targets lie in them
        targets = test[:, None] + spec.target_offsets()
        assert targets.min() == series.starts[i] + n - 8 and targets.max() == series.starts[i] + n - 1


def test_fractions_and_stamp_borders_apply_per_series(panel_csv):
    fractions = prepare(panel_config(panel_csv, split={"train": 0.5, "val": 0.25, "test": 0.25}))
    assert [int(v) for v in fractions.ends[0] - fractions.series.starts[0]] == [40, 60, 80]
    stamps = prepare(panel_config(panel_csv, split={"train_end": "2021-03-03", "val_end": "2021-03-03 12:00"}))
    series = stamps.series
    for i in range(3):
        local = stamps.ends[i] - series.starts[i]
        times = series.times[series.starts[i] : series.starts[i + 1]]
        assert local[0] == (times < pd.Timestamp("2021-03-03")).sum()
        assert local[1] == (times < pd.Timestamp("2021-03-03 12:00")).sum()


@pytest.mark.parametrize(
    ("kind", "reference"),
    [("standard", StandardScaler), ("minmax", MinMaxScaler), ("robust", RobustScaler)],
)
def test_each_series_is_scaled_by_its_own_training_rows(panel_csv, kind, reference):
    prepared = prepare(panel_config(panel_csv, features=["sales", "visits"]).model_copy(
        update={"scaler": cfg.Scaler(type=kind, per_series=True)}
    ))  # fmt: skip
    series = prepared.series
    for i in range(3):  # d has no training rows
        start, train_end = series.starts[i], prepared.ends[i, 0]
        rows = slice(start, series.starts[i + 1])
        fitted = reference().fit(series.features[start:train_end].astype(np.float64))
        np.testing.assert_allclose(prepared.x[rows], fitted.transform(series.features[rows]), rtol=1e-4, atol=1e-5)
    stored = json.loads(json.dumps(forecast.scalers.to_state(prepared.scalers)))
    assert stored["per_series"]["ids"] == series.ids


def test_future_covariates_are_read_from_the_target_rows(panel_csv):
    prepared = prepare(panel_config(panel_csv, covariates={"future": ["promo"]}))
    feed = prepared.feed()
    origins = prepared.origins["train"][:50]
    gathered = feed.gather(prepared.spec, origins, prepared.x)["future"]
    k = prepared.series.feature_names.index("promo")
    expected = prepared.x[origins[:, None] + prepared.spec.target_offsets(), k]
    np.testing.assert_array_equal(gathered[..., 0], expected)
    assert set(np.unique(prepared.series.features[:, k])) == {0.0, 1.0}


def test_calendar_features_are_deterministic():
    times = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 06:00", "2024-07-04 18:00"])
    values = calendar_features(times, ["hour", "day_of_week", "month"])
    np.testing.assert_allclose(values[:, 0], [0, 1, -1], atol=1e-6)  # sin of hour: 0h, 6h, 18h
    np.testing.assert_allclose(values[:, 1], [1, 0, 0], atol=1e-6)  # cos of hour
    monday, thursday = 0, 3
    np.testing.assert_allclose(values[:, 2], np.sin(2 * np.pi * np.array([monday, monday, thursday]) / 7), atol=1e-6)
    np.testing.assert_allclose(values[:, 4], np.sin(2 * np.pi * np.array([0, 0, 6]) / 12), atol=1e-6)
    np.testing.assert_array_equal(values, calendar_features(times, ["hour", "day_of_week", "month"]))


def test_frequency_inserts_missing_stamps_and_fills_within_each_series(tmp_path):
    frame = panel_frame({"a": 30, "b": 30})
    frame = frame.drop(index=[10, 11, 29, 30]).reset_index(drop=True)  # a loses 10, 11 and its last row; b its first
    path = tmp_path / "gappy.csv"
    frame.to_csv(path, index=False)
    config = panel_config(path, frequency="h", fill="interpolate")
    series = load_series(config.data)
    assert list(np.diff(series.starts)) == [29, 29]  # a: 0..28 with 10 and 11 back; b: 1..29
    assert any("inserted 2 missing time stamps" in note for note in series.notes)
    a = panel_frame({"a": 30, "b": 30}).query("store == 'a'")["sales"].to_numpy()
    expected = np.interp([10, 11], [9, 12], [a[9], a[12]])
    np.testing.assert_allclose(series.targets[10:12, 0], expected, rtol=1e-5)
    ffill = load_series(config.data.model_copy(update={"fill": "ffill"}))
    assert ffill.targets[10, 0] == ffill.targets[9, 0]
    frame.loc[0, "time"] = "2021-03-01 00:30"
    frame.to_csv(path, index=False)
    with pytest.raises(ForecastError, match=r"series 'a' row 0: 2021-03-01 00:30:00 is not on the data.frequency grid"):
        load_series(config.data)


def test_bad_panels_are_errors_naming_series_and_row(tmp_path):
    frame = panel_frame({"a": 10, "b": 10})
    path = tmp_path / "bad.csv"
    frame.loc[15, "time"] = frame.loc[14, "time"]
    frame.to_csv(path, index=False)
    with pytest.raises(ForecastError, match=r"series 'b' row 15: duplicate timestamp"):
        load_series(panel_config(path).data)
    frame = panel_frame({"a": 10, "b": 10})
    frame.loc[3, "region"] = "east"
    frame.to_csv(path, index=False)
    with pytest.raises(ForecastError, match=r"column 'region' row 3: static covariate changes within series 'a'"):
        load_series(panel_config(path, covariates={"static": ["region"]}).data)


def test_ids_that_look_like_numbers_are_read_as_written(tmp_path):
    frame = panel_frame(TEXT_IDS)
    frame.to_csv(tmp_path / "panel.csv", index=False)
    frame.to_parquet(tmp_path / "panel.parquet", index=False)
    for path in (tmp_path / "panel.csv", tmp_path / "panel.parquet"):
        series = load_series(panel_config(path).data)  # the series overlap in time: no duplicate stamp
        assert series.ids == list(TEXT_IDS) and list(np.diff(series.starts)) == list(TEXT_IDS.values())
        assert series_rows(path, "store")[0] == list(TEXT_IDS)  # the streamed read lists them alike
        assert load_series(panel_config(path).data, only=["01", "1.0"]).ids == ["01", "1.0"]
    frame.loc[frame.index[frame["store"] == "01"][3], "time"] = frame["time"][frame["store"] == "01"].iloc[2]
    frame.to_csv(tmp_path / "panel.csv", index=False)
    with pytest.raises(ForecastError, match=r"series '01' row 47: duplicate timestamp"):
        load_series(panel_config(tmp_path / "panel.csv").data)


def test_parquet_ids_stored_as_numbers_read_as_the_text_pandas_writes(tmp_path):
    frame = panel_frame({"7": 20, "-3": 20, "10": 20})
    frame.assign(store=frame["store"].astype("int64")).to_parquet(tmp_path / "int.parquet", index=False)
    assert load_series(panel_config(tmp_path / "int.parquet").data).ids == ["7", "-3", "10"]
    assert series_rows(tmp_path / "int.parquet", "store")[0] == ["7", "-3", "10"]
    only = load_series(panel_config(tmp_path / "int.parquet").data, only=["10", "007", "7.0"])
    assert only.ids == ["10"]  # 007 and 7.0 are not how 7 prints
    leading = panel_frame({"007": 20, "010": 20})  # a directory per id: pyarrow would read store=007 as 7
    leading.to_parquet(tmp_path / "hive", partition_cols=["store"])
    assert load_series(panel_config(tmp_path / "hive").data).ids == ["007", "010"]
    assert series_rows(tmp_path / "hive", "store")[0] == ["007", "010"]
    assert load_series(panel_config(tmp_path / "hive").data, only=["010"]).ids == ["010"]
    frame.assign(store=frame["store"].astype(float)).to_parquet(tmp_path / "float.parquet", index=False)
    for read in (lambda p: load_series(panel_config(p).data), lambda p: series_rows(p, "store")):
        with pytest.raises(
            ForecastError, match=r"float.parquet: data.id_column 'store' holds double; ids must be text"
        ):
            read(tmp_path / "float.parquet")


def test_split_scalers_and_scores_keep_text_ids(text_ids_run):
    run, _ = text_ids_run
    assert json.loads((run.path / "scaler.json").read_text())["per_series"]["ids"] == list(TEXT_IDS)
    per_series = pd.read_csv(run.path / "per_series.csv", dtype={"store": str})
    assert list(per_series["store"]) == list(TEXT_IDS) and (per_series["windows"] == 1).all()  # 4 test rows each
    assert json.loads((run.path / "metrics.json").read_text())["series"] == len(TEXT_IDS)


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zeros=st.lists(st.from_regex(r"0[0-9]{0,3}", fullmatch=True), min_size=1, max_size=2, unique=True))
def test_ids_of_digits_round_trip_through_train_and_predict(zeros, tmp_path_factory):
    ids = ["1", *zeros]  # leading zeros: pandas would read 01 and 1 as one series
    tmp = tmp_path_factory.mktemp("ids")
    panel_frame(dict.fromkeys(ids, 30)).to_csv(tmp / "panel.csv", index=False)
    config = panel_config(tmp / "panel.csv", split={"val_last": 4, "test_last": 4})
    run = forecast.train(config.model_copy(update={"training": cfg.Training(epochs=1, batch_size=64)}), tmp / "run")
    forecast.api.write_predictions(run, tmp / "out.csv")
    assert list(pd.read_csv(tmp / "out.csv", dtype=str)["store"].drop_duplicates()) == ids


@pytest.mark.slow  # loads a Keras model
def test_model_with_every_extra_input_counts_and_saves(tmp_path):
    import keras

    spec = WindowSpec(12, 1, 1, 4)
    extras = Extras(future=[1, 3], static=1, categories=[3], normalized=2)
    parallel = cfg.Model(base="none", segment_len=4, decoder="parallel", instance_norm="last")
    for model in (cfg.Model(base="none"), parallel):  # base: auto is resolved with data; these build directly
        network = build(model, spec, 4, [0], extras)
        assert network.count_params() == count_parameters(model, spec, 4, 1, extras)
        network.save(tmp_path / "m.keras")
        loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
        batch = {
            "window": np.random.default_rng(0).normal(size=(2, 12, 4)).astype("float32"),
            "future": np.ones((2, 4, 2), "float32"),
            "static": np.ones((2, 1), "float32"),
            "categories": np.array([[1], [2]], "int32"),
        }
        np.testing.assert_allclose(loaded.predict(batch, verbose=0), network.predict(batch, verbose=0), rtol=1e-5)


def test_smape_and_mase_match_hand_computed_values():
    true = np.array([[[100.0], [200.0]]])  # one window, horizon 2, one target
    pred = np.array([[[110.0], [150.0]]])
    assert smape_terms(np.array([0.0]), np.array([0.0]))[0] == 0
    expected_smape = (200 * 10 / 210 + 200 * 50 / 350) / 2
    result = scores(true, pred, scale=np.array([[20.0]]))
    assert result.smape == pytest.approx(expected_smape)
    assert result.mase == pytest.approx(((10 + 50) / 2) / 20)


def test_mape_is_judged_per_series_and_averaged_over_those_that_have_one():
    # one window of 2 steps per series: a (level ~150), b (small, but far from zero on its own
    # scale), c (an actual near zero beside its own 10: no MAPE), in windows out of series order
    true = np.array([[[100.0], [200.0]], [[0.001], [10.0]], [[0.5], [1.0]]])
    pred = np.array([[[110.0], [150.0]], [[1.0], [10.0]], [[0.75], [1.0]]])
    series = np.array([0, 2, 1])
    a, b = (10 / 100 + 50 / 200) / 2, (0.25 / 0.5 + 0) / 2
    assert scores(true, pred, series=series).mape == pytest.approx((a + b) / 2)
    assert scores(true, pred).mape is None  # judged as one series, b's and c's small actuals sink it
    assert scores(true[:1], pred[:1]).mape == pytest.approx(a)  # one series: its own MAPE
    assert scores(true[1:2], pred[1:2], series=np.array([0])).mape is None  # no series has one


def test_per_series_scores_are_float32_and_written_shortest(panel_csv, tmp_path):
    from forecast.metrics import per_series

    prepared = prepare(panel_config(panel_csv))
    origins = prepared.origins["test"]
    naive = prepared.spec.last_values(prepared.y, origins)
    table = per_series(prepared, "test", naive, "store")
    scored = [c for c in table.columns if c not in ("store", "windows")]
    assert (table[scored].dtypes == np.float32).all()
    table.to_csv(tmp_path / "per_series.csv", index=False)
    written = pd.read_csv(tmp_path / "per_series.csv", dtype=str)
    cells = [text for column in scored for text in written[column].dropna()]
    assert cells and all(text == str(np.float32(text)) for text in cells)  # e.g. 1.2345678, never 1.234567812345
    np.testing.assert_array_equal(table["model_mae"], table["naive_mae"])  # the model here is the naive forecast


def test_mase_scale_is_the_in_sample_seasonal_naive_mae(panel_csv):
    prepared = prepare(panel_config(panel_csv).model_copy(update={"metrics": cfg.MetricsSection(seasonality=24)}))
    series = prepared.series
    for i in range(3):
        values = series.targets[series.starts[i] : prepared.ends[i, 1], 0].astype(np.float64)
        assert prepared.mase_scale["test"][i, 0] == pytest.approx(np.abs(values[24:] - values[:-24]).mean())
        train = series.targets[series.starts[i] : prepared.ends[i, 0], 0].astype(np.float64)
        assert prepared.mase_scale["val"][i, 0] == pytest.approx(np.abs(train[24:] - train[:-24]).mean())


def test_owa_of_the_bench_uses_m4_naive2():
    from bench.m4 import owa

    assert owa(18.383, 2.395) == pytest.approx(1.0)
    assert owa(9.328, 0.893) == pytest.approx(0.440, abs=5e-4)  # Smyl's published OWA


@pytest.mark.slow
def test_a_panel_trains_evaluates_and_predicts_past_each_series_end(panel_csv, tmp_path, caplog):
    config = panel_config(panel_csv, covariates={"future": ["promo"], "static": ["region", "size"]},
                          calendar=["hour"], frequency="h")  # fmt: skip
    run = forecast.train(config, tmp_path / "run")
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert metrics["series"] == 4 and metrics["series_skipped"] == 1
    assert metrics["test"]["model"]["smape"] > 0 and metrics["test"]["model"]["mase"] > 0
    per_target = metrics["test"]["per_target"]["sales"]  # one target: its scores are the split's
    assert per_target["model_smape"] == pytest.approx(metrics["test"]["model"]["smape"])
    assert per_target["model_mase"] == pytest.approx(metrics["test"]["model"]["mase"])
    per_series = pd.read_csv(run.path / "per_series.csv")
    assert list(per_series["store"]) == ["a", "b", "c"] and (per_series["windows"] == 5).all()
    evaluated = forecast.evaluate(run)
    assert evaluated.test.model.mae == pytest.approx(metrics["test"]["model"]["mae"], rel=1e-6)
    with pytest.raises(ForecastError, match=r"series 'a': future covariate 'promo' needs values in the 4 rows"):
        forecast.predict(run)
    frame = pd.read_csv(panel_csv, parse_dates=["time"])
    future = []
    for _, group in frame.groupby("store"):
        last = group.sort_values("time").iloc[-1]
        for k in range(1, 5):
            future.append({**last.to_dict(), "time": last["time"] + pd.Timedelta(hours=k), "sales": np.nan,
                           "visits": np.nan, "promo": 1.0})  # fmt: skip
    path = tmp_path / "with_future.csv"
    pd.concat([frame, pd.DataFrame(future)]).to_csv(path, index=False)
    out = forecast.predict(run, path)
    assert list(out.columns) == ["store", "origin", "target_time", "step", "column", "prediction"]
    assert sorted(out["store"].unique()) == ["a", "b", "c"]  # d is too short for a window
    last_a = frame.query("store == 'a'")["time"].max()
    assert list(out.query("store == 'a'")["target_time"]) == [last_a + pd.Timedelta(hours=k) for k in range(1, 5)]
    unseen = pd.read_csv(path).replace({"store": {"a": "z"}})
    unseen.to_csv(path, index=False)
    assert run.config.model.instance_norm == "last"  # scale-free: z is scaled by its own rows, with a note
    with caplog.at_level("INFO", logger="forecast"):
        out = forecast.predict(run, path)
    assert sorted(out["store"].unique()) == ["b", "c", "z"]
    assert "1 series the run never saw (first: 'z') were scaled by their own rows" in caplog.text
    series = load_series(config.data, path, future=True)
    with pytest.raises(ForecastError, match=r"new.csv: series 'z' was not in the run's training data"):
        run.load_scalers(run.config).for_series(series, run.config.scaler, scale_free=False, source="new.csv")


def test_future_rows_are_left_out_of_training_and_kept_in_order_for_predict(tmp_path):
    frame = panel_frame({"a": 20, "b": 20})
    future = frame.groupby("store").tail(3).assign(sales=np.nan, time=lambda f: f["time"] + pd.Timedelta(hours=3))
    frame.loc[5, "visits"] = np.nan  # a gap in a's history, dropped with data.fill=drop
    path = tmp_path / "with_future.csv"
    pd.concat([frame, future]).to_csv(path, index=False)
    config = panel_config(path, features=["sales", "visits"], fill="drop")
    training = load_series(config.data)
    assert list(np.diff(training.starts)) == [19, 20]
    assert any(
        "6 rows after the last target value of their series (future rows) are not used" in n for n in training.notes
    )
    predicting = load_series(config.data, future=True)
    assert list(np.diff(predicting.starts)) == [22, 23] and list(predicting.ends) == [19, 42]
    for i in range(2):
        rows = slice(predicting.starts[i], predicting.starts[i + 1])
        assert predicting.times[rows].is_monotonic_increasing
        assert np.isnan(predicting.targets[predicting.ends[i] : predicting.starts[i + 1]]).all()


def test_mean_scaling_divides_each_series_by_its_training_level(panel_csv):
    prepared = prepare(panel_config(panel_csv).model_copy(update={"scaler": cfg.Scaler(type="mean", per_series=True)}))
    series = prepared.series
    for i in range(3):
        train = series.targets[series.starts[i] : prepared.ends[i, 0], 0].astype(np.float64)
        rows = slice(series.starts[i], series.starts[i + 1])
        np.testing.assert_allclose(prepared.y[rows, 0], series.targets[rows, 0] / np.abs(train).mean(), rtol=1e-5)
    with pytest.raises(ForecastError, match=r"scaler\.type=mean scales each series by its own level"):
        cfg.validate({"scaler": {"type": "mean"}})


def test_hourly_grid_on_an_aware_clock_survives_dst(tmp_path):
    utc = pd.date_range("2024-10-26 20:00", "2024-10-27 06:00", freq="h", tz="UTC")  # Berlin's autumn change
    frame = pd.DataFrame(
        {"store": "a", "time": utc.tz_convert("Europe/Berlin"), "sales": np.arange(len(utc), dtype=float)}
    )
    frame = frame.drop(index=[3, 7])  # two hours missing, one on each side of the change
    path = tmp_path / "dst.parquet"  # Parquet keeps the time zone (a CSV holds mixed offsets)
    frame.to_parquet(path, index=False)
    config = panel_config(path, frequency="h", fill="interpolate", split={"train": 0.5, "val": 0.25, "test": 0.25})
    series = load_series(config.data)
    assert len(series) == len(utc) and any("inserted 2 missing time stamps" in n for n in series.notes)
    assert list(series.times.tz_convert("UTC")) == list(utc)
    np.testing.assert_allclose(series.targets[:, 0], np.arange(len(utc)))  # values on their own hours


def test_series_without_training_rows_have_no_scaler_at_predict(panel_csv):
    config = panel_config(panel_csv).model_copy(
        update={"model": cfg.Model(layers=[cfg.Layer(units=4)], instance_norm="none")}
    )
    prepared = prepare(config)  # d: 6 rows, none of them training rows
    assert list(prepared.scalers.fitted) == [True, True, True, False]
    state = forecast.scalers.from_state(forecast.scalers.to_state(prepared.scalers), config.scaler)
    assert state.to_dict()["per_series"]["unfitted"] == ["d"]
    longer = load_series(config.data)
    with pytest.raises(ForecastError, match=r"series 'd' was not in the run's training data"):
        state.for_series(longer, config.scaler, scale_free=False, source="new.csv")
    own, notes = state.for_series(longer, config.scaler, scale_free=True, source="new.csv")
    d = slice(longer.starts[3], longer.starts[4])
    assert own.center[3, 0] == pytest.approx(longer.features[d, 0].mean(), rel=1e-5) and notes


def test_minmax_of_a_constant_training_series_matches_scikit_learn(tmp_path):
    frame = panel_frame({"a": 40, "b": 40})
    frame.loc[:20, "sales"] = 5.0  # a's training rows are constant
    path = tmp_path / "flat.csv"
    frame.to_csv(path, index=False)
    scaler = cfg.Scaler(type="minmax", per_series=True, feature_range=[-1.0, 1.0])
    prepared = prepare(
        panel_config(path, split={"train": 0.5, "val": 0.25, "test": 0.25}).model_copy(update={"scaler": scaler})
    )
    series = prepared.series
    reference = MinMaxScaler(feature_range=(-1, 1)).fit(series.features[:20].astype(np.float64))
    np.testing.assert_allclose(prepared.x[:40], reference.transform(series.features[:40]), rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # trains a Keras model
def test_variable_length_predict_reads_only_the_history(tmp_path):
    window = {"lookback": 24, "step": 1, "delay": 1, "horizon": 4, "variable_length": True}
    raw = tiny_config(model={"cell": "naive", "base": "none"}, window=window)
    raw["tracking"] = {"tensorboard": False}
    run = forecast.train(cfg.validate(raw), tmp_path / "run")
    short = tmp_path / "short.csv"
    pd.read_csv(ETTH1, nrows=6).to_csv(short, index=False)  # shorter than the lookback
    out = forecast.predict(run, short)
    last = pd.read_csv(ETTH1, nrows=6).iloc[-1]
    assert len(out) == 4 * 7 and np.isfinite(out["prediction"]).all()
    ot = out[out["column"] == "OT"]["prediction"].to_numpy()
    np.testing.assert_allclose(ot, last["OT"], rtol=1e-5)  # repeat-last of the file's own last row


def test_per_target_breakdown_has_smape_and_mase():
    from forecast.metrics import breakdown

    true = np.array([[[100.0, 1.0], [200.0, 1.0]]])  # one window, horizon 2, two targets
    model = np.array([[[110.0, 2.0], [150.0, 1.0]]])
    naive = np.array([[[100.0, 1.0], [100.0, 1.0]]])
    scaled = (true, model, naive)
    ets = np.array([[[104.0, 1.0], [196.0, 1.0]]])  # a statistical baseline, scored per target too
    per_target, _ = breakdown(true, model, naive, ["a", "b"], scaled, np.array([[20.0, np.nan]]), {"ets": ets})
    assert (per_target["a"]["ets"], per_target["a"]["ets_mase"]) == pytest.approx((4.0, 4.0 / 20))
    assert per_target["a"]["model"] == pytest.approx(30.0)
    assert per_target["a"]["model_smape"] == pytest.approx((200 * 10 / 210 + 200 * 50 / 350) / 2)
    assert per_target["a"]["model_mase"] == pytest.approx(30.0 / 20)
    assert per_target["a"]["naive_mase"] == pytest.approx(50.0 / 20)
    assert "model_mase" not in per_target["b"]  # no in-sample scale: no MASE, never 0


def cli(*args):
    """`forecast ARGS` in-process, the "forecast" logger restored after it (the CLI points the logger
    at CliRunner's stderr, which is closed after the call)."""
    from typer.testing import CliRunner

    from forecast.cli import app

    log = logging.getLogger("forecast")
    saved = log.handlers[:], log.level, log.propagate
    try:
        return CliRunner().invoke(app, [str(a) for a in args])
    finally:
        log.handlers[:], log.level, log.propagate = saved


@pytest.fixture(scope="module")
def covariate_panel(tmp_path_factory):
    """A panel run with a future covariate (promo), statics and calendar features, trained on a CSV
    whose stamps have no seconds ('2021-03-01 05:00')."""
    tmp = tmp_path_factory.mktemp("template")
    frame = panel_frame()
    frame["time"] = frame["time"].dt.strftime("%Y-%m-%d %H:%M")
    frame.to_csv(tmp / "panel.csv", index=False)
    config = panel_config(
        tmp / "panel.csv", covariates={"future": ["promo"], "static": ["region", "size"]}, calendar=["hour"]
    )
    return forecast.train(config, tmp / "run"), frame


def test_a_template_lists_the_future_rows_each_series_needs(covariate_panel, tmp_path):
    run, frame = covariate_panel
    result = cli("predict", run.path, "--template", tmp_path / "template.csv")
    assert result.exit_code == 0, result.output
    template = pd.read_csv(tmp_path / "template.csv", dtype={"time": str})
    assert list(template.columns) == list(frame.columns)  # the file's columns, in its order: appendable
    assert list(template["store"]) == [s for s in LENGTHS for _ in range(4)]  # delay + horizon - 1 rows each
    last = pd.to_datetime(frame.groupby("store", sort=False)["time"].max())
    stamps = [(t + pd.Timedelta(hours=k)).strftime("%Y-%m-%d %H:%M") for t in last for k in range(1, 5)]
    assert list(template["time"]) == stamps  # the series' frequency, written as the input writes stamps
    statics = frame.groupby("store", sort=False)[["region", "size"]].first()
    expected = statics.loc[template["store"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(template[["region", "size"]], expected, check_dtype=False)  # size 1.0 written 1
    assert template[["sales", "promo", "visits"]].isna().all().all()  # targets and covariates to fill in
    parquet = forecast.template(run, output=tmp_path / "template.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "template.parquet"), parquet)
    assert list(parquet["time"].astype(str)) == [f"{s}:00" for s in stamps]  # typed stamps there
    frame.to_parquet(tmp_path / "panel.parquet", index=False)
    pd.testing.assert_frame_equal(forecast.template(run, tmp_path / "panel.parquet"), parquet)  # read from Parquet

    pd.concat([frame, template]).to_csv(tmp_path / "unfilled.csv", index=False)
    with pytest.raises(ForecastError, match="series 'a': future covariate 'promo' needs values in the 4 rows"):
        forecast.predict(run, tmp_path / "unfilled.csv")
    template["promo"] = [1.0, 0.0, 0.0, 1.0] * len(LENGTHS)  # filled in, then appended to the history
    pd.concat([frame, template]).to_csv(tmp_path / "filled.csv", index=False)
    out = forecast.predict(run, tmp_path / "filled.csv")
    assert sorted(out["store"].unique()) == ["a", "b", "c"]  # d: too short for a window
    assert list(out["target_time"].dt.strftime("%Y-%m-%d %H:%M")) == stamps[:12]


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("t.npy", [], "--template: {path}: rows to fill in go to a .csv or .parquet file"),
        ("t.txt", [], "--template: {path}: unknown extension '.txt'"),
        ("t.csv", ["--output", "p.csv"], "--template writes rows to fill in, not forecasts: give it without --output"),
        ("t.csv", ["--all-origins"], "--template writes rows to fill in, not forecasts: give it without --all-origins"),
        ("t.csv", ["--series", "a"], "--template writes rows to fill in, not forecasts: give it without --series"),
    ],
)
def test_a_bad_template_request_is_refused_before_any_work(tiny_run, tmp_path, name, options, message):
    path = tmp_path / name
    result = cli("predict", tiny_run.path, "--template", path, *options)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"forecast: error: {message.format(path=path)}"), lines
    assert list(tmp_path.iterdir()) == []


def test_a_run_without_future_covariates_still_gets_the_stamps_it_forecasts(tiny_run, recent, caplog):
    with caplog.at_level("INFO", logger="forecast"):
        rows = forecast.template(tiny_run, recent)
    assert "no future covariates: predict needs no future rows" in caplog.text
    assert list(rows.columns) == list(pd.read_csv(recent, nrows=0).columns)
    assert list(rows["date"]) == list(pd.date_range("2016-07-13 12:00", periods=4, freq="h"))
    assert rows.drop(columns="date").isna().all().all()
