"""forecast.config: the schema and its defaults, the YAML loader and --set overrides, hostile config files
refused in one line, and every shipped config checked against its data."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ETTH1, ROOT, run_cli, tiny_config

import forecast
from forecast import config as cfg
from forecast.config.loader import section_at
from forecast.errors import ForecastError
from forecast.prepare import split_borders


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"model": {"layers": [{"units": 8}, {"units": 0}]}},
            "model.layers[1].units: Input should be greater than 0 (got 0)",
        ),
        ({"modle": {}}, "modle: unknown key (did you mean 'model'?)"),
        ({"training": {"epocs": 3}}, "training.epocs: unknown key (did you mean 'epochs'?)"),
        ({"window": {"lookback": "96"}}, "window.lookback: Input should be a valid integer (got '96')"),
        ({"window": {"lookback": 4, "step": 6}}, "window: step (6) must be <= lookback (4)"),
        ({"model": {"cell": "transformer"}}, "model.cell: Input should be 'lstm', 'gru', 'simple_rnn' or 'naive'"),
        ({"model": {"layers": [{"dropout": 1.5}]}}, "model.layers[0].dropout: Input should be less than 1"),
        ({"data": {"split": {"train": 0.7, "val_end": 10}}}, "data.split: give one form of split"),
        (
            {"data": {"split": {"train": 0.8, "val": 0.2, "test": 0.2}}},
            "data.split: train + val + test = 1.2 must be <= 1",
        ),
        ({"data": {"split": {"train_end": 10, "val_end": 5}}}, "data.split: row borders must increase"),
        ({"scaler": "zscore"}, "scaler.type: Input should be 'standard', 'minmax', 'robust', 'mean' or 'none'"),
        ({"training": {"optimizer": "adamw"}}, "training.optimizer: Input should be"),
        ([1, 2], "the config must be a YAML mapping"),
    ],
)
def test_errors_name_the_dotted_key(raw, message):
    with pytest.raises(ForecastError) as err:
        cfg.validate(raw)
    assert message in str(err.value)


def test_defaults_and_shorthands():
    c = cfg.validate({"scaler": "minmax", "training": {"early_stopping": False}})
    assert c.scaler.type == "minmax" and c.scaler.feature_range == [0.0, 1.0]
    assert c.training.early_stopping.enabled is False and c.training.reduce_lr_on_plateau.enabled is True
    assert split_borders(c.data.split, 1000) == (700, 800, 1000)
    assert c.window.timesteps == 96


def test_overrides(write_config):
    path = write_config(tiny_config())
    c = cfg.load(
        path, ["model.layers[1].units=32", "training.learning_rate=3e-4", "model.cell=gru", "model.dense=[16, 8]"]
    )
    assert c.model.layers[1].units == 32 and c.model.layers[0].units == 8
    assert c.training.learning_rate == 3e-4 and c.model.cell == "gru" and c.model.dense == [16, 8]
    # defaults can be overridden even when the file does not mention them
    assert cfg.load(path, ["training.early_stopping.patience=1"]).training.early_stopping.patience == 1
    for bad, message in [
        ("model.layers[5].units=3", "model.layers[5] does not exist"),
        ("model.layers[0].units=-3", "model.layers[0].units: Input should be greater than 0"),
        ("model.units", "expected key.path=value"),
        ("model..x=1", "not a dotted key"),
    ]:
        with pytest.raises(
            ForecastError, match=bad.split("=")[0].replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")
        ):
            cfg.load(path, [bad])
        with pytest.raises(ForecastError, match=message.replace("[", r"\[").replace("]", r"\]")):
            cfg.load(path, [bad])


def test_data_path_resolves_beside_the_config(tmp_path, write_config):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "s.csv").write_text("a\n1\n")
    path = write_config({"data": {"path": "d/s.csv"}})
    assert cfg.load(path).data.path == str(tmp_path / "d" / "s.csv")


def test_yaml_python_tags_are_refused(write_config):
    path = write_config("name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ForecastError, match="invalid YAML at line 1"):
        cfg.load(path)


def test_yaml_syntax_error_names_the_line(write_config):
    path = write_config("name: x\nwindow: {lookback: 3\n")
    with pytest.raises(ForecastError, match=r"invalid YAML at line \d"):
        cfg.load(path)


def test_resolved_config_round_trips(write_config):
    c = cfg.load(write_config(tiny_config()))
    assert cfg.validate(__import__("yaml").safe_load(c.to_yaml())) == c


@pytest.mark.slow
def test_schema_command_prints_json_schema():
    out = run_cli("config", "schema")
    assert out.returncode == 0, out.stderr
    schema = json.loads(out.stdout)
    assert schema["properties"]["window"]["$ref"].endswith("Window")
    assert "lookback" in schema["$defs"]["Window"]["properties"]
    assert schema["$defs"]["Window"]["properties"]["lookback"]["default"] == 96


# configs/spaces/ holds `forecast tune` search spaces, not configs (tests/test_search_space.py checks them)
CONFIGS = sorted(p for p in (ETTH1.parent.parent / "configs").rglob("*.yaml") if p.parent.name != "spaces")
SLOW_CONFIGS = {"m4"}  # converting the real M4 Hourly files takes seconds

# ETTh1's standard borders (12/4/4 months of hours) and the window counts the published loaders
# (Informer, PatchTST) give: val/test = 2880 - horizon + 1, train = 8640 - lookback - horizon + 1.
ETT_BORDERS = (8640, 11520, 14400)
EXPECTED_WINDOWS = {
    "etth1.yaml": {"train": 8521, "val": 2857, "test": 2857},  # lookback 96, horizon 24
    "etth1_gru.yaml": {"train": 8521, "val": 2857, "test": 2857},
    "example.yaml": {"train": 8521, "val": 2857, "test": 2857},
    "ett/etth1_h96.yaml": {"train": 7825, "val": 2785, "test": 2785},  # lookback 720
    "ett/etth1_h192.yaml": {"train": 7729, "val": 2689, "test": 2689},
    "ett/etth1_h336.yaml": {"train": 7585, "val": 2545, "test": 2545},
    "ett/etth1_h720.yaml": {"train": 7201, "val": 2161, "test": 2161},
    "ett/l96/etth1_h96.yaml": {"train": 8449, "val": 2785, "test": 2785},  # lookback 96
    "ett/l96/etth1_h192.yaml": {"train": 8353, "val": 2689, "test": 2689},
    "ett/l96/etth1_h336.yaml": {"train": 8209, "val": 2545, "test": 2545},
    "ett/l96/etth1_h720.yaml": {"train": 7825, "val": 2161, "test": 2161},
}


def _count_windows(rows: int, lookback: int, step: int, delay: int, horizon: int, start: int, end: int) -> int:
    """Independent of WindowSpec: test every row as an origin (its first input row exists, its first and
    last target rows lie in [start, end))."""
    origin = np.arange(rows)
    first_input = origin - (lookback // step - 1) * step
    first_target, last_target = origin + delay, origin + delay + horizon - 1
    return int(((first_input >= 0) & (first_target >= start) & (last_target < end)).sum())


def _name(path: Path) -> str:
    return path.relative_to(ETTH1.parent.parent / "configs").as_posix()


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=pytest.mark.slow) if p.parent.name in SLOW_CONFIGS else p for p in CONFIGS],
    ids=lambda p: str(p.relative_to(p.parents[1])),
)
def test_shipped_configs_validate_against_their_data(path, tmp_path):
    from forecast.prepare import prepare

    config = cfg.load(path)
    if path.parent.name == "jena" and not Path(config.data.path).exists():
        pytest.skip("the Jena CSV is not downloaded; tests/test_jena.py trains these on a fixture")
    if path.parent.name == "m4":
        from forecast.m4 import convert

        source = ROOT.parent / "shared" / "data" / "m4"
        if not (source / "Hourly-train.csv").exists():
            pytest.skip(f"the M4 files are not in {source} (they are never bundled)")
        converted, _ = convert("hourly", source, tmp_path)
        config = cfg.load(path, [f"data.path={converted}"])
        prepared = prepare(config)
        assert prepared.series.n_series == 414 and not prepared.skipped
        assert {k: len(v) for k, v in prepared.origins.items()} == {"train": 244_618, "val": 414, "test": 414}
        test_targets = prepared.origins["test"][:, None] + prepared.spec.target_offsets()
        ends = prepared.series.offsets[1:]
        np.testing.assert_array_equal(test_targets[:, -1], ends - 1)  # the test window ends each series
        return
    prepared = prepare(config)
    windows = {name: len(origins) for name, origins in prepared.origins.items()}
    if _name(path) in EXPECTED_WINDOWS:
        assert prepared.borders == ETT_BORDERS and len(prepared.series) == 17420
        assert windows == EXPECTED_WINDOWS[_name(path)]
    else:  # the Jena configs, when the real file is there
        w = config.window
        starts = (0, *prepared.borders[:2])
        for (split, count), start, end in zip(windows.items(), starts, prepared.borders, strict=True):
            assert count == _count_windows(len(prepared.series), w.lookback, w.step, w.delay, w.horizon, start, end), (
                split
            )


def test_every_shipped_etth1_config_has_its_expected_windows():
    assert {_name(p) for p in CONFIGS if p.parent.name not in ("jena", "m4")} == set(EXPECTED_WINDOWS)


def test_the_window_count_brute_force_agrees_with_the_table():
    # the table above is hand-derived; the brute force confirms it without forecast's window arithmetic
    for lookback, horizon, table in (
        (96, 24, "etth1.yaml"),
        (720, 96, "ett/etth1_h96.yaml"),
        (720, 720, "ett/etth1_h720.yaml"),
    ):
        counts = [
            _count_windows(17420, lookback, 1, 1, horizon, a, b) for a, b in ((0, 8640), (8640, 11520), (11520, 14400))
        ]
        assert counts == list(EXPECTED_WINDOWS[table].values())


def _keys(model: type, prefix: str = "") -> set[str]:
    out = set()
    for name in model.model_fields:
        out.add(prefix + name)
        section = section_at(tuple((prefix + name).split(".")))
        if section is not None:
            out |= _keys(section, f"{prefix}{name}.")
    return out


def test_example_config_shows_every_key():
    raw = cfg.read_yaml(ETTH1.parent.parent / "configs" / "example.yaml")

    def present(node, prefix=""):
        keys = set()
        if isinstance(node, dict):
            for k, v in node.items():
                keys.add(prefix + k)
                keys |= present(v[0] if isinstance(v, list) and v and isinstance(v[0], dict) else v, f"{prefix}{k}.")
        return keys

    # the fraction form of data.split excludes the row-border form shown, so it is in a comment
    exclusive = {"data.split.train", "data.split.val", "data.split.test", "data.split.val_last", "data.split.test_last"}
    assert _keys(cfg.Config) - exclusive - present(raw) == set()
    assert "{train: 0.7, val: 0.1, test: 0.2}" in (ETTH1.parent.parent / "configs" / "example.yaml").read_text()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("x" * 201, "name: 201 characters, more than the 200 a run directory's name may hold"),
        (".", "name: '.' is not a file name"),
        ("..", "name: '..' is not a file name"),
        ("a/b", "name: String should match pattern"),
        ("a\0b", "name: String should match pattern"),
    ],
)
def test_a_name_that_cannot_name_a_file_is_refused(name, message):
    with pytest.raises(ForecastError, match=message):
        cfg.validate(tiny_config(name=name))
    assert cfg.validate(tiny_config(name="x" * 200)).name == "x" * 200


@pytest.mark.parametrize(("path", "message"), [("", "data.path: empty"), ("a\0b.csv", "data.path: holds a NUL")])
def test_a_data_path_that_names_no_file_is_refused(write_config, path, message):
    config = tiny_config()
    config["data"]["path"] = path
    with pytest.raises(ForecastError, match=message):
        cfg.load(write_config(config))  # not the config's folder read as a Parquet dataset


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a: " + "[" * 1000 + "]" * 1000, marks=pytest.mark.slow),  # over 0.3 s
        "".join(" " * i + f"k{i}:\n" for i in range(500)),
    ],
)
def test_yaml_nested_too_deep_is_one_error_naming_the_file(write_config, text):
    path = write_config(text + "\n")
    with pytest.raises(ForecastError, match=rf"^{path}: invalid YAML at line \d+, column \d+: nested more than 100"):
        cfg.load(path)
    nested = "name: " + "[" * 90 + "]" * 90 + "\n"  # deep but within the bound: the schema speaks
    with pytest.raises(ForecastError, match="name: Input should be a valid string"):
        cfg.load(write_config(nested))


def test_a_config_file_over_10_mb_is_refused_unread(write_config):
    path = write_config("name: x\n" + "# padding\n" * (1_100_000))
    with pytest.raises(ForecastError, match=rf"^{path}: larger than 10 MB, too large for a config$"):
        cfg.load(path)


def test_the_instance_norm_default_follows_set_overrides(write_config):
    path = write_config(tiny_config())
    assert cfg.load(path).model.instance_norm == "last"
    moved = cfg.load(path, ["data.features=[HUFL, HULL]", "data.targets=[OT]"])
    assert moved.model.instance_norm == "none"  # OT is no input: no last value of its own
    listed = write_config(tiny_config(data={"features": ["HUFL"], "targets": ["OT"]}), "listed.yaml")
    assert cfg.load(listed).model.instance_norm == "none"
    assert cfg.load(listed, ["data.targets=[HUFL]"]).model.instance_norm == "last"
    chosen = write_config(tiny_config(model={"instance_norm": "mean"}), "chosen.yaml")
    assert cfg.load(chosen, ["data.targets=[OT]"]).model.instance_norm == "mean"  # what the user wrote stays


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


def test_set_takes_text_that_is_not_yaml(write_config):
    path = write_config(tiny_config())
    assert cfg.load(path, ["data.time_format=%Y"]).data.time_format == "%Y"


def test_instance_norm_defaults_to_last_only_where_targets_are_features():
    assert cfg.validate({}).model.instance_norm == "last"
    assert cfg.validate({"data": {"features": ["HUFL"], "targets": ["HUFL"]}}).model.instance_norm == "last"
    assert cfg.validate({"data": {"features": ["HUFL"], "targets": ["OT"]}}).model.instance_norm == "none"
    assert cfg.validate({"model": {"instance_norm": "mean"}}).model.instance_norm == "mean"
    with pytest.raises(forecast.ForecastError, match="instance_norm_affine needs"):
        cfg.validate({"data": {"features": ["HUFL"], "targets": ["OT"]}, "model": {"instance_norm_affine": True}})
    with pytest.raises(forecast.ForecastError, match="instance_norm_std needs"):
        cfg.validate({"model": {"instance_norm": "none", "instance_norm_std": True}})
