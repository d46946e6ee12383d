"""forecast.data: `load_series` reads the columns a config asks for from CSV or Parquet, and names what is wrong
with a file in one line (the stages it calls have their own files: test_readers, test_timeparse, test_fill)."""

import numpy as np
import pandas as pd
import pytest

from forecast import config as cfg
from forecast.data import load_series
from forecast.errors import ForecastError


def _frame(n=50):
    times = pd.date_range("2020-01-01", periods=n, freq="h")
    return pd.DataFrame(
        {"time": times.strftime("%Y-%m-%d %H:%M:%S"), "a": np.arange(n, dtype=float), "b": np.sin(np.arange(n))}
    )


def _data(path, **kw):
    return cfg.Data(path=str(path), time_column="time", **kw)


def test_features_targets_and_defaults(tmp_path):
    path = tmp_path / "s.csv"
    _frame().to_csv(path, index=False)
    series = load_series(_data(path))
    assert series.feature_names == ["a", "b"] and series.target_names == ["a", "b"]
    _frame().assign(label="x").to_csv(path, index=False)
    with pytest.raises(
        ForecastError, match=r"column 'label' in s\.csv is not numeric: row 0 is 'x' \(name it in data\.time_column"
    ):
        load_series(_data(path))  # a text column is never dropped silently
    series = load_series(_data(path, features=["a", "b"], targets=["b"]))
    assert series.targets.shape == (50, 1) and series.times[1] - series.times[0] == pd.Timedelta(hours=1)


def test_parquet_is_read(tmp_path):
    path = tmp_path / "s.parquet"
    _frame().to_parquet(path)
    assert load_series(_data(path)).features.shape == (50, 2)


@pytest.mark.parametrize(
    ("mutate", "data_kw", "message"),
    [
        (lambda f: f.drop(columns="b"), {"features": ["a", "b"]}, "data.features: column 'b' not in"),
        (lambda f: f.assign(b=["x"] * 50), {"features": ["a", "b"]}, "column 'b' in s.csv is not numeric: row 0"),
        (lambda f: f.assign(b=np.where(np.arange(50) == 7, np.nan, 1.0)), {}, "column 'b' row 7: missing"),
        (lambda f: f.assign(b=np.where(np.arange(50) == 9, np.inf, 1.0)), {}, "column 'b' row 9: missing or infinite"),
        (lambda f: f.iloc[[0, 2, 1, *range(3, 50)]], {}, "row 2: timestamps are not sorted"),
        (lambda f: f.iloc[[0, 1, 1, *range(3, 50)]], {}, "row 2: duplicate timestamp"),
        (lambda f: f.assign(time=["not a date"] * 50), {}, "'not a date' is not a date/time"),
        (lambda f: f.iloc[:0], {}, "header but no data rows"),
    ],
)
def test_bad_data_is_a_user_error(tmp_path, mutate, data_kw, message):
    path = tmp_path / "s.csv"
    mutate(_frame()).to_csv(path, index=False)
    with pytest.raises(ForecastError, match=message.replace("(", r"\(")):
        load_series(_data(path, **data_kw))


def test_fill_policies(tmp_path):
    path = tmp_path / "s.csv"
    _frame().assign(b=np.where(np.arange(50) == 7, np.nan, 2.0)).to_csv(path, index=False)
    assert load_series(_data(path, fill="ffill")).features[7, 1] == 2.0
    assert load_series(_data(path, fill="interpolate")).features[7, 1] == 2.0
    dropped = load_series(_data(path, fill="drop"))
    assert len(dropped) == 49 and len(dropped.times) == 49


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ForecastError, match="file not found"):
        load_series(_data(tmp_path / "nope.csv"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ForecastError, match="the file is empty"):
        load_series(_data(tmp_path / "empty.csv"))
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ForecastError, match="cannot read the file"):
        load_series(_data(tmp_path / "bad.parquet"))


def _panel(tmp_path, column: str, value: float) -> cfg.Data:
    """Two series of 30 hourly rows (target sales, past covariate promo, numeric static size) with
    `value` in series 'a': in its first row, or in every row of it for the static column."""
    times = pd.date_range("2021-01-01", periods=30, freq="h").astype(str)
    series = [
        {"store": name, "time": times, "sales": np.arange(30.0) + k, "promo": np.arange(30) % 2.0, "size": k + 1.0}
        for k, name in enumerate(["a", "b"])
    ]
    frame = pd.concat([pd.DataFrame(s) for s in series], ignore_index=True)
    frame.loc[frame.index[:30] if column == "size" else 0, column] = value
    path = tmp_path / "panel.csv"
    frame.to_csv(path, index=False)
    return _data(path, id_column="store", targets=["sales"], covariates={"past": ["promo"], "static": ["size"]})


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("size", np.inf, "panel.csv: column 'size' row 0: infinite static value in series 'a'"),
        ("size", -np.inf, "panel.csv: column 'size' row 0: infinite static value in series 'a'"),
        ("size", 1e39, "panel.csv: column 'size' row 0: 1e+39 is beyond float32"),
        ("promo", np.inf, "panel.csv: column 'promo' series 'a' row 0: missing or infinite value"),
        ("sales", -np.inf, "panel.csv: column 'sales' series 'a' row 0: missing or infinite value"),
    ],
)
def test_non_finite_values_are_refused_naming_column_and_row(tmp_path, column, value, message):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no numpy RuntimeWarning on the way
        with pytest.raises(ForecastError, match=message.replace("(", r"\(").replace("+", r"\+")):
            load_series(_panel(tmp_path, column, value))


def _etth1(rows=50):
    import pandas as pd
    from conftest import ETTH1

    return pd.read_csv(ETTH1, nrows=rows)


@pytest.mark.parametrize(
    ("name", "make", "extra", "message"),
    [
        ("bad.csv.gz", lambda p: p.write_bytes(b"\x1f\x8b\x08\x00garbage"), {}, "cannot read the file"),
        ("bad.csv.zip", lambda p: p.write_bytes(b"PK\x03\x04garbage"), {}, "cannot read the file"),
        ("bad.csv.bz2", lambda p: p.write_bytes(b"BZh9garbage"), {}, "cannot read the file"),
        ("bad.csv.xz", lambda p: p.write_bytes(b"\xfd7zXZ\x00garbage"), {}, "cannot read the file"),
        (
            "big.csv",
            lambda p: _etth1().assign(OT=lambda f: f.OT.where(f.index != 3, 1e39)).to_csv(p, index=False),
            {},
            "column 'OT' row 3: 1e\\+39 is beyond float32",
        ),
        (
            "tz.csv",
            lambda p: (
                _etth1().assign(date=["2020-01-01 00:00+01:00", "2020-01-01 01:00+02:00"] * 25).to_csv(p, index=False)
            ),
            {},
            "column 'date': Mixed timezones detected",
        ),
        (
            "dup.csv",
            lambda p: p.write_text("date,a,a\n2020-01-01,1,2\n2020-01-02,1,2\n"),
            {},
            "column 'a' appears twice in the header",
        ),
        ("fmt.csv", lambda p: _etth1().to_csv(p, index=False), {"time_format": "%Q"}, "'Q' is a bad directive"),
    ],
)
def test_bad_files_are_named_in_one_line(tmp_path, name, make, extra, message):
    from forecast.data import load_series

    path = tmp_path / name
    make(path)
    with pytest.raises(ForecastError, match=message) as caught:
        load_series(cfg.Data(path=str(path), time_column="date", **extra))
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_a_dotted_column_name_is_not_a_duplicate(tmp_path):
    from forecast.data import load_series

    path = tmp_path / "dots.csv"
    _etth1().rename(columns={"HULL": "HUFL.1"}).to_csv(path, index=False)
    assert "HUFL.1" in load_series(cfg.Data(path=str(path), time_column="date")).feature_names
