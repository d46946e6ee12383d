"""Quality gates (`evaluate --require`), `compare`'s table and the table renderer, in-process."""

import copy
import math

import pytest

from forecast import tables
from forecast.errors import ForecastError, GateFailed
from forecast.gates import check, comparison
from forecast.results import Metrics


def _scores(mae: float) -> dict:
    return {"mae": mae, "rmse": mae + 0.25, "mse": (mae + 0.25) ** 2, "mape": 30.0}


def _split(model: float, naive: float) -> dict:
    return {
        "model": _scores(model),
        "naive": _scores(naive),
        "scaled": {"model": _scores(model / 4), "naive": _scores(naive / 4)},
        "windows": 197,
    }


METRICS = {"val": _split(0.5, 0.75), "test": _split(0.625, 0.875), "epochs_run": 2, "backend": "tensorflow"}


@pytest.mark.parametrize(
    ("requirement", "line"),
    [
        ("test.model.mae<=0.625", "test.model.mae<=0.625 (0.625)"),
        ("test.model.mae<0.7", "test.model.mae<0.7 (0.625)"),
        ("val.scaled.model.mse>0", "val.scaled.model.mse>0 (0.140625)"),
        ("  test.naive.mae >= 8.75e-1 ", "test.naive.mae>=8.75e-1 (0.875)"),
        ("val.windows==197", "val.windows==197 (197)"),
        ("epochs_run>=-1", "epochs_run>=-1 (2)"),
    ],
)
def test_a_requirement_that_holds_is_reported(requirement, line):
    assert check(METRICS, [requirement]) == [line]


@pytest.mark.parametrize(
    ("requirement", "message"),
    [
        ("test.model.mae<0.625", "requirement test.model.mae<0.625 failed: test.model.mae is 0.625"),
        ("test.model.mae<=0.3", "requirement test.model.mae<=0.3 failed: test.model.mae is 0.625"),
        ("val.scaled.model.mae>1", "requirement val.scaled.model.mae>1 failed: val.scaled.model.mae is 0.125"),
        ("val.windows==196", "requirement val.windows==196 failed: val.windows is 197"),
    ],
)
def test_a_requirement_that_fails_raises_gate_failed_exit_1(requirement, message):
    with pytest.raises(GateFailed) as err:
        check(METRICS, [requirement])
    assert str(err.value) == message
    assert err.value.exit_code == 1


def test_requirements_are_checked_in_order_and_stop_at_the_first_failure():
    assert check(METRICS, ["test.model.mae<1", "beats-naive"]) == ["test.model.mae<1 (0.625)", "beats-naive"]
    with pytest.raises(GateFailed, match=r"test\.model\.mae>1"):
        check(METRICS, ["test.model.mae>1", "test.model.nope<1"])  # the unknown metric is never reached


def test_beats_naive_on_every_scored_split():
    assert check(METRICS, ["beats-naive"]) == ["beats-naive"]
    typed = Metrics.from_dict({"val": METRICS["val"], "test": METRICS["test"]})
    assert check(typed, [" beats-naive ", "test.model.mae<1"]) == ["beats-naive", "test.model.mae<1 (0.625)"]
    worse = copy.deepcopy(METRICS)
    worse["test"]["model"]["mae"] = 0.875  # a tie is not a win
    with pytest.raises(GateFailed) as err:
        check(worse, ["beats-naive"])
    assert str(err.value) == "requirement beats-naive failed: test model MAE 0.875 >= naive 0.875"
    assert err.value.exit_code == 1
    # `evaluate --split val` has no test scores: only val is judged
    assert check({"val": METRICS["val"]}, ["beats-naive"]) == ["beats-naive"]


def test_beats_naive_looks_at_original_units_only():
    mixed = copy.deepcopy(METRICS)
    mixed["val"]["scaled"]["model"]["mae"] = 99.0
    assert check(mixed, ["beats-naive"]) == ["beats-naive"]


def test_beats_ets_and_its_dotted_paths():
    with_ets = copy.deepcopy(METRICS)
    for split, mae in (("val", 0.625), ("test", 0.75)):
        with_ets[split]["ets"] = _scores(mae)
    assert check(with_ets, ["beats-ets", "test.ets.mae<=0.75"]) == ["beats-ets", "test.ets.mae<=0.75 (0.75)"]
    with_ets["test"]["ets"]["mae"] = 0.5
    with pytest.raises(GateFailed) as err:
        check(with_ets, ["beats-ets"])
    assert str(err.value) == "requirement beats-ets failed: test model MAE 0.625 >= ets 0.5"
    with pytest.raises(ForecastError) as err:
        check(METRICS, ["beats-ets"])
    assert str(err.value) == "--require beats-ets: the run has no AutoETS baseline (set metrics.baselines: [ets])"


def test_beats_baselines_is_the_honest_verdict_on_every_split():
    assert check(METRICS, ["beats-baselines"]) == ["beats-baselines"]  # better on MAE and RMSE than naive
    seasonal = copy.deepcopy(METRICS)
    for split in ("val", "test"):
        seasonal[split]["seasonal_naive"] = _scores(1.0)
        seasonal[split]["scaled"]["seasonal_naive"] = _scores(0.25)
    seasonal["test"]["seasonal_naive"] = {**_scores(0.7), "rmse": 0.625}  # worse MAE, RMSE 0.625 vs 0.875
    with pytest.raises(GateFailed) as err:
        check(seasonal, ["beats-seasonal-naive", "beats-baselines"])  # MAE alone says yes; RMSE says no
    assert (
        str(err.value) == "requirement beats-baselines failed: the model loses to seasonal naive on test (RMSE +40.0 %)"
    )


@pytest.mark.parametrize("path", ["test.model.nope", "train.model.mae", "test.model.mae.x"])
def test_an_unknown_metric_is_a_user_error_exit_2(path):
    with pytest.raises(ForecastError) as err:
        check(METRICS, [f"{path}<1"])
    assert str(err.value) == f"--require {path}: no such metric (e.g. test.model.mae, val.scaled.model.mse)"
    assert err.value.exit_code == 2


@pytest.mark.parametrize("path", ["test.model", "backend"])
def test_a_path_to_something_other_than_a_number_is_a_user_error(path):
    with pytest.raises(ForecastError, match=f"--require {path}: not a number") as err:
        check(METRICS, [f"{path}<1"])
    assert err.value.exit_code == 2


@pytest.mark.parametrize("requirement", ["mae is small", "test.model.mae", "test.model.mae=<1", "test.model.mae<", ""])
def test_an_unparsable_requirement_is_a_user_error(requirement):
    with pytest.raises(ForecastError, match="expected PATH OP NUMBER") as err:
        check(METRICS, [requirement])
    assert err.value.exit_code == 2
    assert not isinstance(err.value, GateFailed)


@pytest.mark.parametrize("requirement", ["test.model.mae<1.2.3", "test.model.mae<e"])
def test_a_malformed_number_is_a_user_error(requirement):
    with pytest.raises(ForecastError, match="is not a number") as err:
        check(METRICS, [requirement])
    assert err.value.exit_code == 2


# --- compare ---


def test_comparison_shows_each_run_and_its_change_against_the_first():
    worse = copy.deepcopy(METRICS)
    worse["test"]["model"]["mae"] += 0.5
    table = comparison(["base", "worse"], [METRICS, worse])
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "base", "worse", "Δ", "worse"]
    assert len(lines) == 1 + 2 * 2 * 2 * 3  # val/test x original/scaled x model/naive x mae/rmse/mse
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["test.model.mae"] == ["0.6250", "1.1250", "+0.5000"]
    assert rows["test.model.rmse"] == ["0.8750", "0.8750", "+0.0000"]
    assert rows["val.scaled.naive.mse"] == [f"{(0.1875 + 0.25) ** 2:.4f}"] * 2 + ["+0.0000"]
    assert [line.split()[0] for line in lines[1:4]] == ["val.model.mae", "val.model.rmse", "val.model.mse"]


def test_comparison_of_three_runs_and_a_missing_metric():
    better = copy.deepcopy(METRICS)
    better["val"]["model"]["mae"] = 0.25
    partial = {"test": METRICS["test"]}  # `evaluate --split test`
    rows = {
        line.split()[0]: line.split()[1:]
        for line in comparison(["a", "b", "c"], [METRICS, better, partial]).splitlines()[1:]
    }
    assert rows["val.model.mae"] == ["0.5000", "0.2500", "nan", "-0.2500", "+nan"]
    assert rows["test.model.mae"] == ["0.6250", "0.6250", "0.6250", "+0.0000", "+0.0000"]


# --- tables ---


def test_text_table_aligns_labels_left_and_numbers_right():
    table = tables.text(["name", "value"], [["a", 1.5], ["long", 10]])
    assert table == "name   value\na     1.5000\nlong      10"


def test_text_table_digits_and_no_trailing_spaces():
    table = tables.text(["metric", "x", "note"], [["pi", math.pi, ""], ["e", math.e, "ok"]], digits=2)
    assert table.split("\n") == ["metric     x  note", "pi      3.14", "e       2.72    ok"]


def test_markdown_table():
    table = tables.markdown(["rank", "trial", "mae"], [[1, "trial-001", 0.25], [2, "trial-000", 1 / 3]])
    assert table == ("| rank | trial | mae |\n|---|---|---|\n| 1 | trial-001 | 0.2500 |\n| 2 | trial-000 | 0.3333 |")
    assert tables.markdown(["a"], [], digits=1) == "| a |\n|---|"
    assert tables.cell(2.0, digits=1) == "2.0" and tables.cell(True) == "True" and tables.cell(3) == "3"


def test_beats_mstl_gates_on_the_mstl_baseline():
    with_mstl = copy.deepcopy(METRICS)
    for split, mae in (("val", 0.625), ("test", 0.75)):
        with_mstl[split]["mstl"] = _scores(mae)
    assert check(with_mstl, ["beats-mstl", "test.mstl.mae<=0.75"]) == ["beats-mstl", "test.mstl.mae<=0.75 (0.75)"]
    with_mstl["val"]["mstl"]["mae"] = 0.25
    with pytest.raises(GateFailed, match=r"^requirement beats-mstl failed: val model MAE 0\.5 >= mstl 0\.25$"):
        check(with_mstl, ["beats-mstl"])
    with pytest.raises(ForecastError) as err:
        check(METRICS, ["beats-mstl"])
    assert str(err.value) == "--require beats-mstl: the run has no MSTL baseline (set metrics.baselines: [mstl])"
