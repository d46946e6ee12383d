"""Sweeps (issue 7): a 2 x 2 grid run as two shards into one directory, resumed, ranked."""

import json
import threading

import pandas as pd
import pytest
from conftest import run_cli, tiny_config

from forecast.errors import ForecastError
from forecast.results import Metrics, Scores, SplitScores, TrainingStats
from forecast.rundir import Run, hold, write_json
from forecast.sweeps import keep_plan, leaderboard, overrides, read_grid, record, shard_of, trials


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


def test_record_keeps_the_plan_and_refuses_another(tmp_path):
    planned = [{"training.epochs": 1}, {"training.epochs": 2}]
    record(tmp_path, tmp_path / "c.yaml", planned)
    record(tmp_path, tmp_path / "c.yaml", planned)  # a second shard of the same sweep agrees
    assert json.loads((tmp_path / "sweep.json").read_text()) == {
        "config": str((tmp_path / "c.yaml").resolve()),
        "trials": planned,
    }
    with pytest.raises(ForecastError, match="another config or grid"):
        record(tmp_path, tmp_path / "c.yaml", planned[:1])


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
    record(sweep, tmp_path / "c.yaml", planned)
    _trial(sweep, 0, "completed", _metrics(0.6, 0.5))
    _trial(sweep, 1, "completed", _metrics(0.4, 0.7))
    _trial(sweep, 2, "running", None)  # still training in another shard: skipped
    _trial(sweep, 3, "interrupted", _metrics(0.1, 0.1))  # killed; its metrics.json is stale: skipped
    board = leaderboard(sweep)
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

    by_test = leaderboard(sweep, "test.scaled.model.mae")
    assert [r["trial"] for r in by_test.rows] == ["trial-000", "trial-001"]
    assert by_test.rows[0]["val_mae"] == 0.6  # ranked by another metric, val MAE is shown beside
    assert "ranked by test.scaled.model.mae" in (sweep / "leaderboard.md").read_text()


def test_leaderboard_of_a_sweep_with_nothing_completed(tmp_path):
    record(tmp_path, tmp_path / "c.yaml", [{"training.epochs": 1}])
    board = leaderboard(tmp_path)
    assert board.rows == [] and (tmp_path / "leaderboard.csv").read_text().strip() == "trial,val.model.mae"
    assert "(0 of 1 trials completed" in board.markdown


def test_leaderboard_errors(tmp_path):
    with pytest.raises(ForecastError, match="not a sweep directory"):
        leaderboard(tmp_path)
    record(tmp_path, tmp_path / "c.yaml", [{"training.epochs": 1}])
    _trial(tmp_path, 0, "completed", _metrics(0.5, 0.5))
    with pytest.raises(ForecastError, match=r"--metric val\.model\.nope: no such metric in") as err:
        leaderboard(tmp_path, "val.model.nope")
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
    assert refused.returncode == 2 and "another config or grid" in refused.stderr


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
    assert outcome == ["another plan"]
    assert json.loads(path.read_text()) == {"space": "a"}


def test_a_writer_killed_mid_write_leaves_nothing_the_next_holder_keeps(tmp_path):
    """SIGKILL between a write and its rename leaves `.partial-<token>-NAME` beside the file. The next
    holder of that file's lock is its only writer, so it clears them (plan and leaderboard both);
    another file's temporary, and anything else in the folder, stays."""
    stale = [tmp_path / f".partial-0123456789ab-{n}" for n in ("sweep.json", "leaderboard.csv", "leaderboard.md")]
    other = tmp_path / ".partial-0123456789ab-best.yaml"  # best.yaml is written under no lock: not ours to clear
    for path in [*stale, other]:
        path.write_text("half")
    record(tmp_path, tmp_path / "c.yaml", [{"training.epochs": 1}])
    assert not stale[0].exists() and stale[1].exists()
    leaderboard(tmp_path)
    assert not any(path.exists() for path in stale)
    assert other.read_text() == "half"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        ".partial-0123456789ab-best.yaml",
        "leaderboard.csv",
        "leaderboard.md",
        "sweep.json",
    ]
