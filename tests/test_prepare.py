"""forecast.prepare: the load-split-scale-check step, and the season it infers from the stamps."""

import pandas as pd

from forecast.prepare import infer_seasonality


def test_a_gap_anywhere_means_no_fixed_season():
    times = pd.date_range("2020-01-01", periods=3000, freq="h")
    assert infer_seasonality(times) == 24
    assert infer_seasonality(times.delete([2500, 2600])) is None
