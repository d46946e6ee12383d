"""The pinball (quantile) loss of a quantile model, in `keras.ops` (every backend), registered for
`.keras` files so that a saved run loads and resumes with its loss."""

from __future__ import annotations

import keras
from keras import ops

from forecast.layers import PACKAGE


@keras.saving.register_keras_serializable(PACKAGE)
class Pinball(keras.losses.Loss):
    """Mean over quantiles, horizon steps and targets of max(q e, (q - 1) e), e = y - forecast.

    y_true is (batch, horizon, targets); y_pred (batch, horizon, quantiles, targets), as a quantile
    model returns it. Its minimiser is the q-quantile of y; averaged over many quantiles it
    approximates the CRPS (Gneiting & Raftery 2007).

    Args:
        quantiles: the levels of y_pred's quantile axis, in order.
    """

    def __init__(self, quantiles: list[float], name: str = "pinball", **kwargs):
        super().__init__(name=name, **kwargs)
        self.quantiles = [float(q) for q in quantiles]

    def call(self, y_true, y_pred):
        levels = ops.reshape(ops.convert_to_tensor(self.quantiles, dtype=y_pred.dtype), (1, 1, -1, 1))
        error = ops.expand_dims(ops.cast(y_true, y_pred.dtype), 2) - y_pred
        return ops.mean(ops.maximum(levels * error, (levels - 1) * error), axis=(1, 2, 3))

    def get_config(self):
        return {**super().get_config(), "quantiles": self.quantiles}
