"""Checkpoint: every completed epoch as one atomic record that resume trusts, and nothing else.

At each epoch's end, in this order:

1. the weights (optimizer state included) go to `backup/epoch-NNNN.weights.h5`, written under a
   temporary name and renamed into place;
2. the record `backup/epoch-NNNN.json` is written the same way: the epoch count, that weights file,
   the whole history so far (one row per epoch), the counters of EarlyStopping and
   ReduceLROnPlateau, and which weights file holds the best epoch. Its rename is the commit point:
   an epoch exists for resume if and only if its record does;
3. `history.csv` is derived from the record (rewritten whole, atomically);
4. records and weights older than the previous epoch's are deleted.

A kill at any instant therefore leaves the last committed record and its weights intact (and
the one before it), and `forecast train --resume` continues from there: history.csv is rewritten
from the record, so every epoch appears exactly once. A record that does not parse, or whose
weights file is missing or cannot be read whole (truncated, corrupt), is skipped in favour of the
one before it, and resume says so on stderr. Keras's BackupAndRestore and CSVLogger are not used:
they rewrite their files in place, so a kill at the wrong instant left a run that could never
resume.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Iterator
from numbers import Real
from pathlib import Path
from typing import Any

import keras
import numpy as np

from forecast import rundir
from forecast.errors import Diverged
from forecast.rundir import Run

_ES = ("wait", "best", "best_epoch", "stopped_epoch")
_LR = ("wait", "best", "cooldown_counter")
log = logging.getLogger("forecast")
_KEYS = {"epoch", "weights", "best_weights", "history", "early_stopping", "reduce_lr"}


def _name(epoch: int, suffix: str) -> str:
    return f"epoch-{epoch:04d}{suffix}"


def records(run: Run, skipped: list[str] | None = None) -> list[dict[str, Any]]:
    """The run's valid epoch records, newest first. A record that does not parse, or whose weights
    file (or best epoch's weights file) is missing or cannot be read whole (truncated, corrupt),
    is left out, and why is added to `skipped`."""
    return list(_valid(run, skipped))


def _valid(run: Run, skipped: list[str] | None) -> Iterator[dict[str, Any]]:
    """`records` one at a time, each checked only when it is asked for: `latest` reads the weights
    of no record older than the one it takes."""
    numbered = []
    for path in run.backup.glob("epoch-*.json"):
        number = path.name.removeprefix("epoch-").removesuffix(".json")
        if number.isdigit():
            numbered.append((int(number), path))
    for _, path in sorted(numbered, reverse=True):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            record = None
        ok = isinstance(record, dict) and set(record) == _KEYS
        ok = ok and type(record["epoch"]) is int and path.name == _name(record["epoch"], ".json")
        ok = ok and isinstance(record["history"], list) and len(record["history"]) == record["epoch"]
        why = None if ok else f"backup/{path.name} is not a valid epoch record"
        for weights in (record["weights"], record["best_weights"]) if ok else ():
            if not why and weights is not None:
                why = _unreadable(run.backup / str(weights))
        if why:
            if skipped is not None:
                skipped.append(why)
            continue
        yield record


def _unreadable(path: Path) -> str | None:
    """Why a weights file cannot be loaded (missing, truncated, corrupt), or None: every dataset in
    it is read, as loading it would."""
    import h5py  # deferred: h5py loads only where a resume checks its backup

    def read(name, item):
        if isinstance(item, h5py.Dataset):
            item[()]

    if not path.is_file():
        return f"backup/{path.name} is missing"
    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(read)
    except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError... for a damaged file
        return f"backup/{path.name} cannot be read ({str(exc).splitlines()[0][:120]})"
    return None


def latest(run: Run, say: bool = False) -> dict[str, Any] | None:
    """The newest valid record, or None for a run that has not completed an epoch. `say`: log which
    epoch training continues from, and why any newer record was skipped (resume)."""
    skipped: list[str] = []  # only records newer than the one taken
    record = next(_valid(run, skipped), None)
    if say and (record or skipped):
        epoch = record["epoch"] if record else 0
        why = f" ({'; '.join(skipped)})" if skipped else ""
        (log.warning if skipped else log.info)(f"{'warning: ' if skipped else ''}resuming after epoch {epoch}{why}")
    return record


def completed_epochs(run: Run) -> int:
    """Epochs the run's records hold (0 for a fresh run)."""
    record = latest(run)
    return int(record["epoch"]) if record else 0


def latest_weights(run: Run) -> Path | None:
    """The weights of the last completed epoch, if any."""
    record = latest(run)
    return run.backup / record["weights"] if record else None


# history.csv's columns before the first epoch is committed (and for the naive model, which has none)
EMPTY_HISTORY = ("epoch_seconds", "learning_rate", "loss", "val_loss")


def write_history(run: Run, rows: list[dict[str, Any]]) -> None:
    """history.csv from the record's rows: `epoch` first, then the logged values in name order,
    each at the precision it was computed in (see `_cell`)."""
    keys = sorted({k for row in rows for k in row} - {"epoch"}) if rows else list(EMPTY_HISTORY)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, ["epoch", *keys], lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
    rundir.write_text(run.history_file, buffer.getvalue())


def _cell(value: Any) -> Any:
    """A float that a float32 holds exactly (a loss, a metric, the learning rate: Keras computes them
    in float32) as that float32's shortest text, 0.3828 rather than 0.38280001282691956; any other
    value (a float64 time) as it is."""
    if isinstance(value, float) and math.isfinite(value) and float(np.float32(value)) == value:
        return str(np.float32(value))
    return value


class Checkpoint(keras.callbacks.Callback):
    """Commits each completed epoch as one record (see the module docstring); resumes from the last.

    It must come after EarlyStopping and ReduceLROnPlateau (their on_train_begin resets them, this
    one then restores them; their on_epoch_end updates the counters this one saves) and after
    EpochStats (whose values it records). A loss that is NaN or infinite raises Diverged before the
    epoch is committed.

    Args:
        run: the run whose `backup/` folder holds the records and weights.
        stopping: the EarlyStopping callback of this fit, or None.
        plateau: the ReduceLROnPlateau callback of this fit, or None.
    """

    def __init__(
        self,
        run: Run,
        stopping: keras.callbacks.EarlyStopping | None,
        plateau: keras.callbacks.ReduceLROnPlateau | None,
    ):
        super().__init__()
        self.run, self.stopping, self.plateau = run, stopping, plateau
        self.record: dict[str, Any] | None = None

    def on_train_begin(self, logs=None):
        self.record = latest(self.run)
        write_history(self.run, self.record["history"] if self.record else [])
        if self.record is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)  # its variables exist before loading
        for callback, names, key in ((self.stopping, _ES, "early_stopping"), (self.plateau, _LR, "reduce_lr")):
            if callback is not None and self.record[key] is not None:
                for name in names:
                    setattr(callback, name, self.record[key][name])
        if self.stopping is not None and self.record["best_weights"]:
            self.model.load_weights(self.run.backup / self.record["best_weights"])
            self.stopping.best_weights = self.model.get_weights()
        self.model.load_weights(self.run.backup / self.record["weights"])

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        loss = logs.get("loss")
        if loss is None or not math.isfinite(loss):
            raise Diverged(
                f"training diverged: the loss is {loss} in epoch {epoch + 1}; lower training.learning_rate, "
                "use a robust loss (huber) or check the data"
            )
        done = epoch + 1
        self.run.backup.mkdir(exist_ok=True)
        weights = _name(done, ".weights.h5")
        rundir.write_atomic(self.run.backup / weights, lambda tmp: self.model.save_weights(tmp))
        previous = self.record or {"history": [], "best_weights": None}
        best = previous["best_weights"]
        if self.stopping is not None and self.stopping.restore_best_weights and self.stopping.best_epoch == epoch:
            best = weights
        row = {
            "epoch": epoch,
            **{k: float(v) for k, v in logs.items() if isinstance(v, Real) and not isinstance(v, bool)},
        }
        self.record = {
            "epoch": done,
            "weights": weights,
            "best_weights": best,
            "history": [*previous["history"][:epoch], row],
            "early_stopping": {n: getattr(self.stopping, n) for n in _ES} if self.stopping else None,
            "reduce_lr": {n: getattr(self.plateau, n) for n in _LR} if self.plateau else None,
        }
        rundir.write_json(self.run.backup / _name(done, ".json"), self.record)  # the commit point
        write_history(self.run, self.record["history"])
        self._prune(previous)

    def _prune(self, previous: dict[str, Any]) -> None:
        """Keep this epoch's and the previous epoch's records and every weights file they name."""
        keep = {_name(self.record["epoch"], ".json"), self.record["weights"], self.record["best_weights"]}
        if "epoch" in previous:
            keep |= {_name(previous["epoch"], ".json"), previous["weights"], previous["best_weights"]}
        for path in self.run.backup.glob("epoch-*"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
        for path in self.run.backup.glob(".partial-*"):  # left by a kill inside a write
            path.unlink(missing_ok=True)
