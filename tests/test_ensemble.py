"""Ensembles (forecast.ensemble): `forecast predict` on several runs, or on a `--repeats` directory,
averages the members' forecasts and interval bounds."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import LENGTHS, panel_config, panel_frame
from typer.testing import CliRunner

import forecast
import forecast.predicting
from forecast import config as cfg
from forecast.cli import app
from forecast.errors import ForecastError

runner = CliRunner()
IDS = ["1", "01", "1.0", "007"]  # text: pandas would read two numbers


def with_intervals(config: cfg.Config) -> cfg.Config:
    intervals = {"method": "conformal", "levels": [0.5, 0.8]}
    return cfg.Config.model_validate({**config.model_dump(), "intervals": intervals})


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    """Two seeds of one panel config with conformal intervals, trained by `repeat` (seed-3, seed-4),
    on a panel whose ids look like numbers (IDS)."""
    root = tmp_path_factory.mktemp("ensemble")
    path = root / "panel.csv"
    panel_frame(dict(zip(IDS, LENGTHS.values(), strict=True))).to_csv(path, index=False)
    forecast.api.repeat(with_intervals(panel_config(path)), 2, root / "repeats")
    return root, path


def test_the_ensemble_forecast_is_the_members_mean_and_so_are_its_bounds(ensemble):
    root, path = ensemble
    members = [forecast.api.forecasts(root / "repeats" / f"seed-{s}", path) for s in (3, 4)]
    both = forecast.api.forecasts(root / "repeats", path)
    assert not np.allclose(members[0].values, members[1].values)  # the seeds differ
    np.testing.assert_allclose(both.values, (members[0].values + members[1].values) / 2, rtol=1e-12)
    assert list(both.bounds) == ["q0.1", "q0.25", "q0.75", "q0.9"]
    for name, bound in both.bounds.items():
        np.testing.assert_allclose(bound, (members[0].bounds[name] + members[1].bounds[name]) / 2, rtol=1e-12)
    listed = forecast.predict([root / "repeats" / "seed-3", root / "repeats" / "seed-4"], path)
    assert listed.equals(forecast.predict(root / "repeats", path))


def test_a_panel_ensemble_predicted_group_by_group_equals_the_whole(ensemble, tmp_path, monkeypatch, caplog):
    root, path = ensemble
    forecast.api.write_predictions(root / "repeats", tmp_path / "whole.csv", path)
    monkeypatch.setattr(forecast.predicting, "GROUP_ROWS", 50)  # a series a group
    with caplog.at_level("INFO", logger="forecast"):
        forecast.api.write_predictions(root / "repeats", tmp_path / "groups.csv", path)
    assert "in 4 groups" in caplog.text
    assert (tmp_path / "groups.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert list(pd.read_csv(tmp_path / "groups.csv", dtype=str)["store"].unique()) == IDS[:3]  # 007: too short


def test_the_cli_forecasts_with_several_runs(ensemble, tmp_path):
    root, path = ensemble
    seeds = [str(root / "repeats" / f"seed-{s}") for s in (3, 4)]
    result = runner.invoke(app, ["predict", *seeds, "--data", str(path), "--output", str(tmp_path / "f.csv")])
    assert result.exit_code == 0, result.output
    forecast.api.write_predictions(root / "repeats", tmp_path / "expected.csv", path)
    assert (tmp_path / "f.csv").read_bytes() == (tmp_path / "expected.csv").read_bytes()


def test_members_must_read_the_same_data_the_same_way(ensemble):
    root, path = ensemble
    config = panel_config(path).model_dump()
    config["window"]["lookback"] = 8
    other = forecast.train(with_intervals(cfg.Config.model_validate(config)), root / "lookback8")
    with pytest.raises(ForecastError, match="window section differs"):
        forecast.predict([root / "repeats" / "seed-3", other.path], path)
    result = runner.invoke(app, ["predict", str(root / "repeats" / "seed-3"), str(other.path), "--data", str(path)])
    assert result.exit_code == 2 and "window section differs" in result.output


def test_a_repeats_result_a_run_named_twice_and_a_broken_repeats_json(ensemble, tmp_path):
    root, path = ensemble
    seeds = forecast.results.Repeats([3, 4], [forecast.api.Run(root / "repeats" / f"seed-{s}") for s in (3, 4)], {})
    assert forecast.predict(seeds, path).equals(forecast.predict(root / "repeats", path))
    with pytest.raises(ForecastError, match="named twice"):
        forecast.predict([root / "repeats", root / "repeats" / "seed-4"], path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "repeats.json").write_text('{"seeds": 3}')
    result = runner.invoke(app, ["predict", str(broken), "--data", str(path)])
    assert result.exit_code == 2 and "no list of seeds" in result.output


def test_a_member_from_before_scaler_clip_joins_one_that_does_not_clip(ensemble, tmp_path):
    root, path = ensemble
    old = shutil.copytree(root / "repeats" / "seed-4", tmp_path / "old")
    state = json.loads((old / "scaler.json").read_text())
    del state["per_series"]["targets"]["low"], state["per_series"]["targets"]["high"]
    (old / "scaler.json").write_text(json.dumps(state))
    together = forecast.predict([root / "repeats" / "seed-3", old], path)
    assert together.equals(forecast.predict(root / "repeats", path))


def test_series_the_runs_never_saw_need_every_member_to_be_scale_free(ensemble, tmp_path):
    path = ensemble[1]
    config = panel_config(path).model_dump()
    config["model"]["instance_norm"] = "mean"
    normed = forecast.train(with_intervals(cfg.Config.model_validate(config)), tmp_path / "normed")
    config["model"]["instance_norm"] = "none"
    plain = forecast.train(with_intervals(cfg.Config.model_validate(config)), tmp_path / "plain")
    renamed = tmp_path / "renamed.csv"
    frame = pd.read_csv(path, dtype={"store": str})
    frame.assign(store=frame["store"] + "-new").to_csv(renamed, index=False)
    assert len(forecast.predict(normed, renamed))  # scaled by their own rows
    for members in ([normed.path, plain.path], [plain.path, normed.path]):
        with pytest.raises(ForecastError, match="was not in the run's training data"):
            forecast.predict(members, renamed)


def test_predict_help_says_several_runs_make_an_ensemble():
    result = runner.invoke(app, ["predict", "--help"], terminal_width=200)
    assert result.exit_code == 0 and "forecast as an ensemble" in " ".join(result.output.split())
