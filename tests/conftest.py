"""Shared helpers (test files import them from here, never from each other): run the real CLI in a
subprocess, write small configs on ETTh1 and on a small panel, check an export against predict, train
shared runs; and the `slow` tier's rule for tests that use a training fixture (TRAINING_FIXTURES)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import forecast
from forecast import config as cfg
from forecast.export import run_exported
from forecast.signature import stamps

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
        # auto's choice here, named: under base auto it would train ets beside it (twice the time);
        # the tests of auto (test_base_auto.py) set base: auto
        "model": {"cell": "lstm", "layers": [{"units": 8}, {"units": 8}], "base": "seasonal_linear"},
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


LENGTHS = {"a": 80, "b": 60, "c": 45, "d": 6}  # d is too short for one window


def panel_frame(lengths: dict[str, int] = LENGTHS, seed: int = 0) -> pd.DataFrame:
    """Hourly series of different lengths and start times, with a future covariate, a past one and statics."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, (name, n) in enumerate(lengths.items()):
        hours = np.arange(n)
        times = pd.Timestamp("2021-03-01") + pd.to_timedelta(hours + 5 * k, unit="h")
        promo = ((hours + k) % 7 == 0).astype(float)
        sales = 100 * (k + 1) + 10 * np.sin(2 * np.pi * hours / 24) + 30 * promo + rng.normal(0, 1, n)
        parts.append(
            pd.DataFrame(
                {
                    "store": name,
                    "time": times,
                    "sales": sales,
                    "promo": promo,
                    "visits": sales / 10 + rng.normal(0, 1, n),
                    "region": "north" if k % 2 else "south",
                    "size": float(k + 1),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def panel_config(path, **data) -> cfg.Config:
    raw = {
        "name": "panel",
        "seed": 3,
        "data": {
            "path": str(path),
            "id_column": "store",
            "time_column": "time",
            "targets": ["sales"],
            "features": ["sales"],
            "split": {"val_last": 8, "test_last": 8},
            **data,
        },
        "window": {"lookback": 12, "horizon": 4},
        "model": {"layers": [{"units": 8}]},
        "training": {"epochs": 2, "batch_size": 16},
        "tracking": {"tensorboard": False},
    }
    return cfg.Config.model_validate(raw)


SEGRNN = dict(
    cell="gru",
    base="none",  # model.base auto is resolved with data; these build the model directly
    layers=[cfg.Layer(units=16)],
    instance_norm="last",
    instance_norm_affine=True,
    channel_independent=True,
    channel_embedding=True,
    segment_len=6,
    decoder="parallel",
    dropout_between=0.1,
)


PARITY = 1e-4  # absolute, original units (issue 19)


def every_window(run, data=None) -> tuple[dict, object]:
    """Raw inputs at every origin of the run's data, and `forecast predict --all-origins` for them.

    The inputs come from the series predict itself forecasts from (`api.forecaster`: read with its
    future rows and extended past each series' end, the appended rows stamped on the series' grid),
    so that the last origins' horizons, which reach past the end, get the same stamps and values.
    """
    config = run.config
    found = forecast.api.forecasts(run, data, all_origins=True)
    forecaster = forecast.api.forecaster(run, data, all_origins=True)
    series, spec, origins = forecaster.series, forecaster.spec, forecaster.origins
    rows, horizon = origins[:, None] + spec.input_offsets(), origins[:, None] + spec.target_offsets()
    inputs = {"window": np.take(series.features, rows, axis=0).astype("float32")}
    which = series.series_of(origins)
    if series.ids is not None:
        ids = run.load_scalers(config).ids
        inputs["series"] = np.array([ids.index(series.ids[i]) for i in which], dtype="int32")
    if config.data.calendar:
        seconds = stamps(series.times)
        inputs["window_time"], inputs["future_time"] = seconds[rows], seconds[horizon]
    if config.data.covariates.future:
        columns = [series.feature_names.index(c) for c in config.data.covariates.future]
        inputs["future"] = np.take(series.features, horizon, axis=0)[..., columns].astype("float32")
    encoder = run.load_scalers(config).static
    if encoder is not None and encoder.numeric:
        inputs["static"] = series.static[list(encoder.numeric)].to_numpy("float32")[which]
    if encoder is not None and encoder.categorical:  # the signature's codes: 0 unseen, k vocabulary[k - 1]
        codes = [[vocabulary.index(str(v)) + 1 if str(v) in vocabulary else 0 for v in series.static[column]]
                 for column, vocabulary in encoder.categorical.items()]  # fmt: skip
        inputs["categories"] = np.array(codes, dtype="int32").T[which]
    assert len(origins) == len(found.values)
    return inputs, found


def check_parity(run, tmp_path, fmt: str, data=None) -> dict:
    output = tmp_path / ("model.onnx" if fmt == "onnx" else "saved")
    signature = forecast.api.export(run, fmt, output)
    inputs, found = every_window(run, data)
    assert sorted(i["name"] for i in signature["inputs"]) == sorted(inputs)
    outputs = run_exported(output, fmt, inputs)
    assert np.abs(outputs["forecast"] - found.values).max() < PARITY
    if "bounds" in outputs:
        for k, name in enumerate(found.bounds):
            assert np.abs(outputs["bounds"][:, :, k, :] - found.bounds[name]).max() < PARITY, name
    return signature


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
    root = tmp_path_factory.mktemp("text-ids")
    panel_frame(TEXT_IDS).to_csv(root / "panel.csv", index=False)
    config = panel_config(root / "panel.csv", split={"val_last": 4, "test_last": 4})
    return forecast.train(config, root / "run"), root / "panel.csv"
