"""Optional MLflow logging of a finished run: params, metrics, per-epoch history, artifacts.

Logged after training from the run directory's own files, so MLflow sees exactly what the run
wrote and training does not depend on a tracking server being up. Install with
`pip install 'forecast[mlflow]'`.
"""

from __future__ import annotations

import importlib.util
import os
import re

import pandas as pd

from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.results import Metrics, flatten
from forecast.rundir import Run


def check_available(config: cfg.Config) -> None:
    """Fail before training, not after, when MLflow logging is asked for but not installed."""
    if config.tracking.mlflow is not None and importlib.util.find_spec("mlflow") is None:
        raise ForecastError("tracking.mlflow: MLflow is not installed (pip install 'forecast[mlflow]')")


def mlflow_key(name: str) -> str:
    """An MLflow-legal key: column names such as 'T (degC)' or 'Sales ($)' carry characters it refuses.

    Args:
        name: a dotted config or metrics key.
    """
    return re.sub(r"[^/\w.\- :]", "_", name)


def log_run(config: cfg.Config, run: Run, metrics: Metrics) -> str:
    """Log one completed run; returns the MLflow run id."""
    settings = config.tracking.mlflow
    if settings.uri.startswith("file:") or "://" not in settings.uri:
        # MLflow 3 keeps its file store in maintenance mode behind this switch; a local mlruns/
        # folder is still the simplest store for one user, so forecast opts in for file URIs only
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    import mlflow  # deferred: an optional extra (forecast[mlflow])

    mlflow.set_tracking_uri(settings.uri)
    mlflow.set_experiment(settings.experiment or config.name)
    with mlflow.start_run(run_name=run.path.name) as active:
        params = {mlflow_key(k): str(v)[:500] for k, v in flatten(config.model_dump(exclude_none=True)).items()}
        mlflow.log_params(params)
        mlflow.log_metrics(
            {
                k: float(v)
                for k, v in flatten(metrics.to_dict()).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
        )
        history = pd.read_csv(run.history_file)
        for _, row in history.iterrows():
            mlflow.log_metrics({f"epoch.{k}": float(v) for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))
        for path in (
            run.config_file,
            run.metrics_file,
            run.intervals_file,
            run.history_file,
            run.report_file,
            run.loss_plot,
            run.forecast_plot,
        ):
            if path.exists():
                mlflow.log_artifact(str(path))
        return active.info.run_id
