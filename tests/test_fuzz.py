"""Property-based fuzzing of the CLI with hostile configs, YAML and CSVs (hypothesis).

Whatever comes in, `forecast` must answer with exit 0, 1 or 2; an exit 2 is one line on stderr
that starts with "forecast: error:" and holds no traceback; a run that fails validation leaves
no run directory; a prediction file never holds a value that is not finite. The CLI runs
in-process (Typer's runner), so each example costs milliseconds unless it trains.
"""

from __future__ import annotations

import copy
import math
import string
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import ETTH1, tiny_config
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from forecast.cli import app

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["64", "", "x" * 400, "lstm", "none", "%Y", "../../etc/passwd", "\x00"]),
    st.lists(st.integers(-3, 200), max_size=4),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
)
KEYS = [
    "name", "seed", "data.path", "data.time_column", "data.time_format", "data.features", "data.targets",
    "data.fill", "data.split.train", "data.split.train_end", "data.split.val_end", "data.missing_values",
    "window.lookback", "window.step", "window.delay", "window.horizon", "window.variable_length",
    "scaler", "scaler.type", "scaler.feature_range", "model.cell", "model.layers", "model.layers[0].units",
    "model.layers[0].dropout", "model.l2", "model.dense", "model.instance_norm", "model.segment_len",
    "model.decoder", "model.channel_independent", "training.epochs", "training.batch_size",
    "training.learning_rate", "training.loss", "training.steps_per_epoch", "training.early_stopping",
    "training.distribute", "tracking.mlflow", "nope", "model.nope",
]  # fmt: skip


def _set(config: dict, key: str, value) -> None:
    node = config
    parts = key.replace("[0]", ".0").split(".")
    for part in parts[:-1]:
        nxt = node[int(part)] if isinstance(node, list) else node.get(part)
        if not isinstance(nxt, dict | list):
            nxt = {}
            node[part] = nxt
        node = nxt
    if isinstance(node, list):
        node[int(parts[-1]) if parts[-1].isdigit() else 0] = value
    else:
        node[parts[-1]] = value


def _check(result, tmp: Path | None = None) -> None:
    event(f"exit {result.exit_code}")
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("forecast: error:"), result.stderr
        assert len(lines[0]) <= 320
        if tmp is not None:
            assert not (tmp / "run").exists()


runner = CliRunner()


@pytest.mark.slow  # many hypothesis examples, over 0.3 s
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.sampled_from(KEYS), HOSTILE), min_size=1, max_size=3))
def test_validate_any_config(tmp_path, changes):
    path = _changed_config(tmp_path, tiny_config(), changes)
    if path is not None:
        _check(runner.invoke(app, ["validate", str(path)]))


def _changed_config(tmp_path, config: dict, changes) -> Path | None:
    """The config with the changes applied, written as YAML; None when YAML cannot hold it."""
    config = copy.deepcopy(config)
    for key, value in changes:
        _set(config, key, value)
    path = tmp_path / "c.yaml"
    try:
        path.write_text(yaml.safe_dump(config))
    except (yaml.YAMLError, ValueError):
        return None  # not representable as YAML: nothing a user could write
    return path


@pytest.mark.slow  # many hypothesis examples, over 0.3 s
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=string.printable + "&*!|>-:[]{}", max_size=300))
def test_validate_any_yaml_text(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    _check(runner.invoke(app, ["validate", str(path)]))


@pytest.mark.slow  # many hypothesis examples, over 0.3 s
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overrides=st.lists(st.text(alphabet=string.printable, max_size=40), min_size=1, max_size=3))
def test_any_set_override(tmp_path, overrides):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tiny_config()))
    args = ["validate", str(path)]
    for assignment in overrides:
        args += ["--set", assignment]
    _check(runner.invoke(app, args))


CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from(["", "nan", "inf", "-inf", "1e39", "abc", "1,5", "NA", "2020-01-01", "  7 "]),
    st.integers(-(10**20), 10**20),
)


@st.composite
def frames(draw):
    """ETTh1's first rows with a few cells, column names or time stamps replaced by hostile ones."""
    frame = pd.read_csv(ETTH1, nrows=draw(st.integers(0, 120))).astype(object)
    for _ in range(draw(st.integers(0, 4))):
        if len(frame):
            row, col = draw(st.integers(0, len(frame) - 1)), draw(st.integers(0, frame.shape[1] - 1))
            frame.iat[row, col] = draw(CELLS)
    if draw(st.booleans()):
        names = list(frame.columns)
        names[draw(st.integers(0, len(names) - 1))] = draw(st.sampled_from(["", "OT", "date", "HUFL.1", "é", " "]))
        frame.columns = names
    return frame


@pytest.mark.slow  # many hypothesis examples, over 0.3 s
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames())
def test_validate_any_csv(tmp_path, frame):
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    config = tiny_config(data={"path": str(data), "split": {"train": 0.6, "val": 0.2, "test": 0.2}})
    config["window"] = {"lookback": 4, "horizon": 2}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    _check(runner.invoke(app, ["validate", str(path)]))


@pytest.fixture(scope="module")
def trained_run(tiny_run):
    return tiny_run


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames())
def test_predict_any_csv(tmp_path, trained_run, frame):
    data, out = tmp_path / "d.csv", tmp_path / "p.csv"
    out.unlink(missing_ok=True)
    frame.to_csv(data, index=False)
    result = runner.invoke(app, ["predict", str(trained_run.path), "--data", str(data), "--output", str(out)])
    _check(result)
    if result.exit_code == 0:
        values = pd.read_csv(out)["prediction"]
        assert all(math.isfinite(v) for v in values)
    else:
        assert not out.exists()


# a valid but huge epoch or step count is a legitimately long training, not a fuzz finding
TRAIN_KEYS = [k for k in KEYS if k not in ("training.epochs", "training.steps_per_epoch")]


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.sampled_from(TRAIN_KEYS), HOSTILE), min_size=1, max_size=2))
def test_train_any_config_leaves_no_run_dir_when_invalid(tmp_path, changes):
    import shutil

    path = _changed_config(tmp_path, tiny_config(training={"epochs": 1}), changes)
    if path is None:
        return
    shutil.rmtree(tmp_path / "run", ignore_errors=True)
    _check(runner.invoke(app, ["train", str(path), "--run-dir", str(tmp_path / "run"), "--quiet"]), tmp_path)


@st.composite
def plausible(draw) -> dict:
    """A config a user might write, on up to 300 rows of ETTh1 with a few holes: mostly valid, so
    that train runs on what validate passes."""
    rows = draw(st.integers(30, 300))
    lookback = draw(st.integers(2, 48))
    split = draw(
        st.sampled_from([
            {"train": 0.6, "val": 0.2, "test": 0.2},
            {"train_end": rows // 2, "val_end": 3 * rows // 4},
            {"val_last": max(1, rows // 5), "test_last": max(1, rows // 5)},
        ])
    )  # fmt: skip
    cell = draw(st.sampled_from(["lstm", "gru", "simple_rnn", "naive"]))
    targets = draw(st.sampled_from([None, ["OT"], ["OT", "HUFL"]]))
    quantiles = None if cell == "naive" else draw(st.sampled_from([None, [0.1, 0.5, 0.9], [0.05, 0.5, 0.95]]))
    model = {
        "cell": cell,
        "layers": [{"units": draw(st.integers(1, 8))} for _ in range(draw(st.integers(1, 2)))],
        "quantiles": quantiles,
        "instance_norm": draw(st.sampled_from(["none", "last", "mean"])),
        "channel_independent": targets is None and draw(st.booleans()),  # each channel its own target
    }
    return {
        "name": "prop",
        "seed": draw(st.integers(0, 2**32 - 1)),
        "data": {
            "path": "d.csv",
            "time_column": "date",
            "fill": draw(st.sampled_from(["none", "ffill", "interpolate", "drop"])),
            "targets": targets,
            "split": split,
        },
        "window": {
            "lookback": lookback,
            "step": draw(st.integers(1, lookback)),
            "delay": draw(st.integers(1, 3)),
            "horizon": draw(st.integers(1, 12)),
        },
        "scaler": draw(st.sampled_from(["standard", "minmax", "robust", "none"])),
        "model": {k: v for k, v in model.items() if v is not None},
        "intervals": draw(st.sampled_from([{}, {"levels": [0.8]}, {"levels": [0.5, 0.95]}, {"method": "none"}]))
        if quantiles is None
        else {},
        "training": {
            "epochs": 1,
            "steps_per_epoch": draw(st.integers(1, 2)),
            "batch_size": draw(st.integers(1, 64)),
            "early_stopping": False,
        },
        "tracking": {"tensorboard": False},
        "_rows": rows,
        "_holes": draw(st.lists(st.tuples(st.integers(0, rows - 1), st.integers(1, 7)), max_size=3)),
    }


@pytest.mark.slow  # each example that validates trains for a step or two
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=plausible())
def test_what_validate_passes_train_never_refuses(tmp_path, config):
    """One rule: every refusal train makes before training, validate makes too (issue 34)."""
    import shutil

    frame = pd.read_csv(ETTH1, nrows=config.pop("_rows"))
    for row, column in config.pop("_holes"):
        frame.iat[row, column] = float("nan")
    frame.to_csv(tmp_path / "d.csv", index=False)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    validated = runner.invoke(app, ["validate", str(path)])
    _check(validated)
    if validated.exit_code != 0:
        return
    shutil.rmtree(tmp_path / "run", ignore_errors=True)
    trained = runner.invoke(app, ["train", str(path), "--run-dir", str(tmp_path / "run"), "--quiet"])
    assert trained.exit_code != 2, trained.stderr
