"""forecast.forecasts: `Forecasts` written to a file, float32 values as their shortest text and stamps in the
input's format (the layouts and file types of `--output` are test_outputs')."""

import numpy as np
import pandas as pd


def test_csv_writes_float32_forecasts_shortest_and_stamps_in_the_input_format(tmp_path):
    from forecast.forecasts import Forecasts

    values = np.array([[[128067.50029298446], [1432.333490782564]]])  # float64 noise of float32 results
    origin = pd.DatetimeIndex(["2024-05-01 13:00"])
    targets = pd.DatetimeIndex(["2024-05-01 14:00", "2024-05-01 15:00"])
    rows = ["2024-05-01 13:00,2024-05-01 14:00,1,y,128067.5", "2024-05-01 13:00,2024-05-01 15:00,2,y,1432.3335"]
    for time_format, written in (("%Y-%m-%d %H:%M", rows), (None, [r.replace(":00,", ":00:00,") for r in rows])):
        Forecasts(values, origin, targets, ["y"], time_format=time_format).write(tmp_path / "out.csv")
        lines = (tmp_path / "out.csv").read_text().splitlines()
        assert lines == ["origin,target_time,step,column,prediction", *written]
    Forecasts(values, origin, targets, ["y"]).write(tmp_path / "out.parquet")
    stored = pd.read_parquet(tmp_path / "out.parquet")["prediction"]
    assert stored.dtype == np.float32 and list(stored) == [np.float32(128067.5), np.float32(1432.3335)]
