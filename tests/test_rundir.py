"""forecast.rundir: atomic writes, one writer per run (its lock), creating and opening runs, reading their status
and metrics, and loading only a model that belongs to the run's config and carries no code."""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml
from conftest import ROOT, run_cli, tiny_config

from forecast import config as cfg
from forecast.errors import Error, ForecastError
from forecast.results import Metrics
from forecast.rundir import Busy, Run, hold, write_atomic, write_json, write_text


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "model.weights.h5"
    seen = []

    def write(tmp):
        seen.append(tmp)
        tmp.write_bytes(b"new")

    assert write_atomic(path, write) == path
    assert path.read_bytes() == b"new"
    assert len(seen) == 1 and seen[0].parent == tmp_path
    assert seen[0].name.startswith(".partial-") and seen[0].name.endswith("-model.weights.h5")  # whole name as ending
    assert os.listdir(tmp_path) == ["model.weights.h5"]


def test_write_atomic_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text('{"old": true}')

    def crash(tmp):
        tmp.write_text('{"half')
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(path, crash)
    assert path.read_text() == '{"old": true}'
    assert os.listdir(tmp_path) == ["metrics.json"]  # no .partial- file left behind


def test_two_writers_of_one_file_do_not_take_each_others_temporary(tmp_path):
    """Two `tune` workers on one sweep write tune.json at once; here the second writes and renames
    while the first is between its write and its rename. Both succeed; the last rename wins whole."""
    path = tmp_path / "tune.json"

    def first(tmp):
        tmp.write_text('{"by": "first"}')
        write_atomic(path, lambda other: other.write_text('{"by": "second"}'))

    write_atomic(path, first)
    assert json.loads(path.read_text()) == {"by": "first"}
    assert os.listdir(tmp_path) == ["tune.json"]


def test_write_atomic_failing_before_anything_is_written(tmp_path):
    path = tmp_path / "report.md"

    def crash(tmp):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, crash)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("number", "code"),
    [(errno.ENOSPC, 1), (errno.EFBIG, 1), (errno.EIO, 1), (errno.EACCES, 2), (errno.EROFS, 2), (errno.EISDIR, 2)],
)
def test_an_os_error_while_writing_names_the_file_and_the_cause(tmp_path, number, code):
    """One line naming the file (not its temporary) and the cause; exit 1 when a resource ran out,
    2 for a path that cannot be used; the old file kept and nothing half-written left."""
    path = tmp_path / "metrics.json"
    path.write_text('{"old": true}')

    def fail(tmp):
        tmp.write_text('{"half')
        raise OSError(number, os.strerror(number), str(tmp))

    with pytest.raises(Error) as caught:
        write_atomic(path, fail)
    assert str(caught.value) == f"{path}: {os.strerror(number)}"
    assert caught.value.exit_code == code and isinstance(caught.value, ForecastError) == (code == 2)
    assert path.read_text() == '{"old": true}' and os.listdir(tmp_path) == ["metrics.json"]


def test_a_file_size_limit_is_a_resource_error_naming_the_file(tmp_path):
    """`ulimit -f` for real (Python ignores SIGXFSZ, so the write fails with EFBIG)."""
    import resource

    path = tmp_path / "history.csv"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        with pytest.raises(Error) as caught:
            write_text(path, "x" * 10_000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert str(caught.value) == f"{path}: File too large" and caught.value.exit_code == 1
    assert os.listdir(tmp_path) == []


def test_h5py_errors_are_named_by_the_errno_in_their_message(tmp_path):
    """h5py puts a paragraph in strerror (or no errno at all): the line keeps the C library's words."""
    path = tmp_path / "epoch-0001.weights.h5"
    for error in (
        OSError(errno.EFBIG, "Unable to extend file properly, errno = 27, error message = 'file too large' (...)"),
        OSError("Unable to synchronously create file (errno = 28, error message = 'No space left on device')"),
    ):

        def fail(tmp, error=error):
            raise error

        with pytest.raises(Error) as caught:
            write_atomic(path, fail)
        assert str(caught.value) in (f"{path}: File too large", f"{path}: No space left on device")
        assert caught.value.exit_code == 1


def test_write_json_turns_numpy_scalars_into_numbers(tmp_path):
    path = write_json(
        tmp_path / "state.json",
        {"best": np.float32(0.5), "wait": np.int64(3), "ok": np.bool_(True), "list": [np.float64(1.25), 2]},
    )
    text = path.read_text()
    assert text.endswith("}\n")
    assert json.loads(text) == {"best": 0.5, "wait": 3, "ok": True, "list": [1.25, 2]}
    assert type(json.loads(text)["wait"]) is int


def test_write_text_overwrites(tmp_path):
    path = tmp_path / "history.csv"
    write_text(path, "a\n")
    write_text(path, "b\n")
    assert path.read_text() == "b\n" and os.listdir(tmp_path) == ["history.csv"]


def test_create_refuses_a_non_empty_run_dir(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "metrics.json").write_text("{}")
    with pytest.raises(ForecastError, match="already exists and is not empty") as err:
        Run.create("tiny", tmp_path / "busy")
    assert err.value.exit_code == 2
    assert os.listdir(tmp_path / "busy") == ["metrics.json"]


def test_create_refuses_a_run_dir_that_is_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ForecastError, match="is a file, not a directory"):
        Run.create("tiny", tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_create_takes_an_empty_or_absent_run_dir(tmp_path):
    (tmp_path / "empty").mkdir()
    assert Run.create("tiny", tmp_path / "empty").path == tmp_path / "empty"
    deep = tmp_path / "a" / "b" / "run"
    assert Run.create("tiny", str(deep)).path == deep and deep.is_dir()


def test_create_names_runs_by_time_and_never_reuses_one(tmp_path):
    runs = [Run.create("tiny", root=tmp_path / "runs") for _ in range(3)]
    names = [r.path.name for r in runs]
    assert len(set(names)) == 3 and all(n.startswith("tiny-") for n in names)
    assert all(r.path.is_dir() and r.path.parent == tmp_path / "runs" for r in runs)


def test_open_a_missing_directory(tmp_path):
    with pytest.raises(ForecastError) as err:
        Run.open(tmp_path / "nope")
    assert str(err.value) == f"{tmp_path / 'nope'}: not a forecast run directory (no such directory)"
    assert err.value.exit_code == 2


def test_open_names_the_missing_files(tmp_path):
    with pytest.raises(ForecastError) as err:
        Run.open(tmp_path)
    assert str(err.value).endswith("not a forecast run directory (missing config.yaml, scaler.json, model.keras)")
    run = Run(tmp_path)
    run.config_file.write_text("name: x\n")
    run.scaler_file.write_text("{}")
    with pytest.raises(ForecastError, match=r"\(missing model.keras\)"):
        Run.open(tmp_path)
    assert Run.open(tmp_path, trained=False).path == tmp_path  # enough to resume
    run.model_file.write_bytes(b"")
    assert Run.open(tmp_path).path == tmp_path


def test_paths_status_and_config(tmp_path):
    run = Run(tmp_path)
    assert [p.name for p in (run.config_file, run.model_file, run.scaler_file)] == [
        "config.yaml",
        "model.keras",
        "scaler.json",
    ]
    assert [p.name for p in (run.history_file, run.metrics_file, run.report_file)] == [
        "history.csv",
        "metrics.json",
        "report.md",
    ]
    assert run.status is None
    run.set_status("interrupted", "interrupted by SIGTERM")
    record = json.loads(run.status_file.read_text())
    assert record["status"] == "interrupted" and record["message"] == "interrupted by SIGTERM"
    assert record["pid"] == os.getpid() and run.status == "interrupted"
    run.set_status("completed")
    assert run.status == "completed" and "message" not in json.loads(run.status_file.read_text())
    assert repr(run) == f"Run({str(tmp_path)!r}, status='completed')"

    run.config_file.write_text(yaml.safe_dump(tiny_config()))
    assert run.config == cfg.validate(tiny_config()) and run.load_config() == run.config
    run.config_file.write_text("model: {cell: transformer}\n")
    with pytest.raises(ForecastError, match=r"config\.yaml: model\.cell"):
        _ = run.config


def test_metrics_of_a_run(tmp_path):
    run = Run(tmp_path)
    with pytest.raises(ForecastError, match=r"no readable metrics\.json"):
        _ = run.metrics
    run.metrics_file.write_text('{"test": {"model": {}}}')  # truncated by hand: still a clean error
    with pytest.raises(ForecastError, match=r"no readable metrics\.json"):
        _ = run.metrics
    scores = {"mae": 1.0, "rmse": 2.0, "mse": 4.0, "mape": 9.0}
    block = {"model": scores, "naive": scores, "scaled": {"model": scores, "naive": scores}, "windows": 5}
    write_json(run.metrics_file, {"val": block, "test": block})
    assert run.metrics == Metrics.from_dict({"val": block, "test": block}) and run.metrics.test.windows == 5


def test_sigterm_outside_training_removes_the_temporary_and_exits_143(tmp_path, monkeypatch, capsys):
    """`forecast predict --output` killed with SIGTERM mid-write: the CLI unwinds (its handler raises
    past every `except Exception`), write_atomic's clean-up removes the half-written temporary, and
    the exit code says which signal (128 + 15)."""

    from forecast import cli

    path = tmp_path / "forecast.csv"

    def command():
        def write(tmp):
            tmp.write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)  # delivered here, between the write and the rename

        try:
            write_atomic(path, write)
        except Exception:  # as any library code on the way out might: it must not swallow the signal
            pytest.fail("SIGTERM was caught as an ordinary exception")

    def unhandled(signum, frame):  # main() must replace this; if not, a failure instead of a killed pytest
        pytest.fail("forecast's CLI installed no SIGTERM handler")

    previous = signal.signal(signal.SIGTERM, unhandled)
    monkeypatch.setattr(cli, "app", command)
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert exited.value.code == 143
    assert os.listdir(tmp_path) == []
    assert capsys.readouterr().err == "forecast: terminated\n"


def test_a_held_lock_names_its_holder(tmp_path):
    with hold(tmp_path / ".lock", "run X"):
        with (
            pytest.raises(Busy, match=rf"run X is being written by pid {os.getpid()} on ") as caught,
            hold(tmp_path / ".lock", "run X"),
        ):
            pass
        assert caught.value.exit_code == 2
    with hold(tmp_path / ".lock", "run X"):  # released on exit
        pass


@pytest.mark.slow  # a subprocess
def test_the_lock_of_a_killed_process_is_free(tmp_path):
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from forecast.rundir import hold
        with hold(__import__("pathlib").Path({str(tmp_path / ".lock")!r}), "run"):
            print("held", flush=True)
            os.kill(os.getpid(), 9)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "held" and out.returncode == -9
    with hold(tmp_path / ".lock", "run"):  # no stale lock: the kernel released it with the process
        pass


@pytest.mark.slow  # a subprocess
def test_model_that_does_not_match_its_config_is_refused(tmp_path, write_config):
    a = write_config(tiny_config(), "a.yaml")
    b = write_config(tiny_config(window={"lookback": 12, "step": 1, "horizon": 2}, model={"base": "linear"}), "b.yaml")
    for path, run in ((a, "ra"), (b, "rb")):
        assert run_cli("train", path, "--run-dir", tmp_path / run, "--quiet").returncode == 0
    (tmp_path / "ra" / "model.keras").write_bytes((tmp_path / "rb" / "model.keras").read_bytes())
    out = run_cli("evaluate", tmp_path / "ra")
    assert out.returncode == 2 and "does not belong to this config" in out.stderr
    (tmp_path / "ra" / "model.keras").write_text("not a model")
    out = run_cli("evaluate", tmp_path / "ra")
    assert out.returncode == 2 and "cannot load the model" in out.stderr


@pytest.mark.slow  # a subprocess
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
