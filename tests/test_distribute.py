"""Mirrored training (issue 7) on two logical CPU devices, as CI has no GPU."""

import json
import os

import pytest
from conftest import run_cli, tiny_config

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow", reason="tf.distribute is TensorFlow-only"
    ),
    pytest.mark.slow,  # trains twice through the CLI in its own process
]


def test_mirrored_on_two_logical_cpus_matches_one_device(tmp_path, write_config, monkeypatch):
    results = {}
    for kind in ("none", "mirrored"):
        monkeypatch.setenv("FORECAST_CPU_DEVICES", "2")
        path = write_config(tiny_config(training={"epochs": 2, "batch_size": 32, "distribute": kind}), f"{kind}.yaml")
        out = run_cli("--debug", "train", path, "--run-dir", tmp_path / kind, "--quiet")
        assert out.returncode == 0, out.stderr[-3000:]
        results[kind] = json.loads((tmp_path / kind / "metrics.json").read_text())
    assert results["none"]["replicas"] == 1 and results["mirrored"]["replicas"] == 2
    for split in ("val", "test"):
        one, two = (
            results["none"][split]["scaled"]["model"]["mse"],
            results["mirrored"][split]["scaled"]["model"]["mse"],
        )
        assert two == pytest.approx(one, rel=0.05), split  # same global batches; only the reduction order differs
