"""Fixes from a review of the architecture/reliability/new-user change, each as the case that broke."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from conftest import ETTH1, ROOT, tiny_config

import forecast
from forecast import config as cfg
from forecast.data import load_series
from forecast.prepare import infer_seasonality


def test_the_instance_norm_default_follows_set_overrides(write_config):
    path = write_config(tiny_config())
    assert cfg.load(path).model.instance_norm == "last"
    moved = cfg.load(path, ["data.features=[HUFL, HULL]", "data.targets=[OT]"])
    assert moved.model.instance_norm == "none"  # OT is no input: no last value of its own
    listed = write_config(tiny_config(data={"features": ["HUFL"], "targets": ["OT"]}), "listed.yaml")
    assert cfg.load(listed).model.instance_norm == "none"
    assert cfg.load(listed, ["data.targets=[HUFL]"]).model.instance_norm == "last"
    chosen = write_config(tiny_config(model={"instance_norm": "mean"}), "chosen.yaml")
    assert cfg.load(chosen, ["data.targets=[OT]"]).model.instance_norm == "mean"  # what the user wrote stays


def test_a_gap_anywhere_means_no_fixed_season():
    times = pd.date_range("2020-01-01", periods=3000, freq="h")
    assert infer_seasonality(times) == 24
    assert infer_seasonality(times.delete([2500, 2600])) is None


def test_a_parquet_file_with_a_pandas_index_reads_by_position(tmp_path):
    frame = pd.read_csv(ETTH1, nrows=400).iloc[100:].copy()  # index 100..399 travels into the file
    frame.loc[150, "OT"] = np.nan
    path = tmp_path / "slice.parquet"
    frame.to_parquet(path)
    series = load_series(cfg.Data(path=str(path), time_column="date", fill="drop"))
    assert len(series) == 299 and series.times[0] == pd.Timestamp(frame["date"].iloc[0])


def test_output_to_dev_stdout_through_a_pipe():
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; "
    code += "from forecast.outputs import check_output, write_output; "
    code += "check_output(Path('/dev/stdout')); write_output(Path('/dev/stdout'), 'a,b\\n')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "a,b\n"


def test_mlflow_keys_hold_only_what_mlflow_accepts():
    from forecast.tracking import mlflow_key

    assert mlflow_key("val.per_target.T (degC).model") == "val.per_target.T _degC_.model"
    assert mlflow_key("data.missing_values.wv (m/s)") == "data.missing_values.wv _m/s_"


def test_years_below_1000(tmp_path):
    path = tmp_path / "years.csv"
    pd.DataFrame({"year": [998, 999, 1000, 1001], "v": [1.0, 2.0, 3.0, 4.0]}).to_csv(path, index=False)
    times = load_series(cfg.Data(path=str(path), time_column="year")).times
    assert [t.year for t in times] == [998, 999, 1000, 1001]


def test_available_memory_is_read():
    from forecast.lifecycle import available_memory

    assert available_memory() > 0


@pytest.mark.slow  # trains in-process for a few seconds
def test_the_api_trains_in_a_worker_thread(tmp_path):
    config = cfg.validate(tiny_config(training={"epochs": 1}))
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(forecast.train, config, tmp_path / "run").result(timeout=600)
    assert run.status == "completed"


@pytest.mark.slow  # trains in-process for a few seconds
def test_a_failing_trial_does_not_stop_the_sweep(tmp_path, write_config):
    config = write_config(tiny_config(training={"epochs": 1}))
    board = forecast.sweep(config, {"window.lookback": [700, 24]}, tmp_path / "sweep")  # 700: too long for train
    assert [row["trial"] for row in board.rows] == ["trial-001"]
