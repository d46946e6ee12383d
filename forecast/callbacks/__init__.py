"""forecast's own Keras callbacks, one per file (Keras's layout)."""

from forecast.callbacks.checkpoint import Checkpoint, completed_epochs, latest, latest_weights
from forecast.callbacks.epoch_stats import EpochStats
from forecast.callbacks.prune_trial import PruneTrial
from forecast.callbacks.stop_on_signal import StopOnSignal, signals

__all__ = [
    "Checkpoint",
    "EpochStats",
    "PruneTrial",
    "StopOnSignal",
    "completed_epochs",
    "latest",
    "latest_weights",
    "signals",
]
