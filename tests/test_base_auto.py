"""`model.base: auto` (issue 33): the default base, decided with the data where its season is known
(`model.auto_base`, `model.resolve_base`, called by `prepare`): the rule, the refusals, and that the
resolved base is what validate counts, Keras builds and a run records."""

import json
import re

import pytest
import yaml
from conftest import tiny_config

from forecast import api
from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.model import auto_base, build, count_parameters
from forecast.prepare import prepare
from forecast.windows import WindowSpec

# tiny_config: hourly ETTh1 (a season of 24 rows), 12 timesteps of every 2nd row reaching back 22 rows
NO_TIME = {"time_column": None, "features": ["HUFL", "HULL", "OT"], "targets": ["OT"]}


def prepared(**overrides):
    return prepare(cfg.Config.model_validate(tiny_config(**overrides)))


def test_auto_is_the_default_and_config_keeps_it():
    config = cfg.Config.model_validate(tiny_config())
    assert config.model.base == "auto"
    assert yaml.safe_load(config.to_yaml())["model"]["base"] == "auto"


def test_a_season_that_fits_the_window_gives_seasonal_linear():
    p = prepared()
    assert (p.model.base, p.base_season) == ("seasonal_linear", 24)
    note = "model.base auto: seasonal_linear (a season of 24 rows fits the 12-timestep window (lookback // step))"
    assert p.base_note == note
    # metrics.seasonality, else model.base_season, is the season it repeats
    assert prepared(metrics={"seasonality": 12}).base_season == 12
    p = prepared(model={"base_season": [48, 6, 12]})  # the longest that fits in 22 rows
    assert (p.model.base, p.base_season) == ("seasonal_linear", 12)


def test_without_a_time_column_no_season_is_known_so_linear():
    p = prepared(data=NO_TIME)
    assert (p.model.base, p.base_season) == ("linear", None)
    assert p.base_note.startswith("model.base auto: linear (no season known: ")
    # a season given by hand is used
    assert prepared(data=NO_TIME, metrics={"seasonality": 12}).model.base == "seasonal_linear"


def test_a_season_longer_than_the_lookback_gives_linear():
    p = prepared(window={"lookback": 12, "step": 1})
    assert (p.model.base, p.base_season) == ("linear", None)
    assert p.base_note == "model.base auto: linear (a season of 24 rows does not fit the 12-row lookback)"


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"window": {"variable_length": True}}, "window.variable_length"),
        ({"model": {"cell": "naive", "layers": [{"units": 8}]}}, "model.cell naive"),
        ({"data": {"features": ["HUFL", "HULL"], "targets": ["OT"]}}, "target 'OT' is not among data.features"),
    ],
)
def test_a_model_that_cannot_take_a_base_gets_none(overrides, why):
    p = prepared(**overrides)
    assert (p.model.base, p.base_season) == ("none", None)
    assert p.base_note.startswith(f"model.base auto: none ({why}")


@pytest.mark.parametrize("base", ["none", "seasonal_naive", "linear", "seasonal_linear"])
def test_an_explicit_base_is_used_as_written(base):
    config = cfg.Config.model_validate(tiny_config(model={"base": base}))
    p = prepare(config)
    assert p.model is config.model and p.base_note is None
    assert p.base_season == (24 if base.startswith("seasonal") else None)


def test_an_explicit_base_still_refuses_what_auto_avoids():
    with pytest.raises(ForecastError, match=r"model.base=linear: target 'OT' is not among data.features"):
        prepared(data={"features": ["HUFL", "HULL"], "targets": ["OT"]}, model={"base": "linear"})
    with pytest.raises(ForecastError, match=r"model.base=seasonal_naive: a season of 24 rows needs"):
        prepared(window={"lookback": 12, "step": 1}, model={"base": "seasonal_naive"})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"window": {"lookback": 12, "step": 1}, "model": {"base_season": 24}},
            "model.base_season: model.base auto chose linear here (a season of 24 rows does not fit",
        ),
        (
            {"window": {"variable_length": True}, "model": {"base_shared": False}},
            "model.base_shared: false: model.base auto chose none here (window.variable_length",
        ),
    ],
)
def test_base_keys_auto_cannot_use_are_refused_at_prepare(overrides, message):
    cfg.Config.model_validate(tiny_config(**overrides))  # the schema allows them with auto
    with pytest.raises(ForecastError, match=re.escape(message)) as err:
        prepared(**overrides)
    assert err.value.exit_code == 2


def test_the_rule_on_its_own():
    spec, features = WindowSpec(timesteps=36, step=1, delay=1, horizon=12), ["y"]
    model = cfg.Model()
    assert auto_base(model, spec, 12, features, ["y"]) == (
        "seasonal_linear",
        "a season of 12 rows fits the 36-row lookback",
    )
    assert auto_base(model, spec, 52, features, ["y"])[0] == "linear"
    assert auto_base(model, spec, None, features, ["y"])[0] == "linear"
    assert auto_base(cfg.Model(base_season=[52, 12]), spec, None, features, ["y"])[0] == "seasonal_linear"
    assert auto_base(cfg.Model(base_season=[52, 104]), spec, 12, features, ["y"]) == (
        "linear",
        "no season of [52, 104] rows fits the 36-row lookback",
    )


def test_a_season_that_is_not_a_whole_number_of_steps_gives_linear():
    """With step 5 a daily season of 24 hours would read rows 20 or 25 hours back, not 24."""
    model, features = cfg.Model(), ["y"]
    assert auto_base(model, WindowSpec(timesteps=19, step=5, delay=1, horizon=12), 24, features, ["y"]) == (
        "linear",
        "a season of 24 rows is not a multiple of window.step (5)",
    )
    aligned = WindowSpec(timesteps=24, step=4, delay=1, horizon=12)
    assert auto_base(model, aligned, 24, features, ["y"])[0] == "seasonal_linear"


def test_an_unresolved_auto_is_not_counted():
    with pytest.raises(ValueError, match=r"model\.base auto is decided with the data"):
        count_parameters(cfg.Model(), WindowSpec(12, 1, 1, 3), 2, 1)


@pytest.mark.slow
def test_an_unresolved_auto_is_not_built():
    with pytest.raises(ValueError, match=r"model\.base auto is decided with the data"):
        build(cfg.Model(), WindowSpec(12, 1, 1, 3), 2, [0])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "chosen"),
    [({}, "seasonal_linear"), ({"window": {"lookback": 12, "step": 1}}, "linear"), ({"data": NO_TIME}, "linear")],
)
def test_validate_counts_the_resolved_model_as_keras_does(overrides, chosen, caplog):
    config = cfg.Config.model_validate(tiny_config(**overrides))
    with caplog.at_level("INFO", logger="forecast"):
        v = api.validate(config)
    assert f"model.base auto: {chosen} (" in caplog.text
    assert v.config.model.base == "auto" and v.base == chosen  # the config as written, the base as built
    assert v.parameters == api.build_model(config).count_params()
    none = cfg.Config.model_validate(tiny_config(model={"base": "none"}, **overrides))
    assert v.parameters > api.validate(none).parameters  # the linear map's weights are in the count


@pytest.mark.slow
def test_a_run_records_what_auto_chose(tmp_path, caplog):
    config = cfg.Config.model_validate(tiny_config(training={"epochs": 1}))
    with caplog.at_level("INFO", logger="forecast"):
        run = api.train(config, tmp_path / "run")
    assert "note: model.base auto: seasonal_linear (a season of 24 rows fits" in caplog.text
    metrics = json.loads(run.metrics_file.read_text())
    assert metrics["base"] == "seasonal_linear"
    assert "- base forecast: seasonal_linear (chosen by model.base auto)" in run.report_file.read_text()
    assert yaml.safe_load(run.config_file.read_text())["model"]["base"] == "auto"  # what the user wrote
    # the saved graph holds the base: predict and export load it as it is
    import keras

    assert keras.saving.load_model(run.model_file, safe_mode=True).get_layer("base") is not None
