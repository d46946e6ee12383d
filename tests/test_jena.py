"""The Jena climate reference system (issue 3) on a fixture in the file's exact format."""

import http.server
import json
import threading
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, run_cli

from bench.series import jena_like
from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.fetch import JENA
from forecast.prepare import prepare

JENA_CONFIGS = sorted((ROOT / "configs" / "jena").glob("*.yaml"))
ROWS = 6000


@pytest.fixture(scope="module")
def jena_csv(tmp_path_factory) -> Path:
    """A few thousand rows written like the real file: quoted header, dd.mm.yyyy times, -9999 sentinels."""
    path = tmp_path_factory.mktemp("jena") / JENA.member
    frame = jena_like(ROWS, seed=3, sentinels=4)
    with path.open("w") as f:
        f.write(JENA.header + "\n")
        frame.to_csv(f, header=False, index=False)
    return path


def _fixture_overrides(config_path: Path, data: Path) -> list[str]:
    split = cfg.load(config_path).data.split
    sets = [f"data.path={data}", "training.epochs=1", "training.steps_per_epoch=2", "training.validation_steps=2"]
    if split.train_end is not None:  # the 1st edition's row borders, scaled down to the fixture
        sets += ["data.split.train_end=3000", "data.split.val_end=4500"]
    return [item for s in sets for item in ("--set", s)]


def test_loader_reads_the_exact_format_and_reports_sentinels(jena_csv):
    config = cfg.load(
        ROOT / "configs" / "jena" / "gru.yaml",
        [f"data.path={jena_csv}", "data.split.train_end=3000", "data.split.val_end=4500"],
    )
    prepared = prepare(config)
    series = prepared.series
    assert len(series) == ROWS and len(series.feature_names) == 14 and series.target_names == ["T (degC)"]
    assert series.times[0] == pd.Timestamp("2009-01-01 00:10:00") and series.times[200] == pd.Timestamp(
        "2009-01-02 09:30:00"
    )
    assert (series.features > -9000).all()  # sentinels interpolated
    assert series.notes == [
        "4 rows of 'wv (m/s)' held -9999 (missing): data.fill=interpolate",
        "4 rows of 'max. wv (m/s)' held -9999 (missing): data.fill=interpolate",
        "data.fill=interpolate filled 8 missing values (4 in 'wv (m/s)', 4 in 'max. wv (m/s)')",
    ]
    assert prepared.x.shape == (ROWS, 14) and prepared.spec.timesteps == 240


def test_zip_is_read_directly(jena_csv, tmp_path):
    archive = tmp_path / "jena_climate_2009_2016.csv.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(jena_csv, JENA.member)
    config = cfg.load(ROOT / "configs" / "jena" / "baseline.yaml", [f"data.path={archive}"])
    assert len(prepare(config).series) == ROWS


@pytest.mark.slow
@pytest.mark.parametrize("path", JENA_CONFIGS, ids=lambda p: p.stem)
def test_every_jena_config_trains_on_the_fixture(path, jena_csv, tmp_path):
    out = run_cli("train", path, *_fixture_overrides(path, jena_csv), "--run-dir", tmp_path / "run")
    assert out.returncode == 0, out.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "4 rows of 'wv (m/s)' held -9999" in out.stderr
    assert ("cannot use the cuDNN kernel" in out.stderr) == ("dropout" in path.stem or "stacked" in path.stem)
    if path.stem == "baseline":
        assert metrics["epochs_run"] == 0 and metrics["parameters"] == 0
        assert metrics["test"]["model"]["mae"] == pytest.approx(metrics["test"]["naive"]["mae"], rel=1e-6)
    else:
        assert metrics["epochs_run"] == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "layer", "count"),
    [
        ("lstm_dropout.yaml", "lstm_0", 4 * 32 * (32 + 14 + 1)),  # 4u(u + input + 1) = 6,016
        ("gru.yaml", "gru_0", 3 * 32 * (32 + 14 + 2)),  # 3u(u + input + 2) = 4,608
    ],
)
def test_summary_parameter_counts(config, layer, count, jena_csv):
    path = ROOT / "configs" / "jena" / config
    out = run_cli("summary", path, *_fixture_overrides(path, jena_csv))
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith(layer))
    assert line.split()[-1] == f"{count:,}"
    total = next(line for line in out.stdout.splitlines() if line.startswith("closed-form count"))
    assert total.endswith(f"{count + 33:,}")  # + Dense(1) head: 32 + 1


@pytest.mark.slow
def test_variable_length_predicts_from_any_length(jena_csv, tmp_path):
    path = ROOT / "configs" / "jena" / "gru.yaml"
    out = run_cli(
        "train",
        path,
        *_fixture_overrides(path, jena_csv),
        "--set",
        "window.variable_length=true",
        "--run-dir",
        tmp_path / "run",
    )
    assert out.returncode == 0, out.stderr
    for rows in (500, 3000):  # shorter and longer than the 1,440-row lookback
        short = tmp_path / f"s{rows}.csv"
        pd.read_csv(jena_csv, nrows=rows).to_csv(short, index=False)
        out = run_cli("predict", tmp_path / "run", "--data", short)
        assert out.returncode == 0, out.stderr
        origin, target = out.stdout.splitlines()[1].split(",")[:2]
        jena = "%d.%m.%Y %H:%M:%S"  # predict writes stamps as the input does (day first)
        last = pd.to_datetime(pd.read_csv(short)["Date Time"].iloc[-1], format=jena)
        origin, target = (pd.to_datetime(stamp, format=jena) for stamp in (origin, target))
        assert origin == last and target == last + pd.Timedelta(hours=24)


def test_variable_length_refuses_segments():
    with pytest.raises(ForecastError, match="segment_len needs a fixed number of timesteps") as err:
        cfg.validate({"window": {"variable_length": True}, "model": {"segment_len": 4}})
    assert err.value.exit_code == 2


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _Files(*a, directory=str(root), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.slow
def test_download_checks_unpacks_and_never_overwrites(server, jena_csv, tmp_path):
    root, base = server
    with zipfile.ZipFile(root / "jena.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(jena_csv, JENA.member)
    size = (root / "jena.zip").stat().st_size
    dest = tmp_path / "data"
    out = run_cli("data", "download", "jena", "--dest", dest, "--url", f"{base}/jena.zip", "--size", size)
    assert out.returncode == 0, out.stderr
    assert (dest / JENA.member).read_bytes() == jena_csv.read_bytes()
    assert [p.name for p in dest.iterdir()] == [JENA.member]  # no temporary left behind
    again = run_cli("data", "download", "jena", "--dest", dest, "--url", f"{base}/jena.zip")
    assert again.returncode == 0 and "already present, identical" in again.stdout
    # wrong size, wrong hash, not a zip, wrong header: refused, nothing written
    (root / "junk.zip").write_bytes(b"not a zip at all")
    with zipfile.ZipFile(root / "other.zip", "w") as zf:
        zf.writestr(JENA.member, "a,b\n1,2\n")
    for args, message in [
        (["--url", f"{base}/jena.zip", "--size", size + 1], "expected"),
        (["--url", f"{base}/jena.zip", "--sha256", "0" * 64], "does not match --sha256"),
        (["--url", f"{base}/junk.zip"], "not a zip archive"),
        (["--url", f"{base}/other.zip"], "expected header"),
    ]:
        out = run_cli("data", "download", "jena", "--dest", tmp_path / "fresh", *args)
        assert out.returncode == 2 and message in out.stderr, out.stderr
        assert not (tmp_path / "fresh" / JENA.member).exists()
    (dest / JENA.member).write_text("my own edits\n")
    out = run_cli("data", "download", "jena", "--dest", dest, "--url", f"{base}/jena.zip")
    assert out.returncode == 2 and "exists with different content" in out.stderr
    assert (dest / JENA.member).read_text() == "my own edits\n"
    out = run_cli("data", "download", "jena", "--dest", dest, "--url", f"{base}/missing.zip")
    assert out.returncode == 1 and "cannot download" in out.stderr
