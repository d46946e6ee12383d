"""Tuning (issue 18): Optuna trials as run directories, pruning, shared studies, kills (the space file is
test_search_space's, the storage URL test_optuna_study's)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from conftest import ROOT, SPACE, run_cli, tiny_config
from typer.testing import CliRunner

from forecast.cli import app
from forecast.errors import ForecastError
from forecast.rundir import Run
from forecast.search_space import read_space

optuna = pytest.importorskip("optuna", reason="forecast[tune] is not installed")
from optuna.trial import TrialState  # noqa: E402

runner = CliRunner()


@pytest.fixture(autouse=True)
def _logger():
    """The CLI points the "forecast" logger at CliRunner's stderr, closed after the call: restore it."""
    log = logging.getLogger("forecast")
    saved = log.handlers[:], log.level, log.propagate
    yield
    log.handlers[:], log.level, log.propagate = saved[0], saved[1], saved[2]


def _study(sweep):
    return optuna.load_study(study_name=sweep.name, storage=f"sqlite:///{sweep / 'study.db'}")


# --- the space file -------------------------------------------------------------------------


def test_cli_refuses_a_bad_space_before_anything_is_written(write_config, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("model.layers[0].units: {low: 16, high: 8}\n")
    args = ["tune", str(write_config(tiny_config())), "--space", str(space), "--sweep-dir", str(tmp_path / "s")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "model.layers[0].units: low (16) must be below high (8)" in result.output
    assert not (tmp_path / "s").exists()
    result = runner.invoke(app, ["tune", str(write_config(tiny_config()))])
    assert result.exit_code == 2 and "--space" in result.output


def test_missing_optuna_is_exit_2_and_writes_nothing(monkeypatch, write_config, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("training.learning_rate: {low: 1.0e-3, high: 1.0e-2}\n")
    monkeypatch.setitem(sys.modules, "optuna", None)  # what `import optuna` meets when it is not installed
    args = ["tune", str(write_config(tiny_config())), "--space", str(space), "--sweep-dir", str(tmp_path / "s")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "forecast tune needs Optuna: pip install 'forecast[tune]'" in result.output
    assert not (tmp_path / "s").exists()


# --- trials in process ----------------------------------------------------------------------


@pytest.mark.slow  # trains its trials
def test_trials_are_runs_pruned_ones_recorded_and_best_config(write_config, tmp_path):
    """A study seeded with five trials whose val_loss was 0 at every epoch: the median pruner
    stops the next one at its first epoch past warm-up, and says so in the study and the run."""
    from forecast import api

    config = write_config(tiny_config(training={"epochs": 4}))
    sweep = tmp_path / "study"
    sweep.mkdir()
    study = optuna.create_study(study_name="study", storage=f"sqlite:///{sweep / 'study.db'}")
    for _ in range(5):  # finished trials (no run directories) the pruner compares against
        study.add_trial(optuna.trial.create_trial(value=0.0, intermediate_values={e: 0.0 for e in range(1, 5)}))
    space = {"training.learning_rate": {"low": 1e-3, "high": 2e-3}}
    board = api.tune(config, space, 6, sweep, sampler="random")
    trial = _study(sweep).trials[5]
    assert trial.state == TrialState.PRUNED and trial.user_attrs["pruned_epoch"] == 3
    run = Run(sweep / "trial-0005")
    assert run.status == "pruned" and len(pd.read_csv(run.history_file)) == 3  # the epochs it ran, no more
    assert json.loads(run.status_file.read_text())["message"].startswith("pruned at epoch 3 (val_loss ")
    pruned = next(r for r in board.rows if r["trial"] == "trial-0005")
    assert pruned["state"] == "pruned" and pruned["epochs"] == 3 and pruned["note"].startswith("pruned at epoch 3")
    assert "study study: 5 completed, 1 pruned, 0 failed, 0 running" in board.markdown

    with pytest.raises(ForecastError, match="no trial of study 'study' has completed"):
        api.best_config(sweep)  # the five finished trials have no run directories here
    with pytest.raises(ForecastError, match=r"no tune\.json"):
        api.best_config(tmp_path / "nowhere")


@pytest.mark.slow  # trains its trials
def test_tune_completes_ranks_and_reruns_nothing(write_config, tmp_path):
    from forecast import api

    config = write_config(tiny_config(training={"epochs": 1}))
    sweep = tmp_path / "sweep"
    board = api.tune(config, SPACE, 3, sweep)
    study = _study(sweep)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    for t in study.trials:  # every trial an ordinary, completed run with its resolved config
        run = Run(sweep / f"trial-{t.number:04d}")
        assert run.status == "completed" and t.value == run.metrics.val.model.mae
        assert run.config.training.learning_rate == t.params["training.learning_rate"]
        assert run.config.model.decoder == t.params["model.decoder"]
    ranked = [r["val.model.mae"] for r in board.rows]
    assert ranked == sorted(t.value for t in study.trials) and board.rows[0]["state"] == "complete"
    assert (sweep / "leaderboard.md").read_text() == board.markdown
    again = api.tune(config, SPACE, 3, sweep)  # the study is full: nothing more trains
    assert len(_study(sweep).trials) == 3 and again.rows == board.rows
    assert api.leaderboard(sweep).rows == board.rows  # `forecast leaderboard` reads the study

    best = runner.invoke(app, ["tune", "--best", str(sweep)])
    assert best.exit_code == 0, best.output
    chosen = board.rows[0]["trial"]
    assert best.stdout.startswith(f"# best of study sweep: {chosen}, val.model.mae ")
    assert yaml.safe_load(best.stdout) == yaml.safe_load((sweep / chosen / "config.yaml").read_text())
    assert (sweep / "best.yaml").read_text().rstrip() == best.stdout.rstrip()

    with pytest.raises(ForecastError) as err:
        api.tune(config, {"training.learning_rate": {"low": 1e-3, "high": 2e-3}}, 3, sweep)
    assert str(err.value) == (
        "space.training.learning_rate.high: 0.01 in the study's plan, 0.002 now; "
        "rerun with --restart or use a new --sweep-dir"
    )


@pytest.mark.slow  # trains its trials
def test_an_edited_config_is_refused_and_restart_starts_a_new_study(write_config, tmp_path):
    """The finding: tune.json remembered its config by path, so a study resumed after an edit
    mixed trials of two configs. Now the resolved config is compared; --restart deletes the old
    study and its trials."""
    from forecast import api

    config = write_config(tiny_config(training={"epochs": 1}))
    space = {"training.learning_rate": {"low": 1e-3, "high": 2e-3}}
    sweep = tmp_path / "sweep"
    api.tune(config, space, 1, sweep)
    plan = json.loads((sweep / "tune.json").read_text())
    assert plan["resolved"]["window"]["horizon"] == 4 and plan["data"]["size"] > 0
    write_config(tiny_config(training={"epochs": 1}, window={"horizon": 2}))
    with pytest.raises(ForecastError) as err:
        api.tune(config, space, 2, sweep)
    assert str(err.value) == (
        "window.horizon: 4 in the study's plan, 2 now; rerun with --restart or use a new --sweep-dir"
    )
    assert err.value.exit_code == 2 and len(_study(sweep).trials) == 1  # nothing trained

    board = api.tune(config, space, 1, sweep, restart=True)
    trials = _study(sweep).trials
    assert len(trials) == 1 and trials[0].state == TrialState.COMPLETE  # a new study: trial 0 again
    assert Run(sweep / "trial-0000").config.window.horizon == 2 and len(board.rows) == 1
    assert json.loads((sweep / "tune.json").read_text())["resolved"]["window"]["horizon"] == 2


@pytest.mark.slow  # trains its trials
def test_a_worker_stops_before_its_next_trial_when_the_config_was_edited(write_config, tmp_path):
    """Workers read the config file at every trial: one edited while the study runs would make
    the later trials another study's. The worker checks the plan before each trial."""
    from forecast import config as cfg
    from forecast.plans import content
    from forecast.tuning import TuneSettings, record, work

    config = write_config(tiny_config(training={"epochs": 1}))
    sweep = tmp_path / "s"
    sweep.mkdir()
    record(sweep, {**content(cfg.load(config)), "space": {}, "metric": "val.model.mae", "study": "s"})
    write_config(tiny_config(training={"epochs": 1, "batch_size": 16}))
    space = read_space({"training.learning_rate": {"low": 1e-3, "high": 2e-3}})
    with pytest.raises(ForecastError) as err:
        work(TuneSettings(config, space, sweep, 1, "s", None, "val.model.mae", None, "random", "none"))
    assert str(err.value) == (
        "training.batch_size: 32 in the study's plan, 16 now: changed while the study ran, "
        "so this worker stops; rerun with --restart"
    )
    assert _study(sweep).trials == [] and not list(sweep.glob("trial-*"))


@pytest.mark.slow  # over 0.3 s
def test_a_trial_whose_worker_died_is_marked_failed_in_its_own_status(write_config, tmp_path):
    """The finding: after a worker was killed (-9) and the study resumed, the lost trial was failed
    in the study but its status.json still said `running`."""
    from forecast.trial_claims import claim_file, reap, trial_dir

    sweep = tmp_path / "sweep"
    (sweep / ".claims").mkdir(parents=True)
    study = optuna.create_study(study_name="sweep", storage=f"sqlite:///{sweep / 'study.db'}")
    trial = study.ask({"training.learning_rate": optuna.distributions.FloatDistribution(1e-3, 1e-2)})
    claim_file(sweep, trial.number).touch()  # claimed by a worker that is gone: nobody holds it
    run = Run(trial_dir(sweep, trial.number))
    run.path.mkdir()
    run.set_status("running")
    dead = json.loads(run.status_file.read_text())
    reap(study, sweep)
    assert _study(sweep).trials[0].state == TrialState.FAIL
    status = json.loads(run.status_file.read_text())
    assert status["status"] == "failed"
    assert status["message"] == (
        f"lost: its worker (pid {dead['pid']} on {dead['host']}) died while it ran; "
        "its settings were queued again as a new trial"
    )


@pytest.mark.slow  # trains its trials
def test_journal_storage_is_found_again_through_tune_json(write_config, tmp_path):
    from forecast import api

    config = write_config(tiny_config(training={"epochs": 1}))
    journal = f"journal:{tmp_path / 'study.log'}"
    space = {"training.learning_rate": {"low": 1e-3, "high": 2e-3}}
    board = api.tune(config, space, 1, tmp_path / "j", storage=journal)
    assert (tmp_path / "study.log").stat().st_size > 0 and not (tmp_path / "j" / "study.db").exists()
    assert json.loads((tmp_path / "j" / "tune.json").read_text())["storage"] == journal
    assert api.leaderboard(tmp_path / "j").rows == board.rows and board.rows[0]["state"] == "complete"
    assert api.best_config(tmp_path / "j").startswith("# best of study j: trial-0000")


@pytest.mark.slow  # trains its trials
def test_settings_that_fail_are_recorded_with_their_reason(write_config, tmp_path):
    """A trial whose config cannot train (here: a lookback longer than the split) fails, with why,
    and counts towards the study: settings that always fail end the study, they do not loop."""
    from forecast import api

    config = write_config(tiny_config(training={"epochs": 1}))
    board = api.tune(config, {"window.lookback": {"choices": [900]}}, 2, tmp_path / "s")
    assert [r["state"] for r in board.rows] == ["fail", "fail"]
    assert "window.lookback" in board.rows[0]["note"] and not (tmp_path / "s" / "trial-0000").exists()
    assert [t.state for t in _study(tmp_path / "s").trials] == [TrialState.FAIL] * 2


# --- workers in processes -------------------------------------------------------------------


@pytest.mark.slow
def test_two_processes_share_one_sqlite_study(write_config, tmp_path):
    config = write_config(tiny_config(training={"epochs": 2}))
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    sweep = tmp_path / "shared"
    args = ["tune", config, "--space", space, "--trials", "4", "--sweep-dir", sweep, "--quiet"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FORECAST_THREADS": "1"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "forecast", *map(str, args)], env=env, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.wait(timeout=600) == 0, worker.stderr.read()
    trials = _study(sweep).trials
    assert [t.number for t in trials] == [0, 1, 2, 3] and all(t.state == TrialState.COMPLETE for t in trials)
    runs = sorted(p.name for p in sweep.glob("trial-*"))
    assert runs == ["trial-0000", "trial-0001", "trial-0002", "trial-0003"]
    pids = {json.loads((sweep / r / "status.json").read_text())["pid"] for r in runs}
    assert len(pids) == 2  # both workers trained trials
    rates = [t.params["training.learning_rate"] for t in trials]
    assert len(set(rates)) == 4  # each trial drew its own values (workers started together never draw alike)


@pytest.mark.slow
def test_a_killed_worker_leaves_a_study_that_resumes(write_config, tmp_path):
    config = write_config(tiny_config(training={"epochs": 2}))
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"training.learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}}))
    sweep = tmp_path / "killed"
    args = ["tune", config, "--space", space, "--trials", "2", "--sweep-dir", sweep]
    worker = subprocess.Popen([sys.executable, "-m", "forecast", *map(str, args)], stderr=subprocess.DEVNULL)
    status = sweep / "trial-0000" / "status.json"
    deadline = time.monotonic() + 300
    while not (status.exists() and json.loads(status.read_text())["status"] == "running"):
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)  # no handler runs: the study still says "running"
    worker.wait()
    assert _study(sweep).trials[0].state == TrialState.RUNNING

    out = run_cli(*args, "--quiet")
    assert out.returncode == 0, out.stderr
    assert "trial-0000 lost its worker: marked failed, queued again" in out.stderr
    assert "oneDNN" not in out.stderr and "cuInit" not in out.stderr  # TensorFlow's start-up lines kept off
    trials = _study(sweep).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert trials[1].user_attrs == {"retry_of": 0} and trials[1].params == trials[0].params  # the same settings
    assert "its worker died" in out.stdout and "1 failed" in out.stdout
    status = json.loads((sweep / "trial-0000" / "status.json").read_text())
    assert status["status"] == "failed" and status["message"].startswith(f"lost: its worker (pid {worker.pid} on ")


@pytest.mark.slow
def test_sigterm_stops_every_j_worker_and_the_study_resumes(write_config, tmp_path):
    """SIGTERM to a `-j 2` tune: each worker's trial stops at its next batch and is queued again,
    the workers exit (143), and a rerun finishes the study with the same settings."""
    config = write_config(tiny_config(training={"epochs": 40, "early_stopping": {"enabled": False}}))
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"training.learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}}))
    sweep = tmp_path / "j2"
    args = ["tune", config, "--space", space, "--trials", "2", "--sweep-dir", sweep, "--pruner", "none", "-j", "2"]
    parent = subprocess.Popen([sys.executable, "-m", "forecast", *map(str, args)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300

    def running() -> int:
        states = [json.loads(p.read_text())["status"] for p in sweep.glob("trial-*/status.json")]
        return states.count("running")

    while running() < 2:
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.05)
    parent.send_signal(signal.SIGTERM)  # the parent alone: it stops its children itself
    assert parent.wait(timeout=120) == 128 + signal.SIGTERM
    stderr = parent.stderr.read()
    assert stderr.count("was interrupted: marked failed, queued again") == 2, stderr
    assert "Traceback" not in stderr
    study = _study(sweep)
    assert sorted(t.state.name for t in study.trials) == ["FAIL", "FAIL", "WAITING", "WAITING"]

    out = run_cli(*args[:-2], "--quiet", timeout=600)  # one worker finishes it
    assert out.returncode == 0, out.stderr
    trials = _study(sweep).trials
    assert [t.state.name for t in trials] == ["FAIL", "FAIL", "COMPLETE", "COMPLETE"]
    assert {t.user_attrs["retry_of"] for t in trials[2:]} == {0, 1}
    assert {json.dumps(t.params) for t in trials[2:]} == {json.dumps(t.params) for t in trials[:2]}


WAITING_PARENT = """
import multiprocessing, os, pathlib, sys, time
import forecast.tuning as tuning

def work(*args, **kwargs):  # no training: the parent's loop ends at once, the worker's takes a minute
    if multiprocessing.parent_process() is not None:
        pathlib.Path(os.environ["WORKER_STARTED"]).touch()
        time.sleep(60)

tuning.work = work  # a spawned worker imports this file again, so it runs this work too

if __name__ == "__main__":
    from forecast import cli
    sys.argv = ["forecast", *sys.argv[1:]]
    cli.main()
"""


@pytest.mark.slow
def test_sigterm_while_the_j_parent_waits_for_its_workers_stops_them(write_config, tmp_path):
    """The `-j` parent's own trials are done and it waits for a worker's: SIGTERM there is passed
    on too, and the parent exits 143 at once instead of waiting out the worker's trial."""
    config = write_config(tiny_config())
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"training.learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}}))
    script, started = tmp_path / "tune_waiting.py", tmp_path / "worker-started"
    script.write_text(WAITING_PARENT)
    args = ["tune", config, "--space", space, "--trials", "2", "--sweep-dir", tmp_path / "j2", "-j", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKER_STARTED": str(started)}
    parent = subprocess.Popen([sys.executable, script, *map(str, args)], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not started.exists():
        assert time.monotonic() < deadline and parent.poll() is None, parent.stderr.read()
        time.sleep(0.05)
    time.sleep(0.5)  # the parent's own loop returned at once: it is in join()
    sent = time.monotonic()
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=50) == 128 + signal.SIGTERM  # not the worker's 60 s
    assert time.monotonic() - sent < 30
    stderr = parent.stderr.read()
    assert "forecast: terminated" in stderr and "Traceback" not in stderr, stderr
