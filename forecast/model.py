"""The stacked recurrent network a config describes, and what can be said of it without Keras.

`count_parameters` and `cudnn_blockers` are plain Python so that `forecast validate` answers
without importing TensorFlow; `build` imports Keras when it is called. A test checks that the
closed-form count equals Keras's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forecast import config as cfg
from forecast.windows import WindowSpec

if TYPE_CHECKING:
    import keras

# Weights per recurrent layer of `units` units fed `inputs` features:
# LSTM 4 gates: 4u(u + in + 1); GRU with reset_after (Keras's default, the cuDNN layout) has
# two bias vectors: 3u(u + in + 2); SimpleRNN: u(u + in + 1).
_GATES = {"lstm": (4, 1), "gru": (3, 2), "simple_rnn": (1, 1)}


def count_parameters(model: cfg.Model, spec: WindowSpec, n_features: int, n_targets: int) -> int:
    gates, biases = _GATES[model.cell]
    directions = 2 if model.bidirectional else 1
    total, width = 0, n_features
    for layer in model.layers:
        u = layer.units
        total += directions * gates * u * (u + width + biases)
        width = directions * u
    for units in [*model.dense, spec.horizon * n_targets]:
        total += (width + 1) * units
        width = units
    return total


def cudnn_blockers(model: cfg.Model) -> list[str]:
    """Why a config cannot use the fused cuDNN kernel on a GPU; empty when it can.

    Keras takes the cuDNN path for LSTM/GRU only with tanh/sigmoid activations, no recurrent
    dropout, no unroll and use_bias=True; `forecast` fixes the last three, so only the cell
    and recurrent_dropout can rule it out.
    """
    if model.cell == "simple_rnn":
        return ["model.cell=simple_rnn has no cuDNN kernel (use lstm or gru)"]
    return [
        f"model.layers[{i}].recurrent_dropout={layer.recurrent_dropout:g} > 0"
        for i, layer in enumerate(model.layers)
        if layer.recurrent_dropout > 0
    ]


def build(model: cfg.Model, spec: WindowSpec, n_features: int, n_targets: int) -> keras.Model:
    """Input (batch, timesteps, features) -> output (batch, horizon, targets), direct multi-output."""
    import keras

    cell = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}[model.cell]
    reg = keras.regularizers.L2(model.l2) if model.l2 else None
    inputs = keras.Input((spec.timesteps, n_features), name="window")
    x = inputs
    for i, layer in enumerate(model.layers):
        rnn = cell(
            layer.units,
            dropout=layer.dropout,
            recurrent_dropout=layer.recurrent_dropout,
            return_sequences=i < len(model.layers) - 1,
            kernel_regularizer=reg,
            recurrent_regularizer=reg,
            name=f"{model.cell}_{i}",
        )
        x = (keras.layers.Bidirectional(rnn, name=f"bidirectional_{i}") if model.bidirectional else rnn)(x)
        if model.dropout_between:
            x = keras.layers.Dropout(model.dropout_between, name=f"dropout_{i}")(x)
    for i, units in enumerate(model.dense):
        x = keras.layers.Dense(units, activation="relu", kernel_regularizer=reg, name=f"dense_{i}")(x)
    x = keras.layers.Dense(spec.horizon * n_targets, kernel_regularizer=reg, name="head")(x)
    outputs = keras.layers.Reshape((spec.horizon, n_targets), name="forecast")(x)
    return keras.Model(inputs, outputs, name="forecast")
