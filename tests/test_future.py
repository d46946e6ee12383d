"""forecast.future: the rows past the end of a series a forecast needs, and the stamps that follow its last one."""

import pandas as pd
import pytest

from forecast.future import stamps_after


@pytest.mark.parametrize(
    ("freq", "expected"),
    [
        ("ME", ["2002-01-31", "2002-02-28"]),
        ("W-SUN", ["2000-06-18", "2000-06-25"]),
        ("YE", ["2024-12-31", "2025-12-31"]),
    ],
)
def test_future_stamps_follow_the_calendar(freq, expected):
    times = pd.date_range("2000-01-01", periods=24, freq=freq)
    after = pd.DatetimeIndex(stamps_after(times[-1:], 2, None, times)[0])
    assert [t.strftime("%Y-%m-%d") for t in after] == expected
