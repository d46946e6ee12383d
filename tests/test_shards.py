"""forecast.shards: batch prediction over a panel in shards (issue 19): directories of Parquet files, --shard I/N,
and Slurm array variables."""

import numpy as np
import pandas as pd
import pytest
from conftest import TEXT_IDS, panel_config, panel_frame, run_cli

import forecast
import forecast.predicting
from forecast.errors import ForecastError
from forecast.readers import series_ids
from forecast.shards import shard_of

LENGTHS = {f"s{k:02d}": 40 + k for k in range(11)}


@pytest.fixture(scope="module")
def panel_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shards")
    frame = panel_frame(LENGTHS)
    frame.to_csv(tmp / "panel.csv", index=False)
    parts = tmp / "parts"
    parts.mkdir()
    for k, (_, group) in enumerate(frame.groupby(frame["store"].str[-1])):  # series spread over files
        group.to_parquet(parts / f"part-{k}.parquet", index=False)
    return forecast.train(panel_config(tmp / "panel.csv"), tmp / "run"), tmp


def test_shards_partition_the_series_exactly_and_equal_the_whole(panel_run):
    run, tmp = panel_run
    whole = forecast.api.forecaster(run, tmp / "panel.csv").all().frame()
    for source in (tmp / "panel.csv", tmp / "parts"):
        shards = [forecast.api.forecaster(run, source, shard=(i, 3)).all().frame() for i in range(3)]
        ids = [set(s["store"]) for s in shards]
        assert set().union(*ids) == set(whole["store"]) and sum(map(len, ids)) == len(set(whole["store"]))
        merged = pd.concat(shards).sort_values(["store", "step"]).reset_index(drop=True)
        expected = whole.sort_values(["store", "step"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(merged, expected, check_exact=False, rtol=1e-6)


def test_a_directory_of_parquet_files_reads_as_one_panel(panel_run):
    run, tmp = panel_run
    from_parts = forecast.api.forecaster(run, tmp / "parts").all()
    assert sorted(from_parts.ids) == sorted(LENGTHS)


def test_shards_past_the_panel_or_of_short_series_forecast_nothing(panel_run, tmp_path):
    run, tmp = panel_run
    whole = forecast.api.forecaster(run, tmp / "panel.csv").all().frame()
    past = forecast.api.forecaster(run, tmp / "panel.csv", shard=(11, 12)).all().frame()
    assert past.empty and list(past.columns) == list(whole.columns)
    frame = panel_frame({"a": 40, "b": 41, "c": 5})  # c is too short for one window
    frame.to_csv(tmp_path / "short.csv", index=False)
    assert len(forecast.api.forecaster(run, tmp_path / "short.csv").all().frame()["store"].unique()) == 2
    assert forecast.api.forecaster(run, tmp_path / "short.csv", shard=(2, 3)).all().frame().empty


def test_ids_that_look_like_numbers_stay_text_in_groups_and_shards(text_ids_run, tmp_path, monkeypatch):
    run, path = text_ids_run
    frame = pd.read_csv(path, dtype={"store": str})
    frame.to_parquet(tmp_path / "text.parquet", index=False, row_group_size=50)
    frame[frame["store"].isin(["007", "01", "10"])].to_parquet(tmp_path / "hive", partition_cols=["store"])
    numbers = frame[frame["store"].isin(["1", "10"])]
    numbers.assign(store=numbers["store"].astype("int64")).to_parquet(tmp_path / "int.parquet", index=False)
    truth = forecast.api.forecaster(run, path).all().frame().set_index(["store", "step"])["prediction"]
    for source, ids in [(path, list(TEXT_IDS)), (tmp_path / "text.parquet", list(TEXT_IDS)),
                        (tmp_path / "hive", ["007", "01", "10"]), (tmp_path / "int.parquet", ["1", "10"])]:  # fmt: skip
        assert series_ids(source, "store") == ids
        whole = forecast.api.forecaster(run, source).all().frame()
        assert list(whole["store"].drop_duplicates()) == ids  # by text: 1 is not 01 nor 1.0
        found = whole.set_index(["store", "step"])["prediction"]
        np.testing.assert_allclose(found, truth[found.index], rtol=1e-5)  # each id gets its own series' forecast
        shards = [forecast.api.forecaster(run, source, shard=(i, 2)).all().frame() for i in range(2)]
        assert [list(s["store"].drop_duplicates()) for s in shards] == [ids[0::2], ids[1::2]]
        forecast.api.write_predictions(run, tmp_path / "whole.csv", source)
        with monkeypatch.context() as patch:
            patch.setattr(forecast.predicting, "GROUP_ROWS", 50)  # a series a group
            forecast.api.write_predictions(run, tmp_path / "groups.csv", source)
        assert (tmp_path / "groups.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
        assert list(pd.read_csv(tmp_path / "groups.csv", dtype=str)["store"].drop_duplicates()) == ids


@pytest.mark.slow
def test_shard_outputs_from_the_cli(panel_run, tmp_path):
    run, tmp = panel_run
    outputs = []
    for i in range(2):
        done = run_cli("predict", run.path, "--data", tmp / "parts", "--shard", f"{i}/2",
                       "--output", tmp_path / "preds-{shard}.parquet")  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append(pd.read_parquet(tmp_path / f"preds-{i}.parquet"))
    assert sorted(set(outputs[0]["store"]) | set(outputs[1]["store"])) == sorted(LENGTHS)
    assert not set(outputs[0]["store"]) & set(outputs[1]["store"])
    same = run_cli("predict", run.path, "--shard", "0/2", "--output", tmp_path / "one.csv")
    assert same.returncode == 2 and "{shard}" in same.stderr
    # inside a Slurm array, a predict whose --output has no {shard} forecasts every series
    env = {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "2"}
    plain = run_cli("predict", run.path, "--output", tmp_path / "all.parquet", env=env)
    assert plain.returncode == 0 and sorted(pd.read_parquet(tmp_path / "all.parquet")["store"].unique()) == sorted(
        LENGTHS
    )
    slurm = run_cli("predict", run.path, "--output", tmp_path / "s-{shard}.parquet", env=env)
    assert slurm.returncode == 0 and set(pd.read_parquet(tmp_path / "s-1.parquet")["store"]) < set(LENGTHS)
    order = series_ids(tmp / "parts", "store")  # the files' order of first appearance
    np.testing.assert_equal(sorted(outputs[0]["store"].unique()), sorted(order[0::2]))


@pytest.fixture(scope="module")
def covariate_run(tmp_path_factory):
    """A panel run with a future covariate, calendar features and statics, the file to predict from
    (each series' next 4 rows: promo known, sales empty) and the same file as Parquet."""
    tmp = tmp_path_factory.mktemp("grouped")
    frame = panel_frame({**LENGTHS, "short": 6})  # 'short' is too short for one window
    frame.to_csv(tmp / "panel.csv", index=False)
    later = [
        {**group.iloc[-1].to_dict(), "time": group["time"].iloc[-1] + pd.Timedelta(hours=k), "sales": np.nan,
         "visits": np.nan, "promo": float(k % 2)}
        for _, group in frame.groupby("store") for k in range(1, 5)
    ]  # fmt: skip
    future = pd.concat([frame, pd.DataFrame(later)]).sample(frac=1, random_state=2)  # series interleaved
    future.to_csv(tmp / "future.csv", index=False)
    future.to_parquet(tmp / "future.parquet", index=False, row_group_size=97)
    config = panel_config(
        tmp / "panel.csv", covariates={"future": ["promo"], "static": ["region", "size"]}, calendar=["hour"]
    )
    return forecast.train(config, tmp / "run"), tmp


@pytest.mark.parametrize("source", ["future.csv", "future.parquet"])
def test_a_panel_predicted_group_by_group_equals_the_whole(covariate_run, source, tmp_path, monkeypatch, caplog):
    run, tmp = covariate_run
    expected = {}
    for origins in (False, True):
        for suffix in (".csv", ".parquet"):
            name = f"{origins}{suffix}"
            forecast.api.write_predictions(run, tmp_path / f"whole-{name}", tmp / source, origins)
            expected[name] = (tmp_path / f"whole-{name}").read_bytes()
    monkeypatch.setattr(forecast.predicting, "GROUP_ROWS", 100)  # two or three series a group
    with caplog.at_level("INFO", logger="forecast"):
        for name in expected:
            origins, suffix = name.split(".")[0] == "True", "." + name.split(".")[1]
            forecast.api.write_predictions(run, tmp_path / f"grouped-{name}", tmp / source, origins)
            grouped = tmp_path / f"grouped-{name}"
            if suffix == ".csv":  # byte for byte: the same rows, order, stamps and numbers
                assert grouped.read_bytes() == expected[name], name
            else:
                pd.testing.assert_frame_equal(pd.read_parquet(grouped), pd.read_parquet(tmp_path / f"whole-{name}"))
    assert "in 6 groups" in caplog.text and "(group 6 of 6)" in caplog.text  # 'short' is noted by its group
    assert "1 series in all are too short" in caplog.text


def test_grouped_shards_partition_the_series_and_a_panel_of_short_series_fails_whole(
    covariate_run, tmp_path, monkeypatch
):
    run, tmp = covariate_run
    monkeypatch.setattr(forecast.predicting, "GROUP_ROWS", 100)
    whole = forecast.api.forecaster(run, tmp / "future.parquet").all().frame()
    parts = []
    for i in range(2):
        forecast.api.write_predictions(run, tmp_path / f"p{i}.parquet", tmp / "future.parquet", shard=(i, 2))
        parts.append(pd.read_parquet(tmp_path / f"p{i}.parquet"))
    assert not set(parts[0]["store"]) & set(parts[1]["store"])
    merged = pd.concat(parts).sort_values(["store", "step"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(merged, whole.sort_values(["store", "step"]).reset_index(drop=True))
    short = panel_frame({f"t{k}": 8 for k in range(30)})  # 240 rows: three groups, not one window among them
    short.to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(ForecastError) as grouped:
        forecast.api.write_predictions(run, tmp_path / "out.csv", tmp_path / "short.csv")
    assert not (tmp_path / "out.csv").exists() and not list(tmp_path.glob(".out.csv*"))
    monkeypatch.setattr(forecast.predicting, "GROUP_ROWS", 1 << 21)
    with pytest.raises(ForecastError) as whole:
        forecast.api.write_predictions(run, tmp_path / "out.csv", tmp_path / "short.csv")
    assert str(grouped.value) == str(whole.value) and "8 rows, fewer than the 12" in str(whole.value)


def daily_frame(stores: int = 8, days: int = 40) -> pd.DataFrame:
    """Daily series: the first six at midnight, the last two at 06:00 (how a CSV prints stamps
    depends on every stamp of the file)."""
    rng = np.random.default_rng(4)
    parts = []
    for k in range(stores):
        start = pd.Timestamp("2021-03-13") + pd.Timedelta(days=k, hours=6 if k >= stores - 2 else 0)
        times = start + pd.to_timedelta(np.arange(days), unit="D")
        sales = 50 + 5 * k + 3 * np.sin(np.arange(days) / 3) + rng.normal(0, 0.5, days)
        parts.append(pd.DataFrame({"store": f"s{k}", "time": times, "sales": sales}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def daily_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("daily")
    daily_frame().to_csv(tmp / "daily.csv", index=False)
    return forecast.train(panel_config(tmp / "daily.csv"), tmp / "run"), tmp


def grouped_and_whole(run, data, output, monkeypatch, **kwargs):
    """write_predictions' file in one piece, then in groups of two series: (whole, grouped) paths."""
    whole, grouped = output.with_name("whole" + output.suffix), output.with_name("grouped" + output.suffix)
    forecast.api.write_predictions(run, whole, data, **kwargs)
    with monkeypatch.context() as patch:
        patch.setattr(forecast.predicting, "GROUP_ROWS", 80)
        forecast.api.write_predictions(run, grouped, data, **kwargs)
    return whole, grouped


def test_groups_print_stamps_and_read_day_first_dates_as_the_whole_file_does(daily_run, tmp_path, monkeypatch):
    run, tmp = daily_run
    whole, grouped = grouped_and_whole(run, tmp / "daily.csv", tmp_path / "p.csv", monkeypatch, all_origins=True)
    assert "2021-03-24 00:00:00" in whole.read_text() and grouped.read_bytes() == whole.read_bytes()
    frame = daily_frame()
    frame["time"] = frame["time"].dt.strftime("%d/%m/%Y %H:%M")  # day first: 13/03 says so, 01/04 does not
    frame = pd.concat([frame[frame["store"] != "s0"], frame[frame["store"] == "s0"]])  # s1 first: 14/03
    later = frame["store"].isin(["s6", "s7"])
    frame.loc[later, "time"] = (pd.Timestamp("2021-04-01") + pd.to_timedelta(np.arange(later.sum()) % 40, unit="D")
                                ).strftime("%d/%m/%Y %H:%M")  # fmt: skip
    frame.to_csv(tmp_path / "dayfirst.csv", index=False)
    whole, grouped = grouped_and_whole(run, tmp_path / "dayfirst.csv", tmp_path / "d.csv", monkeypatch)
    # written in the input's format: 10 May (a month-first read would write 05/10/2021, 5 October)
    assert "10/05/2021 00:00" in whole.read_text() and grouped.read_bytes() == whole.read_bytes()


def test_groups_refuse_mixed_zones_and_read_parquet_parts_of_differing_types(daily_run, tmp_path, monkeypatch):
    run, _ = daily_run
    frame = daily_frame()
    zoned = frame.copy()
    zoned["time"] = [f"{t:%Y-%m-%dT%H:%M:%S}{'+01:00' if s < 's4' else '+02:00'}" for t, s in
                     zip(frame["time"], frame["store"], strict=True)]  # fmt: skip
    zoned.to_csv(tmp_path / "zoned.csv", index=False)
    monkeypatch.setattr(forecast.predicting, "GROUP_ROWS", 80)
    for suffix in (".csv", ".parquet"):
        with pytest.raises(ForecastError, match="time"):
            forecast.api.write_predictions(run, tmp_path / f"z{suffix}", tmp_path / "zoned.csv")
        assert not (tmp_path / f"z{suffix}").exists()
    monkeypatch.undo()
    parts = tmp_path / "parts"
    parts.mkdir()
    frame[frame["store"] < "s4"].to_parquet(parts / "a.parquet", index=False)
    later = frame[frame["store"] >= "s4"].astype({"sales": "float32"})
    later.to_parquet(parts / "b.parquet")  # float32, and its pandas index kept
    whole, grouped = grouped_and_whole(run, parts, tmp_path / "p.parquet", monkeypatch)
    pd.testing.assert_frame_equal(pd.read_parquet(grouped), pd.read_parquet(whole))


def test_grouped_errors_name_the_file_the_column_and_the_right_series(daily_run, tmp_path, monkeypatch):
    run, _ = daily_run
    monkeypatch.setattr(forecast.predicting, "GROUP_ROWS", 80)
    with pytest.raises(ForecastError, match="file not found"):
        forecast.api.write_predictions(run, tmp_path / "o.csv", tmp_path / "missing.csv")
    daily_frame().drop(columns="store").to_csv(tmp_path / "noid.csv", index=False)
    with pytest.raises(ForecastError, match="column 'store' is missing"):
        forecast.api.write_predictions(run, tmp_path / "o.csv", tmp_path / "noid.csv")
    frame = daily_frame().astype({"sales": object})
    frame.loc[frame.index[frame["store"] == "s6"][5], "sales"] = "abc"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ForecastError, match=r"'abc'.*group 4 of 4, 's6' to 's7'"):
        forecast.api.write_predictions(run, tmp_path / "o.csv", tmp_path / "bad.csv")
    assert not (tmp_path / "o.csv").exists()


def test_shards_print_stamps_as_the_whole_file_and_groups_keep_static_text(daily_run, tmp_path, monkeypatch):
    run, tmp = daily_run
    forecast.api.write_predictions(run, tmp_path / "whole.csv", tmp / "daily.csv")
    lines = []
    for i in range(4):  # shard 0 is s0 and s4, both at midnight: its stamps still print with their time
        forecast.api.write_predictions(run, tmp_path / f"s{i}.csv", tmp / "daily.csv", shard=(i, 4))
        lines += (tmp_path / f"s{i}.csv").read_text().splitlines()[1:]
    assert sorted(lines) == sorted((tmp_path / "whole.csv").read_text().splitlines()[1:])
    frame = daily_frame()
    frame["region"] = np.where(frame["store"] < "s6", "01", "N3")  # text, and numbers-like in most groups
    frame.to_csv(tmp_path / "static.csv", index=False)
    config = panel_config(tmp_path / "static.csv", covariates={"static": ["region"]})
    static_run = forecast.train(config, tmp_path / "run")
    whole, grouped = grouped_and_whole(static_run, tmp_path / "static.csv", tmp_path / "g.csv", monkeypatch)
    assert grouped.read_bytes() == whole.read_bytes()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "4"}, "not integers: SLURM_ARRAY_TASK_ID='x'"),
        ({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4"}, "SLURM_ARRAY_TASK_ID=4 is outside the array"),
        ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "1"}, "outside"),
    ],
)
def test_bad_slurm_variables_are_named(monkeypatch, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ForecastError, match=message):
        shard_of(None)
