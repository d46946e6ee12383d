"""Resume: a kill at every write of a training run (fault injection), or a SIGTERM, then --resume, gives the
uninterrupted run; a run being written, edited or fed other data is refused.

Every file forecast writes during training goes through `rundir.write_atomic` (status, the epoch's
weights and record, history.csv, model.keras, metrics.json, plots, report.md). The test counts
those writes in an uninterrupted run, then for each write point k in turn trains a new run that
"dies" at write k — the temporary file half-written and left behind, nothing after it run, as a
SIGKILL would leave it — and resumes it in a fresh model. The resumed run must end with every
epoch exactly once and the same history and metrics as the uninterrupted one.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ETTH1, run_cli, tiny_config

import forecast
from forecast import config as cfg
from forecast import lifecycle, rundir
from forecast.callbacks import latest
from forecast.errors import ForecastError
from forecast.results import flatten
from forecast.rundir import Busy

EPOCHS = 3


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in forecast handles it as an error."""


def _config():
    return cfg.validate(tiny_config(training={"epochs": EPOCHS, "early_stopping": {"patience": 1}}))


def _train(path, monkeypatch, fail_at=None, fail_on=None, config=None):
    """Create and train a run; with fail_at=k, die inside the k-th atomic write of the training
    (with fail_on=NAME, inside the first write of that file)."""
    config = config or _config()
    prepared = lifecycle.plan(config)
    run = lifecycle.create(config, prepared, path)
    real = rundir.write_atomic
    count = [0]

    def write_atomic(target, write):
        count[0] += 1
        if count[0] == fail_at or target.name == fail_on:
            target.with_name(f".partial-0123456789ab-{target.name}").write_bytes(b"\x00half")  # a write cut short
            raise Killed(str(target))
        return real(target, write)

    monkeypatch.setattr(rundir, "write_atomic", write_atomic)
    try:
        lifecycle.execute(config, prepared, run)
    finally:
        monkeypatch.setattr(rundir, "write_atomic", real)
    return run, count[0]


def _outcome(run):
    history = pd.read_csv(run.history_file)
    metrics = json.loads(run.metrics_file.read_text())
    scores = {}
    for key, value in flatten({k: metrics[k] for k in ("val", "test", "epochs_run", "best_epoch")}).items():
        values = value if isinstance(value, list) else [value]  # per-step errors are lists
        scores |= {f"{key}[{i}]": v for i, v in enumerate(values) if v is not None}  # MAPE n/a is None
    return history.drop(columns=["epoch_seconds"]), scores


@pytest.mark.slow
def test_a_kill_at_every_write_resumes_to_the_uninterrupted_run(tmp_path, monkeypatch):
    reference, writes = _train(tmp_path / "reference", monkeypatch)
    expected_history, expected_scores = _outcome(reference)
    assert writes >= 3 * EPOCHS  # status, then each epoch's weights, record and history.csv, then the artifacts
    outcomes = {}
    for k in range(1, writes + 1):
        path = tmp_path / f"killed-{k:02d}"
        with pytest.raises(Killed) as killed:
            _train(path, monkeypatch, fail_at=k)
        run = lifecycle.resume(path)
        history, scores = _outcome(run)
        assert run.status == "completed", (k, killed.value)
        assert list(history["epoch"]) == list(range(len(history))), f"write {k} ({killed.value}): epochs repeated"
        pd.testing.assert_frame_equal(history, expected_history, check_exact=False, rtol=1e-6)
        assert scores == pytest.approx(expected_scores, rel=1e-6), f"write {k} ({killed.value})"
        assert not list(run.path.glob("**/.partial-*")), f"write {k}: a half-written file was left"
        outcomes[k] = str(killed.value).rsplit("/", 1)[-1]
    # every kind of write was hit at least once
    names = set(outcomes.values())
    assert {"status.json", "history.csv", "model.keras", "metrics.json", "report.md"} <= names
    assert any(n.endswith(".weights.h5") for n in names) and any(n.startswith("epoch-") for n in names)


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A run killed after its last epoch was committed (inside the write of model.keras): every
    epoch's record is there, and --resume has only the final writes left."""
    path = tmp_path_factory.mktemp("killed") / "run"
    with pytest.MonkeyPatch.context() as monkeypatch, pytest.raises(Killed):
        _train(path, monkeypatch, fail_on="model.keras")
    return path


def _copy(killed, tmp_path):
    shutil.copytree(killed, tmp_path / "run")
    return tmp_path / "run"


def test_resume_falls_back_past_a_truncated_weights_file_and_says_so(killed, tmp_path, caplog):
    """The finding: a truncated latest backup/epoch-N.weights.h5 made --resume exit 1 with a raw
    h5py error; like a bad record, it now falls back to the epoch before, and says which and why."""
    path = _copy(killed, tmp_path)
    run = rundir.Run(path)
    newest = latest(run)
    epochs, weights = newest["epoch"], run.backup / newest["weights"]
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a copy or a disk cut short
    with caplog.at_level("INFO", logger="forecast"):
        lifecycle.resume(path)
    assert run.status == "completed"
    assert list(pd.read_csv(run.history_file)["epoch"]) == list(range(epochs))  # epoch N trained again, once
    said = [r.getMessage() for r in caplog.records if "resuming after epoch" in r.getMessage()]
    assert len(said) == 1, caplog.text
    assert said[0].startswith(f"warning: resuming after epoch {epochs - 1} (backup/{weights.name} cannot be read (")


def test_resume_says_which_epoch_it_continues_from(killed, tmp_path, caplog):
    path = _copy(killed, tmp_path)
    epochs = latest(rundir.Run(path))["epoch"]
    with caplog.at_level("INFO", logger="forecast"):
        lifecycle.resume(path)
    assert [r.getMessage() for r in caplog.records if "resuming" in r.getMessage()] == [
        f"resuming after epoch {epochs}"
    ]


def test_resume_refuses_a_run_whose_config_was_edited(killed, tmp_path):
    """The same finding as a sweep's: config.yaml edited after the run started is refused by key."""
    path = _copy(killed, tmp_path)
    config = path / "config.yaml"
    text = config.read_text()
    assert json.loads((path / "backup" / "plan.json").read_text())["resolved"] == cfg.load(config).model_dump(
        mode="json"
    )
    config.write_text(text.replace("horizon: 4", "horizon: 2"))
    with pytest.raises(ForecastError) as err:
        lifecycle.resume(path)
    assert str(err.value) == (
        f"--resume {path}: window.horizon: 4 when the run started, 2 now; "
        "put config.yaml and the data back, or train a new run"
    )
    assert err.value.exit_code == 2
    config.write_text(text)  # put back: it resumes
    assert lifecycle.resume(path).status == "completed"


def test_resume_refuses_a_run_whose_data_changed(tmp_path, monkeypatch):
    data = tmp_path / "etth1.csv"
    shutil.copy(ETTH1, data)
    config = cfg.validate(tiny_config(data={"path": str(data)}, training={"epochs": 1}))
    path = tmp_path / "run"
    lifecycle.create(config, lifecycle.plan(config), path)  # killed before its first epoch
    with data.open("a") as stream:
        stream.write("2018-06-26 20:00:00,1,1,1,1,1,1,1\n")
    with pytest.raises(ForecastError, match=r"data\.path: the data file is not the one recorded when the run started"):
        lifecycle.resume(path)


def test_resume_of_a_run_being_written_is_refused(tmp_path):
    config = cfg.validate(tiny_config(training={"epochs": 1}))
    prepared = lifecycle.plan(config)
    run = lifecycle.create(config, prepared, tmp_path / "run")
    assert run.status == "created"
    with run.lock(), pytest.raises(Busy, match="is being written by pid"):
        forecast.resume(run)
    assert run.status == "created"  # the refused process wrote nothing


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


@pytest.mark.slow  # a subprocess
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
