"""Lazy batches of windows for Keras, on any backend.

A `keras.utils.PyDataset` gathers each batch from the scaled series by index (see windows.py),
so no window is stored. Training batches all have the same size (the last one is topped up from
the start of the epoch's order), so the compiled train step is traced once, not once more for a
ragged tail.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from forecast import backend
from forecast.windows import WindowSpec


class WindowDataset(keras.utils.PyDataset):
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
    ) -> None:
        super().__init__()
        self.x, self.y, self.spec = x, y, spec
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
        stream = np.concatenate([self._pass(k) for k in passes])
        offset = start - passes[0] * n
        return stream[offset : offset + size]

    def __len__(self) -> int:
        return self.steps if self.steps is not None else math.ceil(len(self.origins) / self.batch_size)

    def __getitem__(self, index: int):
        origins = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.spec.inputs(self.x, origins)
        if self.y is None:
            return x
        return x, self.spec.targets(self.y, origins)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        if self.shuffle or self.steps is not None:
            self.order = self._epoch_order()


def predict(model: keras.Model, x: np.ndarray, origins: np.ndarray, spec: WindowSpec, batch_size: int) -> np.ndarray:
    """Scaled predictions (windows, horizon, targets) for every origin, in order.

    Batches are full (the tail is padded with repeats and the extra rows dropped), so inference
    compiles one shape however many windows there are.
    """
    dataset = WindowDataset(x, None, origins, spec, batch_size, full_batches=True)
    return np.asarray(model.predict(backend.batches(dataset), verbose=0))[: len(origins)]
