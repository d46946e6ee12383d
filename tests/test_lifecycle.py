"""forecast.lifecycle: plan -> create -> fit -> finish, as every training path goes through it: one writer per run
directory, a status.json that stays true on every way out, the same run from the same config."""

import json
import os

import pandas as pd
import pytest
from conftest import run_cli, tiny_config

from forecast import config as cfg
from forecast import lifecycle
from forecast.errors import ForecastError


def test_available_memory_is_read():
    from forecast.lifecycle import available_memory

    assert available_memory() > 0


def test_two_trainings_into_one_run_dir(tmp_path):
    config = cfg.validate(tiny_config(training={"epochs": 1}))
    prepared = lifecycle.plan(config)
    run = lifecycle.create(config, prepared, tmp_path / "run")
    with pytest.raises(ForecastError, match="already exists and is not empty"):
        lifecycle.create(config, prepared, tmp_path / "run")
    assert json.loads(run.status_file.read_text())["status"] == "created"


@pytest.mark.slow  # trains a Keras model
def test_a_failure_after_training_marks_the_run_failed(tmp_path, monkeypatch):
    import forecast.report

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(forecast.report, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        forecast.train(cfg.validate(tiny_config(training={"epochs": 1})), run_dir=tmp_path / "run")
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["status"] == "failed" and status["message"] == "OSError: disk full"
    assert status["pid"] == os.getpid() and status["host"]


@pytest.mark.slow  # a subprocess
def test_two_runs_of_one_config_are_identical(tmp_path, write_config):
    path = write_config(tiny_config(model={"cell": "gru", "layers": [{"units": 8, "dropout": 0.2}]}))
    metrics = []
    for name in ("a", "b"):
        out = run_cli("train", path, "--run-dir", tmp_path / name, "--quiet", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        m = json.loads((tmp_path / name / "metrics.json").read_text())
        metrics.append({s: m[s] for s in ("val", "test")})
    assert metrics[0] == metrics[1]
    h = [pd.read_csv(tmp_path / n / "history.csv") for n in ("a", "b")]
    assert h[0]["loss"].tolist() == h[1]["loss"].tolist()
