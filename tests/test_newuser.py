"""What a new user meets first: output targets, calendar dates, baselines, notes and clean stderr."""

import json
import os
import threading

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ETTH1, run_cli, tiny_config
from typer.testing import CliRunner

import forecast
from forecast import config as cfg
from forecast.cli import app
from forecast.data import load_series
from forecast.future import stamps_after
from forecast.gates import check
from forecast.report import table

runner = CliRunner()


# --- --output writes what it names ----------------------------------------------------------


def test_output_through_a_symlink_writes_its_target(run, recent, tmp_path):
    target, link = tmp_path / "real.csv", tmp_path / "link.csv"
    target.write_text("old")
    link.symlink_to(target)
    result = runner.invoke(app, ["predict", str(run.path), "--data", str(recent), "--output", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == target
    assert pd.read_csv(target).columns.tolist() == ["origin", "target_time", "step", "column", "prediction"]


def test_output_dash_is_stdout(run, recent, tmp_path):
    result = runner.invoke(app, ["predict", str(run.path), "--data", str(recent), "--output", "-"])
    assert result.exit_code == 0
    assert result.stdout.startswith("origin,target_time,step,column,prediction\n")
    assert not (tmp_path / "-").exists() and not os.path.exists("-")
    metrics = runner.invoke(app, ["evaluate", str(run.path), "--split", "test", "--output", "-"])
    assert json.loads(metrics.stdout)["test"]["windows"] == 197  # JSON only: no table mixed in


def test_output_to_a_fifo_is_written_not_replaced(run, recent, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []

    def read():
        with open(fifo) as stream:
            received.append(stream.read())

    reader = threading.Thread(target=read)
    reader.start()
    result = runner.invoke(app, ["predict", str(run.path), "--data", str(recent), "--output", str(fifo)])
    reader.join(timeout=60)
    assert result.exit_code == 0
    assert received and received[0].startswith("origin,target_time")
    assert not fifo.is_file() and fifo.exists()  # still the FIFO, not a regular file put in its place


def test_predict_defaults_to_the_runs_own_data(run):
    frame = forecast.predict(run)
    assert frame["origin"].iloc[0] == pd.Timestamp(pd.read_csv(ETTH1)["date"].iloc[-1])


# --- dates -----------------------------------------------------------------------------------


def test_a_numeric_year_column_is_read_as_years(tmp_path):
    path = tmp_path / "sunspots.csv"
    pd.DataFrame({"YEAR": np.arange(1700.0, 1760.0), "SUNACTIVITY": np.arange(60.0)}).to_csv(path, index=False)
    series = load_series(cfg.Data(path=str(path), time_column="YEAR"))
    assert series.times[0] == pd.Timestamp("1700-01-01") and series.feature_names == ["SUNACTIVITY"]
    after = pd.DatetimeIndex(stamps_after(series.times[-1:], 2, None, series.times)[0])
    assert list(after) == [pd.Timestamp("1760-01-01"), pd.Timestamp("1761-01-01")]


@pytest.mark.parametrize(
    ("freq", "expected"),
    [
        ("ME", ["2002-01-31", "2002-02-28"]),
        ("W-SUN", ["2000-06-18", "2000-06-25"]),
        ("YE", ["2024-12-31", "2025-12-31"]),
    ],
)
def test_future_stamps_follow_the_calendar(freq, expected):
    times = pd.date_range("2000-01-01", periods=24, freq=freq)
    after = pd.DatetimeIndex(stamps_after(times[-1:], 2, None, times)[0])
    assert [t.strftime("%Y-%m-%d") for t in after] == expected


def test_set_takes_text_that_is_not_yaml(write_config):
    path = write_config(tiny_config())
    assert cfg.load(path, ["data.time_format=%Y"]).data.time_format == "%Y"


# --- baselines and advice --------------------------------------------------------------------


def test_the_seasonal_baseline_is_in_every_table_and_gate(run):
    text = table(run.metrics)
    assert "seasonal MAE" in text.splitlines()[0] and f"{run.metrics.test.seasonal_naive.mae:.4f}" in text
    assert "seasonal naive (24 rows)" in run.report_file.read_text()
    beats = run.metrics.val.beats_seasonal_naive and run.metrics.test.beats_seasonal_naive
    if beats:
        assert check(run.metrics, ["beats-seasonal-naive"]) == ["beats-seasonal-naive"]
    else:
        with pytest.raises(forecast.GateFailed, match="beats-seasonal-naive failed"):
            check(run.metrics, ["beats-seasonal-naive"])


def test_losing_to_the_baseline_is_said_with_the_likely_fix(run):
    assert not run.metrics.test.beats_naive  # one epoch on 600 rows does not
    report = run.report_file.read_text()
    assert "**Warning:** the model loses to repeat-last on test (MAE +" in report
    assert run.config.model.instance_norm == "last"  # the default, since every target is a feature
    assert "on a stationary, mean-reverting series try model.instance_norm: none" in report


def test_the_advice_without_instance_norm_names_it():
    from forecast.report import advice

    config = cfg.validate(tiny_config(model={"instance_norm": "none"}))
    lost = forecast.Metrics.from_dict(json.loads(json.dumps(_losing_metrics())))
    assert "set model.instance_norm: last" in advice(config, lost)


def test_the_advice_to_turn_instance_norm_off_gives_a_config_that_validates():
    from forecast.report import advice

    config = cfg.validate(tiny_config(model={"instance_norm": "mean", "instance_norm_std": True}))
    lost = forecast.Metrics.from_dict(json.loads(json.dumps(_losing_metrics())))
    text = advice(config, lost)
    assert text.endswith("try model.instance_norm: none and model.instance_norm_std: false")
    cfg.validate(tiny_config(model={"instance_norm": "none", "instance_norm_std": False}))  # what it says works


def test_instance_norm_defaults_to_last_only_where_targets_are_features():
    assert cfg.validate({}).model.instance_norm == "last"
    assert cfg.validate({"data": {"features": ["HUFL"], "targets": ["HUFL"]}}).model.instance_norm == "last"
    assert cfg.validate({"data": {"features": ["HUFL"], "targets": ["OT"]}}).model.instance_norm == "none"
    assert cfg.validate({"model": {"instance_norm": "mean"}}).model.instance_norm == "mean"
    with pytest.raises(forecast.ForecastError, match="instance_norm_affine needs"):
        cfg.validate({"data": {"features": ["HUFL"], "targets": ["OT"]}, "model": {"instance_norm_affine": True}})
    with pytest.raises(forecast.ForecastError, match="instance_norm_std needs"):
        cfg.validate({"model": {"instance_norm": "none", "instance_norm_std": True}})


def _losing_metrics():
    scores = {"mae": 2.0, "rmse": 2.0, "mse": 4.0, "mape": None}
    naive = {"mae": 1.0, "rmse": 1.0, "mse": 1.0, "mape": None}
    split = {"model": scores, "naive": naive, "scaled": {"model": scores, "naive": naive}, "windows": 3}
    return {"val": split, "test": split}


def _holes(tmp_path):
    """ETTh1's first 1,000 rows with 3 gaps in OT and one in HUFL's last row."""
    frame = pd.read_csv(ETTH1, nrows=1000)
    frame.loc[[10, 11, 500], "OT"] = np.nan
    frame.loc[999, "HUFL"] = np.nan
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    return path


def test_fills_are_counted_and_recorded(tmp_path):
    path = _holes(tmp_path)
    series = load_series(cfg.Data(path=str(path), time_column="date", fill="interpolate"))
    assert series.filled == {"HUFL": 1, "OT": 3}
    assert any("filled 4 missing values (1 in 'HUFL', 3 in 'OT')" in n for n in series.notes)
    assert any("the last row (999), the forecast origin, holds filled values" in n for n in series.notes)
    dropped = load_series(cfg.Data(path=str(path), time_column="date", fill="drop"))
    assert len(dropped) == 996 and any("spacing is now uneven" in n for n in dropped.notes)


@pytest.mark.slow  # trains in-process for a few seconds
def test_fills_are_recorded_in_metrics_json(tmp_path):
    path = _holes(tmp_path)
    run = forecast.train(
        cfg.validate(tiny_config(data={"path": str(path), "fill": "interpolate"}, training={"epochs": 1})),
        run_dir=tmp_path / "run",
    )
    assert json.loads(run.metrics_file.read_text())["filled"] == {"HUFL": 1, "OT": 3}


# --- options that agree across commands ------------------------------------------------------


@pytest.mark.slow  # trains in-process for a few seconds
def test_sweep_takes_set_and_names_a_bad_grid_key_as_the_grids(tmp_path, write_config):
    config = write_config(tiny_config(training={"epochs": 1}))
    with pytest.raises(forecast.ForecastError, match="--grid"):
        forecast.sweep(config, {"model.unitz": [1]}, tmp_path / "bad")
    board = forecast.sweep(config, {"model.layers[0].units": [4]}, tmp_path / "ok", overrides=["seed=3"])
    assert json.loads((tmp_path / "ok" / "sweep.json").read_text())["set"] == ["seed=3"]
    assert cfg.validate(yaml.safe_load((tmp_path / "ok" / "trial-000" / "config.yaml").read_text())).seed == 3
    assert "val_mae" not in board.rows[0] and board.rows[0]["model.layers[0].units"] == 4


@pytest.mark.slow  # trains in-process for a few seconds
def test_compare_shows_config_differences(run, tmp_path):
    other = forecast.train(cfg.validate(tiny_config(seed=8, training={"epochs": 1})), run_dir=tmp_path / "other")
    text = forecast.compare([run, other])
    assert "config differences:" in text and "other vs run: seed: 7 -> 8" in text


# --- stderr holds forecast's own lines -------------------------------------------------------


@pytest.mark.slow
def test_a_training_prints_only_forecasts_own_lines(tmp_path, write_config):
    out = run_cli("train", write_config(tiny_config(training={"epochs": 1})), "--run-dir", tmp_path / "r")
    assert out.returncode == 0, out.stderr
    import re

    keras_progress = re.compile(r"^(Epoch \d+/\d+|\d+/\d+ - )")  # one line per epoch in a log, on stderr
    lines = [line for line in out.stderr.strip().splitlines() if not keras_progress.match(line)]
    allowed = ("run directory:", "data:", "report:", "warning:", "note:")
    assert lines and all(line.startswith(allowed) for line in lines), lines
    assert out.stdout.splitlines()[0].startswith("split  windows  model MAE")  # stdout: the table only


def test_summary_takes_a_run_directory_and_data_with_gaps(run, tmp_path, write_config):
    result = runner.invoke(app, ["summary", str(run.path)])
    assert result.exit_code == 0 and "total: " in result.stdout
    frame = pd.read_csv(ETTH1, nrows=1000)
    frame.loc[5, "OT"] = np.nan  # training would refuse it (data.fill: none); the layers do not care
    holes = tmp_path / "holes.csv"
    frame.to_csv(holes, index=False)
    result = runner.invoke(app, ["summary", str(write_config(tiny_config(data={"path": str(holes)})))])
    assert result.exit_code == 0, result.stderr
    assert "closed-form count (forecast validate): " in result.stdout


def test_backtest_set_applies_to_configs_not_runs(run):
    result = runner.invoke(app, ["backtest", str(run.path), "--set", "seed=1"])
    assert result.exit_code == 2 and "a run directory is scored with its own config.yaml" in result.stderr
