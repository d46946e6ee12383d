"""forecast.backend: a Keras backend that cannot load is bad input (exit 2, one line), named the same way by
every command, whether it comes from KERAS_BACKEND or keras.json."""

import os
import subprocess
import sys

import pytest
from conftest import run_cli, tiny_config

# the one line for a backend Keras cannot load, from KERAS_BACKEND or keras.json alike
NO_BACKEND = (
    "forecast: error: KERAS_BACKEND=nope: cannot load Keras with this backend "
    "(not one of tensorflow, jax, torch, numpy, openvino)"
)


@pytest.mark.slow  # a subprocess
@pytest.mark.parametrize("command", ["train", "validate"])
def test_an_unusable_backend_is_bad_input_before_the_run_exists(tmp_path, write_config, command):
    run_dir = ["--run-dir", str(tmp_path / "r")] if command == "train" else []
    out = run_cli(command, write_config(tiny_config()), *run_dir, env={"KERAS_BACKEND": "nope"}, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [NO_BACKEND]
    assert not (tmp_path / "r").exists()


@pytest.mark.slow  # a subprocess: Keras is loaded in this one
def test_predict_names_a_backend_from_keras_json_as_validate_does(tiny_run, tmp_path):
    (tmp_path / "keras.json").write_text('{"backend": "nope"}')
    env = {**{k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}, "KERAS_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "forecast", "predict", str(tiny_run.path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [NO_BACKEND]
