"""`model.base: auto` (issue 33): the default base, decided with the data where its season is known
(`model.auto_base`, `model.resolve_base`, called by `prepare`): the rule, the refusals, and that the
resolved base is what validate counts, Keras builds and a run records."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import tiny_config as tiny

import forecast
from forecast import api, gates
from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.model import auto_base, build, count_parameters
from forecast.prepare import prepare
from forecast.windows import WindowSpec


def tiny_config(**overrides) -> dict:
    """conftest's tiny run under model.base auto (conftest names auto's choice, to train one model)."""
    return tiny(**{**overrides, "model": {"base": "auto", **overrides.get("model", {})}})


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
    assert p.base_note == f"{note}; ets trained beside it, the base with the lower validation loss kept"
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


def test_ets_is_seasonal_linears_rival_as_a_run_of_its_own_would_build_it():
    p = prepared(model={"base_season": [48, 6, 12]})
    rival = p.rival("ets")
    explicit = prepared(model={"base": "ets", "base_season": [48, 6, 12]})
    assert (rival.model, rival.base_season) == (explicit.model, explicit.base_season)
    assert (rival.model.base, rival.base_season, rival.model.base_seasons) == ("ets", 12, 2)  # 6 timesteps each
    assert rival.rivals == {} and rival.base_note is None and rival.x is p.x  # the data is shared


@pytest.mark.parametrize(
    "overrides",
    [
        {"model": {"base": "seasonal_linear"}},  # explicit: nothing to choose
        {"model": {"base_seasons": 1}},  # settings only seasonal_linear takes ask for it
        {"model": {"base_shared": False}},
        {"model": {"base_calendar": 1}, "data": {"calendar": ["hour"]}},
        {"window": {"lookback": 12, "step": 1}},  # auto chose linear: no season fits, no seasonal ets
    ],
)
def test_no_rival_where_auto_has_nothing_to_choose(overrides):
    assert prepared(**overrides).rivals == {}


def test_a_named_season_ets_cannot_take_leaves_seasonal_linear_alone():
    # a season of one timestep (24 rows sampled every 24th): seasonal_linear takes it, ets refuses it
    p = prepared(window={"lookback": 96, "step": 24}, model={"base_season": 24})
    assert (p.model.base, p.rivals) == ("seasonal_linear", {})


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
def test_a_run_trains_ets_beside_seasonal_linear_and_keeps_the_lower_validation_loss(tmp_path, caplog):
    config = cfg.Config.model_validate(tiny_config(training={"epochs": 1}))
    with caplog.at_level("INFO", logger="forecast"):
        run = api.train(config, tmp_path / "run")
    assert "note: model.base auto: seasonal_linear (a season of 24 rows fits" in caplog.text
    assert "ets trained beside it, the base with the lower validation loss kept" in caplog.text
    metrics = json.loads(run.metrics_file.read_text())
    losses = metrics["base_losses"]
    histories = {base: pd.read_csv(run.bases / base / "history.csv") for base in ("seasonal_linear", "ets")}
    assert losses == {base: pytest.approx(h["val_loss"].min(), rel=1e-6) for base, h in histories.items()}
    kept = min(losses, key=losses.get)
    assert metrics["base"] == kept and f"model.base auto: {kept} kept (validation loss" in caplog.text
    pd.testing.assert_frame_equal(pd.read_csv(run.history_file), histories[kept])  # the run's history is its
    assert metrics["train_seconds"] == pytest.approx(sum(h["epoch_seconds"].sum() for h in histories.values()), 1e-3)
    report = run.report_file.read_text()
    assert f"- base forecast: {kept} (chosen by model.base auto on validation: loss seasonal_linear " in report
    assert yaml.safe_load(run.config_file.read_text())["model"]["base"] == "auto"  # what the user wrote
    # the run's graph is the kept base's: predict and export load it as it is; nothing else is left
    import keras

    layer = keras.saving.load_model(run.model_file, safe_mode=True).get_layer("base")
    assert type(layer).__name__ == ("ExponentialSmoothing" if kept == "ets" else "Add")
    left = sorted(p.name for p in run.bases.rglob("*") if p.is_file() and "tensorboard" not in p.parts)
    assert left == ["history.csv", "history.csv", "status.json", "status.json"]
    assert all(forecast.Run(run.bases / base).status == "completed" for base in histories)


@pytest.mark.slow
def test_the_ets_rival_trains_as_a_run_of_its_own_would(tmp_path):
    config = tiny_config(training={"epochs": 2})
    auto = api.train(cfg.Config.model_validate(config), tmp_path / "auto")
    explicit = {**config, "model": {**config["model"], "base": "ets"}}
    ets = api.train(cfg.Config.model_validate(explicit), tmp_path / "ets")
    rival = pd.read_csv(auto.bases / "ets" / "history.csv")
    own = pd.read_csv(ets.history_file)
    for column in ("loss", "val_loss"):
        assert rival[column].tolist() == pytest.approx(own[column].tolist(), rel=1e-6), column


@pytest.mark.slow
def test_an_interrupted_comparison_resumes_without_fitting_a_finished_base_again(tmp_path, monkeypatch):
    import os
    import signal

    import keras

    import forecast.fit

    config = cfg.Config.model_validate(tiny_config(training={"epochs": 2, "early_stopping": {"patience": 50}}))
    whole = api.train(config, tmp_path / "whole")
    real, fits = forecast.fit.callbacks, []

    def killed_in_the_second_base(*args):  # a real SIGTERM at the end of the ets rival's first epoch
        fits.append(args[1].path.name)
        kill = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: epoch == 0 and os.kill(os.getpid(), signal.SIGTERM)
        )
        return [*real(*args), *([kill] if len(fits) == 2 else [])]

    monkeypatch.setattr(forecast.fit, "callbacks", killed_in_the_second_base)
    with pytest.raises(forecast.Interrupted, match="after 3 completed epochs; continue with"):
        api.train(config, tmp_path / "run")
    assert fits == ["seasonal_linear", "ets"]
    run = forecast.Run(tmp_path / "run")
    assert run.status == "interrupted" and (run.bases / "seasonal_linear" / "model.keras").is_file()

    fits.clear()
    api.resume(run)
    assert fits == ["ets"]  # seasonal_linear was finished: not fitted again
    assert run.metrics.training.base_losses == pytest.approx(whole.metrics.training.base_losses, rel=1e-5)
    assert run.metrics.training.base == whole.metrics.training.base


@pytest.mark.slow
def test_a_base_that_diverges_is_left_out(tmp_path, monkeypatch, caplog):
    import keras

    import forecast.fit
    from forecast.errors import Diverged

    real = forecast.fit.callbacks

    def ets_diverges(config, run, *args):  # what the checkpoint raises on a NaN loss, in the ets fit only
        def nan(epoch, logs):
            raise Diverged("the training loss became NaN at epoch 1")

        ets = run.path.name == "ets"
        return [*([keras.callbacks.LambdaCallback(on_epoch_end=nan)] if ets else []), *real(config, run, *args)]

    monkeypatch.setattr(forecast.fit, "callbacks", ets_diverges)
    config = cfg.Config.model_validate(tiny_config(training={"epochs": 1}))
    with caplog.at_level("INFO", logger="forecast"):
        run = api.train(config, tmp_path / "run")
    assert run.status == "completed" and "warning: model.base auto: ets left out, it diverged" in caplog.text
    training = run.metrics.training
    assert training.base == "seasonal_linear" and training.base_losses["ets"] is None
    assert "loss seasonal_linear " in run.report_file.read_text() and ", ets diverged;" in run.report_file.read_text()
    assert forecast.Run(run.bases / "ets").status == "failed"


@pytest.mark.slow  # trains in-process, then resumes through the CLI in its own process
def test_a_run_that_failed_after_both_bases_resumes_in_a_new_process(tmp_path, monkeypatch):
    from conftest import run_cli

    from forecast import lifecycle

    def broken(*args, **kwargs):
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(lifecycle, "finish", broken)
    config = cfg.Config.model_validate(tiny_config(training={"epochs": 1}))
    with pytest.raises(RuntimeError):
        api.train(config, tmp_path / "run")
    run = forecast.Run(tmp_path / "run")
    assert run.status == "failed" and all(
        forecast.Run(run.bases / b).status == "completed" for b in ("ets", "seasonal_linear")
    )
    out = run_cli("train", "--resume", run.path, "--quiet")  # loads the kept base: forecast's layers registered
    assert out.returncode == 0, out.stderr[-2000:]
    assert run.status == "completed" and set(run.metrics.training.base_losses) == {"seasonal_linear", "ets"}


def test_a_run_that_kept_the_rival_describes_it_to_summary_and_compare(tmp_path, tiny_run):
    import shutil

    path = Path(shutil.copytree(tiny_run.path, tmp_path / "run"))
    config = yaml.safe_load((path / "config.yaml").read_text())
    (path / "config.yaml").write_text(yaml.safe_dump({**config, "model": {**config["model"], "base": "auto"}}))
    metrics = json.loads((path / "metrics.json").read_text())
    for kept, built in (("ets", "ets"), ("seasonal_linear", "auto")):  # auto's own choice: auto rebuilds it
        losses = {"seasonal_linear": 0.2, "ets": 0.1 if kept == "ets" else 0.3}
        (path / "metrics.json").write_text(json.dumps({**metrics, "base": kept, "base_losses": losses}))
        run = forecast.Run(path)
        assert run.config.model.base == "auto" and run.model_config.model.base == built
    other = Path(shutil.copytree(path, tmp_path / "other"))  # kept seasonal_linear; `path` now ets again
    (path / "metrics.json").write_text(
        json.dumps({**metrics, "base": "ets", "base_losses": {"seasonal_linear": 0.2, "ets": 0.1}})
    )
    assert "other vs run: model.base: 'auto: ets' -> 'auto: seasonal_linear'" in gates.compare([path, other])
