"""Shared helpers: run the real CLI in a subprocess, write small configs on ETTh1, train shared runs;
and the `slow` tier's rule for tests that use a training fixture (TRAINING_FIXTURES)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ETTH1 = ROOT / "data" / "ETTh1.csv"


# Fixtures that train (or kill) a real run when first requested. A scoped fixture's setup is charged to the
# first test that uses it, so every test that requests one, directly or through another fixture, is marked
# `slow` by pytest_collection_modifyitems below; a new training fixture must be added here. Any other test that
# trains or loads a Keras model, runs a subprocess, or takes more than ~0.3 s is marked `slow` where it is
# written (`@pytest.mark.slow`, or `pytestmark` in a file whose every test is slow).
TRAINING_FIXTURES = frozenset(
    {
        "tiny_run",  # conftest: the shared tiny run (and `run`, which returns it)
        "text_ids_run",  # conftest: a panel run on ids that look like numbers
        "trained",  # test_api (tiny_run), test_callbacks (3 epochs), test_cli (the CLI)
        "runs",  # test_scalers: a panel without and with scaler.clip
        "ensemble",  # test_ensemble: two seeds by `repeat`
        "base_runs",  # test_export: one run per base
        "panel_with_extras",  # test_export: a panel reading every extra input
        "covariate_panel",  # test_panel: future covariate, statics, calendar
        "independent_run",  # test_inference: a channel-independent run
        "conformal_run",  # test_plots: conformal intervals
        "panel_run",  # test_plots, test_shards: a panel run
        "covariate_run",  # test_shards: a panel run with a future covariate
        "daily_run",  # test_shards: a daily panel run
        "killed",  # test_resume: a run killed in its last write
    }
)


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `slow` every test that requests a fixture in TRAINING_FIXTURES (its whole fixture closure)."""
    for item in items:
        if TRAINING_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`forecast ARGS` as a user runs it: its own process, exit code and streams (`env`: added variables)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "forecast", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tiny_config(**overrides) -> dict:
    """A run on the first 1,000 rows of ETTh1 that trains in seconds."""
    config = {
        "name": "tiny",
        "seed": 7,
        "data": {
            "path": str(ETTH1),
            "time_column": "date",
            "split": {"train_end": 600, "val_end": 800, "test_end": 1000},
        },
        "window": {"lookback": 24, "step": 2, "delay": 1, "horizon": 4},
        "model": {"cell": "lstm", "layers": [{"units": 8}, {"units": 8}]},
        "training": {"epochs": 2, "batch_size": 32},
    }
    for key, value in overrides.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    return config


def naive_expectation() -> tuple[float, float]:
    """tiny_config's test naive MAE, original and scaled, from the raw CSV by lagged differences.

    Independent of forecast's window arithmetic (origins, gathers, repeated last values): the
    repeat-last forecast of row t made s steps ahead is row t - s, so its errors are
    |raw.diff(s)|. The test windows' origins are rows 799..995 (targets 800..999), so step s
    scores rows 799+s..995+s. Scaled: each column divided by its std over the 600 training rows
    (StandardScaler, ddof 0). Evaluated once by hand: 0.871823984, 0.485489330.
    """
    raw = pd.read_csv(ETTH1, nrows=1000).drop(columns="date")
    lagged = [raw.diff(s).iloc[799 + s : 996 + s].abs() for s in range(1, 5)]
    assert all(len(errors) == 197 for errors in lagged)
    std = raw.iloc[:600].std(ddof=0)
    mae = float(np.mean([errors.to_numpy() for errors in lagged]))
    scaled = float(np.mean([(errors / std).to_numpy() for errors in lagged]))
    assert (mae, scaled) == pytest.approx((0.871823984, 0.485489330), rel=1e-8)
    return mae, scaled


@pytest.fixture
def write_config(tmp_path):
    def write(config: dict | str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
        return path

    return write


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One 1-epoch run of tiny_config, trained in-process once for every fast test that only reads it
    (tests that change a run copy its directory first)."""
    import forecast

    root = tmp_path_factory.mktemp("tiny-run")
    return forecast.train(forecast.Config.model_validate(tiny_config(training={"epochs": 1})), run_dir=root / "run")


@pytest.fixture
def run(tiny_run):
    """The shared tiny run, under the name most tests use."""
    return tiny_run


@pytest.fixture(scope="session")
def recent(tmp_path_factory):
    """ETTh1's first 300 rows: a short file to forecast from."""
    import pandas as pd

    path = tmp_path_factory.mktemp("recent") / "recent.csv"
    pd.read_csv(ETTH1, nrows=300).to_csv(path, index=False)
    return path


# A tuning search space of every kind: log-uniform, integer steps, choices, and a key drawn only for one choice
SPACE = {
    "training.learning_rate": {"low": 1e-3, "high": 1e-2, "log": True},
    "model.layers[0].units": {"low": 4, "high": 12, "step": 4},
    "model.decoder": {"choices": ["dense", "parallel"]},
    "model.segment_len": {"choices": [2, 4], "when": {"model.decoder": "parallel"}},
}

# Series ids pandas would read as numbers (1, 1, 1.0, 7, 10): text, each its own series, on every path
TEXT_IDS = {"1": 44, "01": 40, "1.0": 42, "007": 41, "10": 43}


@pytest.fixture(scope="session")
def text_ids_run(tmp_path_factory):
    """A panel run (2 epochs) trained on a CSV whose ids look like numbers (TEXT_IDS), and that CSV."""
    from test_panel import panel_config, panel_frame

    import forecast

    root = tmp_path_factory.mktemp("text-ids")
    panel_frame(TEXT_IDS).to_csv(root / "panel.csv", index=False)
    config = panel_config(root / "panel.csv", split={"val_last": 4, "test_last": 4})
    return forecast.train(config, root / "run"), root / "panel.csv"
