"""Sweeps (issue 7): a 2 x 2 grid run as two shards into one directory, resumed, ranked."""

import json

import pandas as pd
import pytest

from forecast.errors import ForecastError
from forecast.sweep import shard_of, trials

from conftest import run_cli, tiny_config


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
