"""Keras layers for the long-horizon options: instance normalization, channel independence,
SegRNN's parallel decoding, and the base forecasts a network can learn the residual of.

Written with `keras.ops` only (every backend), registered for `.keras` files, and free of
Python lambdas, so runs load with safe_mode=True.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from forecast.config.schema.data import CALENDAR

PACKAGE = "forecast"


@keras.saving.register_keras_serializable(PACKAGE)
class InstanceNorm(keras.layers.Layer):
    """Subtract each window's last value or mean per channel, and add it back to the forecast.

    Distribution shift between train and test (ETTh1's level drifts) hurts a network that sees
    absolute levels; removing the window's own level makes it forecast changes. With `std`, each
    window is also divided by its own standard deviation per channel, so calm and volatile
    windows reach the network at one scale; with `affine`, a learnable per-channel scale and bias
    follow (both: RevIN, Kim et al. 2022). Called on the input it returns (normalized, stats),
    stats the level (batch, 1, channels) with the standard deviation stacked under it when `std`;
    called with `inverse=True` on a (batch, horizon, targets) forecast it undoes the transform for
    the target channels `targets` (indices into features).
    """

    def __init__(
        self, mode: str, targets: list[int], affine: bool = False, channels: int | None = None, std: bool = False,
        **kwargs,
    ):  # fmt: skip
        super().__init__(**kwargs)
        self.mode, self.targets, self.affine, self.channels, self.std = mode, list(targets), affine, channels, std

    def build(self, input_shape):
        channels = input_shape[-1]
        if self.affine:
            self.scale = self.add_weight(shape=(channels,), initializer="ones", name="scale")
            self.bias = self.add_weight(shape=(channels,), initializer="zeros", name="bias")

    def call(self, x, shift=None, inverse=False):
        if not inverse:
            shift = x[:, -1:, :] if self.mode == "last" else ops.mean(x, axis=1, keepdims=True)
            mask = None
            if self.channels is not None:  # only the leading channels (a panel's calendar keeps its phase)
                mask = ops.cast(ops.arange(ops.shape(x)[-1]) < self.channels, x.dtype)
                shift = shift * mask
            x = x - shift
            if self.std:  # RevIN's epsilon: a flat window is divided by about 0.003, not by zero
                std = ops.sqrt(ops.var(x, axis=1, keepdims=True) + 1e-5)
                if mask is not None:
                    std = std * mask + (1 - mask)
                x = x / std
                shift = ops.concatenate([shift, std], axis=1)
            if self.affine:
                x = x * self.scale + self.bias
            return x, shift
        index = ops.convert_to_tensor(self.targets, dtype="int32")
        if self.affine:
            x = (x - ops.take(self.bias, index)) / (ops.take(self.scale, index) + 1e-8)
        if self.std:
            x = x * ops.take(shift[:, 1:2, :], index, axis=2)
        return x + ops.take(shift[:, :1, :], index, axis=2)

    def compute_output_spec(self, x, shift=None, inverse=False):
        if not inverse:
            stats = (x.shape[0], 2 if self.std else 1, x.shape[2])
            return keras.KerasTensor(x.shape, x.dtype), keras.KerasTensor(stats, x.dtype)
        return keras.KerasTensor(x.shape, x.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "targets": self.targets,
            "affine": self.affine,
            "channels": self.channels,
            "std": self.std,
        }


@keras.saving.register_keras_serializable(PACKAGE)
class ChannelsToBatch(keras.layers.Layer):
    """(batch, time, channels) -> (batch * channels, time, 1): one shared network per channel."""

    def call(self, x):
        t = ops.shape(x)[1]
        return ops.reshape(ops.transpose(x, (0, 2, 1)), (-1, t, 1))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] * input_shape[2]
        return (batch, input_shape[1], 1)


@keras.saving.register_keras_serializable(PACKAGE)
class BatchToChannels(keras.layers.Layer):
    """(batch * channels, horizon) -> (batch, horizon, channels), undoing ChannelsToBatch; a quantile
    model's (batch * channels, horizon, quantiles) -> (batch, horizon, quantiles * channels), quantile-major."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels

    def call(self, x):
        if len(x.shape) == 2:
            return ops.transpose(ops.reshape(x, (-1, self.channels, ops.shape(x)[-1])), (0, 2, 1))
        horizon, quantiles = ops.shape(x)[1], ops.shape(x)[2]
        x = ops.transpose(ops.reshape(x, (-1, self.channels, horizon, quantiles)), (0, 2, 3, 1))
        return ops.reshape(x, (-1, horizon, quantiles * self.channels))

    def compute_output_shape(self, input_shape):
        if len(input_shape) == 2:
            return (None, input_shape[-1], self.channels)
        return (None, input_shape[1], input_shape[2] * self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(PACKAGE)
class SegmentQueries(keras.layers.Layer):
    """SegRNN's parallel multi-step decoding: one decoder input per output segment.

    For each of `segments` output segments, a learned position embedding (concatenated with a
    learned channel embedding when `channels` > 0: rows of the batch are channel-major, as
    ChannelsToBatch leaves them) becomes a one-step input to the encoder's own recurrent
    cell, started from the encoder's final state. All segments go through in one batched step
    instead of a loop over the horizon: (batch, ...) -> (batch * segments, 1, width).
    """

    def __init__(self, segments: int, width: int, channels: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.segments, self.width, self.channels = segments, width, channels

    def build(self, input_shape):
        position_width = self.width // 2 if self.channels else self.width
        self.position = self.add_weight(
            shape=(self.segments, position_width), initializer="random_normal", name="position"
        )
        if self.channels:
            self.channel = self.add_weight(
                shape=(self.channels, self.width - position_width), initializer="random_normal", name="channel"
            )

    def call(self, state):
        batch = ops.shape(state)[0]
        queries = ops.tile(self.position[None], (batch, 1, 1))  # (batch, segments, position_width)
        if self.channels:
            channel_of_row = ops.mod(ops.arange(batch), self.channels)
            channel = ops.take(self.channel, channel_of_row, axis=0)[:, None, :]
            queries = ops.concatenate([queries, ops.tile(channel, (1, self.segments, 1))], axis=-1)
        return ops.reshape(queries, (-1, 1, self.width))

    def compute_output_shape(self, input_shape):
        return (None, 1, self.width)

    def get_config(self):
        return {**super().get_config(), "segments": self.segments, "width": self.width, "channels": self.channels}


@keras.saving.register_keras_serializable(PACKAGE)
class RepeatRows(keras.layers.Layer):
    """Repeat each row `times` times along the batch axis (a state for every output segment)."""

    def __init__(self, times: int, **kwargs):
        super().__init__(**kwargs)
        self.times = times

    def call(self, x):
        return ops.repeat(x, self.times, axis=0)

    def compute_output_shape(self, input_shape):
        return (None, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "times": self.times}


@keras.saving.register_keras_serializable(PACKAGE)
class MergeSegments(keras.layers.Layer):
    """(batch * segments, segment_len * targets) -> (batch, horizon, targets), cut to the horizon."""

    def __init__(self, segments: int, horizon: int, targets: int, **kwargs):
        super().__init__(**kwargs)
        self.segments, self.horizon, self.targets = segments, horizon, targets

    def call(self, x):
        return ops.reshape(x, (-1, self.segments * ops.shape(x)[-1] // self.targets, self.targets))[
            :, : self.horizon, :
        ]

    def compute_output_shape(self, input_shape):
        return (None, self.horizon, self.targets)

    def get_config(self):
        return {**super().get_config(), "segments": self.segments, "horizon": self.horizon, "targets": self.targets}


@keras.saving.register_keras_serializable(PACKAGE)
class SeasonalNaive(keras.layers.Layer):
    """A base forecast (`model.base: seasonal_naive`): each horizon row's target value one season
    earlier, read from the window itself, so it never sees past the origin.

    With `seasons` > 1, a seasonal profile instead: each row's value averaged over that point of
    the window's last `seasons` seasons, moved from their mean level to the last season's
    (`model.base_seasons`). One season's values carry that season's noise into every forecast;
    the average keeps the shape and drops most of the noise, as ETS's seasonal smoothing or
    seasonal ARIMA's seasonal moving average do. Its weights sum to one, so like seasonal naive
    it moves with the window's level (and commutes with instance_norm).

    Args:
        targets: the target columns' indices in the window.
        lags: per horizon row, how many timesteps before the window's last one its value sits
            (`model.seasonal_lags`). A shorter window (variable_length) reads its oldest row instead
            of one it does not have.
        seasons: whole seasons averaged (1: seasonal naive).
        period: timesteps per season; needed with seasons > 1.
    """

    def __init__(self, targets: list[int], lags: list[int], seasons: int = 1, period: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.targets, self.lags, self.seasons, self.period = list(targets), list(lags), seasons, period

    def call(self, x):
        x = ops.take(x, ops.convert_to_tensor(self.targets, dtype="int32"), axis=2)
        if self.seasons == 1:
            return lagged(x, self.lags)
        k, m = self.seasons, self.period
        profile = sum(lagged(x, [lag + j * m for lag in self.lags]) for j in range(k)) / k
        level = ops.mean(x[:, -m:], axis=1, keepdims=True) - ops.mean(x[:, -k * m :], axis=1, keepdims=True)
        return profile + level

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.lags), len(self.targets))

    def get_config(self):
        profile = {"seasons": self.seasons, "period": self.period} if self.seasons > 1 else {}
        return {**super().get_config(), "targets": self.targets, "lags": self.lags, **profile}


@keras.saving.register_keras_serializable(PACKAGE)
class ExponentialSmoothing(keras.layers.Layer):
    """A base forecast (`model.base: ets`): exponential smoothing of the window, in the graph, as
    ETS(A,N,A) with a fixed season: the seasonal profile of the window's last `seasons` seasons (each
    point of the season averaged over them, as `SeasonalNaive`'s profile) plus the level of the
    deseasonalised window, exponentially smoothed (simple exponential smoothing), with alpha learned
    per target channel like the network's weights, as ES-RNN learns its smoothing coefficients.
    The smoothed level is a weighted mean of the window's rows with weights alpha (1 - alpha)^age
    (the oldest row takes the rest, so they sum to one), so it moves with the window's level and
    commutes with instance_norm, and it never reads past the origin. Without a season (`period`
    None), the level of the window itself.

    Alpha starts at 2 / (period + 1), period in timesteps, the exponential average that spans about
    one season (without a season, 0.5), and stays in (0, 1) as the sigmoid of the learned weight.

    Args:
        targets: the target columns' indices in the window.
        horizon: forecast rows.
        lags: per horizon row, how many timesteps before the window's last one its point of the
            season sits (`model.seasonal_lags`); None without a season.
        seasons: whole seasons the profile averages.
        period: timesteps per season; None: no season.
    """

    def __init__(
        self, targets: list[int], horizon: int, lags: list[int] | None = None, seasons: int = 1,
        period: int | None = None, **kwargs,
    ):  # fmt: skip
        super().__init__(**kwargs)
        self.targets, self.horizon, self.lags, self.seasons, self.period = list(targets), horizon, lags, seasons, period

    def build(self, input_shape):
        alpha = 2 / (self.period + 1) if self.period and self.period > 1 else 0.5
        start = keras.initializers.Constant(math.log(alpha / (1 - alpha)))
        self.alpha = self.add_weight(shape=(len(self.targets),), initializer=start, name="alpha_logit")

    def call(self, x):
        x = ops.take(x, ops.convert_to_tensor(self.targets, dtype="int32"), axis=2)
        if self.period is None:
            rows, seasonal = x, 0.0
        else:
            k, m = self.seasons, self.period
            rows = x[:, -k * m :]
            shape = ops.shape(rows)
            points = ops.mean(ops.reshape(rows, (shape[0], k, m, shape[2])), axis=1)  # (batch, m, targets)
            deviation = points - ops.mean(points, axis=1, keepdims=True)
            rows = rows - ops.tile(deviation, (1, k, 1))  # deseasonalised
            # each horizon row's point of the season: its lag's row in the last season
            seasonal = ops.take(deviation, ops.convert_to_tensor([m - 1 - lag for lag in self.lags], "int32"), axis=1)
        alpha = ops.sigmoid(self.alpha)
        age = ops.arange(ops.shape(rows)[1] - 1, -1, -1, dtype=rows.dtype)[:, None]  # 0 at the last row
        decay = ops.power(1 - alpha, age)  # (rows, targets); the oldest row takes the rest: weights sum to one
        weights = ops.concatenate([decay[:1], alpha * decay[1:]], axis=0)
        level = ops.sum(rows * weights[None], axis=1, keepdims=True)
        return ops.repeat(level, self.horizon, axis=1) + seasonal

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon, len(self.targets))

    def get_config(self):
        season = {"lags": self.lags, "seasons": self.seasons, "period": self.period} if self.period else {}
        return {**super().get_config(), "targets": self.targets, "horizon": self.horizon, **season}


def lagged(x, lags: list[int]):
    """(batch, timesteps, features) -> (batch, len(lags), features): per horizon row, the timestep
    `lag` before the window's last one; a shorter window (variable_length) gives its oldest row
    instead of one it does not have."""
    rows = ops.maximum(ops.shape(x)[1] - 1 - ops.convert_to_tensor(lags, dtype="int32"), 0)
    return ops.take(x, rows, axis=1)


@keras.saving.register_keras_serializable(PACKAGE)
class RepeatLast(SeasonalNaive):
    """The common-sense baseline as a model: each target's last input value over the horizon (a
    season of one row).

    `model.cell: naive` builds only this, so the baseline is trained (not at all), evaluated,
    reported and used for prediction exactly like a network.
    """

    def __init__(self, targets: list[int], horizon: int, **kwargs):
        super().__init__(targets, [0] * horizon, **kwargs)
        self.horizon = horizon

    def get_config(self):
        config = super().get_config()
        del config["lags"]
        return {**config, "horizon": self.horizon}


@keras.saving.register_keras_serializable(PACKAGE)
class LinearBase(keras.layers.Layer):
    """A base forecast (`model.base: linear`): a learned linear map from the window's timesteps to
    the horizon, per target channel (DLinear's linear layer over the time axis; after
    instance_norm: last, NLinear's). Zero-initialised, as the network's head is under a base: an
    untrained model forecasts zero before instance_norm's inverse, i.e. the window's last value (or
    mean) repeated, and training moves it from there.

    Args:
        targets: the target columns' indices in the window.
        horizon: forecast rows.
        shared: one map for every channel (DLinear's default), else one per target channel.
    """

    def __init__(self, targets: list[int], horizon: int, shared: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.targets, self.horizon, self.shared = list(targets), horizon, shared

    def build(self, input_shape):
        channels = () if self.shared else (len(self.targets),)
        shape = (*channels, input_shape[1], self.horizon)
        self.kernel = self.add_weight(shape=shape, initializer="zeros", name="kernel")
        self.bias = self.add_weight(shape=(*channels, self.horizon), initializer="zeros", name="bias")

    def call(self, x):
        series = ops.take(x, ops.convert_to_tensor(self.targets, dtype="int32"), axis=2)
        if self.shared:  # (batch, channels, timesteps) @ (timesteps, horizon)
            return ops.transpose(ops.matmul(ops.transpose(series, (0, 2, 1)), self.kernel) + self.bias, (0, 2, 1))
        # each channel its own map: (channels, batch, timesteps) @ (channels, timesteps, horizon)
        out = ops.matmul(ops.transpose(series, (2, 0, 1)), self.kernel) + self.bias[:, None, :]
        return ops.transpose(out, (1, 2, 0))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon, len(self.targets))

    def get_config(self):
        return {**super().get_config(), "targets": self.targets, "horizon": self.horizon, "shared": self.shared}


@keras.saving.register_keras_serializable(PACKAGE)
class CalendarBase(keras.layers.Layer):
    """A seasonal profile added to the base (`model.base_calendar`): harmonic regression on the
    calendar, a learned linear function w·f(t) per target channel of the calendar's sin/cos pairs
    and their higher harmonics, at each target row, less the same function at the rows the rest of
    the forecast is relative to. Zero-initialised, so training starts from the base alone.

    A season longer than the lookback (a year of weekly data) reaches the model through its
    calendar columns, which are known for the horizon, so the profile needs no long window. The
    k-th harmonic of a cycle, (sin kθ, cos kθ), comes from its (sin θ, cos θ) by the angle-addition
    recurrence: the columns the model already receives, no stamps needed.

    Args:
        window_columns: the calendar columns' indices in the window, sin/cos pairs in order.
        future_columns: the same columns' indices in the future input.
        targets: target channels (one profile each).
        harmonics: harmonics per cycle (K: 2K terms per cycle).
        reference: what the profile is taken relative to (`model.calendar_reference`): "last", the
            window's last row (instance_norm: last); "mean", the window's mean; "lags", the rows
            seasonal_naive repeats; "none", nothing, with a bias per target instead.
        lags: per horizon row, timesteps before the window's last one (reference "lags" only).
    """

    def __init__(self, window_columns, future_columns, targets, harmonics, reference, lags=None, **kwargs):
        super().__init__(**kwargs)
        self.window_columns, self.future_columns = list(window_columns), list(future_columns)
        self.targets, self.harmonics, self.reference = targets, harmonics, reference
        self.lags = None if lags is None else list(lags)

    def build(self, input_shape):
        terms = len(self.window_columns) * self.harmonics
        self.kernel = self.add_weight(shape=(terms, self.targets), initializer="zeros", name="kernel")
        if self.reference == "none":
            self.bias = self.add_weight(shape=(self.targets,), initializer="zeros", name="bias")

    def terms(self, x, columns):
        """(..., rows, 2 * cycles) sin/cos pairs -> (..., rows, 2 * cycles * harmonics): every cycle's
        sin kθ, then their cos kθ, for k = 1 .. harmonics (the kernel's row order)."""
        pairs = ops.take(x, ops.convert_to_tensor(columns, dtype="int32"), axis=-1)
        sin1, cos1 = pairs[..., 0::2], pairs[..., 1::2]
        out, sin, cos = [], sin1, cos1
        for _ in range(self.harmonics):
            out += [sin, cos]
            sin, cos = sin * cos1 + cos * sin1, cos * cos1 - sin * sin1
        return ops.concatenate(out, axis=-1)

    def call(self, inputs):
        window, future = inputs
        f = self.terms(future, self.future_columns)
        if self.reference == "last":
            f = f - self.terms(window[:, -1:, :], self.window_columns)
        elif self.reference == "mean":
            f = f - ops.mean(self.terms(window, self.window_columns), axis=1, keepdims=True)
        elif self.reference == "lags":  # as SeasonalNaive reads them
            f = f - self.terms(lagged(window, self.lags), self.window_columns)
        out = ops.matmul(f, self.kernel)
        return out + self.bias if self.reference == "none" else out

    def compute_output_shape(self, input_shape):
        return (input_shape[1][0], input_shape[1][1], self.targets)

    def get_config(self):
        return {**super().get_config(), "window_columns": self.window_columns, "future_columns": self.future_columns,
                "targets": self.targets, "harmonics": self.harmonics, "reference": self.reference,
                "lags": self.lags}  # fmt: skip


@keras.saving.register_keras_serializable(PACKAGE)
class TakeColumn(keras.layers.Layer):
    """(batch, columns) -> (batch,): one column (a categorical static covariate's codes)."""

    def __init__(self, column: int, **kwargs):
        super().__init__(**kwargs)
        self.column = column

    def call(self, x):
        return x[:, self.column]

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "column": self.column}


@keras.saving.register_keras_serializable(PACKAGE)
class AppendToSteps(keras.layers.Layer):
    """[(batch, time, channels), (batch, width)] -> (batch, time, channels + width): a series' static
    values beside its inputs at every time step."""

    def call(self, inputs):
        x, static = inputs
        repeated = ops.repeat(static[:, None, :], ops.shape(x)[1], axis=1)
        return ops.concatenate([x, ops.cast(repeated, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        x, static = input_shape
        return (x[0], x[1], x[2] + static[-1])


@keras.saving.register_keras_serializable(PACKAGE)
class SegmentRows(keras.layers.Layer):
    """(batch, horizon, columns) -> (batch * segments, 1, segment_len * columns): the horizon's known
    values cut into the parallel decoder's output segments (zero-padded to whole segments)."""

    def __init__(self, segments: int, segment_len: int, **kwargs):
        super().__init__(**kwargs)
        self.segments, self.segment_len = segments, segment_len

    def call(self, x):
        pad = self.segments * self.segment_len - ops.shape(x)[1]
        x = ops.pad(x, ((0, 0), (0, pad), (0, 0)))
        return ops.reshape(x, (-1, 1, self.segment_len * ops.shape(x)[-1]))

    def compute_output_shape(self, input_shape):
        return (None, 1, self.segment_len * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "segments": self.segments, "segment_len": self.segment_len}


@keras.saving.register_keras_serializable(PACKAGE)
class MonotoneQuantiles(keras.layers.Layer):
    """(batch, horizon, quantiles * targets), quantile-major -> (batch, horizon, quantiles, targets)
    whose quantiles never cross, by construction rather than by sorting afterwards.

    The median slot is the forecast itself; each quantile above it is the one below plus
    softplus(its raw value - the median's raw value), and each below the one above minus the same.
    Built from differences, it can come last in the model: a level instance_norm adds to every slot
    cancels, so the bounds' widths never depend on the series' level.

    Args:
        quantiles: how many quantiles (the model's sorted levels).
        median: the index of 0.5 among them.
    """

    def __init__(self, quantiles: int, median: int, **kwargs):
        super().__init__(**kwargs)
        self.quantiles, self.median = quantiles, median

    def call(self, x):
        x = ops.reshape(x, (-1, ops.shape(x)[1], self.quantiles, ops.shape(x)[-1] // self.quantiles))
        center = x[:, :, self.median : self.median + 1, :]
        gaps = ops.softplus(x - center)
        above = center + ops.cumsum(gaps[:, :, self.median + 1 :, :], axis=2)
        below = center - ops.flip(ops.cumsum(ops.flip(gaps[:, :, : self.median, :], axis=2), axis=2), axis=2)
        return ops.concatenate([below, center, above], axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.quantiles, input_shape[-1] // self.quantiles)

    def get_config(self):
        return {**super().get_config(), "quantiles": self.quantiles, "median": self.median}


@keras.saving.register_keras_serializable(PACKAGE)
class Affine(keras.layers.Layer):
    """x * scale + shift per column, in float64, with one row of parameters per series (gathered by
    each sample's series index) or one row for all: a run's scaler or its inverse inside an exported
    graph. Float64 so that the exported forecast equals `forecast predict`'s, which scales in float64.

    Args:
        scale, shift: (series, columns) tables.
        output_dtype: the dtype of the result (float32 into the network, float64 out of it).
        low, high: optional (series, columns) tables the result is kept within (scaler.clip).
    """

    def __init__(self, scale, shift, output_dtype: str = "float32", low=None, high=None, **kwargs):
        super().__init__(**kwargs)
        self.table_scale = [[float(v) for v in row] for row in scale]
        self.table_shift = [[float(v) for v in row] for row in shift]
        self.output_dtype = output_dtype
        self.table_low = None if low is None else [[float(v) for v in row] for row in low]
        self.table_high = None if high is None else [[float(v) for v in row] for row in high]

    def call(self, x, series=None):
        scale = ops.convert_to_tensor(self.table_scale, dtype="float64")
        shift = ops.convert_to_tensor(self.table_shift, dtype="float64")
        index = ops.zeros((ops.shape(x)[0],), dtype="int32") if series is None else ops.cast(series, "int32")
        shape = (-1,) + (1,) * (len(x.shape) - 2) + (len(self.table_scale[0]),)
        scale = ops.reshape(ops.take(scale, index, axis=0), shape)
        shift = ops.reshape(ops.take(shift, index, axis=0), shape)
        out = ops.cast(x, "float64") * scale + shift
        for table, keep in ((self.table_low, ops.maximum), (self.table_high, ops.minimum)):
            if table is not None:
                bound = ops.take(ops.convert_to_tensor(table, dtype="float64"), index, axis=0)
                out = keep(out, ops.reshape(bound, shape))
        return ops.cast(out, self.output_dtype)

    def compute_output_spec(self, x, series=None):
        return keras.KerasTensor(x.shape, self.output_dtype)

    def get_config(self):
        return {**super().get_config(), "scale": self.table_scale, "shift": self.table_shift,
                "output_dtype": self.output_dtype, "low": self.table_low, "high": self.table_high}  # fmt: skip


@keras.saving.register_keras_serializable(PACKAGE)
class WindowBounds(keras.layers.Layer):
    """A run's calibrated interval bounds inside an exported graph (see `forecast.intervals`):
    each window's scale from its scaled target columns, then the method's bounds per level, nested
    and around the median. (batch, horizon, bounds, targets), lower bounds first, scaled values.

    Args:
        method: conformal, quantiles or cqr; levels: ascending.
        corrections: (levels, horizon, targets), or None for quantiles; floor: (targets,).
        lag: the lag of the scale's differences; targets: the target columns' indices in the window.
        quantiles: the model's output levels ([] for a point model).
    """

    def __init__(self, method, levels, corrections, floor, lag, targets, quantiles, **kwargs):
        super().__init__(**kwargs)
        self.method, self.levels, self.lag, self.targets = method, list(levels), int(lag), list(targets)
        self.corrections = corrections if corrections is None else [[list(map(float, r)) for r in c]
                                                                    for c in corrections]  # fmt: skip
        self.floor, self.quantiles = [float(v) for v in floor], [float(v) for v in quantiles]

    def _index(self, q):
        return next(i for i, v in enumerate(self.quantiles) if abs(v - q) < 1e-9)

    def call(self, window, pred):
        rows = ops.take(window, ops.convert_to_tensor(self.targets, dtype="int32"), axis=2)
        differences = ops.cast(rows[:, self.lag :, :] - rows[:, : -self.lag, :], "float64")  # as NumPy does
        scale = ops.mean(ops.abs(differences), axis=1)
        scale = ops.maximum(scale, ops.convert_to_tensor(self.floor, dtype="float64"))[:, None, :]
        pred = ops.cast(pred, "float64")
        center = pred[:, :, self.quantiles.index(0.5), :] if self.quantiles else pred
        lowers, uppers, inner = [], [], (center, center)
        for k, level in enumerate(self.levels):
            c = None if self.corrections is None else ops.convert_to_tensor(self.corrections[k], dtype="float64")
            if self.method == "conformal":
                low, high = center - c * scale, center + c * scale
            else:
                low = pred[:, :, self._index((1 - level) / 2), :]
                high = pred[:, :, self._index((1 + level) / 2), :]
                if self.method == "cqr":
                    low, high = low - c * scale, high + c * scale
            inner = (ops.minimum(low, inner[0]), ops.maximum(high, inner[1]))
            lowers.append(inner[0])
            uppers.append(inner[1])
        return ops.stack([*reversed(lowers), *uppers], axis=2)

    def compute_output_spec(self, window, pred):
        return keras.KerasTensor((window.shape[0], pred.shape[1], 2 * len(self.levels), pred.shape[-1]), "float64")

    def get_config(self):
        return {**super().get_config(), "method": self.method, "levels": self.levels, "corrections": self.corrections,
                "floor": self.floor, "lag": self.lag, "targets": self.targets, "quantiles": self.quantiles}  # fmt: skip


@keras.saving.register_keras_serializable(PACKAGE)
class Select(keras.layers.Layer):
    """One index along `axis`, that axis dropped: a quantile model's median, (batch, horizon, targets)."""

    def __init__(self, index: int, axis: int, **kwargs):
        super().__init__(**kwargs)
        self.index, self.axis = index, axis

    def call(self, x):
        return ops.take(x, self.index, axis=self.axis)

    def compute_output_spec(self, x):
        shape = list(x.shape)
        del shape[self.axis]
        return keras.KerasTensor(tuple(shape), x.dtype)

    def get_config(self):
        return {**super().get_config(), "index": self.index, "axis": self.axis}


def _floor_div(a, b):
    """floor(a / b) of integer-valued float64 tensors: exact while |a| < 2**53 and the quotient is
    far from the next integer relative to float64's precision (true of every stamp here). Plain
    numbers (a constant month or day) stay plain: a float32 constant tensor would not mix with float64."""
    return math.floor(a / b) if isinstance(a, float) else ops.floor(a / b)


def _civil(days):
    """(year, month, day) of each day counted from 1970-01-01, proleptic Gregorian: Howard
    Hinnant's civil_from_days (a year from March, so that February's leap day comes last), with
    floor divisions so that days before 1970 work too."""
    z = days + 719468.0  # days from 0000-03-01
    era = _floor_div(z, 146097.0)  # 400-year eras
    doe = z - era * 146097.0  # day of era, [0, 146096]
    yoe = _floor_div(doe - _floor_div(doe, 1460.0) + _floor_div(doe, 36524.0) - _floor_div(doe, 146096.0), 365.0)
    doy = doe - (365.0 * yoe + _floor_div(yoe, 4.0) - _floor_div(yoe, 100.0))  # day of the March-based year
    mp = _floor_div(5.0 * doy + 2.0, 153.0)  # month from March = 0
    day = doy - _floor_div(153.0 * mp + 2.0, 5.0) + 1.0
    january_or_february = _floor_div(mp, 10.0)  # 1 for mp 10 and 11: they belong to the next civil year
    return yoe + era * 400.0 + january_or_february, mp + 3.0 - 12.0 * january_or_february, day


def _days(year, month, day):
    """Days from 1970-01-01 of a civil date (month 1..12): Hinnant's days_from_civil, the inverse of `_civil`."""
    y = year - _floor_div(12.0 - month, 10.0)  # January and February count in the previous March-based year
    era = _floor_div(y, 400.0)
    yoe = y - era * 400.0
    mp = month + 9.0 - 12.0 * _floor_div(month + 9.0, 12.0)  # March = 0
    doy = _floor_div(153.0 * mp + 2.0, 5.0) + day - 1.0
    doe = yoe * 365.0 + _floor_div(yoe, 4.0) - _floor_div(yoe, 100.0) + doy
    return era * 146097.0 + doe - 719468.0


@keras.saving.register_keras_serializable(PACKAGE)
class Calendar(keras.layers.Layer):
    """`forecast.calendar.features` inside an exported graph: (batch, steps) int64 time stamps ->
    (batch, steps, 2 * features) float32, the sin and cos of each cycle's phase, the columns that
    `calendar.names` lists.

    A stamp is whole seconds since 1970-01-01T00:00 of the wall-clock time the data's time column
    shows (a zoned column's local time), so that the graph needs no time-zone database. The civil
    date comes from floor arithmetic in float64 (Hinnant's days -> civil algorithm), not from date
    ops, which neither TensorFlow nor ONNX has: the phases equal pandas' to the last bit (each is
    integers and one or two divisions, as `calendar.phase` computes them), so a forecast from the
    graph equals `forecast predict`'s. The ISO week is that of the week's Thursday, whose year is
    the ISO year: (its day of that year) // 7 + 1, 52 or 53 weeks without a branch.

    Args:
        features: data.calendar's names (hour, day_of_week, day_of_month, month, day_of_year,
            week_of_year) in the run's order: the output's column order.
    """

    def __init__(self, features: list[str], **kwargs):
        super().__init__(**kwargs)
        unknown = [name for name in features if name not in CALENDAR]
        if unknown:
            raise ValueError(f"unknown calendar feature {unknown[0]!r} (known: {', '.join(CALENDAR)})")
        self.features = list(features)

    def phases(self, stamps):
        """Each wanted cycle's position in [0, 1), float64, (batch, steps) each."""
        seconds = ops.cast(stamps, "float64")
        days = _floor_div(seconds, 86400.0)
        return [self._phase(name, seconds, days) for name in self.features]

    @staticmethod
    def _phase(name: str, seconds, days):
        """`calendar.phase` of one cycle, from the stamps' seconds and days since 1970-01-01."""
        if name == "hour":
            of_day = seconds - days * 86400.0
            hour = _floor_div(of_day, 3600.0)
            minute = _floor_div(of_day - hour * 3600.0, 60.0)  # seconds are ignored, as calendar.phase does
            return (hour + minute / 60.0) / 24.0
        weekday = days + 3.0 - 7.0 * _floor_div(days + 3.0, 7.0)  # Monday = 0: 1970-01-01 was a Thursday
        if name == "day_of_week":
            return weekday / 7.0
        if name == "week_of_year":  # ISO: the week of its Thursday, whose year is the ISO year
            thursday = days - weekday + 3.0
            return _floor_div(thursday - _days(_civil(thursday)[0], 1.0, 1.0), 7.0) / 53.0
        year, month, day = _civil(days)
        if name == "day_of_month":
            december = _floor_div(month, 12.0)
            next_first = _days(year + december, month + 1.0 - 12.0 * december, 1.0)
            return (day - 1.0) / (next_first - (days - (day - 1.0)))
        if name == "month":
            return (month - 1.0) / 12.0
        first = _days(year, 1.0, 1.0)  # day_of_year: 365 or 366 days to the next January 1
        return (days - first) / (_days(year + 1.0, 1.0, 1.0) - first)

    def call(self, stamps):
        columns = []
        for phase in self.phases(stamps):
            angle = phase * (2 * math.pi)  # as calendar.features: 2 * pi * phase in float64, then float32
            columns += [ops.sin(angle), ops.cos(angle)]
        return ops.cast(ops.stack(columns, axis=-1), "float32")

    def compute_output_spec(self, stamps):
        return keras.KerasTensor((*stamps.shape, 2 * len(self.features)), "float32")

    def get_config(self):
        return {**super().get_config(), "features": self.features}
