"""Rolling-origin backtests: the fold arithmetic, in-process (training the folds is test_cli's)."""

import pytest
from conftest import tiny_config

from forecast import config as cfg
from forecast.backtesting import Backtest, Fold, fold_borders, with_split
from forecast.errors import ForecastError
from forecast.results import SplitScores
from forecast.windows import WindowSpec, split_origins

TINY = cfg.validate(tiny_config())  # split 600 / 800 / 1000; 12 timesteps every 2 rows, delay 1, horizon 4


def test_three_folds_tile_the_test_rows():
    # linspace(800, 1000, 4) = 800, 866.7, 933.3, 1000; validation stays 200 rows long, just before each fold
    assert fold_borders(TINY, 1000, 3) == [
        (600, 800, 800, 867),
        (667, 867, 867, 933),
        (733, 933, 933, 1000),
    ]


def test_fold_borders_follow_a_fractional_split():
    config = cfg.validate({**tiny_config(), "data": {"path": "x.csv"}})  # default split 0.7 / 0.1 / 0.2
    assert fold_borders(config, 1000, 2) == [(700, 800, 800, 900), (800, 900, 900, 1000)]  # 100 val rows
    assert fold_borders(config, 1000, 1) == [(700, 800, 800, 1000)]


def test_fold_windows_are_the_test_windows_whose_targets_stay_in_the_fold():
    spec = WindowSpec.from_config(TINY.window)
    counts = []
    for train_end, val_end, start, end in fold_borders(TINY, 1000, 3):
        origins = split_origins(spec, (train_end, val_end, end))
        counts.append(len(origins["test"]))
        assert origins["test"][0] == start - 1 and origins["test"][-1] == end - 1 - 4  # delay 1, horizon 4
    # a fold of n rows has n - (horizon - 1) windows; the 2 x 3 windows straddling a fold border are dropped
    assert counts == [67 - 3, 66 - 3, 67 - 3] == [64, 63, 64]
    assert sum(counts) == (1000 - 800 - 3) - 2 * 3


def test_folds_shorter_than_the_horizon_are_refused():
    assert len(fold_borders(cfg.validate(tiny_config(window={"horizon": 66})), 1000, 3)) == 3  # 67, 66, 67 rows
    with pytest.raises(ForecastError, match=r"folds of 66 test rows are shorter than the horizon \(67\)"):
        fold_borders(cfg.validate(tiny_config(window={"horizon": 67})), 1000, 3)
    config = cfg.validate(tiny_config(window={"horizon": 80}))
    with pytest.raises(ForecastError) as err:
        fold_borders(config, 1000, 3)
    assert str(err.value) == "--folds 3: folds of 67 test rows are shorter than the horizon (80)"
    assert err.value.exit_code == 2
    assert len(fold_borders(config, 1000, 2)) == 2  # 100-row folds fit


def test_fold_borders_check_the_split_against_the_series():
    with pytest.raises(ForecastError, match="test ends at row 1000 but the series has only 999 rows"):
        fold_borders(TINY, 999, 3)


def test_with_split_moves_only_the_split():
    moved = with_split(TINY, 667, 867, 933)
    assert moved.data.split == cfg.Split(train_end=667, val_end=867, test_end=933)
    assert TINY.data.split == cfg.Split(train_end=600, val_end=800, test_end=1000)  # the original is untouched
    assert moved.data.path == TINY.data.path and moved.data.time_column == "date"
    assert moved.model == TINY.model and moved.window == TINY.window and moved.training == TINY.training
    assert moved.model_copy(update={"data": TINY.data}) == TINY


def _scores(model_mae: float, naive_mae: float, windows: int) -> SplitScores:
    def s(mae):
        return {"mae": mae, "rmse": mae * 2, "mse": (mae * 2) ** 2, "mape": 1.0}

    return SplitScores.from_dict(
        {"model": s(model_mae), "naive": s(naive_mae), "scaled": {"model": s(0.1), "naive": s(0.2)}, "windows": windows}
    )


def test_backtest_summary_and_table():
    backtest = Backtest(
        [Fold(1, (800, 867), _scores(1.0, 2.0, 64)), Fold(2, (867, 933), _scores(3.0, 2.0, 63))], refit=False
    )
    summary = backtest.summary
    assert summary["model"]["mae"] == {"mean": 2.0, "std": pytest.approx(2**0.5)}
    assert summary["naive"]["rmse"] == {"mean": 4.0, "std": 0.0}
    out = backtest.to_dict()
    assert out["refit"] is False and [f["rows"] for f in out["folds"]] == [[800, 867], [867, 933]]
    assert list(out["folds"][0]) == ["fold", "rows", "windows", "model", "naive", "scaled"]
    lines = backtest.table().splitlines()
    assert lines[0].split() == [
        "fold",
        "rows",
        "windows",
        "model",
        "MAE",
        "naive",
        "MAE",
        "model",
        "RMSE",
        "naive",
        "RMSE",
    ]
    assert lines[1].split() == ["1", "800-867", "64", "1.0000", "2.0000", "2.0000", "4.0000"]
    assert lines[3].split() == ["mean", "2.0000", "2.0000", "4.0000", "4.0000"]
    assert lines[4].split() == ["std", f"{2**0.5:.4f}", "0.0000", f"{2 * 2**0.5:.4f}", "0.0000"]
