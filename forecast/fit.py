"""Fitting, and only fitting: compile the model, assemble the callbacks, run `model.fit` (or resume it).

Everything around a fit (run directory, status, saving, scoring, reports, tracking) is the run
lifecycle's (`forecast.lifecycle`); the callbacks live one per file in `forecast.callbacks`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import keras
import numpy as np

from forecast import backend
from forecast import config as cfg
from forecast.callbacks import Checkpoint, EpochStats, StopOnSignal, latest
from forecast.callbacks.checkpoint import write_history
from forecast.dataset import WindowDataset
from forecast.losses import Pinball
from forecast.model import build
from forecast.prepare import Prepared
from forecast.rundir import Run

_OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}


def compile_model(config: cfg.Config, prepared: Prepared) -> keras.Model:
    """The config's network, compiled with its optimizer and loss (create it inside a strategy's scope)."""
    p = prepared
    model = build(p.model, p.spec, p.x.shape[1], p.target_index, p.extras, p.base_season)
    training = config.training
    loss = training.loss
    if loss == "pinball":
        loss = Pinball(config.model.quantiles)
    model.compile(optimizer=_OPTIMIZERS[training.optimizer](learning_rate=training.learning_rate), loss=loss)
    return model


def callbacks(
    config: cfg.Config, run: Run, received: list[int], extra: Sequence[keras.callbacks.Callback] = ()
) -> list[keras.callbacks.Callback]:
    """In the order they must run at each epoch's end (see Checkpoint); `extra` after the checkpoint,
    so an epoch a tuner prunes at is in the history."""
    training = config.training
    plateau = stopping = None
    if training.reduce_lr_on_plateau.enabled:
        p = training.reduce_lr_on_plateau
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor=p.monitor, factor=p.factor, patience=p.patience, min_lr=p.min_lr
        )
    if training.early_stopping.enabled:
        e = training.early_stopping
        stopping = keras.callbacks.EarlyStopping(
            monitor=e.monitor, patience=e.patience, restore_best_weights=e.restore_best_weights
        )
    decay = None
    if training.lr_decay is not None:
        decay = keras.callbacks.LearningRateScheduler(partial(decayed, training.learning_rate, training.lr_decay))
    return [
        EpochStats(),
        keras.callbacks.TerminateOnNaN(),
        *(c for c in (decay, plateau, stopping) if c is not None),
        Checkpoint(run, stopping, plateau),
        *([board] if config.tracking.tensorboard and (board := backend.tensorboard(run.path / "tensorboard")) else []),
        *extra,
        StopOnSignal(received),
    ]


def decayed(base: float, factor: float, epoch: int, lr: float) -> float:
    """training.lr_decay's rate for `epoch` (from 0): base * factor**epoch, or the optimizer's current
    rate where ReduceLROnPlateau has lowered it more. Computed from the epoch, not from the last
    rate, so a resumed run continues the schedule where it stopped."""
    return float(min(lr, base * factor**epoch))


def fit(
    model: keras.Model,
    config: cfg.Config,
    prepared: Prepared,
    run: Run,
    verbose: int,
    received: list[int],
    extra: Sequence[keras.callbacks.Callback] = (),
) -> None:
    """Fit `model` on the training windows, validating each epoch; resumes from the run's backup.

    Args:
        model: from `compile_model`.
        config: the run's config (its training section drives the fit).
        prepared: the scaled series and each split's window origins.
        run: where the history, backup and TensorBoard logs go.
        verbose: Keras's verbosity (0 silent, 1 progress bar, 2 a line per epoch).
        received: the list `callbacks.signals()` fills; training stops at the next batch after a signal.
        extra: more callbacks (a tuner's pruner), run after the checkpoint.
    """
    training = config.training
    if not model.trainable_weights:  # the naive baseline: nothing to fit, an empty history
        write_history(run, [])
        return
    record = latest(run, say=True)  # on resume: from which epoch, and why a newer one was skipped
    done = record["epoch"] if record else 0
    train = WindowDataset(
        prepared.x,
        prepared.y,
        prepared.origins["train"],
        prepared.spec,
        training.batch_size,
        shuffle=training.shuffle,
        full_batches=True,
        seed=config.seed,
        epoch=done,
        steps=training.steps_per_epoch,
        feed=prepared.feed(),
    )
    val_origins = prepared.origins["val"]
    if training.validation_steps and training.validation_steps * training.batch_size < len(val_origins):
        # an evenly spread, fixed subset: every epoch's val_loss is measured on the same windows
        picks = (
            np.linspace(0, len(val_origins) - 1, training.validation_steps * training.batch_size).round().astype(int)
        )
        val_origins = val_origins[picks]
    val = WindowDataset(
        prepared.x,
        prepared.y,
        val_origins,
        prepared.spec,
        training.batch_size,
        full_batches=False,
        feed=prepared.feed(),
    )
    stopped = bool(record and record["early_stopping"] and record["early_stopping"]["stopped_epoch"] > 0)
    model.fit(
        backend.batches(train, endless=True),
        steps_per_epoch=len(train),
        validation_data=backend.batches(val),
        shuffle=False,  # the WindowDataset shuffles, seeded by (seed, pass)
        initial_epoch=done,  # Checkpoint restores the weights and counters of epoch `done`
        epochs=done if stopped else training.epochs,
        callbacks=callbacks(config, run, received, extra),
        verbose=verbose,
    )


def train_batches(training: cfg.Training, windows: int) -> int:
    return training.steps_per_epoch or math.ceil(windows / training.batch_size)
