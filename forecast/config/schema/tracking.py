"""`tracking:` TensorBoard and MLflow."""

from __future__ import annotations

from pydantic import Field

from forecast.config.schema.base import Section


class Mlflow(Section):
    uri: str = Field("file:./mlruns", description="MLflow tracking URI (default: a local mlruns/ folder).")
    experiment: str | None = Field(None, description="Experiment name (default: the config's name).")


class Tracking(Section):
    tensorboard: bool = Field(
        True, description="TensorBoard logs in RUN_DIR/tensorboard (TensorFlow backend): tensorboard --logdir runs/."
    )
    mlflow: Mlflow | None = Field(
        None, description="Log each completed run to MLflow (pip install 'forecast[mlflow]'); null: off."
    )
