"""forecast.timeparse: a file's time column parsed into stamps (numbers as years), and the format its stamps are
written in."""

import numpy as np
import pandas as pd
import pytest

from forecast import config as cfg
from forecast.data import load_series
from forecast.future import stamps_after


@pytest.mark.parametrize(
    ("column", "time_format", "expected"),
    [
        (["2024-05-01 13:00", "2024-05-01 14:00"], None, "%Y-%m-%d %H:%M"),  # no seconds to invent
        (["2024-05-01", "2024-05-02"], None, "%Y-%m-%d"),
        ([1990, 1991], None, "%Y"),  # years as numbers
        (["2024-05-01 13:00", "2024-05-01 14:00"], "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"),  # the config's wins
        (pd.to_datetime(["2024-05-01", "2024-05-02"]), None, None),  # Parquet timestamps: no text format
    ],
)
def test_stamp_format_is_how_the_file_writes_its_stamps(tmp_path, column, time_format, expected):
    from forecast.timeparse import stamp_format

    frame = pd.DataFrame({"t": column, "y": [1.0, 2.0]})
    path = tmp_path / ("d.parquet" if expected is None else "d.csv")
    frame.to_parquet(path) if expected is None else frame.to_csv(path, index=False)
    assert stamp_format(path, "t", time_format) == expected


def test_years_below_1000(tmp_path):
    path = tmp_path / "years.csv"
    pd.DataFrame({"year": [998, 999, 1000, 1001], "v": [1.0, 2.0, 3.0, 4.0]}).to_csv(path, index=False)
    times = load_series(cfg.Data(path=str(path), time_column="year")).times
    assert [t.year for t in times] == [998, 999, 1000, 1001]


def test_a_numeric_year_column_is_read_as_years(tmp_path):
    path = tmp_path / "sunspots.csv"
    pd.DataFrame({"YEAR": np.arange(1700.0, 1760.0), "SUNACTIVITY": np.arange(60.0)}).to_csv(path, index=False)
    series = load_series(cfg.Data(path=str(path), time_column="YEAR"))
    assert series.times[0] == pd.Timestamp("1700-01-01") and series.feature_names == ["SUNACTIVITY"]
    after = pd.DatetimeIndex(stamps_after(series.times[-1:], 2, None, series.times)[0])
    assert list(after) == [pd.Timestamp("1760-01-01"), pd.Timestamp("1761-01-01")]
