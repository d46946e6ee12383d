"""forecast's Keras callbacks, driven in-process by a real `model.fit` on a tiny model (Keras's own
callback tests do the same): no subprocess, no mocked Keras.

The model is a zero-initialised Dense(1) on constant targets 2.0, so with a learning rate of 0
every epoch's loss is exactly 4.0 and the callbacks' counters are known in advance. Checkpoint's
tests use the same model with a learning rate of 0.05 (each epoch's weights differ) and, for the
resume round trip, a small Adam-trained network on seeded regression data.
"""

import json
import os
import shutil
import signal

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import tiny_config

import forecast
from forecast import config as cfg
from forecast.callbacks import (
    Checkpoint,
    EpochStats,
    StopOnSignal,
    completed_epochs,
    latest,
    latest_weights,
    signals,
)
from forecast.callbacks.checkpoint import records
from forecast.errors import Diverged, Interrupted
from forecast.fit import decayed
from forecast.rundir import Run

X = np.ones((32, 3), dtype=np.float32)
Y = np.full((32, 1), 2.0, dtype=np.float32)  # loss of the zero model: mean(2**2) = 4
BATCHES = 8  # 32 samples in batches of 4


# backup/ after a fourth epoch on the `trained` fixture: its best epoch (1) and the last two epochs
AFTER_EPOCH_4 = [
    "epoch-0001.weights.h5",
    "epoch-0003.json",
    "epoch-0003.weights.h5",
    "epoch-0004.json",
    "epoch-0004.weights.h5",
]


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
    """Records what the callbacks before it left at train begin (counters, weights, optimizer,
    history.csv), and the epochs run."""

    def __init__(self, stopping=None, plateau=None, run=None):
        super().__init__()
        self.stopping, self.plateau, self.run = stopping, plateau, run
        self.at_begin = None
        self.epochs = []

    def on_train_begin(self, logs=None):
        if self.stopping is not None:
            self.at_begin = _counters(self.stopping, self.plateau)
            self.best_weights_at_begin = self.stopping.best_weights
        self.weights_at_begin = [w.copy() for w in self.model.get_weights()]
        self.iterations_at_begin = int(self.model.optimizer.iterations.numpy())
        self.learning_rate_at_begin = float(self.model.optimizer.learning_rate.numpy())
        if self.run is not None:
            self.history_at_begin = self.run.history_file.read_text()
            self.csv_epochs_at_begin = list(_csv(self.run)["epoch"]) if self.history_at_begin else []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)


# --- StopOnSignal ---


@pytest.mark.slow  # trains a Keras model
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


@pytest.mark.slow  # trains a Keras model
def test_stop_on_signal_lets_training_finish_without_a_signal():
    history = _fit(_model(), [StopOnSignal([])], epochs=2)
    assert len(history.history["loss"]) == 2


@pytest.mark.slow  # trains a Keras model
def test_stop_on_signal_also_stops_during_validation():
    received: list[int] = []
    arrive = keras.callbacks.LambdaCallback(on_test_batch_end=lambda batch, logs: received.append(signal.SIGTERM))
    trained = []
    count = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: trained.append(batch))
    with pytest.raises(Interrupted):
        _fit(_model(), [count, arrive, StopOnSignal(received)], validation_data=(X, Y))
    assert len(trained) == BATCHES  # the first epoch's training ran, validation was cut short


def test_signals_defers_sigterm_to_the_block_end_and_restores_the_handler():
    delivered = []

    def guard(signum, frame):  # the handler before (the CLI's raises Terminated; pytest's would die)
        delivered.append(signum)

    before = signal.signal(signal.SIGTERM, guard)
    try:
        with signals() as received:
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt: only recorded
            assert received == [signal.SIGTERM, signal.SIGINT]
            assert delivered == []  # nothing reaches the outer handler while the block runs
        assert signal.getsignal(signal.SIGTERM) is guard
        assert delivered == [signal.SIGTERM]  # the first signal, delivered again once the block ended
    finally:
        signal.signal(signal.SIGTERM, before)


def test_signals_delivers_again_over_an_error_but_not_over_interrupted():
    delivered = []
    before = signal.signal(signal.SIGTERM, lambda signum, frame: delivered.append(signum))
    try:
        with pytest.raises(Interrupted), signals() as received:
            os.kill(os.getpid(), signal.SIGTERM)
            raise Interrupted("interrupted by SIGTERM", received[0])
        assert delivered == []  # the Interrupted already tells the caller; no second stop on top
        # a diverged run saving its last good weights: a sweep would catch Diverged and go on
        with pytest.raises(Diverged), signals():
            os.kill(os.getpid(), signal.SIGTERM)
            raise Diverged("loss is nan")
        assert delivered == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, before)


# --- Checkpoint ---

POISONED = 1  # the poisoning callback ruins the weights after this epoch index (the 2nd epoch)


def _checkpointed(run: Run, stopping=None, plateau=None, probe=None) -> list:
    """The order forecast.fit assembles: EpochStats, the counters' owners, Checkpoint, then the rest."""
    cbs = [EpochStats(), *(c for c in (plateau, stopping) if c is not None), Checkpoint(run, stopping, plateau)]
    return cbs + ([probe] if probe is not None else [])


def _weights(path) -> list:
    """The model weights a `.weights.h5` file holds, read back through a fresh model."""
    model = _model()
    model.load_weights(path)
    return model.get_weights()


def _weights_of(run: Run, epoch: int) -> list:
    return _weights(run.backup / f"epoch-{epoch:04d}.weights.h5")


def _assert_weights_equal(got, want) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def _files(run: Run) -> list[str]:
    return sorted(p.name for p in run.backup.iterdir())


def _record(run: Run, epoch: int) -> dict:
    return json.loads((run.backup / f"epoch-{epoch:04d}.json").read_text())


def _csv(run: Run) -> pd.DataFrame:
    return pd.read_csv(run.history_file)


def _callbacks_3():
    """The fixture's callbacks: val_loss rises every epoch (validation targets are -2 while the
    model learns +2), so the best epoch stays the first and the learning rate is cut after each
    later epoch (patience 1, cooldown 1)."""
    stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5, cooldown=1)
    return stopping, plateau


VAL = (X, -Y)  # a validation set the training moves away from


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Run:
    """Three completed epochs (learning rate 0.05, so each epoch's weights differ); tests copy it."""
    run = Run(tmp_path_factory.mktemp("trained"))
    stopping, plateau = _callbacks_3()
    _fit(_model(learning_rate=0.05), _checkpointed(run, stopping, plateau), epochs=3, validation_data=VAL)
    return run


def _copy(trained: Run, tmp_path) -> Run:
    shutil.copytree(trained.path, tmp_path / "run")
    return Run(tmp_path / "run")


@pytest.mark.slow  # trains a Keras model
@pytest.mark.parametrize(("bad", "shown"), [(np.nan, "nan"), (1e30, "inf")])  # (3e30)**2 overflows float32
def test_checkpoint_raises_diverged_and_does_not_commit_the_epoch(tmp_path, bad, shown):
    run = Run(tmp_path)
    model = _model()  # learning rate 0: the poisoned weights stay as they are for the whole epoch

    def poison(epoch, logs):
        if epoch == POISONED:
            model.set_weights([np.full((3, 1), bad, np.float32), np.zeros((1,), np.float32)])

    with pytest.raises(Diverged, match=f"the loss is {shown} in epoch 3") as err:
        _fit(model, [*_checkpointed(run), keras.callbacks.LambdaCallback(on_epoch_end=poison)], epochs=5)
    assert err.value.exit_code == 1
    # epochs 1 and 2 committed; the diverged third left neither a record nor weights behind
    assert _files(run) == [f"epoch-000{e}{s}" for e in (1, 2) for s in (".json", ".weights.h5")]
    assert completed_epochs(run) == 2
    assert [row["loss"] for row in latest(run)["history"]] == [4.0, 4.0]
    assert list(_csv(run)["epoch"]) == [0, 1]
    _assert_weights_equal(_weights(latest_weights(run)), [np.zeros((3, 1)), np.zeros((1,))])


def test_checkpoint_keeps_the_last_two_epochs_and_the_best_weights_they_name(trained):
    run = trained
    # epoch 1 is the best and still referenced, so its weights stay; epoch 1's record is gone
    assert _files(run) == [
        "epoch-0001.weights.h5",
        "epoch-0002.json",
        "epoch-0002.weights.h5",
        "epoch-0003.json",
        "epoch-0003.weights.h5",
    ]
    second, third = _record(run, 2), _record(run, 3)
    for record, epoch in ((second, 2), (third, 3)):
        assert set(record) == {"epoch", "weights", "best_weights", "history", "early_stopping", "reduce_lr"}
        assert record["epoch"] == epoch
        assert record["weights"] == f"epoch-000{epoch}.weights.h5"
        assert record["best_weights"] == "epoch-0001.weights.h5"
        assert [row["epoch"] for row in record["history"]] == list(range(epoch))
        for row in record["history"]:
            assert set(row) == {"epoch", "loss", "val_loss", "learning_rate", "epoch_seconds"}
            assert all(type(v) is float for k, v in row.items() if k != "epoch") and row["epoch_seconds"] > 0
    assert second["history"] == third["history"][:2]
    history = third["history"]
    losses, val_losses = [r["loss"] for r in history], [r["val_loss"] for r in history]
    assert losses == sorted(losses, reverse=True) and val_losses == sorted(val_losses)  # as designed
    np.testing.assert_allclose([r["learning_rate"] for r in history], [0.05, 0.05, 0.025], rtol=1e-6)
    assert third["early_stopping"] == {"wait": 2, "best": val_losses[0], "best_epoch": 0, "stopped_epoch": 0}
    assert third["reduce_lr"] == {"wait": 0, "best": val_losses[0], "cooldown_counter": 1}
    assert second["early_stopping"]["wait"] == 1 and second["reduce_lr"]["cooldown_counter"] == 1
    # history.csv is the newest record's history: `epoch` first, then the logged values by name
    csv = _csv(run)
    assert list(csv.columns) == ["epoch", "epoch_seconds", "learning_rate", "loss", "val_loss"]
    # float32 results written shortest read back as the same float32; the float64 time as it is
    float32 = dict.fromkeys(["learning_rate", "loss", "val_loss"], "float32")
    expected = pd.DataFrame(history)[list(csv.columns)].astype(float32)
    pd.testing.assert_frame_equal(csv.astype(float32), expected, check_exact=True)
    # each weights file is that epoch's: the model moved on every epoch
    first, last = _weights(run.backup / "epoch-0001.weights.h5"), _weights(latest_weights(run))
    assert not np.array_equal(first[1], last[1])


@pytest.mark.slow  # trains a Keras model
def test_checkpoint_drops_best_weights_no_longer_referenced(tmp_path):
    run = Run(tmp_path)
    stopping = keras.callbacks.EarlyStopping(monitor="loss", patience=10, restore_best_weights=True)
    _fit(_model(learning_rate=0.05), _checkpointed(run, stopping), epochs=4)  # the loss falls: each epoch is best
    assert _files(run) == ["epoch-0003.json", "epoch-0003.weights.h5", "epoch-0004.json", "epoch-0004.weights.h5"]
    record = latest(run)
    assert record["best_weights"] == record["weights"] == "epoch-0004.weights.h5"
    assert record["early_stopping"]["best_epoch"] == 3 and record["reduce_lr"] is None


@pytest.mark.slow  # trains a Keras model
def test_a_fresh_run_has_no_completed_epochs_and_restores_nothing(tmp_path):
    run = Run(tmp_path)
    assert completed_epochs(run) == 0 and latest(run) is None and latest_weights(run) is None and records(run) == []
    run.backup.mkdir()  # an empty backup/ (killed before the first commit) is the same
    assert completed_epochs(run) == 0 and latest(run) is None
    stopping = keras.callbacks.EarlyStopping(monitor="loss", patience=50)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=50)
    probe = _Probe(stopping, plateau, run)
    _fit(_model(), _checkpointed(run, stopping, plateau, probe), epochs=1)
    assert probe.at_begin == {
        "early_stopping": {"wait": 0, "best": None, "best_epoch": 0, "stopped_epoch": 0},
        "reduce_lr": {"wait": 0, "best": None, "cooldown_counter": 0},
    }
    assert (
        probe.history_at_begin == "epoch,epoch_seconds,learning_rate,loss,val_loss\n" and probe.iterations_at_begin == 0
    )
    assert completed_epochs(run) == 1


def _truncate(path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _rewrite(path, change) -> None:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


CORRUPTIONS = {
    "not json": lambda run: (run.backup / "epoch-0003.json").write_text('{"epoch": 3, "weig'),
    "empty": lambda run: (run.backup / "epoch-0003.json").write_text(""),
    "not an object": lambda run: (run.backup / "epoch-0003.json").write_text("[3]"),
    "weights missing": lambda run: (run.backup / "epoch-0003.weights.h5").unlink(),
    "weights truncated": lambda run: _truncate(run.backup / "epoch-0003.weights.h5"),
    "a key missing": lambda run: _rewrite(run.backup / "epoch-0003.json", lambda r: r.pop("reduce_lr")),
    "a key too many": lambda run: _rewrite(run.backup / "epoch-0003.json", lambda r: r.update(extra=1)),
    # epoch 2 with two history rows is consistent in itself, but not with its file name
    "epoch not its name": lambda run: _rewrite(
        run.backup / "epoch-0003.json", lambda r: r.update(epoch=2, history=r["history"][:2])
    ),
    "history too short": lambda run: _rewrite(run.backup / "epoch-0003.json", lambda r: r["history"].pop()),
    "history too long": lambda run: _rewrite(
        run.backup / "epoch-0003.json", lambda r: r["history"].append(r["history"][-1])
    ),
}


def test_records_lists_the_valid_records_newest_first(trained):
    assert records(trained) == [_record(trained, 3), _record(trained, 2)]
    assert latest(trained) == _record(trained, 3) and completed_epochs(trained) == 3
    assert latest_weights(trained) == trained.backup / "epoch-0003.weights.h5"


CORRUPTIONS_THAT_CRASH = {
    # JSON with the right keys but an epoch that is not an int: skipped, never formatted
    "epoch not an int": lambda run: _rewrite(run.backup / "epoch-0003.json", lambda r: r.update(epoch="3")),
    "epoch null": lambda run: _rewrite(run.backup / "epoch-0003.json", lambda r: r.update(epoch=None)),
}


@pytest.mark.parametrize("corrupt", [*CORRUPTIONS, *CORRUPTIONS_THAT_CRASH])
def test_latest_skips_an_invalid_newest_record(trained, tmp_path, corrupt):
    run = _copy(trained, tmp_path)
    second = _record(run, 2)
    {**CORRUPTIONS, **CORRUPTIONS_THAT_CRASH}[corrupt](run)
    skipped = []
    assert records(run, skipped) == [second]
    assert len(skipped) == 1 and skipped[0].startswith("backup/epoch-0003.")  # why, for resume to say
    assert latest(run) == second
    assert completed_epochs(run) == 2
    assert latest_weights(run) == run.backup / "epoch-0002.weights.h5"


def test_latest_reads_and_names_no_record_older_than_the_one_it_takes(trained, tmp_path, caplog):
    run = _copy(trained, tmp_path)
    assert "epoch-0002.weights.h5" not in _record(run, 3).values()  # the newest does not need it
    _truncate(run.backup / "epoch-0002.weights.h5")
    with caplog.at_level("INFO", logger="forecast"):
        assert latest(run, say=True) == _record(run, 3)
    assert [r.getMessage() for r in caplog.records] == ["resuming after epoch 3"]  # not a warning about epoch 2


def test_resume_falls_back_past_a_corrupt_record_and_rewrites_the_history(trained, tmp_path):
    run = _copy(trained, tmp_path)
    second = _record(run, 2)
    (run.backup / "epoch-0003.json").write_text("{garbage")
    assert len(_csv(run)) == 3  # history.csv still shows the third epoch
    done = completed_epochs(run)
    assert done == 2

    stopping, plateau = _callbacks_3()
    probe = _Probe(stopping, plateau, run)
    model = _model(learning_rate=0.05)
    _fit(model, _checkpointed(run, stopping, plateau, probe), epochs=4, validation_data=VAL, initial_epoch=done)
    # at train begin: epoch 2's weights, counters and history, and history.csv cut back to it
    _assert_weights_equal(probe.weights_at_begin, _weights_of(trained, 2))
    assert probe.at_begin == {k: second[k] for k in ("early_stopping", "reduce_lr")}
    assert probe.csv_epochs_at_begin == [0, 1]
    assert probe.iterations_at_begin == 2 * BATCHES
    _assert_weights_equal(probe.best_weights_at_begin, _weights_of(trained, 1))  # EarlyStopping's best, too
    assert probe.epochs == [2, 3]
    # the best is still the first epoch: the model ends with its weights, and the record names them
    assert latest(run)["early_stopping"]["best_epoch"] == 0 and latest(run)["best_weights"] == "epoch-0001.weights.h5"
    _assert_weights_equal(model.get_weights(), _weights_of(trained, 1))
    # the third epoch ran again and replaced the corrupt record: every epoch appears exactly once
    assert completed_epochs(run) == 4
    history = latest(run)["history"]
    assert [r["epoch"] for r in history] == [0, 1, 2, 3] and history[:2] == second["history"]
    assert list(_csv(run)["epoch"]) == [0, 1, 2, 3]
    # retraining epoch 3 from epoch 2's state reproduces what the first run got
    np.testing.assert_allclose(history[2]["loss"], _record(trained, 3)["history"][2]["loss"], rtol=1e-6)
    assert _files(run) == AFTER_EPOCH_4


def test_leftovers_of_a_kill_inside_a_write_go_at_the_next_epoch_end(trained, tmp_path):
    run = _copy(trained, tmp_path)
    # a kill inside a write leaves its temporary file; one between steps 1 and 2 leaves weights
    # without a record (never trusted: resume goes by records)
    (run.backup / ".partial-0123456789ab-epoch-0004.weights.h5").write_bytes(b"\x89HDF half")
    (run.backup / ".partial-0123456789ab-epoch-0004.json").write_text('{"epoch": 4')
    (run.backup / ".partial-0123456789ab-epoch-0009.json").write_text("{")  # a name this resume never writes again
    (run.backup / "epoch-0004.weights.h5").write_bytes(b"not a weights file")
    assert completed_epochs(run) == 3
    stopping, plateau = _callbacks_3()
    _fit(
        _model(learning_rate=0.05),
        _checkpointed(run, stopping, plateau),
        epochs=4,
        validation_data=VAL,
        initial_epoch=3,
    )
    assert not list(run.backup.glob(".partial-*"))
    assert completed_epochs(run) == 4
    assert len(_weights(latest_weights(run))) == 2  # the orphan was replaced by real weights
    assert _files(run) == AFTER_EPOCH_4


# deterministic regression data for the round trip (Adam, so the optimizer's moments matter)
_rng = np.random.default_rng(7)
XR = _rng.normal(size=(32, 3)).astype(np.float32)
YR = (XR @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.1 * _rng.normal(size=(32, 1))).astype(np.float32)
XV = _rng.normal(size=(16, 3)).astype(np.float32)
YV = (XV @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(np.float32)


def _adam_model() -> keras.Model:
    keras.utils.set_random_seed(3)  # the same random initial weights for every fresh model
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05), loss="mse")
    return model


def _weights_of_adam(path) -> list:
    model = _adam_model()
    model.optimizer.build(model.trainable_variables)  # so the saved optimizer state has somewhere to go
    model.load_weights(path)
    return model.get_weights()


def _round_trip_fit(run: Run, model, epochs, initial_epoch=0):
    stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    # min_delta 10: no epoch after the first improves, so the rate halves every other epoch
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5, min_delta=10, cooldown=1)
    probe = _Probe(stopping, plateau, run)
    model.fit(
        XR,
        YR,
        batch_size=4,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        validation_data=(XV, YV),
        callbacks=_checkpointed(run, stopping, plateau, probe),
        verbose=0,
    )
    return stopping, plateau, probe


@pytest.mark.slow  # trains a Keras model
def test_resume_continues_exactly_where_the_checkpoint_left_off(tmp_path):
    whole, split = Run(tmp_path / "whole"), Run(tmp_path / "split")
    whole.path.mkdir()
    split.path.mkdir()
    _round_trip_fit(whole, _adam_model(), epochs=5)

    first = _adam_model()
    stopping, plateau, _ = _round_trip_fit(split, first, epochs=3)  # "killed" after three epochs
    after_three = _counters(stopping, plateau)
    lr_after_three = float(first.optimizer.learning_rate.numpy())
    assert lr_after_three < 0.05  # ReduceLROnPlateau did cut it
    saved = _weights_of_adam(split.backup / "epoch-0003.weights.h5")

    done = completed_epochs(split)
    assert done == 3
    fresh = _adam_model()  # same architecture, compiled, its optimizer not even built
    stopping, plateau, probe = _round_trip_fit(split, fresh, epochs=5, initial_epoch=done)
    assert probe.at_begin == after_three
    _assert_weights_equal(probe.weights_at_begin, saved)
    assert probe.iterations_at_begin == 3 * BATCHES
    assert probe.learning_rate_at_begin == lr_after_three
    assert probe.epochs == [3, 4]

    # 3 + 2 epochs are the 5 uninterrupted ones
    got, want = latest(split)["history"], latest(whole)["history"]
    assert [r["epoch"] for r in got] == [r["epoch"] for r in want] == [0, 1, 2, 3, 4]
    for key in ("loss", "val_loss", "learning_rate"):
        np.testing.assert_allclose([r[key] for r in got], [r[key] for r in want], rtol=1e-6, err_msg=key)
    for key in ("weights", "best_weights"):
        assert latest(split)[key] == latest(whole)[key]
    for key in ("early_stopping", "reduce_lr"):
        got, want = latest(split)[key], latest(whole)[key]
        assert set(got) == set(want)
        np.testing.assert_allclose([got[k] for k in sorted(got)], [want[k] for k in sorted(want)], rtol=1e-6)
    for got, want in zip(_weights_of_adam(latest_weights(split)), _weights_of_adam(latest_weights(whole)), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert list(_csv(split)["epoch"]) == [0, 1, 2, 3, 4]


# --- EpochStats ---


@pytest.mark.slow  # trains a Keras model
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


# --- training.lr_decay (Keras's LearningRateScheduler) ---


@pytest.mark.slow  # trains a Keras model
def test_lr_decay_multiplies_the_rate_every_epoch_and_resumes_on_schedule(tmp_path):
    training = {"epochs": 3, "lr_decay": 0.5, "learning_rate": 0.004, "early_stopping": False,
                "reduce_lr_on_plateau": False}  # fmt: skip
    run = forecast.train(cfg.Config.model_validate(tiny_config(training=training)), tmp_path / "run")
    history = pd.read_csv(run.path / "history.csv")
    np.testing.assert_allclose(history["learning_rate"], [0.004, 0.002, 0.001], rtol=1e-6)
    assert decayed(0.004, 0.5, 2, 0.004) == pytest.approx(0.001)  # from the epoch: a resumed run at epoch 2
    assert decayed(0.004, 0.5, 2, 0.0001) == 0.0001  # a rate ReduceLROnPlateau lowered further stays lower
    with pytest.raises(ValueError, match="lr_decay"):
        cfg.Config.model_validate(tiny_config(training={"lr_decay": 1.5}))


def test_history_writes_float32_values_shortest_and_float64_ones_as_they_are(tmp_path):
    from forecast.callbacks.checkpoint import write_history

    run = Run(tmp_path / "run")
    run.path.mkdir()
    loss = float(np.float32(0.3828))  # what Keras logs: 0.38280001282691956
    write_history(
        run, [{"epoch": 0, "loss": loss, "learning_rate": float(np.float32(1e-3)), "epoch_seconds": 1.25e-7 + 3}]
    )
    lines = run.history_file.read_text().splitlines()
    assert lines == ["epoch,epoch_seconds,learning_rate,loss", "0,3.000000125,0.001,0.3828"]
    assert float(np.float32(lines[1].split(",")[3])) == loss  # reads back as the same float32
