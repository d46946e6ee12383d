"""forecast.tracking: MLflow logging (issue 7) against a local file store, and the keys it sends; TensorBoard is
checked in test_cli."""

import json

import pytest
from conftest import run_cli, tiny_config

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed (pip install 'forecast[mlflow]')")


@pytest.mark.slow  # trains through the CLI in its own process
def test_mlflow_file_store_gets_params_metrics_history_and_artifacts(tmp_path, write_config, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = f"file:{tmp_path / 'mlruns'}"
    path = write_config(tiny_config(training={"epochs": 2}, tracking={"mlflow": {"uri": store, "experiment": "ci"}}))
    out = run_cli("train", path, "--run-dir", tmp_path / "run", "--quiet")
    assert out.returncode == 0, out.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["ci"])
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["params.model.cell"] == "lstm" and row["params.window.lookback"] == "24"
    assert row["metrics.test.model.mae"] == pytest.approx(metrics["test"]["model"]["mae"])
    client = mlflow.tracking.MlflowClient()
    assert len(client.get_metric_history(row["run_id"], "epoch.val_loss")) == 2
    artifacts = {a.path for a in client.list_artifacts(row["run_id"])}
    assert {"metrics.json", "report.md", "loss.png", "config.yaml"} <= artifacts


def test_mlflow_keys_hold_only_what_mlflow_accepts():
    from forecast.tracking import mlflow_key

    assert mlflow_key("val.per_target.T (degC).model") == "val.per_target.T _degC_.model"
    assert mlflow_key("data.missing_values.wv (m/s)") == "data.missing_values.wv _m/s_"
