"""forecast.outputs: `forecast predict`'s layouts (long, wide), file types (.csv, .parquet, .npy, .npz) and
`--output` targets (a path checked before any work, `-`, /dev/stdout, a symlink, a FIFO).

Every output of one forecast must hold the same numbers as the long CSV, in the documented order,
and a bad `--output` or `--format` must be refused before any work, with nothing written. The CLI
runs in-process on the shared tiny run (conftest.py).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, TEXT_IDS, panel_config, panel_frame
from typer.testing import CliRunner

import forecast
from forecast import config as cfg
from forecast.cli import app
from forecast.errors import ForecastError

runner = CliRunner()
TARGETS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
HORIZON = 4
ORIGINS = 300 - 22  # `recent` has 300 rows; a window needs 23
STEPS = [f"step_{k}" for k in range(1, HORIZON + 1)]
FILES = {"long.csv": "long", "long.parquet": "long", "a.npy": "long", "a.npz": "long", "wide.csv": "wide",
         "wide.parquet": "wide"}  # fmt: skip


def predict(*args: str):
    return runner.invoke(app, ["predict", *map(str, args)])


@pytest.fixture(scope="module")
def outputs(tiny_run, recent, tmp_path_factory):
    """Every file type and layout of one --all-origins forecast over `recent`, written by the CLI."""
    folder = tmp_path_factory.mktemp("outputs")
    for name, layout in FILES.items():
        result = predict(tiny_run.path, "--data", recent, "--all-origins", "--format", layout, "-o", folder / name)
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)  # no temporary file left beside them
    return folder


@pytest.fixture(scope="module")
def long(outputs):
    return pd.read_csv(outputs / "long.csv", parse_dates=["origin", "target_time"], dtype={"prediction": np.float32})


def test_long_csv_and_parquet_are_the_api_frame(outputs, long, tiny_run, recent):
    frame = forecast.predict(tiny_run, recent, all_origins=True)
    assert list(long.columns) == ["origin", "target_time", "step", "column", "prediction"]
    assert len(long) == ORIGINS * HORIZON * len(TARGETS)
    # forecasts are float32, and CSV writes each as the shortest text that reads back as that float32
    assert frame["prediction"].dtype == np.float32
    pd.testing.assert_frame_equal(long, frame, check_dtype=False, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(outputs / "long.parquet"), frame, check_exact=True)


def test_wide_is_the_long_form_pivoted(outputs, long, tiny_run, recent):
    wide = pd.read_csv(outputs / "wide.csv", parse_dates=["origin"], dtype=dict.fromkeys(STEPS, np.float32))
    assert list(wide.columns) == ["origin", "column", *STEPS]
    assert len(wide) == ORIGINS * len(TARGETS)
    assert list(wide["column"][:7]) == TARGETS and wide["origin"].is_monotonic_increasing  # long's order
    pivoted = long.pivot(index=["origin", "column"], columns="step", values="prediction")
    pivoted.columns = STEPS
    pd.testing.assert_frame_equal(wide.set_index(["origin", "column"]).sort_index(), pivoted, check_exact=True)
    api = forecast.predict(tiny_run, recent, all_origins=True, layout="wide")
    pd.testing.assert_frame_equal(wide, api, check_dtype=False, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(outputs / "wide.parquet"), api, check_exact=True)


def test_numpy_files_hold_the_long_values_in_its_order(outputs, long):
    expected = long["prediction"].to_numpy().reshape(ORIGINS, HORIZON, len(TARGETS)).astype(np.float32)
    array = np.load(outputs / "a.npy")
    assert array.dtype == np.float32 and array.shape == (ORIGINS, HORIZON, len(TARGETS))
    np.testing.assert_array_equal(array, expected)
    with np.load(outputs / "a.npz", allow_pickle=False) as npz:  # labels without pickles
        assert sorted(npz.files) == ["origin", "predictions", "target", "target_time"]
        np.testing.assert_array_equal(npz["predictions"], expected)
        assert list(npz["target"]) == TARGETS
        np.testing.assert_array_equal(npz["origin"], long["origin"].unique().astype("datetime64[ns]"))
        steps = long["target_time"].to_numpy().reshape(ORIGINS, HORIZON, len(TARGETS))[:, :, 0]
        np.testing.assert_array_equal(npz["target_time"], steps.astype("datetime64[ns]"))


def test_stdout_is_csv_in_either_layout(outputs, tiny_run, recent):
    result = predict(tiny_run.path, "--data", recent, "--all-origins", "--format", "wide", "-o", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("origin,column,step_1,step_2,step_3,step_4\n")
    pd.testing.assert_frame_equal(
        pd.read_csv(io.StringIO(result.stdout)), pd.read_csv(outputs / "wide.csv"), check_exact=True
    )


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("out.txt", [], "--output: {path}: unknown extension '.txt'; use .csv, .parquet, .npy or .npz"),
        ("out", [], "--output: {path} has no extension"),
        ("out.npy", ["--format", "wide"], "--output: {path}: --format wide is for .csv and .parquet"),
        ("out.csv", ["--format", "diagonal"], "--format: expected long or wide (got 'diagonal')"),
    ],
)
def test_a_bad_output_is_refused_before_any_work(tiny_run, tmp_path, name, options, message):
    path = tmp_path / name
    missing = tmp_path / "no-such-data.csv"  # never read: the output is checked first
    result = predict(tiny_run.path, "--data", missing, *options, "-o", path)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"forecast: error: {message.format(path=path)}"), lines
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_the_api_refuses_an_unknown_layout_before_loading_anything(tiny_run, tmp_path):
    with pytest.raises(ForecastError, match="expected long or wide"):
        forecast.predict(tiny_run, tmp_path / "no-such-data.csv", layout="diagonal")


@pytest.mark.slow  # trains a Keras model
def test_a_panel_in_wide_form_has_its_id_first_and_keeps_zones_and_commas(tmp_path):

    frame = panel_frame()
    frame["time"] = frame["time"].dt.tz_localize("Europe/Berlin")
    frame["store"] = frame["store"].replace({"a": 'north, "big"'})  # needs quoting in a CSV
    path = tmp_path / "panel.csv"
    frame.to_csv(path, index=False)
    raw = panel_config(path).model_dump(mode="json")
    raw["model"] = {"cell": "naive"}  # nothing to train: the test is about the output
    run = forecast.train(cfg.Config.model_validate(raw), tmp_path / "run")
    api = forecast.predict(run, layout="wide")
    assert api["origin"].dt.tz is not None
    for name in ("wide.csv", "wide.parquet", "long.csv"):
        layout = name.split(".")[0]
        result = predict(run.path, "--format", layout, "-o", tmp_path / name)
        assert result.exit_code == 0, result.output
    wide = pd.read_csv(tmp_path / "wide.csv", parse_dates=["origin"])
    assert list(wide.columns) == ["store", "origin", "column", *STEPS]
    assert list(wide["store"]) == ['north, "big"', "b", "c"] and (wide["column"] == "sales").all()  # d: too short
    last = frame.groupby("store", sort=False)["time"].max()
    assert list(wide["origin"]) == list(last[wide["store"]])  # each series' own last stamp, zone kept
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "wide.parquet"), api, check_exact=True)
    long = pd.read_csv(tmp_path / "long.csv")
    assert long.columns[0] == "store" and long["target_time"].str.endswith("+01:00").all()
    np.testing.assert_array_equal(long["prediction"].to_numpy().reshape(3, HORIZON), wide[STEPS].to_numpy())


@pytest.mark.parametrize("name", ["long.csv", "wide.csv", "long.parquet", "a.npy"])
def test_a_file_streamed_in_small_chunks_equals_the_whole(outputs, tiny_run, recent, tmp_path, name):
    # chunks of 16 origins (not a whole number of inference batches: the numbers must not care);
    # the last chunk is shorter than the others
    layout = FILES[name]
    forecast.api.forecaster(tiny_run, recent, all_origins=True).write(tmp_path / name, layout, size=16)
    assert ORIGINS % 16
    if name.endswith(".npy"):
        np.testing.assert_array_equal(np.load(tmp_path / name), np.load(outputs / name))
    elif name.endswith(".parquet"):
        streamed = pd.read_parquet(tmp_path / name)
        pd.testing.assert_frame_equal(streamed, pd.read_parquet(outputs / name), check_exact=True)
    else:
        assert (tmp_path / name).read_bytes() == (outputs / name).read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_every_chunk_formats_stamps_as_the_whole_series_would():
    from forecast.outputs import stamp_text, witness_of

    stamps = pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-02 06:00:00.250"]).as_unit("us")
    whole = [str(s) for s in stamps.astype(str)]
    for chunk in (stamps[:1], stamps[:2], stamps[1:2]):  # all midnight, or no fraction, on their own
        text = stamp_text(chunk, None, witness_of(stamps))
        assert text == whole[: len(chunk)] if chunk[0] == stamps[0] else text == whole[1:2]
    assert witness_of(pd.DatetimeIndex(["2020-01-01", "2020-01-02"])).empty  # dates only: nothing to witness


@pytest.mark.parametrize(
    ("time_format", "stamps", "text"),
    [
        ("%Y-%m-%d %H:%M", ["2024-05-01 13:00"], ["2024-05-01 13:00"]),  # no invented seconds
        ("%d/%m/%Y", ["2024-05-01"], ["01/05/2024"]),  # the input's own order
        ("%Y", ["1990-01-01"], ["1990"]),  # years written as numbers
        ("%Y-%m-%d", ["2024-05-01", "2024-05-01 12:00"], ["2024-05-01 00:00:00", "2024-05-01 12:00:00"]),  # lossy
        ("ISO8601", ["2024-05-01 13:00"], ["2024-05-01 13:00:00"]),  # a parsing mode, not a format
    ],
)
def test_stamps_are_written_in_the_inputs_format_where_it_is_exact(time_format, stamps, text):
    from forecast.outputs import stamp_text

    assert stamp_text(pd.DatetimeIndex(stamps), time_format) == text


def test_predict_writes_stamps_as_the_input_does(tiny_run, recent, tmp_path):
    frame = pd.read_csv(recent)
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d %H:%M")  # no seconds
    frame.to_csv(tmp_path / "minutes.csv", index=False)
    result = predict(tiny_run.path, "--data", tmp_path / "minutes.csv", "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert list(written["origin"].unique()) == [frame["date"].iloc[-1]]  # '2016-07-13 11:00'
    assert list(written["target_time"].unique()) == ["2016-07-13 12:00", "2016-07-13 13:00", "2016-07-13 14:00",
                                                     "2016-07-13 15:00"]  # fmt: skip
    assert all(text == str(np.float32(text)) for text in written["prediction"])  # shortest float32 text


def test_panel_outputs_write_ids_as_read(text_ids_run, tmp_path):
    import pyarrow.parquet as pq

    run, path = text_ids_run
    for name, layout in FILES.items():
        result = predict(run.path, "--data", path, "--format", layout, "-o", tmp_path / name)
        assert result.exit_code == 0, result.output
    ids = list(TEXT_IDS)  # 1, 01, 1.0, 007, 10: one forecast each, in the file's order
    for name in ("long.csv", "wide.csv"):
        assert list(pd.read_csv(tmp_path / name, dtype=str)["store"].drop_duplicates()) == ids, name
    for name in ("long.parquet", "wide.parquet"):
        assert list(dict.fromkeys(pq.read_table(tmp_path / name).column("store").to_pylist())) == ids, name
    with np.load(tmp_path / "a.npz", allow_pickle=False) as npz:
        assert list(npz["id"]) == ids


@pytest.mark.slow  # a subprocess
def test_output_to_dev_stdout_through_a_pipe():
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; "
    code += "from forecast.outputs import check_output, write_output; "
    code += "check_output(Path('/dev/stdout')); write_output(Path('/dev/stdout'), 'a,b\\n')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "a,b\n"


def test_output_paths_are_checked_before_any_work(tmp_path):
    from forecast.outputs import check_output

    check_output(tmp_path / "out.csv")
    with pytest.raises(ForecastError, match=r"--output: the folder .* does not exist"):
        check_output(tmp_path / "missing" / "out.csv")
    with pytest.raises(ForecastError, match="is a folder; give a file name"):
        check_output(tmp_path)


def test_output_through_a_symlink_writes_its_target(run, recent, tmp_path):
    target, link = tmp_path / "real.csv", tmp_path / "link.csv"
    target.write_text("old")
    link.symlink_to(target)
    result = runner.invoke(app, ["predict", str(run.path), "--data", str(recent), "--output", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == target
    assert pd.read_csv(target).columns.tolist() == ["origin", "target_time", "step", "column", "prediction"]


def test_output_dash_is_stdout(run, recent, tmp_path):
    result = runner.invoke(app, ["predict", str(run.path), "--data", str(recent), "--output", "-"])
    assert result.exit_code == 0
    assert result.stdout.startswith("origin,target_time,step,column,prediction\n")
    assert not (tmp_path / "-").exists() and not os.path.exists("-")
    metrics = runner.invoke(app, ["evaluate", str(run.path), "--split", "test", "--output", "-"])
    assert json.loads(metrics.stdout)["test"]["windows"] == 197  # JSON only: no table mixed in


def test_output_to_a_fifo_is_written_not_replaced(run, recent, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []

    def read():
        with open(fifo) as stream:
            received.append(stream.read())

    reader = threading.Thread(target=read)
    reader.start()
    result = runner.invoke(app, ["predict", str(run.path), "--data", str(recent), "--output", str(fifo)])
    reader.join(timeout=60)
    assert result.exit_code == 0
    assert received and received[0].startswith("origin,target_time")
    assert not fifo.is_file() and fifo.exists()  # still the FIFO, not a regular file put in its place
