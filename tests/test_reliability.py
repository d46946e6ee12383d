"""Unattended use: bad input fails clearly, a killed run resumes, reruns agree, NaN stops cleanly."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ETTH1, run_cli, tiny_config

pytestmark = pytest.mark.slow  # every test here runs the CLI in its own process


def _csv(tmp_path, frame, name="s.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _etth1(n=1000):
    return pd.read_csv(ETTH1, nrows=n)


BAD_CONFIGS = [
    ("name: x\nwindow: {lookback: 3\n", "invalid YAML at line"),
    ("name: !!python/object/apply:os.system ['touch HACKED']\n", "invalid YAML"),
    ({"trainig": {}}, "trainig: unknown key (did you mean 'training'?)"),
    ({"training": {"epochs": "ten"}}, "training.epochs: Input should be a valid integer"),
    ({"training": {"learning_rate": -1}}, "training.learning_rate: Input should be greater than 0"),
    ({"window": {"lookback": 500, "horizon": 200}}, "window: the train split"),
    ({"data": {"targets": ["Temperature"]}}, "data.targets: column 'Temperature' not in"),
    ({"data": {"time_column": "when"}}, "data.time_column: column 'when' not in"),
    ({"data": {"split": {"train_end": 600, "val_end": 800, "test_end": 99999}}}, "data.split: test ends at row 99999"),
    (
        {"data": {"split": {"train_end": 600, "val_end": 30000}}},
        "data.split: val ends at row 30000 but the series has only 17420 rows",
    ),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS, ids=lambda v: str(v)[:30])
def test_bad_configs_exit_2(tmp_path, config, message):
    if isinstance(config, dict):
        base = tiny_config()
        for key, value in config.items():
            base[key] = {**base.get(key, {}), **value}
        config = yaml.safe_dump(base)
    path = tmp_path / "c.yaml"
    path.write_text(config)
    _assert_clean_failure(run_cli("train", path, cwd=tmp_path), message, tmp_path)


BAD_DATA = [
    (
        lambda f: f.assign(OT=f["OT"].astype(str).where(f.index != 5, "12,5x")),
        "column 'OT' in s.csv is not numeric: row 5 is '12,5x'",
    ),
    (lambda f: f.assign(OT=f["OT"].where(f.index != 8)), "column 'OT' row 8: missing or infinite value (set data.fill"),
    (lambda f: f.assign(OT=f["OT"].where(f.index != 9, np.inf)), "column 'OT' row 9: missing or infinite"),
    (lambda f: f.iloc[[*range(10), 11, 10, *range(12, len(f))]], "row 11: timestamps are not sorted"),
    (lambda f: f.iloc[[*range(11), 10, *range(12, len(f))]], "row 11: duplicate timestamp"),
    (lambda f: f.iloc[:0], "header but no data rows"),
]


@pytest.mark.parametrize(("mutate", "message"), BAD_DATA, ids=lambda v: str(v)[:30])
def test_bad_csvs_exit_2(tmp_path, mutate, message):
    data = _csv(tmp_path, mutate(_etth1()))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_config(data={"path": str(data)})))
    _assert_clean_failure(run_cli("train", config, cwd=tmp_path), message, tmp_path)


def test_empty_file_and_unreadable_parquet_exit_2(tmp_path):
    for name, content, message in [
        ("e.csv", "", "the file is empty"),
        ("p.parquet", "PAR1 garbage", "cannot read the file"),
    ]:
        (tmp_path / name).write_text(content)
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump(tiny_config(data={"path": str(tmp_path / name)})))
        _assert_clean_failure(run_cli("validate", config, cwd=tmp_path), message, tmp_path)


def _assert_clean_failure(out, message, cwd):
    assert out.returncode == 2, out.stderr
    assert message in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("forecast: error: ") and "Traceback" not in out.stderr
    assert not (cwd / "runs").exists()
    assert not (cwd / "HACKED").exists()


def test_debug_shows_the_traceback(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("modle: 1\n")
    out = run_cli("--debug", "validate", path)
    assert out.returncode != 0 and "Traceback" in out.stderr


def _train_process(config, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "forecast", "train", str(config), "--run-dir", str(cwd / "run")],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_then_resume(tmp_path):
    config = tmp_path / "c.yaml"
    # enough epochs that the kill lands mid-run; early stopping and plateau state must carry over
    config.write_text(
        yaml.safe_dump(
            tiny_config(
                training={
                    "epochs": 6,
                    "batch_size": 16,
                    "early_stopping": {"patience": 50},
                    "reduce_lr_on_plateau": {"patience": 0, "factor": 0.5},
                }
            )
        )
    )
    proc = _train_process(config, tmp_path)
    history = tmp_path / "run" / "history.csv"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if history.exists() and len(history.read_text().strip().splitlines()) >= 3:  # header + 2 epochs
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "interrupted by SIGTERM" in err and "--resume" in err
    run = tmp_path / "run"
    assert json.loads((run / "status.json").read_text())["status"] == "interrupted"
    done = len(pd.read_csv(run / "history.csv"))
    assert 2 <= done < 6
    lr_before = pd.read_csv(run / "history.csv")["learning_rate"].tolist()

    out = run_cli("train", "--resume", run, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    history = pd.read_csv(run / "history.csv")
    assert history["epoch"].tolist() == list(range(6))  # every epoch exactly once
    assert history["learning_rate"].tolist()[:done] == lr_before
    # patience 0: every epoch without improvement halves the rate; the resumed part must go on
    # from the restored rate, never jump back to the initial one
    assert history["learning_rate"].iloc[done] <= lr_before[-1]
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 6
    assert not (run / "backup").exists()
    # the resumed run is the run that was never interrupted: same weights, optimizer state and
    # learning rate at the cut, and each epoch's batches depend only on (seed, epoch)
    whole = run_cli("train", config, "--run-dir", tmp_path / "whole", "--quiet", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    uninterrupted = pd.read_csv(tmp_path / "whole" / "history.csv")
    for column in ("loss", "val_loss", "learning_rate"):
        np.testing.assert_allclose(history[column], uninterrupted[column], rtol=1e-5, err_msg=column)
    assert run_cli("evaluate", run).returncode == 0  # model.keras loads
    again = run_cli("train", "--resume", run, cwd=tmp_path)
    assert again.returncode == 2 and "is completed" in again.stderr


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


def test_divergence_exits_1_and_keeps_history(tmp_path, write_config):
    frame = _etth1()
    frame.loc[700:, "OT"] = 1e30  # a poisoned stretch inside the training rows' targets
    data = _csv(tmp_path, frame)
    path = write_config(
        tiny_config(
            data={"path": str(data), "split": {"train_end": 900, "val_end": 950, "test_end": 1000}},
            scaler="none",
            training={"epochs": 3, "learning_rate": 10.0, "optimizer": "sgd"},
        )
    )
    out = run_cli("train", path, "--run-dir", tmp_path / "run", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert "training diverged" in out.stderr and "Traceback" not in out.stderr
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["status"] == "failed" and "diverged" in status["message"]
    assert (tmp_path / "run" / "history.csv").exists()


def test_model_that_does_not_match_its_config_is_refused(tmp_path, write_config):
    a = write_config(tiny_config(), "a.yaml")
    b = write_config(tiny_config(window={"lookback": 12, "step": 1, "horizon": 2}), "b.yaml")
    for path, run in ((a, "ra"), (b, "rb")):
        assert run_cli("train", path, "--run-dir", tmp_path / run, "--quiet").returncode == 0
    (tmp_path / "ra" / "model.keras").write_bytes((tmp_path / "rb" / "model.keras").read_bytes())
    out = run_cli("evaluate", tmp_path / "ra")
    assert out.returncode == 2 and "does not belong to this config" in out.stderr
    (tmp_path / "ra" / "model.keras").write_text("not a model")
    out = run_cli("evaluate", tmp_path / "ra")
    assert out.returncode == 2 and "cannot load the model" in out.stderr


def test_models_with_code_are_refused(tmp_path, write_config):
    """safe_mode: a model.keras carrying a Lambda (arbitrary Python) is not loaded."""
    import keras

    path = write_config(tiny_config())
    assert run_cli("train", path, "--run-dir", tmp_path / "r", "--quiet").returncode == 0
    inputs = keras.Input((12, 7))
    outputs = keras.layers.Reshape((4, 7))(keras.layers.Lambda(lambda t: t[:, :4, :])(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "r" / "model.keras")
    out = run_cli("evaluate", tmp_path / "r")
    assert out.returncode == 2 and "cannot load the model" in out.stderr
