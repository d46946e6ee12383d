"""`forecast data m4`: the M4 wide files become one long CSV whose last H rows per series are the test set.

Synthetic files in tmp_path stand in for the real ones (which have no licence and are never bundled);
one test reads the real Hourly files from the shared data folder when it is there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast import m4
from forecast.cli import app
from forecast.errors import ForecastError

runner = CliRunner()
REAL_M4 = Path(__file__).resolve().parents[2] / "shared/data/m4"

# Three ragged Yearly series (horizon 6): lengths 4, 7 and 2 before the test values.
TRAIN = {"Y1": [1.0, 2.0, 3.0, 4.0], "Y2": [10.5, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0], "Y3": [-1.0, 0.25]}
TEST = {key: [100.0 * (i + 1) + j for j in range(6)] for i, key in enumerate(TRAIN)}


def write_wide(path: Path, series: dict[str, list[float]]) -> Path:
    """A CSV laid out as M4's: quoted "V1","V2",... header, id first, rows padded with empty cells."""
    width = max(len(v) for v in series.values())
    lines = [",".join(f'"V{i + 1}"' for i in range(width + 1))]
    for key, values in series.items():
        cells = [f'"{v:g}"' for v in values] + [""] * (width - len(values))
        lines.append(",".join([f'"{key}"', *cells]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "m4"
    folder.mkdir()
    write_wide(folder / "Yearly-train.csv", TRAIN)
    write_wide(folder / "Yearly-test.csv", TEST)
    return folder


def test_table():
    assert m4.HORIZON == {"yearly": 6, "quarterly": 8, "monthly": 18, "weekly": 13, "daily": 14, "hourly": 48}
    assert m4.SEASONALITY == {"yearly": 1, "quarterly": 4, "monthly": 12, "weekly": 1, "daily": 1, "hourly": 24}
    assert m4.lookup("HOURLY") is m4.lookup("hourly") is m4.FREQUENCIES["hourly"]
    assert m4.urls(m4.lookup("Hourly")) == (
        "https://raw.githubusercontent.com/Mcompetitions/M4-methods/master/Dataset/Train/Hourly-train.csv",
        "https://raw.githubusercontent.com/Mcompetitions/M4-methods/master/Dataset/Test/Hourly-test.csv",
    )


def test_round_trip(source, tmp_path):
    path, what = m4.convert("yearly", source, tmp_path / "out")
    assert path == tmp_path / "out" / "m4-yearly.csv"
    assert what.startswith("3 series, 31 rows; last 6 rows")
    assert "test_last: 6" in what
    assert sorted(p.name for p in path.parent.iterdir()) == ["m4-yearly.csv"]  # no temporary left behind
    long = pd.read_csv(path)
    assert long.columns.tolist() == ["unique_id", "t", "y"]
    assert long["unique_id"].drop_duplicates().tolist() == ["Y1", "Y2", "Y3"]  # file order, not sorted
    for key in TRAIN:
        rows = long[long["unique_id"] == key]
        assert rows.index.tolist() == list(range(rows.index[0], rows.index[0] + len(rows)))  # contiguous
        assert rows["t"].tolist() == list(range(len(TRAIN[key]) + 6))
        assert rows["y"].tolist() == TRAIN[key] + TEST[key]
        assert rows["y"].tail(6).tolist() == TEST[key]
    assert long["t"].dtype == np.int64


def test_frequency_any_case_and_rerun_replaces(source, tmp_path):
    first, _ = m4.convert("YEARLY", source, tmp_path)
    again, _ = m4.convert("Yearly", source, tmp_path)
    assert first == again and len(pd.read_csv(again)) == 31


def test_unknown_frequency(source, tmp_path):
    with pytest.raises(ForecastError, match=r"unknown frequency 'minutely'.*Yearly, Quarterly, Monthly"):
        m4.convert("minutely", source, tmp_path)


@pytest.mark.parametrize(
    ("test", "message"),
    [
        ({"Y1": TEST["Y1"], "Y2": TEST["Y2"]}, "no row for series Y3 of Yearly-train.csv"),
        ({**TEST, "Y4": TEST["Y1"]}, "series Y4 is not in Yearly-train.csv"),
        ({"Y2": TEST["Y2"], "Y1": TEST["Y1"], "Y3": TEST["Y3"]}, "series Y2 is on line 2, where .* has Y1"),
        ({**TEST, "Y2": TEST["Y2"][:5]}, "series Y2 has 5 test values, expected 6"),
        ({**TEST, "Y3": [*TEST["Y3"], 1.0]}, "series Y3 has 7 test values, expected 6"),
    ],
)
def test_mismatched_files(source, tmp_path, test, message):
    write_wide(source / "Yearly-test.csv", test)
    with pytest.raises(ForecastError, match=rf"Yearly-test\.csv: {message}"):
        m4.convert("yearly", source, tmp_path / "out")
    assert not (tmp_path / "out" / "m4-yearly.csv").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"V1","V2","V3"\n"Y1","1","2"\n"Y1","3",\n', "series Y1 appears more than once"),
        ('"V1","V2","V3"\n"Y1","1","x"\n', "series Y1 has a value that is not a number"),
        ('"V1","V2","V3"\n"Y1","","2"\n', "series Y1 has an empty cell before its last value"),
        ('"V1","V2","V3"\n"Y1",,\n', "series Y1 has no values"),
        ('"id","V2"\n"Y1","1"\n', "not an M4 CSV"),
        ("", "not an M4 CSV"),
    ],
)
def test_malformed_train_file(source, tmp_path, text, message):
    (source / "Yearly-train.csv").write_text(text)
    with pytest.raises(ForecastError, match=rf"Yearly-train\.csv: {message}"):
        m4.convert("yearly", source, tmp_path)


def test_missing_file_and_folder(source, tmp_path):
    (source / "Yearly-test.csv").unlink()
    with pytest.raises(ForecastError, match=r"--source: no Yearly-test\.csv in"):
        m4.convert("yearly", source, tmp_path)
    with pytest.raises(ForecastError, match=r"--source: .* is not a folder"):
        m4.convert("yearly", tmp_path / "absent", tmp_path)


def test_download_failure_names_the_url(tmp_path, monkeypatch):
    monkeypatch.setattr(m4, "BASE_URL", (tmp_path / "nowhere").as_uri())
    with pytest.raises(ForecastError, match=r"cannot download file://.*/nowhere/Train/Hourly-train\.csv"):
        m4.convert("hourly", None, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []  # the temporary folder is gone


@pytest.mark.slow  # a subprocess
def test_import_loads_neither_keras_nor_pandas():
    import subprocess

    code = "import sys, forecast.m4; print(sorted({'pandas', 'keras', 'tensorflow'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_cli(source, tmp_path):
    dest = tmp_path / "data"
    result = runner.invoke(app, ["data", "m4", "Yearly", "--source", str(source), "--dest", str(dest)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{dest / 'm4-yearly.csv'}: " + m4.convert("yearly", source, dest)[1]
    assert len(pd.read_csv(dest / "m4-yearly.csv")) == 31


def test_cli_missing_source_is_one_line_exit_2(tmp_path):
    result = runner.invoke(app, ["data", "m4", "hourly", "--source", str(tmp_path / "absent"), "--dest", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"forecast: error: --source: {tmp_path / 'absent'} is not a folder"]
    assert result.stdout == ""


@pytest.mark.slow  # reads the real M4 files
def test_real_hourly(tmp_path):
    if not (REAL_M4 / "Hourly-train.csv").is_file() or not (REAL_M4 / "Hourly-test.csv").is_file():
        pytest.skip(f"the M4 Hourly files are not in {REAL_M4} (they are never bundled)")
    path, what = m4.convert("Hourly", REAL_M4, tmp_path)
    long = pd.read_csv(path)
    train = pd.read_csv(REAL_M4 / "Hourly-train.csv", index_col=0)
    test = pd.read_csv(REAL_M4 / "Hourly-test.csv", index_col=0)
    assert what.startswith("414 series, 373,372 rows")
    assert long["unique_id"].drop_duplicates().tolist() == train.index.tolist() == test.index.tolist()
    assert len(long) == train.notna().sum().sum() + test.notna().sum().sum() == 373_372
    sizes = long.groupby("unique_id", sort=False).size()
    assert (sizes.to_numpy() == train.notna().sum(axis=1).to_numpy() + 48).all()
    tails = long.groupby("unique_id", sort=False).tail(48)
    np.testing.assert_array_equal(tails["y"].to_numpy().reshape(414, 48), test.to_numpy())
    heads = long.drop(tails.index)  # the training rows, series by series
    np.testing.assert_array_equal(heads["y"].to_numpy(), train.to_numpy()[train.notna().to_numpy()])
    assert (long["t"].to_numpy() == long.groupby("unique_id", sort=False).cumcount().to_numpy()).all()
