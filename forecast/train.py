"""Compile and fit a model with Keras's callbacks; resume, interruption and divergence.

Resuming relies on Keras's BackupAndRestore for the weights, the optimizer (its learning rate
included) and the epoch count. What BackupAndRestore does not keep, the counters of
EarlyStopping and ReduceLROnPlateau and the best weights so far, `TrainingState` saves beside it
at every epoch, so `forecast train --resume` continues exactly where the last completed epoch
left off.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import time
from contextlib import contextmanager

import keras
import numpy as np
import pandas as pd

from forecast import backend, rundir
from forecast import config as cfg
from forecast.dataset import WindowDataset
from forecast.errors import Diverged, Interrupted
from forecast.model import build, count_parameters, target_index
from forecast.rundir import Run
from forecast.windows import Prepared

_OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}


class EpochStats(keras.callbacks.Callback):
    """Adds `epoch_seconds` and the epoch's `learning_rate` to the logs CSVLogger writes."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


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
    """

    _ES = ("wait", "best", "best_epoch", "stopped_epoch")
    _LR = ("wait", "best", "cooldown_counter")

    def __init__(self, run: Run, stopping: keras.callbacks.EarlyStopping | None, plateau: keras.callbacks.ReduceLROnPlateau | None):
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
        for callback, names, key in ((self.stopping, self._ES, "early_stopping"), (self.plateau, self._LR, "reduce_lr")):
            if callback is not None and key in state:
                for name in names:
                    setattr(callback, name, state[key][name])
        if self.stopping is not None and state.get("best_weights"):
            self.model.load_weights(self.run.backup / state["best_weights"])  # BackupAndRestore loads the latest after this
            self.stopping.best_weights = self.model.get_weights()

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or not math.isfinite(loss):
            raise Diverged(
                f"training diverged: the loss is {loss} in epoch {epoch + 1}; lower training.learning_rate, "
                "use a robust loss (huber) or check the data"
            )
        states = {}
        try:
            states = json.loads(self.path.read_text())
        except (OSError, ValueError):
            pass
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


class StopOnSignal(keras.callbacks.Callback):
    """Ends training at the next batch boundary once SIGINT/SIGTERM arrived (see `signals`)."""

    def __init__(self, received: list[int]):
        super().__init__()
        self.received = received

    def _check(self, *args, **kwargs):
        if self.received:
            name = signal.Signals(self.received[0]).name
            raise Interrupted(f"interrupted by {name}", self.received[0])

    on_train_batch_end = on_test_batch_end = on_epoch_end = _check


@contextmanager
def signals():
    """Turn SIGINT/SIGTERM into a flag that StopOnSignal acts on between batches, never mid-save."""
    received: list[int] = []

    def handler(signum, frame):
        received.append(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def compile_model(config: cfg.Config, prepared: Prepared) -> keras.Model:
    series = prepared.series
    targets = target_index(config.model, series.feature_names, series.target_names)
    model = build(config.model, prepared.spec, len(series.feature_names), targets)
    training = config.training
    model.compile(optimizer=_OPTIMIZERS[training.optimizer](learning_rate=training.learning_rate), loss=training.loss)
    return model


def callbacks(config: cfg.Config, run: Run, received: list[int]) -> list[keras.callbacks.Callback]:
    """In the order they must run at each epoch's end (see TrainingState)."""
    training = config.training
    plateau = stopping = None
    if training.reduce_lr_on_plateau.enabled:
        p = training.reduce_lr_on_plateau
        plateau = keras.callbacks.ReduceLROnPlateau(monitor=p.monitor, factor=p.factor, patience=p.patience, min_lr=p.min_lr)
    if training.early_stopping.enabled:
        e = training.early_stopping
        stopping = keras.callbacks.EarlyStopping(monitor=e.monitor, patience=e.patience, restore_best_weights=e.restore_best_weights)
    return [
        EpochStats(),
        keras.callbacks.TerminateOnNaN(),
        *(c for c in (plateau, stopping) if c is not None),
        TrainingState(run, stopping, plateau),
        keras.callbacks.BackupAndRestore(str(run.backup), double_checkpoint=True, delete_checkpoint=False),
        keras.callbacks.CSVLogger(str(run.history), append=True),
        *([board] if config.tracking.tensorboard and (board := backend.tensorboard(run.path / "tensorboard")) else []),
        StopOnSignal(received),
    ]


def _keep_history(run: Run, epochs: int) -> None:
    """On resume, history.csv keeps exactly the epochs the backup holds (a kill can leave one more)."""
    if run.history.exists():
        history = pd.read_csv(run.history)
        if len(history) != epochs:
            rundir.write_text(run.history, history[history["epoch"] < epochs].to_csv(index=False))


def fit(model: keras.Model, config: cfg.Config, prepared: Prepared, run: Run, verbose: int, received: list[int]) -> None:
    training = config.training
    if not model.trainable_weights:  # the naive baseline: nothing to fit, an empty history
        rundir.write_text(run.history, "epoch,epoch_seconds,learning_rate,loss,val_loss\n")
        return
    done = completed_epochs(run)
    _keep_history(run, done)
    train = WindowDataset(
        prepared.x, prepared.y, prepared.origins["train"], prepared.spec, training.batch_size,
        shuffle=training.shuffle, full_batches=True, seed=config.seed, epoch=done, steps=training.steps_per_epoch,
    )
    val_origins = prepared.origins["val"]
    if training.validation_steps and training.validation_steps * training.batch_size < len(val_origins):
        # an evenly spread, fixed subset: every epoch's val_loss is measured on the same windows
        picks = np.linspace(0, len(val_origins) - 1, training.validation_steps * training.batch_size).round().astype(int)
        val_origins = val_origins[picks]
    val = WindowDataset(prepared.x, prepared.y, val_origins, prepared.spec, training.batch_size, full_batches=False)
    cbs = callbacks(config, run, received)
    state = next(c for c in cbs if isinstance(c, TrainingState)).saved(done) or {}
    stopped = state.get("early_stopping", {}).get("stopped_epoch", 0) > 0
    model.fit(
        backend.batches(train, endless=True), steps_per_epoch=len(train), validation_data=backend.batches(val),
        shuffle=False,  # the WindowDataset shuffles, seeded by (seed, pass)
        epochs=done if stopped else training.epochs, callbacks=cbs, verbose=verbose,
    )


def train_batches(training: cfg.Training, windows: int) -> int:
    return training.steps_per_epoch or math.ceil(windows / training.batch_size)


def train_run(config: cfg.Config, prepared: Prepared, run: Run, verbose: int) -> dict:
    """Fit (or resume), then write every artifact of the run; returns what goes in metrics.json."""
    from forecast import metrics as m
    from forecast import report

    backend.configure(config.seed)
    strategy = backend.strategy(config.training.distribute)
    if strategy is None:
        model = compile_model(config, prepared)
    else:  # variables are created, and mirrored, inside the strategy's scope
        with strategy.scope():
            model = compile_model(config, prepared)
    run.set_status("running")
    try:
        with signals() as received:
            fit(model, config, prepared, run, verbose, received)
    except Interrupted as exc:
        run.set_status("interrupted", str(exc))
        raise Interrupted(f"{exc} after {completed_epochs(run)} completed epochs; continue with: forecast train --resume {run.path}", exc.exit_code - 128) from None
    except Diverged as exc:
        latest = run.backup / "latest.weights.h5"
        if latest.exists():
            model.load_weights(latest)
            rundir.write_atomic(run.model, lambda tmp: model.save(tmp))
            exc = Diverged(f"{exc}; model.keras holds the weights of the last good epoch ({completed_epochs(run)})")
        run.set_status("failed", str(exc))
        raise exc from None
    except BaseException as exc:
        run.set_status("failed", f"{type(exc).__name__}: {exc}")
        raise

    rundir.write_atomic(run.model, lambda tmp: model.save(tmp))
    history = pd.read_csv(run.history)
    predictions = m.predict_splits(model, prepared, ("val", "test"))
    monitor = config.training.early_stopping.monitor
    train_seconds = float(history["epoch_seconds"].sum())
    windows = train_batches(config.training, len(prepared.origins["train"])) * config.training.batch_size
    results = {
        **m.evaluate(prepared, predictions),
        "epochs_run": len(history),
        "best_epoch": int(history[monitor].idxmin()) + 1 if len(history) and monitor in history else len(history),
        "train_seconds": round(train_seconds, 3),
        "samples_per_second": round(len(history) * windows / train_seconds, 1) if train_seconds else 0.0,
        "parameters": count_parameters(config.model, prepared.spec, prepared.x.shape[1], prepared.y.shape[1]),
        "backend": keras.backend.backend(),
        "device": backend.device(),
        "replicas": strategy.num_replicas_in_sync if strategy is not None else 1,
    }
    rundir.write_json(run.metrics, results)
    report.plot_loss(run, history)
    test = prepared.origins["test"]
    inverse = prepared.scalers.inverse_targets
    report.plot_forecast(
        run, inverse(prepared.spec.targets(prepared.y, test)), inverse(predictions["test"]),
        prepared.series.target_names, prepared.spec.horizon,
    )
    report.write_markdown(run, results, config.to_yaml(), prepared.series.target_names)
    if config.tracking.mlflow is not None:
        from forecast.tracking import log_run

        log_run(config, run, results)
    run.set_status("completed")
    shutil.rmtree(run.backup, ignore_errors=True)
    return results
