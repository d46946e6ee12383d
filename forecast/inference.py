"""Running a trained model over windows: every split's predictions, and forecasts past a series' end.

Scores are computed elsewhere (`forecast.metrics`); this module only turns series into scaled
predictions of shape (windows, horizon, targets).
"""

from __future__ import annotations

import numpy as np

from forecast import backend
from forecast.dataset import WindowDataset
from forecast.errors import Error
from forecast.prepare import Prepared
from forecast.results import SCORED
from forecast.windows import Feed, WindowSpec

# Inference batch, in sequences the network sees: large enough for throughput, small enough that
# a batch's activations stay near 100 MB (1,024 sequences x 96 steps x an LSTM(64)'s 256 gate
# values x 4 bytes), and one constant so that `forecast evaluate` sees the same batches as
# `forecast train` and reproduces its numbers exactly.
PREDICT_SEQUENCES = 1024


def predict_batch(model) -> int:
    """Windows per inference batch: PREDICT_SEQUENCES sequences. A channel-independent model turns
    each window into one sequence per channel, so it takes that many times fewer windows."""
    channels = model.input_shape[-1] if _channel_independent(model) else 1
    return max(1, PREDICT_SEQUENCES // channels)


def _channel_independent(model) -> bool:
    return any(layer.name == "channels_to_batch" for layer in model.layers)


def predict_windows(
    model,
    x: np.ndarray,
    origins: np.ndarray,
    spec: WindowSpec,
    batch_size: int | None = None,
    feed: Feed | None = None,
) -> np.ndarray:
    """Scaled predictions (windows, horizon, targets) for every origin, in order.

    Batches (default: `predict_batch(model)` windows) are full (the tail is padded with repeats
    and the extra rows dropped), so inference compiles one shape however many windows there are.
    """
    if len(origins) == 0:
        return np.zeros((0, *model.output_shape[1:]), dtype=np.float32)
    batch_size = batch_size or predict_batch(model)
    dataset = WindowDataset(x, None, origins, spec, batch_size, full_batches=True, feed=feed)
    return np.asarray(model.predict(backend.batches(dataset), verbose=0))[: len(origins)]


def predict_splits(model, prepared: Prepared, splits: tuple[str, ...] = SCORED) -> dict[str, np.ndarray]:
    """Scaled predictions for every window of each split."""
    feed = prepared.feed()
    return {
        s: finite(predict_windows(model, prepared.x, prepared.origins[s], prepared.spec, feed=feed)) for s in splits
    }


def forecast_origins(
    model, x: np.ndarray, spec: WindowSpec, origins: np.ndarray, whole_history: bool = False, feed: Feed | None = None
) -> np.ndarray:
    """Scaled forecasts from each origin of a scaled series.

    With `whole_history`, a variable-length model forecasts from the last row using all the
    history it is given (sampled every `step`); otherwise each origin gets its lookback window.
    """
    if whole_history and spec.variable_length:
        history = x[(len(x) - 1) % spec.step :: spec.step]
        return np.asarray(model.predict(history[None], verbose=0))
    return predict_windows(model, x, origins, spec, feed=feed)


def finite(values: np.ndarray, what: str = "forecasts") -> np.ndarray:
    """`values`, if every one is finite: a NaN or infinite forecast is never written or scored.

    Raises:
        Error: exit 1, saying how many values are not finite.
    """
    bad = int(values.size - np.isfinite(values).sum())
    if bad:
        raise Error(f"{bad} of {values.size} {what} are not finite (NaN or infinite); nothing was written")
    return values
