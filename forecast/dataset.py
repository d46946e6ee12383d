"""Lazy batches of windows for Keras, on any backend.

A `keras.utils.PyDataset` gathers each batch from the scaled series by index (see windows.py),
so no window is stored. Training batches all have the same size (the last one is topped up from
the start of the epoch's order), so the compiled train step is traced once, not once more for a
ragged tail.
"""

from __future__ import annotations

import math
from typing import Protocol

import keras
import numpy as np

from forecast.windows import Feed, WindowSpec


class BatchSource(Protocol):
    """What `backend.batches` needs to gather a dataset's batches itself (TensorFlow's tf.data route)."""

    batch_size: int

    def arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The scaled series the windows are gathered from: (rows, features), (rows, targets) or None."""

    def offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """Row offsets from a window's origin to its inputs and to its targets."""

    def epoch_order(self) -> np.ndarray:
        """The origins of this epoch's batches, back to back (int64)."""

    def next_epoch(self) -> np.ndarray:
        """Advance one epoch, as Keras's `on_epoch_end` does, and return the new order."""

    feed: Feed | None  # a panel model's inputs beside the window


class WindowDataset(keras.utils.PyDataset):
    """A `BatchSource` that is also a PyDataset, so JAX and torch (and Keras on TF) can iterate it."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        origins: np.ndarray,
        spec: WindowSpec,
        batch_size: int,
        *,
        shuffle: bool = False,
        full_batches: bool = True,
        seed: int = 0,
        epoch: int = 0,
        steps: int | None = None,
        feed: Feed | None = None,
    ) -> None:
        super().__init__()
        self.x, self.y, self.spec, self.feed = x, y, spec, feed
        self.origins = np.asarray(origins)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.full_batches = full_batches
        self.steps = steps
        self.seed, self.epoch = seed, epoch
        self.order = self._epoch_order()  # the origins of this epoch's batches, back to back

    def _pass(self, k: int) -> np.ndarray:
        """The k-th pass over the windows. Seeded by (seed, k), not by a running generator, so
        a resumed run sees exactly the batches the uninterrupted run would have."""
        return np.random.default_rng([self.seed, k]).permutation(self.origins) if self.shuffle else self.origins

    def _epoch_order(self) -> np.ndarray:
        if self.steps is None:
            order = self._pass(self.epoch)
            if self.full_batches:
                pad = len(self) * self.batch_size - len(order)
                order = np.concatenate([order, np.resize(order, pad)]) if pad else order
            return order
        # steps_per_epoch: epochs are consecutive slices of an endless stream of passes
        size, n = self.steps * self.batch_size, len(self.origins)
        start = self.epoch * size
        passes = range(start // n, (start + size - 1) // n + 1)
        stream = self._pass(passes[0]) if len(passes) == 1 else np.concatenate([self._pass(k) for k in passes])
        offset = start - passes[0] * n
        return stream[offset : offset + size].copy()  # the epoch's slice, not every pass it came from

    def __len__(self) -> int:
        return self.steps if self.steps is not None else math.ceil(len(self.origins) / self.batch_size)

    def __getitem__(self, index: int):
        origins = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.spec.inputs(self.x, origins)
        if self.feed is not None:
            x = {"window": x, **self.feed.gather(self.spec, origins, self.x)}
        if self.y is None:
            return x
        return x, self.spec.targets(self.y, origins)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        if self.shuffle or self.steps is not None:
            self.order = self._epoch_order()

    # --- BatchSource ---
    def arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        return self.x, self.y

    def offsets(self) -> tuple[np.ndarray, np.ndarray]:
        return self.spec.input_offsets(), self.spec.target_offsets()

    def epoch_order(self) -> np.ndarray:
        return self.order.astype(np.int64, copy=False)

    def next_epoch(self) -> np.ndarray:
        self.on_epoch_end()
        return self.epoch_order()
