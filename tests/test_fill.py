"""forecast.fill: missing values filled (data.fill) within each series, counted, and recorded in metrics.json."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ETTH1, tiny_config

import forecast
from forecast import config as cfg
from forecast.data import load_series


def _holes(tmp_path):
    """ETTh1's first 1,000 rows with 3 gaps in OT and one in HUFL's last row."""
    frame = pd.read_csv(ETTH1, nrows=1000)
    frame.loc[[10, 11, 500], "OT"] = np.nan
    frame.loc[999, "HUFL"] = np.nan
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    return path


def test_fills_are_counted_and_recorded(tmp_path):
    path = _holes(tmp_path)
    series = load_series(cfg.Data(path=str(path), time_column="date", fill="interpolate"))
    assert series.filled == {"HUFL": 1, "OT": 3}
    assert any("filled 4 missing values (1 in 'HUFL', 3 in 'OT')" in n for n in series.notes)
    assert any("the last row (999), the forecast origin, holds filled values" in n for n in series.notes)
    dropped = load_series(cfg.Data(path=str(path), time_column="date", fill="drop"))
    assert len(dropped) == 996 and any("spacing is now uneven" in n for n in dropped.notes)


@pytest.mark.slow  # trains in-process for a few seconds
def test_fills_are_recorded_in_metrics_json(tmp_path):
    path = _holes(tmp_path)
    run = forecast.train(
        cfg.validate(tiny_config(data={"path": str(path), "fill": "interpolate"}, training={"epochs": 1})),
        run_dir=tmp_path / "run",
    )
    assert json.loads(run.metrics_file.read_text())["filled"] == {"HUFL": 1, "OT": 3}
