"""forecast: Keras time-series forecasting from one YAML file.

The Python API (`forecast.api`) is re-exported here; importing it does not import TensorFlow.
"""

from forecast.api import (
    backtest,
    best_config,
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
    template,
    train,
    tune,
    validate,
)
from forecast.config import Config
from forecast.errors import Diverged, Error, ForecastError, GateFailed, Interrupted, Pruned
from forecast.results import Metrics, Repeats, Scores, SplitScores, TrainingStats, Validation
from forecast.rundir import Run
from forecast.version import __version__ as __version__  # re-exported: forecast.__version__

__all__ = [
    "Config",
    "Diverged",
    "Error",
    "ForecastError",
    "GateFailed",
    "Interrupted",
    "Metrics",
    "Pruned",
    "Repeats",
    "Run",
    "Scores",
    "SplitScores",
    "TrainingStats",
    "Validation",
    "backtest",
    "best_config",
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
    "template",
    "train",
    "tune",
    "validate",
]
