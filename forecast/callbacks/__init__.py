"""forecast's own Keras callbacks, one per file (Keras's layout)."""

from forecast.callbacks.epoch_stats import EpochStats
from forecast.callbacks.stop_on_signal import StopOnSignal, signals
from forecast.callbacks.training_state import TrainingState, completed_epochs

__all__ = ["EpochStats", "StopOnSignal", "TrainingState", "completed_epochs", "signals"]
