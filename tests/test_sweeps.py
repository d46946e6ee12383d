"""forecast.sweeps (issue 7): a grid (or random draws from a huge one), run as shards into one directory that
workers share, resumed, ranked on its leaderboard; a plan that changed is refused."""

import json
import logging
import os
import threading

import pandas as pd
import pytest
import yaml
from conftest import ETTH1, run_cli, tiny_config
from typer.testing import CliRunner

import forecast
from forecast import api
from forecast import config as cfg
from forecast.cli import app
from forecast.errors import ForecastError
from forecast.leaderboards import of_sweep
from forecast.results import Metrics, Scores, SplitScores, TrainingStats
from forecast.rundir import Run, hold, write_json
from forecast.shards import shard_of
from forecast.sweep_dirs import keep_plan, overrides
from forecast.sweeps import MAX_TRIALS, combination, read_grid, record, trials


def test_grid_expansion_random_draws_and_shards(monkeypatch):
    grid = {"model.layers[0].units": [4, 8, 16], "training.learning_rate": [1e-3, 3e-4]}
    full = trials(grid, None, 0)
    assert len(full) == 6 and full[1] == {"model.layers[0].units": 4, "training.learning_rate": 3e-4}
    drawn = trials(grid, 3, 0)
    assert len(drawn) == 3 and all(t in full for t in drawn) and drawn == trials(grid, 3, 0)
    assert shard_of("1/4") == (1, 4)
    with pytest.raises(ForecastError):
        shard_of("4/4")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "4")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
    assert shard_of(None) == (2, 4)


def test_overrides_and_grid_files(tmp_path):
    assert overrides({"model.layers[0].units": 8, "training.learning_rate": 3e-4, "model.dense": [16, 8]}) == [
        "model.layers[0].units=8",
        "training.learning_rate=0.0003",
        "model.dense=[16, 8]",
    ]
    grid = tmp_path / "grid.yaml"
    grid.write_text("training.learning_rate: [1e-3, 3e-4]\n")
    assert read_grid(grid) == {"training.learning_rate": [1e-3, 3e-4]}
    for bad in ("training.learning_rate: 1e-3\n", "training.learning_rate: []\n", "[1, 2]\n", ""):
        grid.write_text(bad)
        with pytest.raises(ForecastError, match="a grid maps dotted keys to non-empty lists"):
            read_grid(grid)


BASE = cfg.validate(tiny_config())


def test_record_keeps_the_plan_by_content_and_refuses_another(tmp_path):
    planned = [{"training.epochs": 1}, {"training.epochs": 2}]
    record(tmp_path, tmp_path / "c.yaml", BASE, planned)
    record(tmp_path, tmp_path / "c.yaml", BASE, planned)  # a second shard of the same sweep agrees
    plan = json.loads((tmp_path / "sweep.json").read_text())
    assert plan["trials"] == planned and plan["config"] == str((tmp_path / "c.yaml").resolve())
    assert plan["resolved"] == BASE.model_dump(mode="json")  # every default, data.path absolute
    assert plan["resolved"]["training"]["batch_size"] == 32 and plan["resolved"]["model"]["cell"] == "lstm"
    assert plan["data"] == {"size": ETTH1.stat().st_size, "sha256": plan["data"]["sha256"]}
    record(tmp_path, tmp_path / "moved.yaml", BASE, planned)  # the same content under another path is the same plan
    with pytest.raises(ForecastError) as err:
        record(tmp_path, tmp_path / "c.yaml", BASE, planned[:1])
    assert str(err.value) == (
        'trials[1]: {"training.epochs": 2} in the sweep\'s plan, absent now; '
        "rerun with --restart or use a new --sweep-dir"
    )
    assert err.value.exit_code == 2


def _sweep_of_one_completed_trial(tmp_path, write_config, **changes):
    """A sweep directory whose plan is tiny_config (with `changes`) and whose one trial completed:
    a rerun of it trains nothing."""
    config = write_config(tiny_config(training={"epochs": 1}, **changes))
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    record(sweep, config, cfg.load(config), trials(GRID, None, 0))
    _trial(sweep, 0, "completed", _metrics(0.5, 0.6))
    return config, sweep


GRID = {"training.learning_rate": [1e-3]}


def test_a_rerun_after_the_config_was_edited_is_refused_naming_the_key(tmp_path, write_config):
    """The finding: an edited config (horizon 4 -> 2) rerun into the same sweep directory used to
    exit 0 ("already completed") and present the horizon-4 results as the horizon-2 sweep."""
    config, sweep = _sweep_of_one_completed_trial(tmp_path, write_config)
    assert len(api.sweep(config, GRID, sweep).rows) == 1  # unchanged: resumes, nothing trains
    write_config(tiny_config(training={"epochs": 1}, window={"horizon": 2}))
    before = sorted(p.name for p in sweep.iterdir())
    with pytest.raises(ForecastError) as err:
        api.sweep(config, GRID, sweep)
    assert str(err.value) == (
        "window.horizon: 4 in the sweep's plan, 2 now; rerun with --restart or use a new --sweep-dir"
    )
    assert err.value.exit_code == 2 and sorted(p.name for p in sweep.iterdir()) == before
    # a --set is part of the resolved config too
    write_config(tiny_config(training={"epochs": 1}))
    with pytest.raises(ForecastError, match=r"^training\.batch_size: 32 in the sweep's plan, 16 now; rerun"):
        api.sweep(config, GRID, sweep, overrides=["training.batch_size=16"])


def test_a_rerun_after_the_data_changed_is_refused(tmp_path, write_config):
    data = tmp_path / "etth1.csv"
    data.write_text(ETTH1.read_text())
    config, sweep = _sweep_of_one_completed_trial(tmp_path, write_config, data={"path": str(data)})
    assert len(api.sweep(config, GRID, sweep).rows) == 1
    with data.open("a") as stream:  # a row appended: the same path, other data
        stream.write("2018-06-26 20:00:00,1,1,1,1,1,1,1\n")
    with pytest.raises(ForecastError, match=r"^data\.path: the data file is not the one recorded in the sweep's plan"):
        api.sweep(config, GRID, sweep)
    data.write_text(ETTH1.read_text())
    os.utime(data, (0, 0))  # the same bytes with another time (a copy, a checkout) are the same data
    assert len(api.sweep(config, GRID, sweep).rows) == 1


def test_a_plan_from_an_earlier_version_resumes_with_a_warning(tmp_path, write_config, caplog):
    config, sweep = _sweep_of_one_completed_trial(tmp_path, write_config)
    write_json(sweep / "sweep.json", {"config": str(config.resolve()), "trials": trials(GRID, None, 0)})
    with caplog.at_level("INFO", logger="forecast"):
        board = api.sweep(config, GRID, sweep)
    assert len(board.rows) == 1 and "trial-000 already completed" in caplog.text
    assert "records the config by path only: edits to it cannot be detected" in caplog.text
    assert "resolved" not in json.loads((sweep / "sweep.json").read_text())  # kept as it was
    with pytest.raises(ForecastError, match=r"^trials\[0\]\.training\.learning_rate: 0\.001 in the sweep's plan"):
        api.sweep(config, {"training.learning_rate": [3e-4]}, sweep)  # compared as it was: by path and grid


def test_restart_refuses_while_a_trial_is_held_and_removes_nothing(tmp_path, write_config):
    config, sweep = _sweep_of_one_completed_trial(tmp_path, write_config)
    write_config(tiny_config(training={"epochs": 1}, window={"horizon": 2}))
    grid = tmp_path / "grid.yaml"
    grid.write_text("training.learning_rate: [1.0e-3]\n")
    (sweep / ".claims").mkdir()
    log = logging.getLogger("forecast")
    saved = log.handlers[:], log.level, log.propagate
    args = ["sweep", str(config), "--grid", str(grid), "--sweep-dir", str(sweep), "--restart"]
    try:
        with hold(sweep / ".claims" / "trial-000.lock", "a sweep worker"):
            result = CliRunner().invoke(app, args)
    finally:  # the CLI points the logger at CliRunner's stream, closed after the call
        log.handlers[:], log.level, log.propagate = saved
    assert result.exit_code == 2, result.output
    assert "--restart: trial-000 is being written by pid" in result.output
    assert Run(sweep / "trial-000").status == "completed"
    assert json.loads((sweep / "sweep.json").read_text())["resolved"]["window"]["horizon"] == 4


@pytest.mark.slow  # trains its trials
def test_restart_clears_another_plan_and_starts_over(tmp_path, write_config):
    config, sweep = _sweep_of_one_completed_trial(tmp_path, write_config)
    write_config(tiny_config(training={"epochs": 1}, window={"horizon": 2}))
    (sweep / "leaderboard.md").write_text("the horizon-4 board")
    board = api.sweep(config, GRID, sweep, restart=True)
    trial = Run(sweep / "trial-000")
    assert trial.status == "completed" and trial.config.window.horizon == 2  # trained anew
    assert board.rows[0]["val.model.mae"] == trial.metrics.val.model.mae != 0.5
    assert json.loads((sweep / "sweep.json").read_text())["resolved"]["window"]["horizon"] == 2
    assert "horizon-4" not in (sweep / "leaderboard.md").read_text()
    again = api.sweep(config, GRID, sweep, restart=True)  # the same plan: --restart has nothing to clear
    assert again.rows == board.rows and Run(sweep / "trial-000").metrics.to_dict() == trial.metrics.to_dict()


def _metrics(val_mae: float, test_mae: float) -> dict:
    """metrics.json as `forecast train` writes it."""

    def split(mae):
        def scores(m):
            return Scores(mae=m, rmse=m * 2, mse=m * 3, mape=10.0)

        return SplitScores(197, scores(mae), scores(0.9), scores(mae / 2), scores(0.45))

    stats = TrainingStats(3, 2, 1.5, 1000.0, 1308, "tensorflow", "cpu:0")
    return Metrics({"val": split(val_mae), "test": split(test_mae)}, stats).to_dict()


def _trial(sweep, i: int, status: str, metrics: dict | None) -> None:
    run = Run(sweep / f"trial-{i:03d}")
    run.path.mkdir(parents=True)
    run.set_status(status)
    if metrics is not None:
        write_json(run.metrics_file, metrics)


def test_leaderboard_ranks_completed_trials_in_process(tmp_path):
    sweep = tmp_path / "sweep"
    planned = [{"model.layers[0].units": u} for u in (4, 8, 16, 32)]
    sweep.mkdir()
    record(sweep, tmp_path / "c.yaml", BASE, planned)
    _trial(sweep, 0, "completed", _metrics(0.6, 0.5))
    _trial(sweep, 1, "completed", _metrics(0.4, 0.7))
    _trial(sweep, 2, "running", None)  # still training in another shard: skipped
    _trial(sweep, 3, "interrupted", _metrics(0.1, 0.1))  # killed; its metrics.json is stale: skipped
    board = of_sweep(sweep)
    assert board.metric == "val.model.mae" and board.directory == sweep
    assert [r["trial"] for r in board.rows] == ["trial-001", "trial-000"]
    assert board.rows[0] == {  # grid values as they are; no second column repeating the ranked metric
        "trial": "trial-001",
        "model.layers[0].units": 8,
        "val.model.mae": 0.4,
        "test_mae": 0.7,
        "test_rmse": 1.4,
        "test_scaled_mse": pytest.approx(1.05),
        "naive_test_mae": 0.9,
        "epochs": 3,
    }
    csv = pd.read_csv(sweep / "leaderboard.csv")
    assert list(csv["trial"]) == ["trial-001", "trial-000"] and list(csv["model.layers[0].units"]) == [8, 4]
    markdown = (sweep / "leaderboard.md").read_text()
    assert markdown == board.markdown
    lines = markdown.splitlines()
    assert lines[0] == "# Leaderboard: sweep (2 of 4 trials completed, ranked by val.model.mae)"
    assert lines[2].startswith("| rank | trial | model.layers[0].units | val.model.mae |")
    assert lines[4].startswith("| 1 | trial-001 | 8 | 0.4000 |") and lines[5].startswith("| 2 | trial-000 | 4 |")
    assert len(lines) == 6

    by_test = of_sweep(sweep, "test.scaled.model.mae")
    assert [r["trial"] for r in by_test.rows] == ["trial-000", "trial-001"]
    assert by_test.rows[0]["val_mae"] == 0.6  # ranked by another metric, val MAE is shown beside
    assert "ranked by test.scaled.model.mae" in (sweep / "leaderboard.md").read_text()


def test_leaderboard_of_a_sweep_with_nothing_completed(tmp_path):
    record(tmp_path, tmp_path / "c.yaml", BASE, [{"training.epochs": 1}])
    board = of_sweep(tmp_path)
    assert board.rows == [] and (tmp_path / "leaderboard.csv").read_text().strip() == "trial,val.model.mae"
    assert "(0 of 1 trials completed" in board.markdown


def test_leaderboard_errors(tmp_path):
    with pytest.raises(ForecastError, match="not a sweep directory"):
        of_sweep(tmp_path)
    record(tmp_path, tmp_path / "c.yaml", BASE, [{"training.epochs": 1}])
    _trial(tmp_path, 0, "completed", _metrics(0.5, 0.5))
    with pytest.raises(ForecastError, match=r"--metric val\.model\.nope: no such metric in") as err:
        of_sweep(tmp_path, "val.model.nope")
    assert err.value.exit_code == 2


@pytest.mark.slow
def test_two_shards_fill_one_sweep_and_resume_skips_finished(tmp_path, write_config):
    config = write_config(tiny_config(training={"epochs": 1}))
    grid = tmp_path / "grid.yaml"
    grid.write_text("model.layers[1].units: [4, 8]\ntraining.learning_rate: [1.0e-3, 3.0e-3]\n")
    sweep = tmp_path / "sweep"
    first = run_cli("sweep", config, "--grid", grid, "--shard", "0/2", "--sweep-dir", sweep, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in sweep.glob("trial-*")) == ["trial-000", "trial-002"]
    assert len(pd.read_csv(sweep / "leaderboard.csv")) == 2
    second = run_cli("sweep", config, "--grid", grid, "--shard", "1/2", "--sweep-dir", sweep, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    board = pd.read_csv(sweep / "leaderboard.csv")
    assert len(board) == 4 and list(board["val.model.mae"]) == sorted(board["val.model.mae"])
    assert "| rank |" in (sweep / "leaderboard.md").read_text()
    trial = json.loads((sweep / "sweep.json").read_text())["trials"][3]
    assert "units: 8" in (sweep / "trial-003" / "config.yaml").read_text() and trial["training.learning_rate"] == 3.0e-3
    # a killed trial starts over, finished ones are skipped
    (sweep / "trial-001" / "status.json").write_text('{"status": "interrupted"}')
    again = run_cli("sweep", config, "--grid", grid, "--sweep-dir", sweep, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("already completed") == 3 and "trial-001: val MAE" in again.stderr
    # leaderboard rebuilds from whatever exists; another grid into the same directory is refused
    assert run_cli("leaderboard", sweep).returncode == 0
    grid.write_text("training.epochs: [1, 2]\n")
    refused = run_cli("sweep", config, "--grid", grid, "--sweep-dir", sweep, cwd=tmp_path)
    assert refused.returncode == 2 and "trials[0].training.epochs: absent in the sweep's plan, 1 now" in refused.stderr


@pytest.mark.slow  # over 0.3 s (waits on a lock)
def test_a_worker_starting_while_another_writes_the_plan_waits_and_compares(tmp_path):
    """Two workers of one sweep start at once: the second waits for the first's plan, then compares
    it with its own (another plan is refused), instead of both seeing no file and both writing."""
    path, outcome = tmp_path / "tune.json", []

    def second():
        try:
            keep_plan(path, {"space": "b"}, "another plan")
            outcome.append("wrote")
        except ForecastError as exc:
            outcome.append(str(exc))

    with hold(tmp_path / ".tune.json.lock", "the first worker"):
        worker = threading.Thread(target=second)
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and not path.exists()  # waiting, not writing
        write_json(path, {"space": "a"})
    worker.join(10)
    assert outcome == ['space: "a" in another plan, "b" now; rerun with --restart or use a new --sweep-dir']
    assert json.loads(path.read_text()) == {"space": "a"}


def test_a_writer_killed_mid_write_leaves_nothing_the_next_holder_keeps(tmp_path):
    """SIGKILL between a write and its rename leaves `.partial-<token>-NAME` beside the file. The next
    holder of that file's lock is its only writer, so it clears them (plan and leaderboard both);
    another file's temporary, and anything else in the folder, stays."""
    stale = [tmp_path / f".partial-0123456789ab-{n}" for n in ("sweep.json", "leaderboard.csv", "leaderboard.md")]
    other = tmp_path / ".partial-0123456789ab-best.yaml"  # best.yaml is written under no lock: not ours to clear
    for path in [*stale, other]:
        path.write_text("half")
    record(tmp_path, tmp_path / "c.yaml", BASE, [{"training.epochs": 1}])
    assert not stale[0].exists() and stale[1].exists()
    of_sweep(tmp_path)
    assert not any(path.exists() for path in stale)
    assert other.read_text() == "half"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        ".partial-0123456789ab-best.yaml",
        "leaderboard.csv",
        "leaderboard.md",
        "sweep.json",
    ]


@pytest.mark.slow  # trains in-process for a few seconds
def test_a_failing_trial_does_not_stop_the_sweep(tmp_path, write_config):
    config = write_config(tiny_config(training={"epochs": 1}))
    board = forecast.sweep(config, {"window.lookback": [700, 24]}, tmp_path / "sweep")  # 700: too long for train
    assert [row["trial"] for row in board.rows] == ["trial-001"]


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


def test_a_metric_typo_is_refused_before_any_trial_trains(tmp_path, write_config):
    config = write_config(tiny_config(training={"epochs": 1}))
    with pytest.raises(ForecastError, match=r"--metric val\.model\.maee: no such metric"):
        forecast.sweep(config, {"training.epochs": [1, 2]}, tmp_path / "sweep", metric="val.model.maee")
    assert not (tmp_path / "sweep").exists()


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


@pytest.mark.slow  # trains in-process for a few seconds
def test_sweep_takes_set_and_names_a_bad_grid_key_as_the_grids(tmp_path, write_config):
    config = write_config(tiny_config(training={"epochs": 1}))
    with pytest.raises(forecast.ForecastError, match="--grid"):
        forecast.sweep(config, {"model.unitz": [1]}, tmp_path / "bad")
    board = forecast.sweep(config, {"model.layers[0].units": [4]}, tmp_path / "ok", overrides=["seed=3"])
    assert json.loads((tmp_path / "ok" / "sweep.json").read_text())["set"] == ["seed=3"]
    assert cfg.validate(yaml.safe_load((tmp_path / "ok" / "trial-000" / "config.yaml").read_text())).seed == 3
    assert "val_mae" not in board.rows[0] and board.rows[0]["model.layers[0].units"] == 4
