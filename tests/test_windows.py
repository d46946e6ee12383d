"""forecast.windows: inputs and targets of a window by hand, split borders without target leaks, window counts."""

import numpy as np
import pytest

from forecast.errors import ForecastError
from forecast.windows import WindowSpec, split_origins


def test_inputs_and_targets_by_hand():
    # lookback 6 sampled every 2 rows -> 3 timesteps; targets 2 rows, starting 1 row after the origin.
    spec = WindowSpec(timesteps=3, step=2, delay=1, horizon=2)
    series = np.arange(30, dtype=np.float32)[:, None]
    origins = np.array([4, 10])
    assert spec.inputs(series, origins)[..., 0].tolist() == [[0, 2, 4], [6, 8, 10]]
    assert spec.targets(series, origins)[..., 0].tolist() == [[5, 6], [11, 12]]
    assert spec.last_values(series, origins)[..., 0].tolist() == [[4, 4], [10, 10]]


def test_delay_counts_from_the_last_input_row():
    spec = WindowSpec(timesteps=2, step=1, delay=3, horizon=1)
    series = np.arange(10, dtype=np.float32)[:, None]
    assert spec.targets(series, np.array([5]))[0, 0, 0] == 8


def test_split_borders_and_no_target_leak():
    spec = WindowSpec(timesteps=3, step=2, delay=1, horizon=2)  # inputs reach 4 rows back
    origins = split_origins(spec, (10, 15, 20))
    assert origins["train"].tolist() == [4, 5, 6, 7]  # first full history at row 4; targets end by row 9
    assert origins["val"].tolist() == [9, 10, 11, 12]  # inputs may start in train, targets 10..14
    assert origins["test"].tolist() == [14, 15, 16, 17]
    for name, (start, end) in {"train": (0, 10), "val": (10, 15), "test": (15, 20)}.items():
        rows = origins[name][:, None] + spec.target_offsets()
        assert rows.min() >= start and rows.max() < end, name


def test_etth1_standard_protocol_window_counts():
    # Lookback 96 / horizon 96 on the ETTh1 borders: the published loaders have 2785 test windows.
    spec = WindowSpec(timesteps=96, step=1, delay=1, horizon=96)
    origins = split_origins(spec, (8640, 11520, 14400))
    assert len(origins["test"]) == 2785
    assert len(origins["val"]) == 2785
    assert len(origins["train"]) == 8640 - 96 - 96 + 1


def test_chollet_jena_timesteps():
    spec = WindowSpec(timesteps=1440 // 6, step=6, delay=144, horizon=1)
    assert spec.input_offsets()[0] == -(240 - 1) * 6 and len(spec.input_offsets()) == 240


def test_split_too_short_is_a_user_error():
    spec = WindowSpec(timesteps=10, step=1, delay=1, horizon=5)
    with pytest.raises(ForecastError, match="the test split"):
        split_origins(spec, (100, 120, 123))
