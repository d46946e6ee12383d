"""forecast's Keras callbacks, driven in-process by a real `model.fit` on a tiny model (Keras's own
callback tests do the same): no subprocess, no mocked Keras.

The model is a zero-initialised Dense(1) on constant targets 2.0, so with a learning rate of 0
every epoch's loss is exactly 4.0 and the callbacks' counters are known in advance.
"""

import json
import os
import signal

import keras
import numpy as np
import pytest

from forecast.callbacks import EpochStats, StopOnSignal, TrainingState, completed_epochs, signals
from forecast.errors import Diverged, Interrupted
from forecast.rundir import Run

X = np.ones((32, 3), dtype=np.float32)
Y = np.full((32, 1), 2.0, dtype=np.float32)  # loss of the zero model: mean(2**2) = 4
BATCHES = 8  # 32 samples in batches of 4


def _model(learning_rate: float = 0.0) -> keras.Model:
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros")]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
    return model


def _fit(model, callbacks, epochs=3, y=Y, **kwargs):
    return model.fit(X, y, batch_size=4, epochs=epochs, shuffle=False, callbacks=callbacks, verbose=0, **kwargs)


def _counters(stopping, plateau) -> dict:
    return {
        "early_stopping": {n: getattr(stopping, n) for n in ("wait", "best", "best_epoch", "stopped_epoch")},
        "reduce_lr": {n: getattr(plateau, n) for n in ("wait", "best", "cooldown_counter")},
    }


class _Probe(keras.callbacks.Callback):
    """Records what the callbacks before it left: their counters at train begin, the epochs run."""

    def __init__(self, stopping=None, plateau=None):
        super().__init__()
        self.stopping, self.plateau = stopping, plateau
        self.at_begin = None
        self.epochs = []

    def on_train_begin(self, logs=None):
        if self.stopping is not None:
            self.at_begin = _counters(self.stopping, self.plateau)
            self.weights_at_begin = [w.copy() for w in self.model.get_weights()]

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)


# --- StopOnSignal ---


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_on_signal_raises_interrupted_at_the_next_batch_boundary(signum):
    received: list[int] = []
    batches = []

    def arrive(batch, logs):  # the signal handler's part: append the number, nothing else
        batches.append(batch)
        if batch == 2:
            received.append(signum)

    model = _model(learning_rate=0.1)
    with pytest.raises(Interrupted) as err:
        _fit(model, [keras.callbacks.LambdaCallback(on_train_batch_end=arrive), StopOnSignal(received)])
    assert err.value.signum == signum
    assert err.value.exit_code == 128 + signum
    assert str(err.value) == f"interrupted by {signal.Signals(signum).name}"
    assert batches == [0, 1, 2]  # stopped right after the batch it arrived in, not at the epoch's end
    assert int(model.optimizer.iterations.numpy()) == 3


def test_stop_on_signal_lets_training_finish_without_a_signal():
    history = _fit(_model(), [StopOnSignal([])], epochs=2)
    assert len(history.history["loss"]) == 2


def test_stop_on_signal_also_stops_during_validation():
    received: list[int] = []
    arrive = keras.callbacks.LambdaCallback(on_test_batch_end=lambda batch, logs: received.append(signal.SIGTERM))
    trained = []
    count = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: trained.append(batch))
    with pytest.raises(Interrupted):
        _fit(_model(), [count, arrive, StopOnSignal(received)], validation_data=(X, Y))
    assert len(trained) == BATCHES  # the first epoch's training ran, validation was cut short


def test_signals_turns_sigterm_into_a_flag_and_restores_the_handler():
    before = signal.getsignal(signal.SIGTERM)
    with signals() as received:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt: only recorded
        assert received == [signal.SIGTERM, signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) is before


# --- TrainingState ---


@pytest.mark.parametrize(("bad", "shown"), [(np.nan, "nan"), (1e30, "inf")])  # 1e30 squared overflows float32
def test_training_state_raises_diverged_on_a_non_finite_loss(tmp_path, bad, shown):
    run = Run(tmp_path)
    y = Y.copy()
    y[5] = bad
    with pytest.raises(Diverged, match=f"the loss is {shown} in epoch 1") as err:
        _fit(_model(), [TrainingState(run, None, None)], y=y)
    assert err.value.exit_code == 1
    assert not (run.backup / "callbacks.json").exists()  # the diverged epoch's state is never saved


def test_training_state_saves_the_counters_of_the_last_two_epochs(tmp_path):
    run = Run(tmp_path)
    stopping = keras.callbacks.EarlyStopping(monitor="loss", patience=10)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=10)
    _fit(_model(), [stopping, plateau, TrainingState(run, stopping, plateau)], epochs=3)
    saved = json.loads((run.backup / "callbacks.json").read_text())
    assert list(saved) == ["2", "3"]  # keyed by completed epochs; older ones dropped
    # the loss is 4.0 in every epoch: the best is the first, and each later epoch waits one more
    assert saved["3"] == {
        "best_weights": None,
        "early_stopping": {"wait": 2, "best": 4.0, "best_epoch": 0, "stopped_epoch": 0},
        "reduce_lr": {"wait": 2, "best": 4.0, "cooldown_counter": 0},
    }
    assert saved["2"]["early_stopping"]["wait"] == 1 and saved["2"]["reduce_lr"]["wait"] == 1
    assert {k: v for k, v in saved["3"].items() if k != "best_weights"} == _counters(stopping, plateau)
    assert TrainingState(run, stopping, plateau).saved(3) == saved["3"]
    assert TrainingState(run, stopping, plateau).saved(1) is None


def test_training_state_keeps_only_the_best_weights_still_referenced(tmp_path):
    run = Run(tmp_path)
    stopping = keras.callbacks.EarlyStopping(monitor="loss", patience=10, restore_best_weights=True)
    _fit(_model(learning_rate=0.05), [stopping, TrainingState(run, stopping, None)], epochs=3)  # loss falls each epoch
    saved = json.loads((run.backup / "callbacks.json").read_text())
    assert saved["2"]["best_weights"] == "best-2.weights.h5" and saved["3"]["best_weights"] == "best-3.weights.h5"
    assert sorted(p.name for p in run.backup.iterdir()) == ["best-2.weights.h5", "best-3.weights.h5", "callbacks.json"]


def _backup(run: Run, epochs: int, states: dict) -> None:
    """What an interrupted run leaves: BackupAndRestore's metadata and TrainingState's file."""
    run.backup.mkdir()
    (run.backup / "training_metadata.json").write_text(json.dumps({"epoch": epochs, "batch": -1}))
    (run.backup / "callbacks.json").write_text(json.dumps(states))


def test_training_state_restores_the_counters_of_the_completed_epochs(tmp_path):
    run = Run(tmp_path)
    state = {
        "best_weights": "best-2.weights.h5",
        "early_stopping": {"wait": 2, "best": 0.5, "best_epoch": 1, "stopped_epoch": 0},
        "reduce_lr": {"wait": 1, "best": 0.5, "cooldown_counter": 3},
    }
    other = {
        "best_weights": None,
        "early_stopping": {"wait": 9, "best": 9.0, "best_epoch": 9, "stopped_epoch": 0},
        "reduce_lr": {"wait": 9, "best": 9.0, "cooldown_counter": 9},
    }
    _backup(run, 3, {"2": other, "3": state})
    best = _model()
    best.set_weights([np.full((3, 1), 0.25, np.float32), np.full((1,), -1.0, np.float32)])
    best.save_weights(run.backup / "best-2.weights.h5")
    assert completed_epochs(run) == 3

    stopping = keras.callbacks.EarlyStopping(monitor="loss", patience=50, restore_best_weights=True)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=50, cooldown=5)
    probe = _Probe(stopping, plateau)
    model = _model()
    _fit(model, [stopping, plateau, TrainingState(run, stopping, plateau), probe], epochs=1)
    # EarlyStopping and ReduceLROnPlateau reset themselves in on_train_begin; TrainingState, after them, restores
    assert probe.at_begin == {k: state[k] for k in ("early_stopping", "reduce_lr")}
    for got, want in zip(stopping.best_weights, best.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(
        probe.weights_at_begin, best.get_weights(), strict=True
    ):  # BackupAndRestore loads the latest after
        np.testing.assert_array_equal(got, want)
    # the counters go on from there: a loss of 4.0 does not beat the restored best of 0.5
    assert stopping.wait == 3 and stopping.best == 0.5


def test_training_state_does_nothing_for_a_fresh_run(tmp_path):
    run = Run(tmp_path)
    assert completed_epochs(run) == 0
    stopping = keras.callbacks.EarlyStopping(monitor="loss", patience=50)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=50)
    probe = _Probe(stopping, plateau)
    _fit(_model(), [stopping, plateau, TrainingState(run, stopping, plateau), probe], epochs=1)
    assert probe.at_begin["early_stopping"] == {"wait": 0, "best": None, "best_epoch": 0, "stopped_epoch": 0}


@pytest.mark.parametrize("metadata", [None, "{not json", '{"batch": 3}'])
def test_completed_epochs_is_zero_without_a_readable_backup(tmp_path, metadata):
    run = Run(tmp_path)
    if metadata is not None:
        run.backup.mkdir()
        (run.backup / "training_metadata.json").write_text(metadata)
    assert completed_epochs(run) == 0


def test_resume_with_backup_and_restore_continues_every_counter(tmp_path):
    """The real pairing, as forecast.fit assembles it: TrainingState before BackupAndRestore."""
    run = Run(tmp_path)

    def callbacks():
        stopping = keras.callbacks.EarlyStopping(monitor="loss", patience=50)
        plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=50)
        backup = keras.callbacks.BackupAndRestore(str(run.backup), double_checkpoint=True, delete_checkpoint=False)
        probe = _Probe(stopping, plateau)
        return stopping, plateau, probe, [stopping, plateau, TrainingState(run, stopping, plateau), backup, probe]

    stopping, plateau, _, cbs = callbacks()
    _fit(_model(), cbs, epochs=2)  # "killed" after two epochs
    assert completed_epochs(run) == 2
    after_two = _counters(stopping, plateau)
    assert after_two["early_stopping"]["wait"] == 1

    stopping, plateau, probe, cbs = callbacks()
    _fit(_model(), cbs, epochs=4)
    assert probe.at_begin == after_two
    assert probe.epochs == [2, 3]  # BackupAndRestore resumed the epoch count
    assert stopping.wait == 3 and plateau.wait == 3  # as four uninterrupted epochs would leave them


# --- EpochStats ---


def test_epoch_stats_adds_wall_time_and_the_epochs_learning_rate():
    plain = _fit(_model(learning_rate=0.1), [], epochs=2)
    assert "learning_rate" not in plain.history and "epoch_seconds" not in plain.history  # not Keras's own

    def halve(epoch, logs):  # changes the rate after each epoch, as ReduceLROnPlateau does, but logs nothing
        model.optimizer.learning_rate = float(model.optimizer.learning_rate.numpy()) / 2

    model = _model(learning_rate=0.1)
    history = _fit(model, [EpochStats(), keras.callbacks.LambdaCallback(on_epoch_end=halve)], epochs=3).history
    assert len(history["epoch_seconds"]) == 3 and all(s > 0 for s in history["epoch_seconds"])
    # EpochStats comes first, so each row has the rate the epoch trained with, not the next one's
    np.testing.assert_allclose(history["learning_rate"], [0.1, 0.05, 0.025], rtol=1e-6)
    assert all(type(v) is float for v in history["learning_rate"])  # JSON/CSV-friendly, not a tensor
