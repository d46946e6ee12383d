"""Compile and fit a model on a prepared series with Keras's own callbacks."""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np

from forecast import config as cfg
from forecast.dataset import WindowDataset
from forecast.model import build
from forecast import rundir
from forecast.rundir import Run
from forecast.windows import Prepared

_OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}
_LOSSES = {"mse": "mse", "mae": "mae", "huber": "huber", "mape": "mape"}


class EpochStats(keras.callbacks.Callback):
    """Adds `epoch_seconds` and the epoch's `learning_rate` to the logs CSVLogger writes."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


@dataclass
class Fitted:
    model: keras.Model
    epochs_run: int
    train_seconds: float
    samples_per_second: float


def compile_model(config: cfg.Config, prepared: Prepared) -> keras.Model:
    model = build(config.model, prepared.spec, prepared.x.shape[1], prepared.y.shape[1])
    training = config.training
    model.compile(optimizer=_OPTIMIZERS[training.optimizer](learning_rate=training.learning_rate), loss=_LOSSES[training.loss])
    return model


def callbacks(training: cfg.Training, run: Run) -> list[keras.callbacks.Callback]:
    out: list[keras.callbacks.Callback] = [EpochStats(), keras.callbacks.TerminateOnNaN()]
    plateau = training.reduce_lr_on_plateau
    if plateau.enabled:
        out.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=plateau.monitor, factor=plateau.factor, patience=plateau.patience, min_lr=plateau.min_lr
            )
        )
    stopping = training.early_stopping
    if stopping.enabled:
        out.append(
            keras.callbacks.EarlyStopping(
                monitor=stopping.monitor, patience=stopping.patience, restore_best_weights=stopping.restore_best_weights
            )
        )
    out.append(keras.callbacks.CSVLogger(str(run.history)))
    return out


def fit(config: cfg.Config, prepared: Prepared, run: Run, verbose: int) -> Fitted:
    keras.utils.set_random_seed(config.seed)
    model = compile_model(config, prepared)
    training = config.training
    train = WindowDataset(
        prepared.x, prepared.y, prepared.origins["train"], prepared.spec, training.batch_size,
        shuffle=training.shuffle, full_batches=True, seed=config.seed,
    )
    val = WindowDataset(
        prepared.x, prepared.y, prepared.origins["val"], prepared.spec, training.batch_size, full_batches=False
    )
    start = time.perf_counter()
    history = model.fit(train, validation_data=val, epochs=training.epochs, callbacks=callbacks(training, run), verbose=verbose)
    seconds = time.perf_counter() - start
    epochs_run = len(history.epoch)
    losses = np.asarray(history.history.get("loss", []), dtype=float)
    if not np.isfinite(losses).all():
        raise FloatingPointError(
            f"training diverged: loss became {losses[~np.isfinite(losses)][0]} at epoch {int(np.flatnonzero(~np.isfinite(losses))[0]) + 1}; "
            "lower training.learning_rate or check the data"
        )
    return Fitted(model, epochs_run, seconds, epochs_run * len(train) * training.batch_size / seconds)


def device() -> str:
    """The accelerator Keras sees first ('gpu:0'), else 'cpu:0'."""
    try:
        devices = keras.distribution.list_devices()
    except Exception:  # a backend without device listing still trains
        return "unknown"
    return next((d for d in devices if not d.lower().startswith("cpu")), devices[0] if devices else "cpu:0")


def train_run(config: cfg.Config, prepared: Prepared, run: Run, verbose: int) -> dict:
    """Fit, then write every artifact of the run; returns what goes in metrics.json."""
    import pandas as pd

    from forecast import metrics as m
    from forecast import report
    from forecast.model import count_parameters

    fitted = fit(config, prepared, run, verbose)
    rundir.write_atomic(run.model, lambda tmp: fitted.model.save(tmp))
    history = pd.read_csv(run.history)
    predictions = m.predict_splits(fitted.model, prepared, ("val", "test"))
    monitor = config.training.early_stopping.monitor
    results = {
        **m.evaluate(prepared, predictions),
        "epochs_run": fitted.epochs_run,
        "best_epoch": int(history[monitor].idxmin()) + 1 if monitor in history else fitted.epochs_run,
        "train_seconds": round(fitted.train_seconds, 3),
        "samples_per_second": round(fitted.samples_per_second, 1),
        "parameters": count_parameters(config.model, prepared.spec, prepared.x.shape[1], prepared.y.shape[1]),
        "backend": keras.backend.backend(),
        "device": device(),
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
    return results
