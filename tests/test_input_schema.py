"""data.InputSchema: a run reads new data by column name, and never trusts what it reads back from its own directory."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ETTH1, tiny_config

import forecast
from forecast.errors import Error, ForecastError
from forecast.inference import finite


def _variant(tmp_path, recent, name, change):
    path = tmp_path / f"{name}.csv"
    change(pd.read_csv(recent)).to_csv(path, index=False)
    return path


def test_the_run_records_its_columns(run):
    schema = json.loads(run.schema_file.read_text())
    names = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    dtypes = dict.fromkeys(names, "float64")
    assert schema == {
        "features": names,
        "targets": names,
        "time_column": "date",
        "listed": False,
        "frequency": "h",
        "dtypes": dtypes,
    }


def test_reordered_columns_give_the_same_forecasts(run, recent, tmp_path):
    reordered = _variant(tmp_path, recent, "reordered", lambda f: f[["date", *reversed(f.columns[1:])]])
    expected, got = forecast.predict(run, recent), forecast.predict(run, reordered)
    pd.testing.assert_frame_equal(expected, got)
    # the metrics too: evaluate matches by name (the same rows in another order are the same data)
    full = _variant(tmp_path, ETTH1, "full", lambda f: f[["date", *reversed(f.columns[1:])]].iloc[:1000])
    assert forecast.evaluate(run, full).test.model.mae == pytest.approx(run.metrics.test.model.mae, rel=1e-6)


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("missing", lambda f: f.drop(columns=["OT"]), "column 'OT' is missing"),
        ("renamed", lambda f: f.rename(columns={"OT": "ot"}), "column 'OT' is missing"),
        ("extra", lambda f: f.assign(load=1.0), "column 'load' was not in the training data"),
    ],
)
def test_missing_renamed_and_extra_columns_are_named(run, recent, tmp_path, name, change, message):
    path = _variant(tmp_path, recent, name, change)
    for call in (lambda: forecast.predict(run, path), lambda: forecast.evaluate(run, path)):
        with pytest.raises(ForecastError, match=message) as caught:
            call()
        assert caught.value.exit_code == 2 and f"{name}.csv" in str(caught.value)


@pytest.mark.slow  # trains in-process for a few seconds
def test_extra_columns_are_fine_when_the_config_lists_its_features(tmp_path, recent):
    config = forecast.config.validate(tiny_config(data={"features": ["HUFL", "OT"]}, training={"epochs": 1}))
    listed = forecast.train(config, run_dir=tmp_path / "listed")
    extra = _variant(tmp_path, recent, "extra", lambda f: f.assign(load=1.0)[["load", *f.columns]])
    pd.testing.assert_frame_equal(forecast.predict(listed, recent), forecast.predict(listed, extra))


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda s: s["features"]["mean_"].__setitem__(0, float("nan")), "mean_ is not finite at index 0"),
        (lambda s: s["targets"]["scale_"].__setitem__(2, "x"), "scale_ holds"),
        (lambda s: s["features"].__setitem__("mean_", [0.0, 1.0]), "features.mean_ has 2 values for 7 columns"),
    ],
)
def test_a_tampered_scaler_file_is_refused(run, recent, tmp_path, tamper, message):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run.path, copy)
    state = json.loads((copy / "scaler.json").read_text())
    tamper(state)
    (copy / "scaler.json").write_text(json.dumps(state))
    for call in (lambda: forecast.predict(copy, recent), lambda: forecast.evaluate(copy)):
        with pytest.raises(ForecastError, match=message):
            call()


def test_a_tampered_schema_file_is_refused(run, recent, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run.path, copy)
    (copy / "schema.json").write_text(json.dumps({"features": ["OT", "OT"], "targets": ["OT"]}))
    with pytest.raises(ForecastError, match=r"schema\.json: not a forecast schema file"):
        forecast.predict(copy, recent)


def test_non_finite_forecasts_are_never_returned(run, recent, tmp_path):
    import shutil

    import keras

    copy = tmp_path / "copy"
    shutil.copytree(run.path, copy)
    model = keras.saving.load_model(copy / "model.keras")
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    model.save(copy / "model.keras")
    with pytest.raises(Error, match="are not finite") as caught:
        forecast.predict(copy, recent)
    assert caught.value.exit_code == 1
    with pytest.raises(Error, match="are not finite"):
        forecast.evaluate(copy)


def test_finite_counts_what_is_not():
    values = np.array([1.0, np.nan, np.inf, 2.0])
    with pytest.raises(Error, match="2 of 4 forecasts are not finite"):
        finite(values)
    ok = np.array([1.0, 2.0])
    assert finite(ok) is ok
