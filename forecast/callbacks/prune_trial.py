"""PruneTrial: report each epoch's validation loss to an Optuna trial and stop the trial its pruner gives up on."""

from __future__ import annotations

import math

import keras

from forecast.errors import Pruned


class PruneTrial(keras.callbacks.Callback):
    """Reports `monitor` at every epoch end to `trial` (step = epoch, from 1) and raises `Pruned`
    when the study's pruner says the trial is not worth finishing.

    Raising (rather than setting `stop_training`) skips the scoring and reports a finished run
    would do: a pruned trial costs only the epochs it ran. The run lifecycle marks its directory
    "pruned"; the tuner records the trial as pruned in the study.

    Args:
        trial: an `optuna.Trial`, or anything with its `report` and `should_prune`.
        monitor: the Keras log to report (the pruner compares trials on it at equal epochs).
    """

    def __init__(self, trial, monitor: str = "val_loss") -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):  # a NaN loss is TerminateOnNaN's to handle
            return
        self.trial.report(float(value), epoch + 1)
        if self.trial.should_prune():
            raise Pruned(epoch + 1, float(value))
