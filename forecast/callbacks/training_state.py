"""TrainingState: the callback state BackupAndRestore leaves out, saved every epoch; NaN losses stop training.

Resuming relies on Keras's BackupAndRestore for the weights, the optimizer (its learning rate
included) and the epoch count. What BackupAndRestore does not keep, the counters of
EarlyStopping and ReduceLROnPlateau and the best weights so far, this callback saves beside it
at every epoch, so `forecast train --resume` continues exactly where the last completed epoch
left off.
"""

from __future__ import annotations

import contextlib
import json
import math

import keras

from forecast import rundir
from forecast.errors import Diverged
from forecast.rundir import Run


def completed_epochs(run: Run) -> int:
    """Epochs the run's backup holds (0 for a fresh run)."""
    try:
        return int(json.loads((run.backup / "training_metadata.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


class TrainingState(keras.callbacks.Callback):
    """Saves and restores the callback state BackupAndRestore leaves out; stops on a NaN loss.

    It must come after EarlyStopping and ReduceLROnPlateau (their on_train_begin resets them,
    this one then restores them) and before BackupAndRestore (so a diverged epoch is never
    backed up). It keeps the states of the last two epochs, since a kill between this save and
    BackupAndRestore's leaves the backup one epoch behind.

    Args:
        run: the run whose `backup/` folder holds BackupAndRestore's files; `callbacks.json` goes beside them.
        stopping: the EarlyStopping callback of this fit, or None.
        plateau: the ReduceLROnPlateau callback of this fit, or None.
    """

    _ES = ("wait", "best", "best_epoch", "stopped_epoch")
    _LR = ("wait", "best", "cooldown_counter")

    def __init__(
        self,
        run: Run,
        stopping: keras.callbacks.EarlyStopping | None,
        plateau: keras.callbacks.ReduceLROnPlateau | None,
    ):
        super().__init__()
        self.run, self.stopping, self.plateau = run, stopping, plateau
        self.path = run.backup / "callbacks.json"

    def saved(self, epoch: int) -> dict | None:
        try:
            return json.loads(self.path.read_text()).get(str(epoch))
        except (OSError, ValueError):
            return None

    def on_train_begin(self, logs=None):
        state = self.saved(completed_epochs(self.run))
        if state is None:
            return
        for callback, names, key in (
            (self.stopping, self._ES, "early_stopping"),
            (self.plateau, self._LR, "reduce_lr"),
        ):
            if callback is not None and key in state:
                for name in names:
                    setattr(callback, name, state[key][name])
        if self.stopping is not None and state.get("best_weights"):
            self.model.load_weights(
                self.run.backup / state["best_weights"]
            )  # BackupAndRestore loads the latest after this
            self.stopping.best_weights = self.model.get_weights()

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or not math.isfinite(loss):
            raise Diverged(
                f"training diverged: the loss is {loss} in epoch {epoch + 1}; lower training.learning_rate, "
                "use a robust loss (huber) or check the data"
            )
        states = {}
        with contextlib.suppress(OSError, ValueError):  # the first epoch, or a file cut by a kill
            states = json.loads(self.path.read_text())
        previous = states.get(str(epoch)) or {}
        state = {"best_weights": previous.get("best_weights")}
        if self.stopping is not None:
            state["early_stopping"] = {n: getattr(self.stopping, n) for n in self._ES}
            if self.stopping.restore_best_weights and self.stopping.best_epoch == epoch:
                state["best_weights"] = f"best-{epoch + 1}.weights.h5"
                self.run.backup.mkdir(exist_ok=True)
                rundir.write_atomic(self.run.backup / state["best_weights"], lambda tmp: self.model.save_weights(tmp))
        if self.plateau is not None:
            state["reduce_lr"] = {n: getattr(self.plateau, n) for n in self._LR}
        kept = {str(epoch): previous, str(epoch + 1): state} if previous else {str(epoch + 1): state}
        self.run.backup.mkdir(exist_ok=True)
        rundir.write_json(self.path, kept)
        referenced = {s.get("best_weights") for s in kept.values()}
        for old in self.run.backup.glob("best-*.weights.h5"):
            if old.name not in referenced:
                old.unlink()
