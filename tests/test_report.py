"""forecast.report: the closing table's verdict, the advice that goes with it, and the epoch-cap notice."""

from __future__ import annotations

import json

import pytest
from conftest import tiny_config

import forecast
from forecast import config as cfg
from forecast.gates import check
from forecast.report import advice, convergence, per_target_table, table
from forecast.results import Metrics, TrainingStats


def _metrics(model_rmse: float, seasonality: int | None = 24, **baselines: float) -> Metrics:
    """val and test alike: the model's MAE 1.0, each baseline's MAE and RMSE the number given."""

    def scores(mae: float, rmse: float) -> dict:
        return {"mae": mae, "rmse": rmse, "mse": rmse**2, "mape": None}

    split = {"model": scores(1.0, model_rmse), "scaled": {"model": scores(1.0, model_rmse)}, "windows": 5}
    for name, value in baselines.items():
        split[name] = scores(value, value)
        if name != "ets":
            split["scaled"][name] = scores(value, value)
    return Metrics.from_dict({"val": split, "test": split, "seasonality": seasonality})


def test_the_table_shows_every_baseline_and_the_verdict_last():
    text = table(_metrics(1.17, naive=2.0, seasonal_naive=1.01, ets=1.5))
    header, val, test = text.splitlines()
    assert header.split()[:2] == ["split", "windows"] and header.endswith("beats all baselines")
    for column in ("naive MAE", "seasonal MAE", "ets MAE", "model RMSE", "ets RMSE"):
        assert column in header
    assert test.endswith("NO: seasonal naive RMSE +15.8 %") and val.endswith("NO: seasonal naive RMSE +15.8 %")
    assert table(_metrics(0.5, naive=2.0, seasonal_naive=1.01)).splitlines()[2].endswith("yes")


def test_losing_to_seasonal_naive_advises_the_season():
    config = cfg.validate(tiny_config())  # lookback 24 on hourly data, no calendar
    text = advice(config, _metrics(1.17, naive=2.0, seasonal_naive=1.01))
    assert text == (
        "the model loses to seasonal naive on test (RMSE +15.8 %); to learn the season, try a window.lookback "
        "of at least two seasons (48 rows), data.calendar features (e.g. [hour, day_of_week] for hourly data), "
        "more training.epochs"
    )
    assert advice(config, _metrics(0.5, naive=2.0, seasonal_naive=1.01)) is None  # it wins: nothing to say


def test_losing_to_ets_names_it_and_what_to_try():
    config = cfg.validate(
        tiny_config(window={"lookback": 48, "step": 2}, data={"calendar": ["hour"]}, model={"instance_norm": "none"})
    )
    text = advice(config, _metrics(1.0, naive=2.0, ets=0.9))
    assert text.startswith("the model loses to AutoETS on test (MAE +11.1 %, RMSE +11.1 %)")
    assert text.endswith("as AutoETS does, try model.instance_norm: last, more training.epochs")


def test_the_epoch_cap_notice_names_the_setting():
    config = cfg.validate(tiny_config(training={"epochs": 30}))
    capped = TrainingStats(30, 30, 1.0, 1.0, 10, "tensorflow", "cpu:0", stopped_by="epochs")
    assert convergence(config, capped) == (
        "the best epoch was the last (30): training stopped at training.epochs (30), not by early stopping, "
        "so the model may not have converged; try more training.epochs (early stopping ends the fit when "
        "validation stops improving)"
    )
    early = TrainingStats(12, 12, 1.0, 1.0, 10, "tensorflow", "cpu:0", stopped_by="early_stopping")
    assert convergence(config, early) is None and convergence(config, None) is None


def test_a_capped_run_records_and_reports_it(run):
    metrics = json.loads(run.metrics_file.read_text())
    assert metrics["stopped_by"] == "epochs" and metrics["best_epoch"] == metrics["epochs_run"] == 1
    report = run.report_file.read_text()
    assert "- epochs run: 1, best epoch: 1, stopped by the training.epochs cap" in report
    assert "- **Warning:** the best epoch was the last (1): training stopped at training.epochs (1)" in report
    assert report.splitlines()[2].startswith(f"The model {run.metrics.verdicts()['test']}: compared with repeat-last")


@pytest.mark.parametrize("stopped", [None, "early_stopping"])
def test_no_notice_without_the_cap(stopped):
    stats = TrainingStats(5, 5, 1.0, 1.0, 10, "tensorflow", "cpu:0", stopped_by=stopped)
    assert convergence(cfg.validate(tiny_config()), stats) is None


def test_the_seasonal_baseline_is_in_every_table_and_gate(run):
    text = table(run.metrics)
    assert "seasonal MAE" in text.splitlines()[0] and f"{run.metrics.test.seasonal_naive.mae:.4f}" in text
    assert "seasonal naive (24 rows)" in run.report_file.read_text()
    beats = run.metrics.val.beats_seasonal_naive and run.metrics.test.beats_seasonal_naive
    if beats:
        assert check(run.metrics, ["beats-seasonal-naive"]) == ["beats-seasonal-naive"]
    else:
        with pytest.raises(forecast.GateFailed, match="beats-seasonal-naive failed"):
            check(run.metrics, ["beats-seasonal-naive"])


def test_losing_to_the_baseline_is_said_with_the_likely_fix(run):
    assert not run.metrics.test.beats_naive  # one epoch on 600 rows does not
    report = run.report_file.read_text()
    assert "**Warning:** the model loses to repeat-last on test (MAE +" in report
    assert run.config.model.instance_norm == "last"  # the default, since every target is a feature
    assert "on a stationary, mean-reverting series try model.instance_norm: none" in report


def test_the_advice_without_instance_norm_names_it():
    from forecast.report import advice

    config = cfg.validate(tiny_config(model={"instance_norm": "none"}))
    lost = forecast.Metrics.from_dict(json.loads(json.dumps(_losing_metrics())))
    assert "set model.instance_norm: last" in advice(config, lost)


def test_the_advice_to_turn_instance_norm_off_gives_a_config_that_validates():
    from forecast.report import advice

    config = cfg.validate(tiny_config(model={"instance_norm": "mean", "instance_norm_std": True}))
    lost = forecast.Metrics.from_dict(json.loads(json.dumps(_losing_metrics())))
    text = advice(config, lost)
    assert text.endswith("try model.instance_norm: none and model.instance_norm_std: false")
    cfg.validate(tiny_config(model={"instance_norm": "none", "instance_norm_std": False}))  # what it says works


def _losing_metrics():
    scores = {"mae": 2.0, "rmse": 2.0, "mse": 4.0, "mape": None}
    naive = {"mae": 1.0, "rmse": 1.0, "mse": 1.0, "mape": None}
    split = {"model": scores, "naive": naive, "scaled": {"model": scores, "naive": naive}, "windows": 3}
    return {"val": split, "test": split}


def test_the_per_target_table_shows_each_baseline_scored_there():
    per_target = {
        "OT": {"model": 1.0, "naive": 2.0, "seasonal_naive": 1.5, "ets": 0.5, "model_mase": 0.8, "ets_mase": 0.4},
        "HUFL": {"model": 3.0, "naive": 4.0, "seasonal_naive": 3.5},  # no AutoETS there: an empty cell
    }
    lines = per_target_table(per_target).splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[:5] == ["target", "model MAE", "naive MAE", "seasonal naive MAE", "AutoETS MAE"]
    assert header[-1] == "AutoETS MASE" and "MSTL MAE" not in header  # MSTL was not asked for
    row = dict(zip(header, [cell.strip() for cell in lines[2].strip("|").split("|")], strict=True))
    assert (row["AutoETS MAE"], row["AutoETS MASE"]) == ("0.5000", "0.4000")
    assert row["model sMAPE"] == "nan" and all(cells.count("|") == lines[0].count("|") for cells in lines)
