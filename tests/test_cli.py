"""The CLI as a user runs it: real subprocesses, real training of a tiny model, real files; bad input exits 2 in
one line with nothing written, and stderr holds only forecast's own lines."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ETTH1, naive_expectation, run_cli, tiny_config
from typer.testing import CliRunner

from forecast.cli import app

pytestmark = pytest.mark.slow  # every test here runs the CLI in its own process, or in-process on a trained run
runner = CliRunner()


def metrics_backend() -> str:
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def _imports_after(argv: list[str]) -> str:
    code = (
        "import sys\nfrom forecast.cli import main\nsys.argv = ['forecast', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('TF' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'clean', file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    return out.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "argv", [["--help"], ["train", "--help"], ["evaluate", "--help"], ["predict", "--help"], ["validate", "--help"]]
)
def test_help_does_not_import_tensorflow(argv):
    assert _imports_after(argv) == "clean"


def test_validate_does_not_import_tensorflow(write_config):
    path = write_config(tiny_config())
    assert _imports_after(["validate", str(path)]) == "clean"


def test_validate_reports_shapes_and_parameters(write_config):
    out = run_cli("validate", write_config(tiny_config(model={"base": "auto"})))
    assert out.returncode == 0, out.stderr
    assert "windows: train 574, val 197, test 197" in out.stdout  # (600 - 22 - 4) train origins
    assert "input shape: (12, 7) -> output (4, 7)" in out.stdout
    # 4*8*(8+7+1) + 4*8*(8+8+1) + (8+1)*28 = 512 + 544 + 252, and the seasonal_linear base model.base
    # auto chose for hourly data (a season of 24 rows): its linear map, (12 + 1) * 4
    assert "parameters: 1,360" in out.stdout
    assert out.stderr == (
        "note: model.base auto: seasonal_linear (a season of 24 rows fits the 12-timestep window (lookback // step)); "
        "ets trained beside it, the base with the lower validation loss kept\n"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": {"layers": [{"units": -1}]}}, "model.layers[0].units"),
        ({"data": {"features": ["HUFL", "nope"]}}, "data.features: column 'nope' not in ETTh1.csv"),
        ({"data": {"path": "missing.csv"}}, "data.path: file not found"),
        ({"window": {"lookback": 700}}, "the train split"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_run_dir(tmp_path, write_config, change, message):
    path = write_config(tiny_config(**change))
    out = run_cli("train", path, cwd=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "x" * 300}, "config.yaml: name: 300 characters, more than the 200"),
        ({"data": {"path": ""}}, "config.yaml: data.path: empty"),
        ({"intervals": {"levels": [0.999]}}, "intervals.levels: 0.999 needs at least 999 validation windows"),
        ({"model": {"layers": [{"units": 2**17}]}}, "model: training needs about"),
    ],
)
def test_validate_refuses_what_train_refuses_with_the_same_line(tmp_path, write_config, change, message):
    path = write_config(tiny_config(**change))
    validated, trained = run_cli("validate", path, cwd=tmp_path), run_cli("train", path, cwd=tmp_path)
    assert validated.returncode == trained.returncode == 2
    free = re.compile(r"[\d.,]+ GiB available")  # the memory free at each moment
    assert free.sub("", validated.stderr) == free.sub("", trained.stderr) and len(trained.stderr.splitlines()) == 1
    assert trained.stderr.startswith("forecast: error: ") and message in trained.stderr
    assert not (tmp_path / "runs").exists()


def test_an_os_error_outside_a_write_is_one_line_naming_the_path(tmp_path, write_config):
    (tmp_path / "file").write_text("not a folder")
    out = run_cli("train", write_config(tiny_config()), "--run-dir", tmp_path / "file" / "run")
    assert out.returncode == 2
    assert out.stderr.splitlines() == [f"forecast: error: {tmp_path / 'file' / 'run'}: Not a directory"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One 2-epoch run of a tiny stacked LSTM on a slice of ETTh1, shared by the tests below."""
    root = tmp_path_factory.mktemp("e2e")
    config = root / "config.yaml"

    config.write_text(yaml.safe_dump(tiny_config()))
    out = run_cli("train", config, "--set", "model.layers[1].recurrent_dropout=0.1", cwd=root)
    assert out.returncode == 0, out.stderr
    runs = list((root / "runs").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("tiny-")
    return runs[0], out


def test_train_writes_every_artifact(trained):
    run, out = trained
    names = {p.name for p in run.iterdir()}
    assert {
        "config.yaml",
        "model.keras",
        "scaler.json",
        "history.csv",
        "metrics.json",
        "report.md",
        "loss.png",
        "forecast.png",
    } <= names
    assert not [n for n in names if "partial" in n]  # no temporary file left behind
    for png in ("loss.png", "forecast.png"):
        assert (run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = pd.read_csv(run / "history.csv")
    assert len(history) == 2 and {"loss", "val_loss", "learning_rate", "epoch_seconds"} <= set(history.columns)
    assert (history["epoch_seconds"] > 0).all()
    assert "recurrent_dropout: 0.1" in (run / "config.yaml").read_text()  # overrides are recorded
    if metrics_backend() == "tensorflow":  # TensorBoard event files, one per phase
        assert list((run / "tensorboard" / "train").glob("events.out.tfevents.*"))
        assert list((run / "tensorboard" / "validation").glob("events.out.tfevents.*"))
    assert "cannot use the cuDNN kernel" in out.stderr and "recurrent_dropout=0.1" in out.stderr


def test_metrics_json_holds_model_naive_scaled(trained):
    run, out = trained
    metrics = json.loads((run / "metrics.json").read_text())
    for split, windows in (("val", 197), ("test", 197)):
        block = metrics[split]
        assert block["windows"] == windows
        for part, extra in ((block, {"smape", "mase"}), (block["scaled"], set())):  # percentages in units only
            for who in ("model", "naive"):
                assert set(part[who]) == {"mae", "rmse", "mse", "mape", *extra}
                assert part[who]["rmse"] == pytest.approx(part[who]["mse"] ** 0.5)
    assert metrics["epochs_run"] == 2 and 1 <= metrics["best_epoch"] <= 2
    assert metrics["parameters"] == 1308 + (12 + 1) * 4 and metrics["samples_per_second"] > 0  # the base's map
    assert metrics["base"] == "seasonal_linear"  # model.base auto's choice for hourly data
    assert metrics["backend"] == os.environ.get("KERAS_BACKEND", "tensorflow") and metrics["device"]
    # the final table shows the same numbers
    assert f"{metrics['test']['model']['mae']:.4f}" in out.stdout and "naive MAE" in out.stdout


def test_naive_baseline_is_repeat_last_value(trained):
    run, _ = trained
    metrics = json.loads((run / "metrics.json").read_text())
    mae, scaled = naive_expectation()
    assert metrics["test"]["naive"]["mae"] == pytest.approx(mae, rel=1e-6)
    assert metrics["test"]["scaled"]["naive"]["mae"] == pytest.approx(scaled, rel=1e-6)


def test_evaluate_reproduces_train_metrics(trained, tmp_path):
    run, _ = trained
    out = run_cli("evaluate", run)
    assert out.returncode == 0, out.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    again = json.loads(out.stdout)
    for split in ("val", "test"):
        for who in ("model", "naive"):
            for key in ("mae", "rmse", "mse"):
                assert again[split][who][key] == pytest.approx(metrics[split][who][key], rel=1e-6)
                assert again[split]["scaled"][who][key] == pytest.approx(metrics[split]["scaled"][who][key], rel=1e-6)
    out = run_cli("evaluate", run, "--split", "test", "--output", tmp_path / "m.json")
    assert out.returncode == 0 and set(json.loads((tmp_path / "m.json").read_text())) == {"test", "seasonality"}


def test_predict_after_the_end_and_from_every_origin(trained, tmp_path):
    run, _ = trained
    data = tmp_path / "recent.csv"
    pd.read_csv(ETTH1, nrows=300).to_csv(data, index=False)
    out = run_cli("predict", run, "--data", data)
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(pd.io.common.StringIO(out.stdout))
    assert list(frame.columns) == ["origin", "target_time", "step", "column", "prediction"]
    assert len(frame) == 4 * 7 and set(frame["step"]) == {1, 2, 3, 4}
    assert (frame["origin"] == "2016-07-13 11:00:00").all()  # row 299, the last row
    assert frame.loc[frame["step"] == 4, "target_time"].iloc[0] == "2016-07-13 15:00:00"  # past the end
    out = run_cli("predict", run, "--data", data, "--all-origins", "--output", tmp_path / "all.csv")
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(tmp_path / "all.csv")
    assert frame["origin"].nunique() == 300 - 22 and len(frame) == (300 - 22) * 4 * 7


def test_not_a_run_directory(tmp_path):
    out = run_cli("evaluate", tmp_path)
    assert out.returncode == 2 and "not a forecast run directory" in out.stderr


def test_evaluate_gates_and_compare(trained, tmp_path):
    run, _ = trained
    metrics = json.loads((run / "metrics.json").read_text())
    mae = metrics["test"]["model"]["mae"]
    ok = run_cli(
        "evaluate",
        run,
        "--split",
        "test",
        "--require",
        f"test.model.mae<={mae * 1.01}",
        "--require",
        "test.scaled.model.mse>0",
    )
    assert ok.returncode == 0, ok.stderr
    assert "requirement met: test.model.mae<=" in ok.stderr
    bad = run_cli("evaluate", run, "--require", f"test.model.mae<={mae / 2}")
    assert bad.returncode == 1
    assert (
        bad.stderr.strip().splitlines()[-1].startswith(f"forecast: error: requirement test.model.mae<={mae / 2} failed")
    )
    gate = run_cli("evaluate", run, "--require", "beats-naive")  # a 2-epoch model does not beat naive here
    beats = all(metrics[s]["model"]["mae"] < metrics[s]["naive"]["mae"] for s in ("val", "test"))
    assert gate.returncode == (0 if beats else 1)
    assert run_cli("evaluate", run, "--require", "test.model.nope<1").returncode == 2
    assert run_cli("evaluate", run, "--require", "mae is small").returncode == 2

    other = tmp_path / "other"
    other.mkdir()
    worse = json.loads(json.dumps(metrics))
    worse["test"]["model"]["mae"] += 0.5
    (other / "metrics.json").write_text(json.dumps(worse))
    out = run_cli("compare", run, other)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("test.model.mae "))
    assert row.split()[-1] == "+0.5000"
    assert run_cli("compare", run).returncode == 2


def test_repeats_train_each_seed_and_aggregate(tmp_path, write_config):
    out = run_cli(
        "train",
        write_config(tiny_config(training={"epochs": 1})),
        "--repeats",
        "2",
        "--run-dir",
        tmp_path / "rep",
        "--quiet",
    )
    assert out.returncode == 0, out.stderr
    runs = [json.loads((tmp_path / "rep" / f"seed-{s}" / "metrics.json").read_text()) for s in (7, 8)]
    summary = json.loads((tmp_path / "rep" / "repeats.json").read_text())
    values = [r["test"]["model"]["mae"] for r in runs]
    assert summary["seeds"] == [7, 8] and values[0] != values[1]
    assert summary["test"]["model"]["mae"]["mean"] == pytest.approx(sum(values) / 2)
    assert summary["test"]["model"]["mae"]["std"] == pytest.approx(abs(values[0] - values[1]) / 2**0.5)
    assert "±" in out.stdout


def test_backtest_three_folds(trained, tmp_path, write_config):
    run, _ = trained
    out = run_cli("backtest", run, "--folds", "3", "--output", tmp_path / "bt.json")
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "bt.json").read_text())
    folds = result["folds"]
    assert [f["rows"] for f in folds] == [[800, 867], [867, 933], [933, 1000]]
    # a fold of n rows holds n - (horizon - 1) windows: the test split's 197 less the 2 x 3 whose targets
    # straddle a fold border
    assert [f["windows"] for f in folds] == [67 - 3, 66 - 3, 67 - 3]
    maes = [f["model"]["mae"] for f in folds]
    assert result["model"]["mae"]["mean"] == pytest.approx(sum(maes) / 3)
    assert (tmp_path / "bt.png").read_bytes()[:4] == b"\x89PNG"
    assert "mean" in out.stdout and "std" in out.stdout
    # refit: one model per fold, each trained on everything before its fold
    config = write_config(tiny_config(training={"epochs": 1}))
    out = run_cli("backtest", config, "--folds", "2", "--refit", "--output", tmp_path / "refit.json", "--quiet")
    assert out.returncode == 0, out.stderr
    fold_runs = sorted((tmp_path / "refit").iterdir())
    assert [p.name for p in fold_runs] == ["fold-1", "fold-2"]
    splits = [__import__("yaml").safe_load((p / "config.yaml").read_text())["data"]["split"] for p in fold_runs]
    assert [(s["train_end"], s["val_end"], s["test_end"]) for s in splits] == [(600, 800, 900), (700, 900, 1000)]


def test_a_file_size_limit_while_writing_an_output_is_exit_1_naming_it(trained, tmp_path):
    """`ulimit -f` (as a full disk would): one line naming the output, exit 1, no temporary left."""
    import resource

    run, _ = trained
    data = tmp_path / "recent.csv"
    pd.read_csv(ETTH1, nrows=300).to_csv(data, index=False)
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    out = subprocess.run(
        [sys.executable, "-m", "forecast", "predict", run, "--data", data, "--all-origins", "--output",
         tmp_path / "f.csv"], capture_output=True, text=True, timeout=600,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard)),
    )  # fmt: skip
    assert out.returncode == 1
    assert out.stderr.splitlines() == [f"forecast: error: {tmp_path / 'f.csv'}: File too large"]
    assert sorted(os.listdir(tmp_path)) == ["recent.csv"]


@pytest.mark.slow
def test_a_training_prints_only_forecasts_own_lines(tmp_path, write_config):
    out = run_cli("train", write_config(tiny_config(training={"epochs": 1})), "--run-dir", tmp_path / "r")
    assert out.returncode == 0, out.stderr
    import re

    keras_progress = re.compile(r"^(Epoch \d+/\d+|\d+/\d+ - )")  # one line per epoch in a log, on stderr
    lines = [line for line in out.stderr.strip().splitlines() if not keras_progress.match(line)]
    allowed = ("run directory:", "data:", "report:", "warning:", "note:")
    assert lines and all(line.startswith(allowed) for line in lines), lines
    assert out.stdout.splitlines()[0].startswith("split  windows  model MAE")  # stdout: the table only


def test_summary_takes_a_run_directory_and_data_with_gaps(run, tmp_path, write_config):
    result = runner.invoke(app, ["summary", str(run.path)])
    assert result.exit_code == 0 and "total: " in result.stdout
    frame = pd.read_csv(ETTH1, nrows=1000)
    frame.loc[5, "OT"] = np.nan  # training would refuse it (data.fill: none); the layers do not care
    holes = tmp_path / "holes.csv"
    frame.to_csv(holes, index=False)
    result = runner.invoke(app, ["summary", str(write_config(tiny_config(data={"path": str(holes)})))])
    assert result.exit_code == 0, result.stderr
    assert "closed-form count (forecast validate): " in result.stdout


def test_backtest_set_applies_to_configs_not_runs(run):
    result = runner.invoke(app, ["backtest", str(run.path), "--set", "seed=1"])
    assert result.exit_code == 2 and "a run directory is scored with its own config.yaml" in result.stderr


def _csv(tmp_path, frame, name="s.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _etth1(n=1000):
    return pd.read_csv(ETTH1, nrows=n)


BAD_CONFIGS = [
    ("name: x\nwindow: {lookback: 3\n", "invalid YAML at line"),
    ("name: !!python/object/apply:os.system ['touch HACKED']\n", "invalid YAML"),
    ({"trainig": {}}, "trainig: unknown key (did you mean 'training'?)"),
    ({"training": {"epochs": "ten"}}, "training.epochs: Input should be a valid integer"),
    ({"training": {"learning_rate": -1}}, "training.learning_rate: Input should be greater than 0"),
    ({"window": {"lookback": 500, "horizon": 200}}, "window: the train split"),
    ({"data": {"targets": ["Temperature"]}}, "data.targets: column 'Temperature' not in"),
    ({"data": {"time_column": "when"}}, "data.time_column: column 'when' not in"),
    ({"data": {"split": {"train_end": 600, "val_end": 800, "test_end": 99999}}}, "data.split: test ends at row 99999"),
    (
        {"data": {"split": {"train_end": 600, "val_end": 30000}}},
        "data.split: val ends at row 30000 but the series has only 17420 rows",
    ),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS, ids=lambda v: str(v)[:30])
def test_bad_configs_exit_2(tmp_path, config, message):
    if isinstance(config, dict):
        base = tiny_config()
        for key, value in config.items():
            base[key] = {**base.get(key, {}), **value}
        config = yaml.safe_dump(base)
    path = tmp_path / "c.yaml"
    path.write_text(config)
    _assert_clean_failure(run_cli("train", path, cwd=tmp_path), message, tmp_path)


BAD_DATA = [
    (
        lambda f: f.assign(OT=f["OT"].astype(str).where(f.index != 5, "12,5x")),
        "column 'OT' in s.csv is not numeric: row 5 is '12,5x'",
    ),
    (lambda f: f.assign(OT=f["OT"].where(f.index != 8)), "column 'OT' row 8: missing or infinite value (set data.fill"),
    (lambda f: f.assign(OT=f["OT"].where(f.index != 9, np.inf)), "column 'OT' row 9: missing or infinite"),
    (lambda f: f.iloc[[*range(10), 11, 10, *range(12, len(f))]], "row 11: timestamps are not sorted"),
    (lambda f: f.iloc[[*range(11), 10, *range(12, len(f))]], "row 11: duplicate timestamp"),
    (lambda f: f.iloc[:0], "header but no data rows"),
]


@pytest.mark.parametrize(("mutate", "message"), BAD_DATA, ids=lambda v: str(v)[:30])
def test_bad_csvs_exit_2(tmp_path, mutate, message):
    data = _csv(tmp_path, mutate(_etth1()))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_config(data={"path": str(data)})))
    _assert_clean_failure(run_cli("train", config, cwd=tmp_path), message, tmp_path)


def test_empty_file_and_unreadable_parquet_exit_2(tmp_path):
    for name, content, message in [
        ("e.csv", "", "the file is empty"),
        ("p.parquet", "PAR1 garbage", "cannot read the file"),
    ]:
        (tmp_path / name).write_text(content)
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump(tiny_config(data={"path": str(tmp_path / name)})))
        _assert_clean_failure(run_cli("validate", config, cwd=tmp_path), message, tmp_path)


def _assert_clean_failure(out, message, cwd):
    assert out.returncode == 2, out.stderr
    assert message in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("forecast: error: ") and "Traceback" not in out.stderr
    assert not (cwd / "runs").exists()
    assert not (cwd / "HACKED").exists()


def test_debug_shows_the_traceback(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("modle: 1\n")
    out = run_cli("--debug", "validate", path)
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_divergence_exits_1_and_keeps_history(tmp_path, write_config):
    frame = _etth1()
    frame.loc[700:, "OT"] = 1e30  # a poisoned stretch inside the training rows' targets
    data = _csv(tmp_path, frame)
    path = write_config(
        tiny_config(
            data={"path": str(data), "split": {"train_end": 900, "val_end": 950, "test_end": 1000}},
            scaler="none",
            training={"epochs": 3, "learning_rate": 10.0, "optimizer": "sgd"},
        )
    )
    out = run_cli("train", path, "--run-dir", tmp_path / "run", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert "training diverged" in out.stderr and "Traceback" not in out.stderr
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["status"] == "failed" and "diverged" in status["message"]
    assert (tmp_path / "run" / "history.csv").exists()
