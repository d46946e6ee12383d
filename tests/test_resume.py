"""Fault injection: a kill at every write of a training run, then --resume, gives the uninterrupted run.

Every file forecast writes during training goes through `rundir.write_atomic` (status, the epoch's
weights and record, history.csv, model.keras, metrics.json, plots, report.md). The test counts
those writes in an uninterrupted run, then for each write point k in turn trains a new run that
"dies" at write k — the temporary file half-written and left behind, nothing after it run, as a
SIGKILL would leave it — and resumes it in a fresh model. The resumed run must end with every
epoch exactly once and the same history and metrics as the uninterrupted one.
"""

import json

import pandas as pd
import pytest
from conftest import tiny_config

from forecast import config as cfg
from forecast import lifecycle, rundir
from forecast.results import flatten

pytestmark = pytest.mark.slow

EPOCHS = 3


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in forecast handles it as an error."""


def _config():
    return cfg.validate(tiny_config(training={"epochs": EPOCHS, "early_stopping": {"patience": 1}}))


def _train(path, monkeypatch, fail_at=None):
    """Create and train a run; with fail_at=k, die inside the k-th atomic write of the training."""
    config = _config()
    prepared = lifecycle.plan(config)
    run = lifecycle.create(config, prepared, path)
    real = rundir.write_atomic
    count = [0]

    def write_atomic(target, write):
        count[0] += 1
        if count[0] == fail_at:
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
