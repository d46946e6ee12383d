"""forecast.results: the metrics.json layout as types, and the helpers every reader goes through."""

import json
import math

import pytest

from forecast.results import (
    SCORED,
    SPLITS,
    Metrics,
    Scores,
    SplitScores,
    TrainingStats,
    aggregate,
    flatten,
    lookup,
    mean_std,
    means,
)


def _scores(mae: float) -> dict:
    return {"mae": mae, "rmse": mae * 2, "mse": mae * 4, "mape": mae * 10}


def _split(model: float, naive: float, windows: int = 197) -> dict:
    return {
        "model": _scores(model),
        "naive": _scores(naive),
        "scaled": {"model": _scores(model / 10), "naive": _scores(naive / 10)},
        "windows": windows,
    }


# metrics.json exactly as `forecast train` writes it, key order included
METRICS_JSON = {
    "val": _split(0.5, 0.75),
    "test": _split(0.625, 0.5),
    "epochs_run": 2,
    "best_epoch": 1,
    "train_seconds": 3.25,
    "samples_per_second": 350.5,
    "parameters": 1308,
    "backend": "tensorflow",
    "device": "cpu:0",
    "replicas": 1,
}


def test_split_names():
    assert SPLITS == ("train", "val", "test") and SCORED == ("val", "test")


def test_lookup_walks_a_dotted_path():
    assert lookup(METRICS_JSON, "test.scaled.model.mae") == 0.0625
    assert lookup(METRICS_JSON, "val.windows") == 197
    assert lookup(METRICS_JSON, "val.naive") == _scores(0.75)
    assert lookup(METRICS_JSON, "epochs_run") == 2


@pytest.mark.parametrize("path", ["test.model.nope", "train.model.mae", "epochs_run.x", "test.scaled.model.mae.x", ""])
def test_lookup_raises_key_error_naming_the_whole_path(path):
    with pytest.raises(KeyError) as err:
        lookup(METRICS_JSON, path)
    assert err.value.args == (path,)


def test_flatten_is_the_inverse_view_of_lookup():
    flat = flatten(METRICS_JSON)
    assert flat["test.scaled.naive.rmse"] == 0.1 and flat["val.windows"] == 197 and flat["device"] == "cpu:0"
    assert len(flat) == 2 * (4 * 4 + 1) + 8  # per split: 4 predictors x 4 scores + windows; 8 statistics
    assert all(lookup(METRICS_JSON, path) == value for path, value in flat.items())
    assert flatten({"a": {"b": {"c": 1}}, "d": 2}, prefix="m.") == {"m.a.b.c": 1, "m.d": 2}
    assert flatten({}) == {}


def test_mean_std_uses_the_sample_standard_deviation():
    assert mean_std([1.0, 2.0, 3.0, 4.0]) == {"mean": 2.5, "std": pytest.approx(math.sqrt(5 / 3))}  # ddof 1
    assert mean_std([2, 4]) == {"mean": 3.0, "std": pytest.approx(math.sqrt(2))}
    assert mean_std([0.7]) == {"mean": 0.7, "std": 0.0}  # a single value: no spread, not NaN
    assert mean_std(iter([5, 5, 5])) == {"mean": 5.0, "std": 0.0}


def test_aggregate_nested_results():
    trees = [
        {"test": {"model": {"mae": 1.0}, "windows": 10}, "backend": "tensorflow", "ok": True, "only_here": 1.0},
        {"test": {"model": {"mae": 3.0}, "windows": 10}, "backend": "jax", "ok": False},
    ]
    assert aggregate(trees) == {
        "test": {
            "model": {"mae": {"mean": 2.0, "std": pytest.approx(math.sqrt(2))}},
            "windows": {"mean": 10.0, "std": 0.0},
        },
        "backend": "jax (1), tensorflow (1)",  # strings that differ are counted; booleans are the first's
        "ok": True,
    }  # "only_here" is missing from the second tree: dropped
    same = [{"base": "ets", "device": "CPU"}, {"base": "ets", "device": "CPU"}]
    assert aggregate(same) == {"base": "ets", "device": "CPU"}
    seeds = [{"base": b} for b in ("ets", "seasonal_linear", "ets")]
    assert aggregate(seeds) == {"base": "ets (2), seasonal_linear (1)"}  # what each seed kept, counted


@pytest.mark.parametrize("values", [[0.1, None, 0.3], [None, 0.1, 0.3]])
def test_aggregate_averages_the_numbers_where_some_tree_has_none(values):
    # auto's ets diverged on one seed (None in base_losses): the others' mean, in either order
    trees = [{"base_losses": {"ets": v}} for v in values]
    assert aggregate(trees)["base_losses"]["ets"] == {"mean": pytest.approx(0.2), "std": pytest.approx(math.sqrt(0.02))}
    assert aggregate([{"mape": None}, {"mape": None}]) == {"mape": None}


def test_aggregate_drops_a_key_that_is_not_a_mapping_everywhere():
    assert aggregate([{"a": {"x": 1.0}}, {"a": 2.0}]) == {"a": {}}
    assert aggregate([{"a": 1}, {"b": 2}]) == {}


def test_means_collapses_an_aggregate_to_one_results_shape():
    summary = aggregate([METRICS_JSON, {**METRICS_JSON, "test": _split(0.875, 0.5)}])
    assert summary["test"]["model"]["mae"] == {"mean": 0.75, "std": pytest.approx(0.25 / math.sqrt(2))}
    collapsed = means(summary)
    assert collapsed["test"]["model"]["mae"] == 0.75
    assert collapsed["val"] == METRICS_JSON["val"]
    assert collapsed["backend"] == "tensorflow"
    assert list(collapsed) == list(METRICS_JSON)
    assert Metrics.from_dict(collapsed).test.model.mae == 0.75
    assert means({"mean": 1.0, "std": 0.5, "n": 2}) == {"mean": 1.0, "std": 0.5, "n": 2}  # only exact {mean, std}


def test_metrics_round_trip_keeps_the_metrics_json_layout():
    metrics = Metrics.from_dict(json.loads(json.dumps(METRICS_JSON)))
    assert metrics.to_dict() == METRICS_JSON
    assert list(metrics.to_dict()) == list(METRICS_JSON)  # val, test, then the training statistics in order
    assert list(metrics.to_dict()["test"]) == ["model", "naive", "scaled", "windows"]
    assert list(metrics.to_dict()["test"]["model"]) == ["mae", "rmse", "mse", "mape"]
    assert metrics.val.windows == 197 and metrics.test.naive.rmse == 1.0
    assert metrics.test.scaled_naive == Scores(mae=0.05, rmse=0.1, mse=0.2, mape=0.5)
    assert metrics.training == TrainingStats(2, 1, 3.25, 350.5, 1308, "tensorflow", "cpu:0", 1)
    assert metrics.get("val.scaled.model.mse") == 0.2
    with pytest.raises(KeyError):
        metrics.get("val.scaled.model.nope")


def test_metrics_of_evaluate_have_no_training_statistics():
    only_test = {"test": METRICS_JSON["test"]}  # `forecast evaluate --split test`
    metrics = Metrics.from_dict(only_test)
    assert metrics.training is None and list(metrics.splits) == ["test"]
    assert metrics.to_dict() == only_test
    with pytest.raises(KeyError):
        _ = metrics.val


def test_split_scores_round_trip_and_beats_naive():
    val = SplitScores.from_dict(METRICS_JSON["val"])  # model 0.5 < naive 0.75
    test = SplitScores.from_dict(METRICS_JSON["test"])  # model 0.625 > naive 0.5
    assert val.beats_naive and not test.beats_naive
    assert val.to_dict() == METRICS_JSON["val"]
    tie = SplitScores.from_dict(_split(0.5, 0.5))
    assert not tie.beats_naive  # strictly below the baseline
    # only the original-unit MAE decides, not the scaled one
    mixed = SplitScores.from_dict({**_split(0.4, 0.5), "scaled": {"model": _scores(9.0), "naive": _scores(0.1)}})
    assert mixed.beats_naive


def test_scores_read_numbers_from_strings_and_ints():
    assert Scores.from_dict({"mae": 1, "rmse": "2.5", "mse": 6.25, "mape": 3, "extra": "ignored"}) == Scores(
        1.0, 2.5, 6.25, 3.0
    )
    with pytest.raises(KeyError):
        Scores.from_dict({"mae": 1.0})


# --- the honest verdict: the model against its best baseline --------------------------------


def _verdict_metrics(model: dict, seasonality: int | None = 24, **baselines: dict) -> Metrics:
    """A test split of hand-made scores: `model` and each baseline as {mae, rmse[, mase]}."""

    def scores(values: dict) -> dict:
        return {"mse": values["rmse"] ** 2, "mape": None, **values}

    split = {"model": scores(model), "scaled": {"model": scores(model)}, "windows": 10}
    for name, values in baselines.items():
        split[name] = scores(values)
        if name != "ets":
            split["scaled"][name] = scores(values)
    return Metrics.from_dict({"test": split, **({"seasonality": seasonality} if seasonality else {})})


def test_the_verdict_names_the_baseline_it_loses_to_and_by_how_much():
    metrics = _verdict_metrics(
        {"mae": 1.0, "rmse": 1.17, "mase": 0.9},
        naive={"mae": 1.5, "rmse": 2.0, "mase": 1.4},
        seasonal_naive={"mae": 1.01, "rmse": 1.0, "mase": 0.95},  # a hair worse on MAE, 17 % better on RMSE
    )
    found = metrics.verdicts()["test"]
    assert not found.beats and found.baseline == "seasonal_naive"
    assert str(found) == "loses to seasonal naive on test (RMSE +17.0 %)"
    assert found.cell() == "NO: seasonal naive RMSE +17.0 %"


def test_the_verdict_of_a_win_names_the_closest_baseline_on_every_score():
    metrics = _verdict_metrics(
        {"mae": 0.9, "rmse": 1.8, "mase": 0.8},
        naive={"mae": 1.0, "rmse": 2.0, "mase": 1.0},
        ets={"mae": 0.95, "rmse": 1.9, "mase": 0.85},
    )
    found = metrics.verdicts()["test"]
    assert found.beats and found.cell() == "yes"
    assert str(found) == "beats every baseline on test (closest: AutoETS, MAE -5.3 %, RMSE -5.3 %, MASE -5.9 %)"


def test_mase_counts_only_where_a_season_is_known_and_a_tie_is_no_win():
    model, naive = {"mae": 0.9, "rmse": 1.0, "mase": 1.2}, {"mae": 1.0, "rmse": 1.0, "mase": 1.0}
    with_season = _verdict_metrics(model, 24, naive=naive).verdicts()["test"]
    assert str(with_season) == "loses to repeat-last on test (RMSE +0.0 %, MASE +20.0 %)"
    without = _verdict_metrics(model, None, naive=naive).verdicts()["test"]
    assert [m.metric for m in without.margins] == ["mae", "rmse"] and not without.beats  # the RMSE tie


def test_ets_scores_round_trip_in_metrics_json_and_are_metric_paths():
    from forecast.results import is_metric_path

    metrics = _verdict_metrics({"mae": 1.0, "rmse": 1.0}, naive={"mae": 2.0, "rmse": 2.0}, ets={"mae": 3.0, "rmse": 3})
    tree = json.loads(json.dumps(metrics.to_dict()))
    assert tree["test"]["ets"]["mae"] == 3.0 and "ets" not in tree["test"]["scaled"]
    assert Metrics.from_dict(tree) == metrics and metrics.get("test.ets.rmse") == 3.0
    assert is_metric_path("test.ets.mae") and is_metric_path("val.ets.mase")


def test_the_epoch_cap_is_told_apart_from_early_stopping():
    capped = TrainingStats(30, 30, 1.0, 1.0, 10, "tensorflow", "cpu:0", stopped_by="epochs")
    assert capped.capped
    assert not TrainingStats(30, 29, 1.0, 1.0, 10, "tensorflow", "cpu:0", stopped_by="epochs").capped
    assert not TrainingStats(12, 12, 1.0, 1.0, 10, "tensorflow", "cpu:0", stopped_by="early_stopping").capped
    assert Metrics.from_dict({**METRICS_JSON, "stopped_by": "epochs"}).training.stopped_by == "epochs"
