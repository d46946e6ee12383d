"""EpochStats: per-epoch wall time and learning rate in the logs."""

from __future__ import annotations

import time

import keras


class EpochStats(keras.callbacks.Callback):
    """Adds `epoch_seconds` and the epoch's `learning_rate` to the logs CSVLogger writes.

    Must come before CSVLogger in the callback list, so the row it writes has both columns.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
