"""StopOnSignal: SIGINT/SIGTERM end training at the next batch boundary, never in the middle of a save."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

import keras

from forecast.errors import Interrupted


class StopOnSignal(keras.callbacks.Callback):
    """Ends training at the next batch boundary once SIGINT/SIGTERM arrived (see `signals`).

    Args:
        received: the list `signals()` appends signal numbers to; shared, so the handler stays tiny.
    """

    def __init__(self, received: list[int]):
        super().__init__()
        self.received = received

    def _check(self, *args, **kwargs):
        if self.received:
            name = signal.Signals(self.received[0]).name
            raise Interrupted(f"interrupted by {name}", self.received[0])

    on_train_batch_end = on_test_batch_end = on_epoch_end = _check


_active: list[list[int]] = []  # the flags of the signals() contexts open in this process


@contextmanager
def signals():
    """Turn SIGINT/SIGTERM into a flag that StopOnSignal acts on between batches, never mid-save.

    Nested inside another signals() (a tuning worker's loop around each trial's), it shares the
    outer flag: a signal the trial finished despite still stops the loop. A signal that arrived
    after training (during the final writes, or while a diverged run saves its last good weights)
    is deferred, not dropped: when the block ends it is raised again under the handler that was
    there before (the CLI's exits 143 or 130; Python's default for SIGTERM ends the process), so
    `forecast sweep` or a user's loop stops instead of starting its next run. Only an `Interrupted`
    (or KeyboardInterrupt) leaving the block already says that it stopped on the signal.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # the API in a worker thread
        yield received  # Python lets only the main thread install handlers; the process's own apply
        return
    if _active:
        yield _active[-1]
        return

    def handler(signum, frame):
        received.append(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    _active.append(received)
    deliver = True
    try:
        yield received
    except (Interrupted, KeyboardInterrupt):
        deliver = False
        raise
    finally:
        _active.pop()
        for s, h in previous.items():
            signal.signal(s, h)
        if deliver and received:  # over an error on its way out too: the user's stop comes first
            signal.raise_signal(received[0])
