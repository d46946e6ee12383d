"""The Python API in-process: one tiny run trained once (1 epoch, a few seconds) and shared by most
tests; divergence, interrupt-then-resume and a training in a worker thread train their own (a few seconds
each)."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ETTH1, ROOT, naive_expectation, tiny_config

import forecast
from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.results import Metrics
from forecast.rundir import Run

CONFIG = tiny_config(training={"epochs": 1})


@pytest.fixture
def trained(tiny_run) -> Run:
    return tiny_run


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


def test_train_returns_a_completed_run(trained):
    assert isinstance(trained, Run) and trained.status == "completed"
    assert trained.path.name == "run"
    metrics = trained.metrics
    assert isinstance(metrics, Metrics)
    assert metrics.test.windows == 197 and metrics.val.windows == 197
    # 1308 for the network (test_validate_without_training) + the seasonal_linear base model.base auto
    # chose for hourly data: a linear map of the 12 timesteps (and a bias) to the 4 horizon rows
    assert metrics.training.epochs_run == 1 and metrics.training.parameters == 1308 + (12 + 1) * 4
    assert metrics.training.base == "seasonal_linear"
    assert trained.config == forecast.Config.model_validate(CONFIG)
    for path in (trained.model_file, trained.scaler_file, trained.history_file, trained.report_file):
        assert path.is_file(), path
    assert not trained.backup.exists()  # the resume backup goes once the run completes
    assert len(pd.read_csv(trained.history_file)) == 1


def test_metrics_json_is_written_in_its_documented_layout(trained):
    raw = json.loads(trained.metrics_file.read_text())
    assert list(raw) == [
        "val",
        "test",
        "epochs_run",
        "best_epoch",
        "train_seconds",
        "samples_per_second",
        "parameters",
        "backend",
        "device",
        "replicas",
        "sequences_per_second",
        "stopped_by",
        "base",
        "base_seasons",
        "seasonality",
    ]
    assert raw["sequences_per_second"] == raw["samples_per_second"]  # one sequence per window
    assert list(raw["test"]) == ["model", "naive", "seasonal_naive", "scaled", "windows", "per_target", "per_step"]
    assert list(raw["test"]["per_target"]) == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert len(raw["test"]["per_step"]["model"]) == 4  # one MAE per horizon step
    # per-target MAEs average to the overall MAE (every target has the same number of values)
    per_target = [v["model"] for v in raw["test"]["per_target"].values()]
    assert sum(per_target) / 7 == pytest.approx(raw["test"]["model"]["mae"], rel=1e-9)
    assert raw["test"]["model"]["mape"] is None  # ETTh1's loads cross zero: no percentage error
    assert list(raw["test"]["scaled"]) == ["model", "naive", "seasonal_naive"]
    assert raw["seasonality"] == 24  # hourly stamps: a daily season
    assert Metrics.from_dict(raw).to_dict() == raw


def test_seasonal_naive_is_the_value_one_day_before(trained):
    """Targets t+1..t+4 from origin t: the values at t+1-24 .. t+4-24, from the raw CSV."""
    import numpy as np
    import pandas as pd
    from conftest import ETTH1

    values = pd.read_csv(ETTH1, nrows=1000).iloc[:, 1:].to_numpy(np.float64)
    origins = np.arange(799, 1000 - 4)
    errors = [np.abs(values[o + h] - values[o + h - 24]).mean() for o in origins for h in range(1, 5)]
    assert trained.metrics.test.seasonal_naive.mae == pytest.approx(np.mean(errors), rel=1e-6)


def test_naive_baseline_is_the_repeat_last_value(trained):
    mae, scaled = naive_expectation()  # from the raw CSV, not through forecast's windows
    assert trained.metrics.test.naive.mae == pytest.approx(mae, rel=1e-6)
    assert trained.metrics.test.scaled_naive.mae == pytest.approx(scaled, rel=1e-6)


def test_evaluate_reproduces_the_training_metrics(trained):
    again = forecast.evaluate(trained)
    assert again.training is None
    for split in ("val", "test"):
        for who in ("model", "naive", "scaled_model", "scaled_naive"):
            for key in ("mae", "rmse", "mse"):
                got = getattr(getattr(again.splits[split], who), key)
                want = getattr(getattr(trained.metrics.splits[split], who), key)
                assert got == pytest.approx(want, rel=1e-6), (split, who, key)
    only_test = forecast.evaluate(trained.path, split="test")  # a path works as well as a Run
    assert list(only_test.splits) == ["test"]
    assert only_test.test.model.mae == pytest.approx(trained.metrics.test.model.mae, rel=1e-6)
    with pytest.raises(ForecastError, match="--split: expected val or test"):
        forecast.evaluate(trained, split="train")


def test_predict_after_the_end_of_a_series(trained, tmp_path):
    data = tmp_path / "recent.csv"
    pd.read_csv(ETTH1, nrows=300).to_csv(data, index=False)
    frame = forecast.predict(trained, data)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["origin", "target_time", "step", "column", "prediction"]
    assert len(frame) == 4 * 7 and sorted(set(frame["step"])) == [1, 2, 3, 4]
    assert (frame["origin"] == pd.Timestamp("2016-07-13 11:00:00")).all()  # row 299, the last row
    assert frame.loc[frame["step"] == 4, "target_time"].iloc[0] == pd.Timestamp("2016-07-13 15:00:00")
    assert list(frame["column"][:7]) == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert frame["prediction"].notna().all()
    every = forecast.predict(trained, data, all_origins=True)
    assert every["origin"].nunique() == 300 - 22 and len(every) == (300 - 22) * 4 * 7
    # the forecast from the last row is the same whether asked for alone or among all origins
    last = every[every["origin"] == every["origin"].max()].reset_index(drop=True)
    pd.testing.assert_frame_equal(last, frame, rtol=1e-5)


def test_predict_needs_one_full_window(trained, tmp_path):
    data = tmp_path / "short.csv"
    pd.read_csv(ETTH1, nrows=22).to_csv(data, index=False)
    with pytest.raises(ForecastError, match="22 rows, fewer than the 23 one window needs"):
        forecast.predict(trained, data)


def test_compare_runs(trained, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    worse = json.loads(trained.metrics_file.read_text())
    worse["test"]["model"]["mae"] += 0.5
    (other / "metrics.json").write_text(json.dumps(worse))
    table = forecast.compare([trained, other])
    row = next(line for line in table.splitlines() if line.startswith("test.model.mae "))
    assert row.split()[-1] == "+0.5000"
    with pytest.raises(ForecastError, match="two or more"):
        forecast.compare([trained])
    with pytest.raises(ForecastError, match=r"no readable metrics\.json"):
        forecast.compare([trained, tmp_path / "nothing"])


def test_compare_names_the_config_keys_that_differ(trained, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "metrics.json").write_text(trained.metrics_file.read_text())
    config = yaml.safe_load((trained.path / "config.yaml").read_text())
    config["seed"] += 1
    config["model"]["layers"][0]["units"] += 1
    (other / "config.yaml").write_text(yaml.safe_dump(config))
    seed, units = trained.config.seed, trained.config.model.layers[0].units
    text = forecast.compare([trained, other])
    # in the config's order; a list's item by its index (not the whole list twice)
    assert (
        f"other vs {trained.path.name}: seed: {seed} -> {seed + 1}, model.layers[0].units: {units} -> {units + 1}"
        in text
    )


def test_compare_warns_when_runs_score_other_rows(trained, tmp_path, caplog):
    config = yaml.safe_load((trained.path / "config.yaml").read_text())
    for name, last in (("a", 40), ("b", 60)):  # the same data, another test split: not comparable
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(trained.metrics_file.read_text())
        config["data"]["split"] = {"val_last": last, "test_last": last}
        (tmp_path / name / "config.yaml").write_text(yaml.safe_dump(config))
    with caplog.at_level("WARNING", logger="forecast"):
        forecast.compare([tmp_path / "a", tmp_path / "b"])
    assert "b differs from a in data.split.test_last: its errors are not comparable" in caplog.text


def test_resume_refuses_a_completed_run(trained):
    with pytest.raises(ForecastError, match="is completed; there is nothing to resume"):
        forecast.resume(trained)


def test_validate_without_training(config_file):
    result = forecast.validate(config_file)
    assert result.windows == {"train": 574, "val": 197, "test": 197}  # train: 600 - 22 - 4
    assert result.borders == (600, 800, 1000) and result.rows == 17420
    assert result.input_shape == (12, 7) and result.output_shape == (4, 7)
    # 4*8*(8+7+1) + 4*8*(8+8+1) + (8+1)*28, and model.base auto's seasonal_linear map: (12+1)*4
    assert result.parameters == 1308 + (12 + 1) * 4
    assert result.target_names == result.feature_names == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert result.cudnn_blockers == [] and result.notes == []


def test_load_config_with_overrides(config_file):
    config = forecast.load_config(config_file, ["model.cell=gru", "training.epochs=3"])
    assert config.model.cell == "gru" and config.training.epochs == 3 and config.model.layers[0].units == 8
    assert forecast.validate(config).parameters != 1308
    with pytest.raises(ForecastError, match="config file not found"):
        forecast.load_config(config_file.parent / "missing.yaml")


@pytest.mark.slow  # over 0.3 s (builds a Keras model)
def test_build_model_matches_the_closed_form_count(config_file):
    model = forecast.build_model(config_file)
    assert model.input_shape == (None, 12, 7) and model.output_shape == (None, 4, 7)
    assert model.count_params() == forecast.validate(config_file).parameters


def test_train_refuses_bad_data_before_creating_the_run(tmp_path):
    config = forecast.Config.model_validate(tiny_config(window={"lookback": 700}))
    with pytest.raises(ForecastError, match="the train split") as err:
        forecast.train(config, run_dir=tmp_path / "run")
    assert err.value.exit_code == 2
    assert not (tmp_path / "run").exists()


def _refusals(config, tmp_path) -> tuple[str, str]:
    """What validate and train each refuse `config` with; train must leave no run directory."""
    with pytest.raises(ForecastError) as validated:
        forecast.validate(config)
    with pytest.raises(ForecastError) as trained:
        forecast.train(config, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    return str(validated.value), str(trained.value)


def test_validate_refuses_a_level_the_validation_windows_cannot_calibrate(tmp_path):
    config = forecast.Config.model_validate(tiny_config(intervals={"levels": [0.999]}))
    validated, trained = _refusals(config, tmp_path)
    assert validated == trained
    assert validated.startswith("intervals.levels: 0.999 needs at least 999 validation windows to calibrate")


def test_validate_refuses_a_model_too_big_for_memory(tmp_path, monkeypatch):
    from forecast import lifecycle

    monkeypatch.setattr(lifecycle, "available_memory", lambda: 2**10)  # a machine with 1 KiB free
    validated, trained = _refusals(forecast.Config.model_validate(CONFIG), tmp_path)
    assert validated == trained and validated.startswith("model: training needs about")


@pytest.mark.slow  # a subprocess, for a backend other than the one this process loaded
def test_validate_refuses_distribute_under_another_backend(config_file):
    out = subprocess.run(
        [sys.executable, "-m", "forecast", "validate", str(config_file), "--set", "training.distribute=mirrored"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "KERAS_BACKEND": "numpy"},
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "forecast: error: training.distribute=mirrored needs the TensorFlow backend (KERAS_BACKEND is numpy)"
    ]


@pytest.mark.slow  # a subprocess
def test_import_forecast_loads_neither_tensorflow_nor_keras(config_file):
    code = (
        "import sys, forecast\n"
        "forecast.validate(sys.argv[1])\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(config_file)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.slow  # trains a Keras model
def test_divergence_raises_and_keeps_the_run(tmp_path):
    frame = pd.read_csv(ETTH1, nrows=1000)
    frame.loc[500:, "OT"] = 1e30  # a poisoned stretch inside the training rows' targets
    data = tmp_path / "poisoned.csv"
    frame.to_csv(data, index=False)
    config = tiny_config(
        data={"path": str(data)}, scaler="none", training={"epochs": 2, "learning_rate": 10.0, "optimizer": "sgd"}
    )
    with pytest.raises(forecast.Diverged, match="training diverged: the loss is") as err:
        forecast.train(forecast.Config.model_validate(config), run_dir=tmp_path / "run")
    assert err.value.exit_code == 1
    run = Run(tmp_path / "run")
    assert run.status == "failed" and "diverged" in json.loads(run.status_file.read_text())["message"]
    assert run.history_file.exists() and not run.metrics_file.exists()


@pytest.mark.slow  # trains in-process for a few seconds
def test_an_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    """SIGTERM after the first epoch, then `forecast.resume`: the same history as a run never stopped."""
    import signal

    import keras

    import forecast.fit

    config = forecast.Config.model_validate(
        tiny_config(
            training={
                "epochs": 3,
                "early_stopping": {"patience": 50},
                "reduce_lr_on_plateau": {"patience": 0, "factor": 0.5},  # the rate halves at every epoch
            }
        )
    )
    handler = signal.getsignal(signal.SIGTERM)
    whole = pd.read_csv(forecast.train(config, run_dir=tmp_path / "whole").history_file)

    real = forecast.fit.callbacks

    def with_a_kill(*args):  # a real SIGTERM to this process at the end of the first epoch
        kill = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: epoch == 0 and os.kill(os.getpid(), signal.SIGTERM)
        )
        return [*real(*args), kill]

    monkeypatch.setattr(forecast.fit, "callbacks", with_a_kill)
    with pytest.raises(forecast.Interrupted) as err:
        forecast.train(config, run_dir=tmp_path / "run")
    assert err.value.exit_code == 128 + signal.SIGTERM
    assert "after 1 completed epochs; continue with: forecast train --resume" in str(err.value)
    run = Run(tmp_path / "run")
    assert run.status == "interrupted" and len(pd.read_csv(run.history_file)) == 1
    assert signal.getsignal(signal.SIGTERM) is handler  # forecast's handler is gone with the fit

    monkeypatch.setattr(forecast.fit, "callbacks", real)
    assert forecast.resume(run).status == "completed"
    history = pd.read_csv(run.history_file)
    assert history["epoch"].tolist() == [0, 1, 2] and not run.backup.exists()
    for column in ("loss", "val_loss", "learning_rate"):
        np.testing.assert_allclose(history[column], whole[column], rtol=1e-5, err_msg=column)


@pytest.mark.slow  # trains in-process for a few seconds
def test_the_api_trains_in_a_worker_thread(tmp_path):
    config = cfg.validate(tiny_config(training={"epochs": 1}))
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(forecast.train, config, tmp_path / "run").result(timeout=600)
    assert run.status == "completed"


@pytest.mark.slow  # trains in-process for a few seconds
def test_compare_shows_config_differences(run, tmp_path):
    other = forecast.train(cfg.validate(tiny_config(seed=8, training={"epochs": 1})), run_dir=tmp_path / "other")
    text = forecast.compare([run, other])
    assert "config differences:" in text and "other vs run: seed: 7 -> 8" in text
