"""forecast: Keras time-series forecasting from one YAML file.

The Python API (`forecast.api`) is re-exported here; importing it does not import TensorFlow.
"""

from forecast.api import (
    Repeats,
    Validation,
    backtest,
    build_model,
    compare,
    download,
    evaluate,
    leaderboard,
    load_config,
    predict,
    repeat,
    resume,
    sweep,
    train,
    validate,
)
from forecast.config import Config
from forecast.errors import Diverged, Error, ForecastError, GateFailed, Interrupted
from forecast.results import Metrics, Scores, SplitScores, TrainingStats
from forecast.rundir import Run

__version__ = "0.1.0"

__all__ = [
    "Config",
    "Diverged",
    "Error",
    "ForecastError",
    "GateFailed",
    "Interrupted",
    "Metrics",
    "Repeats",
    "Run",
    "Scores",
    "SplitScores",
    "TrainingStats",
    "Validation",
    "backtest",
    "build_model",
    "compare",
    "download",
    "evaluate",
    "leaderboard",
    "load_config",
    "predict",
    "repeat",
    "resume",
    "sweep",
    "train",
    "validate",
]
