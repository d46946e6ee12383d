"""Export for serving (issue 19): SavedModel and ONNX with the scalers inside, equal to `forecast predict`."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import LENGTHS, check_parity, panel_config, panel_frame, run_cli, tiny_config

import forecast
from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.export import run_exported
from forecast.signature import stamps


@pytest.mark.slow  # trains a Keras model
@pytest.mark.parametrize("fmt", ["saved_model", "onnx"])
def test_conformal_run_exports_with_parity_and_signature(fmt, tmp_path):
    config = cfg.Config.model_validate(tiny_config(intervals={"method": "conformal"}, window={"step": 1}))
    run = forecast.train(config, tmp_path / "run")
    signature = check_parity(run, tmp_path, fmt)
    path = tmp_path / ("model.signature.json" if fmt == "onnx" else "saved/signature.json")
    assert json.loads(path.read_text()) == json.loads(json.dumps(signature))
    assert signature["format"] == fmt and signature["forecast_version"] == forecast.__version__
    window = signature["inputs"][0]
    assert window["name"] == "window" and window["shape"] == [None, 24, 7]
    assert window["columns"] == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    names = [o["name"] for o in signature["outputs"]]
    assert names == ["forecast", "bounds"]
    assert signature["outputs"][1]["quantiles"] == [0.025, 0.1, 0.9, 0.975]
    assert signature["window"] == {"lookback": 24, "step": 1, "timesteps": 24, "delay": 1, "horizon": 4}


@pytest.mark.slow  # trains a Keras model
def test_channel_independent_quantile_model_exports_to_onnx(tmp_path):
    # RevIN's scaling too: each quantile's forecast is multiplied back by its target's window std
    config = cfg.Config.model_validate(
        tiny_config(
            window={"step": 1},
            model={
                "layers": [{"units": 8}],
                "channel_independent": True,
                "instance_norm": "mean",
                "instance_norm_std": True,
                "quantiles": [0.1, 0.9],
            },
            intervals={"method": "cqr"},
        )
    )
    run = forecast.train(config, tmp_path / "run")
    signature = check_parity(run, tmp_path, "onnx")
    assert [o["name"] for o in signature["outputs"]] == ["forecast", "quantiles", "bounds"]


@pytest.mark.slow  # trains a Keras model
def test_panel_export_scales_each_series_by_its_own_scaler(tmp_path):
    path = tmp_path / "panel.csv"
    ids = ["1", "01", "1.0", "007"]  # text, as read: pandas would make them two numbers
    panel_frame(dict(zip(ids, LENGTHS.values(), strict=True))).to_csv(path, index=False)
    run = forecast.train(panel_config(path, covariates={"past": ["visits"]}), tmp_path / "run")  # a window column
    signature = check_parity(run, tmp_path, "onnx")
    series = next(i for i in signature["inputs"] if i["name"] == "series")
    assert series["ids"] == ids == run.load_scalers(run.config).ids and signature["id_column"] == "store"
    written = json.loads((tmp_path / "model.signature.json").read_text())
    assert next(i for i in written["inputs"] if i["name"] == "series")["ids"] == ids
    assert signature["inputs"][0]["columns"] == ["sales", "visits"]


@pytest.mark.slow  # trains a Keras model
def test_step_over_one_leaves_bounds_out_and_says_why(tmp_path):
    run = forecast.train(cfg.Config.model_validate(tiny_config(intervals={"method": "conformal"})), tmp_path / "r")
    signature = check_parity(run, tmp_path, "saved_model")  # tiny_config samples every 2nd row
    assert [o["name"] for o in signature["outputs"]] == ["forecast"] and "step" in signature["bounds_left_out"]


BASES = {  # model.base (issue 33): a season of 24 rows over every 2nd row with a shared linear correction;
    # the same over the profile of two seasons; per-channel linear maps; exponential smoothing; seasonal naive
    # with a calendar profile
    "seasonal_linear": tiny_config(
        model={"layers": [{"units": 8}], "base": "seasonal_linear", "instance_norm": "mean"}
    ),
    "profile": tiny_config(
        model={"layers": [{"units": 8}], "base": "seasonal_linear", "base_seasons": 2}, window={"lookback": 48}
    ),
    "linear": tiny_config(
        model={"layers": [{"units": 8}], "base": "linear", "base_shared": False, "quantiles": [0.1, 0.9]},
        window={"step": 1},
    ),
    "ets": tiny_config(model={"layers": [{"units": 8}], "base": "ets", "instance_norm": "last"}),
    "calendar": tiny_config(  # seasonal naive and a calendar profile (base_calendar), per quantile
        data={"calendar": ["hour", "day_of_week"]},
        model={"layers": [{"units": 8}], "base": "seasonal_naive", "base_calendar": 3, "quantiles": [0.1, 0.9]},
    ),
}


@pytest.fixture(scope="module")
def base_runs(tmp_path_factory):
    """One trained run per base, trained when a test first asks for it."""
    runs = {}

    def get(base: str):
        if base not in runs:
            config = cfg.Config.model_validate(BASES[base])
            runs[base] = forecast.train(config, tmp_path_factory.mktemp(base) / "run")
        return runs[base]

    return get


@pytest.mark.parametrize("fmt", ["saved_model", "onnx"])
@pytest.mark.parametrize("base", BASES)
def test_a_model_with_a_base_exports_with_parity(base_runs, base, fmt, tmp_path):
    run = base_runs(base)
    import keras

    learned = {"linear": "base", "calendar": "calendar_base", "ets": "base"}.get(base, "linear_base")
    weights = keras.saving.load_model(run.model_file).get_layer(learned).get_weights()[0]
    start = np.log((2 / 13) / (1 - 2 / 13)) if base == "ets" else 0  # ets: alpha's logit, a season of 12 timesteps
    assert np.abs(weights - start).max() > 0  # trained: the learned base moved from where it started
    check_parity(run, tmp_path, fmt)


@pytest.mark.slow  # trains a Keras model
def test_bad_exports_are_refused_before_anything_is_written(tmp_path):
    run = forecast.train(cfg.Config.model_validate(tiny_config()), tmp_path / "run")
    with pytest.raises(ForecastError, match="--format"):
        forecast.api.export(run, "tflite", tmp_path / "m")
    (tmp_path / "taken.onnx").write_text("")
    with pytest.raises(ForecastError, match="exists"):
        forecast.api.export(run, "onnx", tmp_path / "taken.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "taken.onnx"]


@pytest.mark.slow
def test_export_from_the_cli(write_config, tmp_path):
    config = write_config(tiny_config())
    assert run_cli("train", config, "--run-dir", tmp_path / "run", "--quiet").returncode == 0
    done = run_cli("export", tmp_path / "run", "--format", "onnx", "--output", tmp_path / "m.onnx")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outputs"][0]["name"] == "forecast"
    assert "Warning" not in done.stderr  # Keras's ONNX module's numpy FutureWarning stays off stderr
    if Path("/proc/self").is_dir():  # a folder no file can be created in, even by root
        lost = run_cli("export", tmp_path / "run", "--format", "onnx", "--output", "/proc/m.onnx")
        assert lost.returncode == 2
        assert len(lost.stderr.splitlines()) == 1 and lost.stderr.startswith("forecast: error: /proc/m.onnx: ")
    bad = run_cli("export", tmp_path / "run", "--format", "pickle", "--output", tmp_path / "x")
    assert bad.returncode == 2 and "--format" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow  # trains a Keras model
def test_series_without_a_scaler_are_listed_and_come_out_nan(tmp_path):
    path = tmp_path / "panel.csv"
    panel_frame({"a": 60, "b": 70, "c": 14}).to_csv(path, index=False)  # c has no training rows
    run = forecast.train(panel_config(path), tmp_path / "run")
    signature = forecast.api.export(run, "saved_model", tmp_path / "saved")
    series = next(i for i in signature["inputs"] if i["name"] == "series")
    assert series["unfitted"] == ["c"]
    window = np.ones((1, 12, 1), "float32")
    out = run_exported(tmp_path / "saved", "saved_model", {"window": window, "series": np.array([2], "int32")})
    assert np.isnan(out["forecast"]).all()
    out = run_exported(tmp_path / "saved", "saved_model", {"window": window, "series": np.array([0], "int32")})
    assert np.isfinite(out["forecast"]).all()


CALENDAR = ["hour", "day_of_week", "day_of_month", "month", "day_of_year", "week_of_year"]


@pytest.fixture(scope="module")
def panel_with_extras(tmp_path_factory):
    """A panel run that reads every extra input: a future covariate (promo), all six calendar
    features, a numeric (size) and a categorical (region) static covariate, with intervals; and
    a file with each series' next 4 rows (promo known, sales empty) for predict."""
    root = tmp_path_factory.mktemp("extras")
    frame = panel_frame()
    frame.to_csv(root / "panel.csv", index=False)
    later = []
    for _, group in frame.groupby("store"):
        last = group.iloc[-1]
        for k in range(1, 5):
            later.append({**last.to_dict(), "time": last["time"] + pd.Timedelta(hours=k), "sales": np.nan,
                          "visits": np.nan, "promo": float(k % 2)})  # fmt: skip
    pd.concat([frame, pd.DataFrame(later)]).to_csv(root / "with_future.csv", index=False)
    config = panel_config(
        root / "panel.csv", covariates={"future": ["promo"], "static": ["region", "size"]}, calendar=CALENDAR,
        frequency="h",
    )  # fmt: skip
    config = cfg.Config.model_validate({**config.model_dump(), "intervals": {"method": "conformal", "levels": [0.8]}})
    return forecast.train(config, root / "run"), root / "with_future.csv"


@pytest.mark.parametrize("fmt", ["saved_model", "onnx"])
def test_future_static_and_calendar_inputs_export_with_parity(panel_with_extras, fmt, tmp_path):
    run, data = panel_with_extras
    signature = check_parity(run, tmp_path, fmt, data)
    inputs = {i["name"]: i for i in signature["inputs"]}
    assert list(inputs) == ["window", "series", "window_time", "future", "future_time", "static", "categories"]
    assert inputs["window"]["columns"] == ["sales", "promo"] and inputs["window"]["shape"] == [None, 12, 2]
    assert inputs["window_time"] == {**inputs["window_time"], "dtype": "int64", "shape": [None, 12]}
    assert inputs["future_time"]["shape"] == [None, 4] and inputs["future_time"]["calendar"] == CALENDAR
    assert inputs["window_time"]["calendar_columns"][:3] == ["hour_sin", "hour_cos", "day_of_week_sin"]
    assert "1970-01-01T00:00" in inputs["window_time"]["units"]
    assert inputs["future"] == {**inputs["future"], "shape": [None, 4, 1], "columns": ["promo"], "dtype": "float32"}
    assert inputs["static"]["columns"] == ["size"] and inputs["static"]["shape"] == [None, 1]
    categories = inputs["categories"]
    assert categories["columns"] == ["region"] and categories["vocabularies"] == {"region": ["north", "south"]}
    assert categories["dtype"] == "int32" and "0 is a value the run never saw" in categories["meaning"]
    assert [o["name"] for o in signature["outputs"]] == ["forecast", "bounds"]


@pytest.mark.slow  # over 0.3 s
def test_calendar_layer_equals_forecast_calendar(tmp_path):
    import keras
    import onnxruntime as ort

    from forecast.calendar import features
    from forecast.layers import Calendar

    edges = pd.DatetimeIndex(
        ["2020-12-31 23:59:59", "2021-01-01", "2021-01-03 12:30", "2021-01-04", "2024-12-29 23:00",
         "2024-12-30", "2026-01-01", "2027-01-03", "2016-02-29 18:45", "2100-02-28", "2100-03-01", "2000-02-29",
         "2000-12-31", "1969-12-31 23:30", "1970-01-01", "1900-03-01 07:07", "1960-01-03"]
    )  # fmt: skip
    rng = np.random.default_rng(0)
    spread = pd.Timestamp("1955-01-01") + pd.to_timedelta(rng.integers(0, 80 * 366 * 86400, 5000), unit="s")
    times = edges.append(pd.DatetimeIndex(spread))
    expected = features(times, CALENDAR)
    seconds = stamps(times)[None]
    layer = Calendar(CALENDAR)
    assert np.abs(np.asarray(layer(seconds))[0] - expected).max() <= 1e-6
    zoned = pd.date_range("2021-03-27", periods=60, freq="h", tz="Europe/Berlin")  # across a clock change
    assert np.abs(np.asarray(layer(stamps(zoned)[None]))[0] - features(zoned, CALENDAR)).max() <= 1e-6
    assert stamps(pd.DatetimeIndex(["1969-12-31 23:59:59.5"]))[0] == -1  # floor, not towards zero

    stamp = keras.Input((None,), dtype="int64", name="stamps")
    model = keras.Model({"stamps": stamp}, {"calendar": Calendar(CALENDAR)(stamp)})
    model({"stamps": seconds[:, :2]})
    model.export(str(tmp_path / "calendar.onnx"), format="onnx", verbose=False)
    onnx = ort.InferenceSession(str(tmp_path / "calendar.onnx")).run(None, {"stamps": seconds})[0]
    assert np.abs(onnx[0] - expected).max() <= 1e-6


@pytest.mark.slow  # trains a Keras model
def test_calendar_only_run_gets_the_stamps_predict_appends_past_the_end(tmp_path):
    path = tmp_path / "panel.csv"
    panel_frame().to_csv(path, index=False)  # no future rows: predict appends them, stamped on the hourly grid
    run = forecast.train(panel_config(path, calendar=["day_of_week", "hour"]), tmp_path / "run")
    signature = check_parity(run, tmp_path, "onnx")
    assert [i["name"] for i in signature["inputs"]] == ["window", "series", "window_time", "future_time"]
    assert signature["inputs"][2]["calendar_columns"] == ["day_of_week_sin", "day_of_week_cos", "hour_sin", "hour_cos"]
