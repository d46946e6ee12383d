"""forecast.predicting: the predict lifecycle (members -> read -> check -> scale -> forecast -> write) and what it
reads when no data is given."""

import pandas as pd
from conftest import ETTH1

import forecast


def test_predict_defaults_to_the_runs_own_data(run):
    frame = forecast.predict(run)
    assert frame["origin"].iloc[0] == pd.Timestamp(pd.read_csv(ETTH1)["date"].iloc[-1])
