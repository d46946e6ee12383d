"""Export for serving (issue 19): SavedModel and ONNX with the scalers inside, equal to `forecast predict`."""

import json

import numpy as np
import pytest
from conftest import run_cli, tiny_config
from test_panel import panel_config, panel_frame

import forecast
from forecast import config as cfg
from forecast.data import load_series
from forecast.errors import ForecastError
from forecast.export import run_exported
from forecast.windows import WindowSpec

PARITY = 1e-4  # absolute, original units (issue 19)


def every_window(run) -> tuple[dict, object]:
    """Raw windows at every origin of the run's data, and `forecast predict --all-origins` for them."""
    config = run.config
    spec = WindowSpec.from_config(config.window)
    series = load_series(config.data, None, run.load_schema())
    found = forecast.api.forecasts(run, all_origins=True)
    starts = series.offsets[:-1]
    origins = np.concatenate([np.arange(s + spec.history, e) for s, e in zip(starts, series.offsets[1:], strict=True)])
    inputs = {"window": spec.inputs(series.features, origins).astype("float32")}
    if series.ids is not None:
        ids = run.load_scalers(config).ids
        inputs["series"] = np.array([ids.index(series.ids[i]) for i in series.series_of(origins)], dtype="int32")
    assert len(origins) == len(found.values)
    return inputs, found


def check_parity(run, tmp_path, fmt: str) -> dict:
    output = tmp_path / ("model.onnx" if fmt == "onnx" else "saved")
    signature = forecast.api.export(run, fmt, output)
    inputs, found = every_window(run)
    outputs = run_exported(output, fmt, inputs)
    assert np.abs(outputs["forecast"] - found.values).max() < PARITY
    if "bounds" in outputs:
        for k, name in enumerate(found.bounds):
            assert np.abs(outputs["bounds"][:, :, k, :] - found.bounds[name]).max() < PARITY, name
    return signature


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


def test_channel_independent_quantile_model_exports_to_onnx(tmp_path):
    config = cfg.Config.model_validate(
        tiny_config(
            window={"step": 1},
            model={
                "layers": [{"units": 8}],
                "channel_independent": True,
                "instance_norm": "mean",
                "quantiles": [0.1, 0.9],
            },
            intervals={"method": "cqr"},
        )
    )
    run = forecast.train(config, tmp_path / "run")
    signature = check_parity(run, tmp_path, "onnx")
    assert [o["name"] for o in signature["outputs"]] == ["forecast", "quantiles", "bounds"]


def test_panel_export_scales_each_series_by_its_own_scaler(tmp_path):
    path = tmp_path / "panel.csv"
    panel_frame().to_csv(path, index=False)
    run = forecast.train(panel_config(path, covariates={"past": ["visits"]}), tmp_path / "run")  # a window column
    signature = check_parity(run, tmp_path, "onnx")
    series = next(i for i in signature["inputs"] if i["name"] == "series")
    assert series["ids"] == run.load_scalers(run.config).ids and signature["id_column"] == "store"
    assert signature["inputs"][0]["columns"] == ["sales", "visits"]


def test_step_over_one_leaves_bounds_out_and_says_why(tmp_path):
    run = forecast.train(cfg.Config.model_validate(tiny_config(intervals={"method": "conformal"})), tmp_path / "r")
    signature = check_parity(run, tmp_path, "saved_model")  # tiny_config samples every 2nd row
    assert [o["name"] for o in signature["outputs"]] == ["forecast"] and "step" in signature["bounds_left_out"]


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
    bad = run_cli("export", tmp_path / "run", "--format", "pickle", "--output", tmp_path / "x")
    assert bad.returncode == 2 and "--format" in bad.stderr and "Traceback" not in bad.stderr


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
