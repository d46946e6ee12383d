"""forecast.readers: a CSV or Parquet file (or a folder of Parquet files) read into pandas, whole or a group of
a panel's series at a time."""

import numpy as np
import pandas as pd
from conftest import ETTH1

from forecast import config as cfg
from forecast.data import load_series


def test_a_parquet_file_with_a_pandas_index_reads_by_position(tmp_path):
    frame = pd.read_csv(ETTH1, nrows=400).iloc[100:].copy()  # index 100..399 travels into the file
    frame.loc[150, "OT"] = np.nan
    path = tmp_path / "slice.parquet"
    frame.to_parquet(path)
    series = load_series(cfg.Data(path=str(path), time_column="date", fill="drop"))
    assert len(series) == 299 and series.times[0] == pd.Timestamp(frame["date"].iloc[0])
