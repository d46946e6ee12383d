"""Guards that run before anything is written: hostile configs and grids, one writer per run,
and a status.json that stays true on every way out."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT, run_cli, tiny_config

import forecast
from forecast import config as cfg
from forecast import lifecycle
from forecast.errors import ForecastError
from forecast.rundir import Busy, hold
from forecast.shards import shard_of
from forecast.sweeps import MAX_TRIALS, combination, trials

# --- configs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("seed: -1\n", "seed: Input should be greater than or equal to 0"),
        ("seed: 4294967296\n", "seed: Input should be less than 4294967296"),
        ("model:\n  l2: .inf\n", "model.l2: Input should be a finite number"),
        ("scaler:\n  type: minmax\n  feature_range: [0, .inf]\n", "scaler.feature_range[1]: Input should be a finite"),
        ("training:\n  learning_rate: .nan\n", "training.learning_rate: Input should be a finite number"),
        ("name: a\nseed: 1\nname: b\n", "duplicate key 'name' at line 3"),
    ],
)
def test_values_the_backend_would_reject_are_config_errors(tmp_path, yaml_text, message):
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ForecastError, match=message.replace("[", r"\[").replace("]", r"\]")):
        cfg.load(path)


def test_an_alias_bomb_is_refused_in_a_short_line(tmp_path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\nname: *i\n")
    assert path.stat().st_size < 600
    with pytest.raises(ForecastError, match="expands to more than 100,000 values") as caught:
        cfg.load(path)
    assert len(str(caught.value)) < 200


def test_an_echoed_input_is_cut_short():
    with pytest.raises(ForecastError) as caught:
        cfg.validate({"window": {"lookback": "x" * 10_000}})
    assert "window.lookback" in str(caught.value) and len(str(caught.value)) < 200


# --- grids and shards ------------------------------------------------------------------------


def test_a_huge_grid_is_sampled_without_building_it():
    grid = {f"k{i}": list(range(10)) for i in range(11)}  # 10^11 combinations
    drawn = trials(grid, 3, seed=1)
    assert len(drawn) == 3 and drawn == trials(grid, 3, seed=1)
    with pytest.raises(ForecastError, match=f"100,000,000,000 combinations, more than {MAX_TRIALS:,}"):
        trials(grid, None, seed=1)


def test_combinations_are_decoded_in_product_order():
    import itertools

    grid = {"a": [1, 2, 3], "b": ["x", "y"], "c": [None, True]}
    product = [dict(zip(grid, v, strict=True)) for v in itertools.product(*grid.values())]
    assert [combination(grid, i) for i in range(12)] == product


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "4"}, "not integers: SLURM_ARRAY_TASK_ID='x'"),
        ({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4"}, "SLURM_ARRAY_TASK_ID=4 is outside the array"),
        ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "1"}, "outside"),
    ],
)
def test_bad_slurm_variables_are_named(monkeypatch, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ForecastError, match=message):
        shard_of(None)


def test_a_metric_typo_is_refused_before_any_trial_trains(tmp_path, write_config):
    config = write_config(tiny_config(training={"epochs": 1}))
    with pytest.raises(ForecastError, match=r"--metric val\.model\.maee: no such metric"):
        forecast.sweep(config, {"training.epochs": [1, 2]}, tmp_path / "sweep", metric="val.model.maee")
    assert not (tmp_path / "sweep").exists()


# --- one writer ------------------------------------------------------------------------------


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


def test_resume_of_a_run_being_written_is_refused(tmp_path):
    config = cfg.validate(tiny_config(training={"epochs": 1}))
    prepared = lifecycle.plan(config)
    run = lifecycle.create(config, prepared, tmp_path / "run")
    assert run.status == "created"
    with run.lock(), pytest.raises(Busy, match="is being written by pid"):
        forecast.resume(run)
    assert run.status == "created"  # the refused process wrote nothing


def test_two_trainings_into_one_run_dir(tmp_path):
    config = cfg.validate(tiny_config(training={"epochs": 1}))
    prepared = lifecycle.plan(config)
    run = lifecycle.create(config, prepared, tmp_path / "run")
    with pytest.raises(ForecastError, match="already exists and is not empty"):
        lifecycle.create(config, prepared, tmp_path / "run")
    assert json.loads(run.status_file.read_text())["status"] == "created"


@pytest.mark.slow  # trains in-process for a few seconds
def test_sweeps_share_trials_instead_of_clobbering_them(tmp_path, write_config):
    config = write_config(tiny_config(training={"epochs": 1}))
    sweep_dir = tmp_path / "sweep"
    (sweep_dir / ".claims").mkdir(parents=True)
    (sweep_dir / "trial-000").mkdir()
    (sweep_dir / "trial-000" / "marker").write_text("another process is training this trial")
    with hold(sweep_dir / ".claims" / "trial-000.lock", "trial trial-000"):  # as another worker would
        board = forecast.sweep(config, {"training.epochs": [1, 2]}, sweep_dir)
    assert (sweep_dir / "trial-000" / "marker").exists()  # not deleted, not trained
    assert [row["trial"] for row in board.rows] == ["trial-001"]


# --- status.json -----------------------------------------------------------------------------


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
@pytest.mark.parametrize("command", ["train", "validate"])
def test_an_unusable_backend_is_bad_input_before_the_run_exists(tmp_path, write_config, command):
    run_dir = ["--run-dir", str(tmp_path / "r")] if command == "train" else []
    out = run_cli(command, write_config(tiny_config()), *run_dir, env={"KERAS_BACKEND": "nope"}, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [NO_BACKEND]
    assert not (tmp_path / "r").exists()


# the one line for a backend Keras cannot load, from KERAS_BACKEND or keras.json alike
NO_BACKEND = (
    "forecast: error: KERAS_BACKEND=nope: cannot load Keras with this backend "
    "(not one of tensorflow, jax, torch, numpy, openvino)"
)


@pytest.mark.slow  # a subprocess: Keras is loaded in this one
def test_predict_names_a_backend_from_keras_json_as_validate_does(tiny_run, tmp_path):
    (tmp_path / "keras.json").write_text('{"backend": "nope"}')
    env = {**{k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}, "KERAS_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "forecast", "predict", str(tiny_run.path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [NO_BACKEND]


# --- bad files -------------------------------------------------------------------------------


def _etth1(rows=50):
    import pandas as pd
    from conftest import ETTH1

    return pd.read_csv(ETTH1, nrows=rows)


@pytest.mark.parametrize(
    ("name", "make", "extra", "message"),
    [
        ("bad.csv.gz", lambda p: p.write_bytes(b"\x1f\x8b\x08\x00garbage"), {}, "cannot read the file"),
        ("bad.csv.zip", lambda p: p.write_bytes(b"PK\x03\x04garbage"), {}, "cannot read the file"),
        ("bad.csv.bz2", lambda p: p.write_bytes(b"BZh9garbage"), {}, "cannot read the file"),
        ("bad.csv.xz", lambda p: p.write_bytes(b"\xfd7zXZ\x00garbage"), {}, "cannot read the file"),
        (
            "big.csv",
            lambda p: _etth1().assign(OT=lambda f: f.OT.where(f.index != 3, 1e39)).to_csv(p, index=False),
            {},
            "column 'OT' row 3: 1e\\+39 is beyond float32",
        ),
        (
            "tz.csv",
            lambda p: (
                _etth1().assign(date=["2020-01-01 00:00+01:00", "2020-01-01 01:00+02:00"] * 25).to_csv(p, index=False)
            ),
            {},
            "column 'date': Mixed timezones detected",
        ),
        (
            "dup.csv",
            lambda p: p.write_text("date,a,a\n2020-01-01,1,2\n2020-01-02,1,2\n"),
            {},
            "column 'a' appears twice in the header",
        ),
        ("fmt.csv", lambda p: _etth1().to_csv(p, index=False), {"time_format": "%Q"}, "'Q' is a bad directive"),
    ],
)
def test_bad_files_are_named_in_one_line(tmp_path, name, make, extra, message):
    from forecast.data import load_series

    path = tmp_path / name
    make(path)
    with pytest.raises(ForecastError, match=message) as caught:
        load_series(cfg.Data(path=str(path), time_column="date", **extra))
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_a_dotted_column_name_is_not_a_duplicate(tmp_path):
    from forecast.data import load_series

    path = tmp_path / "dots.csv"
    _etth1().rename(columns={"HULL": "HUFL.1"}).to_csv(path, index=False)
    assert "HUFL.1" in load_series(cfg.Data(path=str(path), time_column="date")).feature_names


def test_output_paths_are_checked_before_any_work(tmp_path):
    from forecast.outputs import check_output

    check_output(tmp_path / "out.csv")
    with pytest.raises(ForecastError, match=r"--output: the folder .* does not exist"):
        check_output(tmp_path / "missing" / "out.csv")
    with pytest.raises(ForecastError, match="is a folder; give a file name"):
        check_output(tmp_path)


def test_download_dest_that_is_a_file(tmp_path):
    from forecast.fetch import download

    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(ForecastError, match=r"--dest: .* is a file, not a folder"):
        download("jena", tmp_path / "data", url="http://127.0.0.1:9/none.zip")
