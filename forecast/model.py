"""The stacked recurrent network a config describes, and what can be said of it without Keras.

`count_parameters` and `cudnn_blockers` are plain Python so that `forecast validate` answers
without importing TensorFlow; `build` imports Keras when it is called. A test checks that the
closed-form count equals Keras's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.windows import WindowSpec, seasonal_offsets

if TYPE_CHECKING:
    import keras

# Weights per recurrent layer of `units` units fed `inputs` features:
# LSTM 4 gates: 4u(u + in + 1); GRU with reset_after (Keras's default, the cuDNN layout) has
# two bias vectors: 3u(u + in + 2); SimpleRNN: u(u + in + 1). Public: lifecycle's memory estimate
# counts each cell's gate activations with it.
GATES = {"lstm": (4, 1), "gru": (3, 2), "simple_rnn": (1, 1), "naive": (0, 0)}


@dataclass(frozen=True)
class Extras:
    """A panel model's inputs beside the window, as plain numbers (so `validate` counts them without Keras).

    Attributes:
        future: columns of the window fed to the decoder at the target rows (future covariates, calendar).
        static: numeric static covariates per series.
        categories: size of each categorical static covariate's vocabulary (index 0: unseen).
        normalized: leading window columns instance_norm treats (the series' own values, not calendar).
    """

    future: list[int] = field(default_factory=list)
    static: int = 0
    categories: list[int] = field(default_factory=list)
    normalized: int | None = None

    @property
    def any(self) -> bool:
        return bool(self.future or self.static or self.categories)

    @property
    def calendar(self) -> list[int]:
        """Positions in `future` of the calendar columns: those past the series' own (`normalized`) columns."""
        return [] if self.normalized is None else [k for k, c in enumerate(self.future) if c >= self.normalized]


def embedding_size(vocabulary: int) -> int:
    """Width of a categorical static covariate's learned embedding: half its vocabulary, at most 8."""
    return max(1, min(8, vocabulary // 2))


def count_parameters(
    model: cfg.Model, spec: WindowSpec, n_features: int, n_targets: int, extras: Extras | None = None
) -> int:
    """Closed form of `build(...).count_params()`, so `forecast validate` needs no Keras. `model`:
    with model.base resolved (`Prepared.model`)."""
    if model.cell == "naive":
        return 0
    _resolved(model)
    extras = extras or Extras()
    gates, biases = GATES[model.cell]
    directions = 2 if model.bidirectional else 1
    total = 2 * n_features if model.instance_norm_affine else 0
    static_width = extras.static + sum(embedding_size(v) for v in extras.categories)
    total += sum(v * embedding_size(v) for v in extras.categories)
    width = (1 if model.channel_independent else n_features) + static_width
    outputs = (1 if model.channel_independent else n_targets) * len(model.quantiles or [None])
    if model.linear_base:
        total += (spec.timesteps + 1) * spec.horizon * (1 if model.base_shared else n_targets)
    if model.base == "ets":
        total += n_targets  # alpha per target
    if model.base_calendar:
        bias = calendar_reference(model) == "none"
        total += (len(extras.calendar) * model.base_calendar + bias) * n_targets
    if model.segment_len:
        embedding = model.layers[0].units
        total += (model.segment_len * width + 1) * embedding
        width = embedding
    query_width = width
    for layer in model.layers:
        u = layer.units
        total += directions * gates * u * (u + width + biases)
        width = directions * u
    if model.decoder == "parallel":
        segments = -(-spec.horizon // model.segment_len)
        position = query_width // 2 if model.channel_embedding else query_width
        total += segments * position + (n_features * (query_width - position) if model.channel_embedding else 0)
        conditions = model.segment_len * len(extras.future) + static_width
        total += (conditions + 1) * query_width if conditions else 0
        head = model.segment_len * outputs
    else:
        head = spec.horizon * outputs
        width += spec.horizon * len(extras.future) + static_width
    for units in [*model.dense, head]:
        total += (width + 1) * units
        width = units
    return total


def target_index(model: cfg.Model, features: list[str], targets: list[str]) -> list[int]:
    """Where each target sits among the features: instance norm adds the target's own level back."""
    if model.channel_independent and targets != features:
        raise ForecastError(
            "model.channel_independent: every channel forecasts itself, so data.targets must equal data.features"
        )
    # model.base auto is none there (`auto_base`), so it refuses nothing
    if model.instance_norm != "none" or model.cell == "naive" or model.base not in ("none", "auto"):
        missing = [t for t in targets if t not in features]
        if missing:
            key = "model.cell=naive" if model.cell == "naive" else "model.instance_norm"
            key = f"model.base={model.base}" if model.base not in ("none", "auto") else key
            raise ForecastError(
                f"{key}: target '{missing[0]}' is not among data.features, so there is no last value to use"
            )
    return [features.index(t) if t in features else 0 for t in targets]


def seasonal_lags(spec: WindowSpec, season: int | None, base: str = "seasonal_naive") -> list[int]:
    """Per horizon row, how many timesteps before the window's last one `base: seasonal_naive`
    reads: the row one (or more) whole seasons before the target, as the seasonal-naive baseline
    scores it (`windows.seasonal_offsets`), or with step > 1 the sampled row at or after it.

    Raises:
        ForecastError: no season, or a season longer than the window (exit 2, naming the keys).
    """
    if season is None:
        raise ForecastError(
            f"model.base={base} needs a season: set model.base_season (rows per season) or "
            "metrics.seasonality; the data has no regular time column to infer one from"
        )
    lags = _lags(spec, season)
    if max(lags) >= spec.timesteps:
        raise ForecastError(
            f"model.base={base}: a season of {season} rows needs window.lookback // window.step >= "
            f"{max(lags) + 1} timesteps (it is {spec.timesteps}); raise window.lookback or set model.base_season"
        )
    return lags


def choose_season(
    spec: WindowSpec, configured: int | list[int] | None, season: int | None, base: str = "seasonal_naive"
) -> int | None:
    """Rows per season of `base: seasonal_naive`: model.base_season, else the data's `season`. Of a
    list, the longest season that fits in the window: repeating a week repeats its days too, and a
    longer season than the lookback holds is model.base_calendar's to model, not the window's.

    Raises:
        ForecastError: no season, or none that fits (exit 2, naming the keys).
    """
    if not isinstance(configured, list):
        seasonal_lags(spec, configured or season, base)
        return configured or season
    fits = [s for s in configured if max(_lags(spec, s)) < spec.timesteps]
    if not fits:
        seasonal_lags(spec, min(configured), base)  # refused, naming what the shortest needs
    return max(fits)


def _lags(spec: WindowSpec, season: int) -> list[int]:
    """`seasonal_lags` unchecked."""
    return [int(v) for v in -seasonal_offsets(spec, season) // spec.step]


def auto_base(
    model: cfg.Model, spec: WindowSpec, season: int | None, features: list[str], targets: list[str]
) -> tuple[str, str]:
    """The base `model.base: auto` stands for with this data, and why, in words.

    The rule (issue 33's benchmark, bench/realdata.py: a seasonal base with a learned linear
    correction was the best base on validation on most real series, a linear one where no season
    fits):

    - none where the model cannot take a base: model.cell naive (no network to learn a residual),
      window.variable_length (a base maps a fixed number of timesteps), or a target that is not
      among the features (the window holds no past value of it);
    - seasonal_linear where a season is known (model.base_season, else the data's `season`:
      metrics.seasonality, else the time column's frequency's, as for MASE) and fits the window
      (`choose_season` accepts it: lookback // step holds its seasonal lags);
    - else linear: no season known (rows without a regular time column), a season longer than
      the lookback, or one that is not a whole number of window.step rows (the sampled rows would
      not fall one season before each target, so a seasonal base would read the wrong hours).

    Args:
        model: the config's model section.
        spec: the window arithmetic.
        season: the data's rows per season (metrics.seasonality, else the frequency's); None: unknown.
        features: the data's feature columns; targets: its target columns.

    Returns:
        (base, why): a base `build` takes, and a clause for the note train and validate print.
    """
    if model.cell == "naive":
        return "none", "model.cell naive has no network to learn a residual"
    if spec.variable_length:
        return "none", "window.variable_length: a base maps a fixed number of timesteps"
    missing = [t for t in targets if t not in features]
    if missing:
        return "none", f"target '{missing[0]}' is not among data.features, so the window holds no past value of it"
    window = f"{spec.timesteps}-row lookback"
    if spec.step > 1:
        window = f"{spec.timesteps}-timestep window (lookback // step)"
    seasons = model.base_season or season
    if seasons is None:
        return "linear", (
            "no season known: no metrics.seasonality, and no regular time column whose frequency has one; "
            "set metrics.seasonality or model.base_season for a seasonal base"
        )
    try:
        chosen = choose_season(spec, model.base_season, season)
    except ForecastError:
        if isinstance(seasons, list):
            return "linear", f"no season of {seasons} rows fits the {window}"
        return "linear", f"a season of {seasons} rows does not fit the {window}"
    if chosen % spec.step:
        return "linear", f"a season of {chosen} rows is not a multiple of window.step ({spec.step})"
    return "seasonal_linear", f"a season of {chosen} rows fits the {window}"


def auto_rivals(model: cfg.Model, chosen: str) -> list[str]:
    """The bases `model.base: auto` trains beside `chosen` (what `auto_base` chose), keeping the one
    with the lower validation loss, as AutoETS chooses its model per series.

    Where seasonal_linear is chosen, ets too: on issue 33's benchmark neither won everywhere on
    validation (ets on gas, usmelec and elecdaily, seasonal_linear on the other four small series),
    and which one validation preferred was the same on every seed (BENCHMARKS.md, "auto: two bases,
    chosen on validation"). Not where a setting only seasonal_linear takes is in the config
    (model.base_seasons, model.base_calendar, model.base_shared: false): that asks for it.
    """
    if chosen != "seasonal_linear" or model.base_seasons is not None or model.base_calendar or not model.base_shared:
        return []
    return ["ets"]


def resolve_base(
    model: cfg.Model, spec: WindowSpec, season: int | None, features: list[str], targets: list[str]
) -> tuple[cfg.Model, str | None]:
    """`model` with model.base auto replaced by what `auto_base` chooses, and the note that says so
    (None for an explicit base, returned as it is). What builds or describes the model takes the
    resolved section; config.yaml keeps auto.

    Raises:
        ForecastError: model.base_season or model.base_shared: false set where auto chose a base that
            cannot use them (exit 2, naming the key).
    """
    if model.base != "auto":
        return model, None
    base, why = auto_base(model, spec, season, features, targets)
    resolved = model.model_copy(update={"base": base})
    unused = [
        *(["model.base_season"] if model.base_season is not None and not resolved.seasonal_base else []),
        *(["model.base_seasons"] if model.base_seasons is not None and not resolved.seasonal_base else []),
        *(["model.base_shared: false"] if not model.base_shared and not resolved.linear_base else []),
    ]
    if unused:
        raise ForecastError(
            f"{unused[0]}: model.base auto chose {base} here ({why}), which cannot use it; "
            "set model.base explicitly, or leave the key out"
        )
    return resolved, f"model.base auto: {base} ({why})"


def _resolved(model: cfg.Model) -> None:
    """Refuse an unresolved `base: auto`: it is decided with the data (`resolve_base`)."""
    if model.base == "auto":
        raise ValueError("model.base auto is decided with the data: pass prepare's resolved model (Prepared.model)")


def calendar_reference(model: cfg.Model) -> str:
    """What `base_calendar`'s profile at each target row is taken relative to, so that the term adds
    only the season the base lacks: the rows seasonal_naive repeats ("lags"), else the level
    instance_norm takes off (the origin row, "last", or the window's mean); without either, nothing,
    and the term has a bias of its own ("none")."""
    if model.seasonal_base:
        return "lags"
    return model.instance_norm if model.instance_norm in ("last", "mean") else "none"


def cudnn_blockers(model: cfg.Model) -> list[str]:
    """Why a config cannot use the fused cuDNN kernel on a GPU; empty when it can.

    Keras takes the cuDNN path for LSTM/GRU only with tanh/sigmoid activations, no recurrent
    dropout, no unroll and use_bias=True; `forecast` fixes the last three, so only the cell
    and recurrent_dropout can rule it out.
    """
    if model.cell == "naive":
        return []
    if model.cell == "simple_rnn":
        return ["model.cell=simple_rnn has no cuDNN kernel (use lstm or gru)"]
    return [
        f"model.layers[{i}].recurrent_dropout={layer.recurrent_dropout:g} > 0"
        for i, layer in enumerate(model.layers)
        if layer.recurrent_dropout > 0
    ]


def _static_vector(extras: Extras, inputs: dict):
    """Numeric static covariates and an embedding of each categorical one, side by side: (batch, width)."""
    import keras  # deferred: Keras loads TensorFlow

    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    parts = [inputs["static"]] if extras.static else []
    for k, vocabulary in enumerate(extras.categories):
        codes = fl.TakeColumn(k, name=f"category_{k}")(inputs["categories"])
        parts.append(keras.layers.Embedding(vocabulary, embedding_size(vocabulary), name=f"embedding_{k}")(codes))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="static_vector")(parts)


def _base(model: cfg.Model, spec: WindowSpec, targets: list[int], season: int | None, x):
    """model.base's forecast of the window `x`: (batch, timesteps, features) -> (batch, horizon,
    targets), from a layer named "base" (seasonal_linear: the sum of its two parts)."""
    import keras  # deferred: Keras loads TensorFlow

    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    if model.base == "ets":
        period, lags = (season // spec.step, seasonal_lags(spec, season)) if season else (None, None)
        return fl.ExponentialSmoothing(targets, spec.horizon, lags, model.base_seasons or 1, period, name="base")(x)
    both = model.base == "seasonal_linear"
    parts = []
    if model.seasonal_base:
        lags, seasons = seasonal_lags(spec, season), model.averaged_seasons
        period = season // spec.step if seasons > 1 else None
        parts.append(fl.SeasonalNaive(targets, lags, seasons, period, name="seasonal_base" if both else "base")(x))
    if model.linear_base:
        parts.append(fl.LinearBase(targets, spec.horizon, model.base_shared, name="linear_base" if both else "base")(x))
    return keras.layers.Add(name="base")(parts) if both else parts[0]


def _calendar_base(model: cfg.Model, spec: WindowSpec, targets: list[int], extras: Extras, season: int | None):
    """model.base_calendar's layer, (window, future) -> (batch, horizon, targets).

    Raises:
        ForecastError: the model gets no calendar columns (data.calendar is empty).
    """
    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    if not extras.calendar:
        raise ForecastError("model.base_calendar needs data.calendar: the model gets no calendar features")
    reference = calendar_reference(model)
    lags = seasonal_lags(spec, season) if reference == "lags" else None
    window = [extras.future[k] for k in extras.calendar]
    return fl.CalendarBase(
        window, extras.calendar, len(targets), model.base_calendar, reference, lags, name="calendar_base"
    )


def build(
    model: cfg.Model,
    spec: WindowSpec,
    n_features: int,
    targets: list[int],
    extras: Extras | None = None,
    season: int | None = None,
) -> keras.Model:
    """Input (batch, timesteps, features) -> output (batch, horizon, targets), direct multi-output;
    with model.quantiles (batch, horizon, quantiles, targets).

    `targets` are the target columns' indices among the features (see `target_index`). A panel's
    `extras` add inputs named "future" (batch, horizon, future columns), "static" (batch, numeric
    static covariates) and "categories" (batch, categorical ones as integer codes): future values
    reach the decoder, static ones every encoder step and the decoder. `season`: rows per season
    of `model.base: seasonal_naive` (`Prepared.base_season`). `model`: with model.base auto
    resolved (`Prepared.model`, `resolve_base`).

    With model.base, the base forecast is computed from the window the network sees (after
    instance_norm, so its inverse restores the level) and added to the network's output, to every
    quantile: the network learns the residual, and everything downstream sees one model.
    model.base_calendar adds a learned seasonal profile of the calendar columns to that base.

    The parts are built in a fixed order (inputs, statics, instance norm, base, encoder, decoder,
    head): a seed draws each layer's initial weights in the order the layers are made, so the
    order is what makes a seed give the same weights, and the layer names what saved runs load by.
    """
    import keras  # deferred: Keras loads TensorFlow, and `forecast validate` imports this module

    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    extras = extras or Extras()
    window = keras.Input((None if spec.variable_length else spec.timesteps, n_features), name="window")
    if model.cell == "naive":
        return keras.Model(window, fl.RepeatLast(targets, spec.horizon, name="repeat_last")(window), name="naive")
    _resolved(model)
    named = {"window": window, **_extra_inputs(spec, extras)}
    static = _static_vector(extras, named)
    norm = _instance_norm(model, targets, extras)
    x, shift = norm(window) if norm is not None else (window, None)
    base = _base_forecast(model, spec, targets, extras, season, x, named)
    x = _decoder(model, spec, n_features, _encoder(model, spec, x, static), named, static)
    x = _head(model, spec, n_features, len(targets), x, residual=base is not None)
    x = _forecast(model, x, base, norm, shift)
    return keras.Model(named if len(named) > 1 else window, x, name="forecast")


def _extra_inputs(spec: WindowSpec, extras: Extras) -> dict:
    """A panel model's inputs beside the window, by name: "future", "static", "categories"."""
    import keras  # deferred: Keras loads TensorFlow

    named = {}
    if extras.future:
        named["future"] = keras.Input((spec.horizon, len(extras.future)), name="future")
    if extras.static:
        named["static"] = keras.Input((extras.static,), name="static")
    if extras.categories:
        named["categories"] = keras.Input((len(extras.categories),), dtype="int32", name="categories")
    return named


def _instance_norm(model: cfg.Model, targets: list[int], extras: Extras):
    """model.instance_norm's layer (None: none): it takes each window's level off, and its inverse
    adds each target's level back to every quantile of it (targets repeated per quantile)."""
    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    if model.instance_norm == "none":
        return None
    return fl.InstanceNorm(
        model.instance_norm, list(targets) * _quantile_count(model), model.instance_norm_affine,
        channels=extras.normalized, std=model.instance_norm_std, name="instance_norm",
    )  # fmt: skip


def _quantile_count(model: cfg.Model) -> int:
    """Outputs per target: one per quantile of a quantile model (quantile-major), else one."""
    return len(model.quantiles or [None])


def _regularizer(model: cfg.Model):
    """model.l2's weight penalty on the recurrent and dense kernels (None: none)."""
    import keras  # deferred: Keras loads TensorFlow

    return keras.regularizers.L2(model.l2) if model.l2 else None


def _base_forecast(
    model: cfg.Model, spec: WindowSpec, targets: list[int], extras: Extras, season: int | None, x, named: dict
):
    """model.base's forecast of the (instance-normalized) window `x`, plus model.base_calendar's
    profile read from the raw window and the horizon's calendar columns: (batch, horizon, targets),
    or None without either."""
    import keras  # deferred: Keras loads TensorFlow

    base = None if model.base == "none" else _base(model, spec, targets, season, x)
    if model.base_calendar:  # from the raw window: its calendar columns before instance_norm's affine
        profile = _calendar_base(model, spec, targets, extras, season)([named["window"], named["future"]])
        base = profile if base is None else keras.layers.Add(name="base_with_calendar")([base, profile])
    return base


class _Encoded(NamedTuple):
    """The encoder's result, as the decoder reads it.

    Attributes:
        output: the last recurrent layer's output (with a parallel decoder, its sequence).
        cells: the recurrent layers, which a parallel decoder runs again (else empty).
        states: their final states, where the parallel decoder starts (else empty).
        query_width: the width of the steps the first layer reads: the parallel decoder's queries'.
    """

    output: Any
    cells: list
    states: list
    query_width: int


def _encoder(model: cfg.Model, spec: WindowSpec, x, static) -> _Encoded:
    """The window (statics appended to every step; a channel-independent model's channels as rows
    of the batch; with segment_len, segments of rows embedded as one step each) through the stacked
    recurrent layers."""
    import keras  # deferred: Keras loads TensorFlow

    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    if static is not None:
        x = fl.AppendToSteps(name="static_to_steps")([x, static])
    if model.channel_independent:
        x = fl.ChannelsToBatch(name="channels_to_batch")(x)
    if model.segment_len:
        width = x.shape[-1]
        x = keras.layers.Reshape((spec.timesteps // model.segment_len, model.segment_len * width), name="segments")(x)
        x = keras.layers.Dense(model.layers[0].units, activation="relu", name="segment_embedding")(x)
    query_width = x.shape[-1]
    return _Encoded(*_recurrent(model, x), query_width)


def _recurrent(model: cfg.Model, x):
    """model.layers stacked (dropout_between them), each returning its sequence to the next.

    Returns:
        (output, cells, final states); cells and states only for a parallel decoder (else empty).
    """
    import keras  # deferred: Keras loads TensorFlow

    cell = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}[model.cell]
    reg = _regularizer(model)
    parallel = model.decoder == "parallel"
    cells, states = [], []
    for i, layer in enumerate(model.layers):
        rnn = cell(
            layer.units,
            dropout=layer.dropout,
            recurrent_dropout=layer.recurrent_dropout,
            return_sequences=parallel or i < len(model.layers) - 1,
            return_state=parallel,
            kernel_regularizer=reg,
            recurrent_regularizer=reg,
            name=f"{model.cell}_{i}",
        )
        if model.bidirectional:
            rnn = keras.layers.Bidirectional(rnn, name=f"bidirectional_{i}")
        out = rnn(x)
        if parallel:
            (x, *state) = out
            cells.append(rnn)
            states.append(state)
        else:
            x = out
        if model.dropout_between and (not parallel or i < len(model.layers) - 1):
            x = keras.layers.Dropout(model.dropout_between, name=f"dropout_{i}")(x)
    return x, cells, states


def _decoder(model: cfg.Model, spec: WindowSpec, n_features: int, encoded: _Encoded, named: dict, static):
    """The encoder's output -> what the dense layers read: the parallel decoder's segments, or
    (the dense decoder) the encoder's last output beside the horizon's known values and the statics."""
    import keras  # deferred: Keras loads TensorFlow

    if model.decoder == "parallel":
        return _parallel_decoder(model, spec, n_features, encoded, named, static)
    x = encoded.output
    if "future" not in named and static is None:
        return x
    known = [keras.layers.Flatten(name="future_flat")(named["future"])] if "future" in named else []
    return keras.layers.Concatenate(name="decoder_inputs")([x, *known, *([static] if static is not None else [])])


def _parallel_decoder(model: cfg.Model, spec: WindowSpec, n_features: int, encoded: _Encoded, named: dict, static):
    """Every output segment decoded at once: the encoder's own cells run one step on a query per
    segment (its position, a channel's embedding, the segment's known values and the statics),
    from the encoder's final states. Returns (batch * segments, width)."""
    import keras  # deferred: Keras loads TensorFlow

    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    segments = _segments(model, spec)
    channels = n_features if model.channel_embedding else 0
    x = fl.SegmentQueries(segments, encoded.query_width, channels, name="segment_queries")(encoded.states[-1][0])
    conditions = _segment_conditions(model, segments, encoded.query_width, named, static)
    if conditions is not None:
        x = keras.layers.Add(name="conditioned_queries")([x, conditions])
    for i, (rnn, state) in enumerate(zip(encoded.cells, encoded.states, strict=True)):
        repeat = fl.RepeatRows(segments, name=f"repeat_state_{i}")
        x = rnn(x, initial_state=[repeat(s) for s in state])[0]
    x = keras.layers.Reshape((x.shape[-1],), name="decoded")(x)
    if model.dropout_between:
        x = keras.layers.Dropout(model.dropout_between, name="dropout_decoder")(x)
    return x


def _segments(model: cfg.Model, spec: WindowSpec) -> int:
    """Output segments of a parallel decoder: the horizon in segment_len pieces, the last one padded."""
    return -(-spec.horizon // model.segment_len)


def _segment_conditions(model: cfg.Model, segments: int, query_width: int, named: dict, static):
    """Each segment's known future values and the series' statics, projected to the queries'
    width (added to them); None without either."""
    import keras  # deferred: Keras loads TensorFlow

    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    if "future" not in named and static is None:
        return None
    conditions = []
    if "future" in named:
        conditions.append(fl.SegmentRows(segments, model.segment_len, name="future_segments")(named["future"]))
    if static is not None:
        repeated = fl.RepeatRows(segments, name="repeat_static")(static)
        conditions.append(keras.layers.Reshape((1, repeated.shape[-1]), name="static_segments")(repeated))
    if len(conditions) > 1:
        conditions = [keras.layers.Concatenate(name="segment_conditions")(conditions)]
    return keras.layers.Dense(query_width, name="condition_projection")(conditions[0])


def _head(model: cfg.Model, spec: WindowSpec, n_features: int, n_targets: int, x, residual: bool):
    """The decoder's output through model.dense and the head: (batch, horizon, outputs), outputs
    quantile-major; a channel-independent model's rows gathered back into channels.

    `residual`: the head forecasts the residual of a base, so its kernel starts at zero and the model
    starts as its base (as a residual network's last layer starts at zero: Goyal et al. 2017,
    Fixup, ReZero); a random head would add noise that early stopping on a short series cannot
    train away (elecdaily: validation MASE 0.54 against 0.72, BENCHMARKS.md). Gradients still
    reach the kernel at once, and the layers under it from the second step.
    """
    import keras  # deferred: Keras loads TensorFlow

    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    reg = _regularizer(model)
    init = "zeros" if residual else "glorot_uniform"
    outputs = (1 if model.channel_independent else n_targets) * _quantile_count(model)
    for i, units in enumerate(model.dense):
        x = keras.layers.Dense(units, activation="relu", kernel_regularizer=reg, name=f"dense_{i}")(x)
    if model.decoder == "parallel":
        segments = _segments(model, spec)
        x = keras.layers.Dense(
            model.segment_len * outputs, kernel_regularizer=reg, kernel_initializer=init, name="head"
        )(x)
        x = fl.MergeSegments(segments, spec.horizon, outputs, name="forecast_segments")(x)
    else:
        x = keras.layers.Dense(spec.horizon * outputs, kernel_regularizer=reg, kernel_initializer=init, name="head")(x)
        x = keras.layers.Reshape((spec.horizon, outputs), name="forecast_steps")(x)
    if model.channel_independent:
        if _quantile_count(model) == 1:
            x = keras.layers.Reshape((spec.horizon,), name="per_channel")(x)
        x = fl.BatchToChannels(n_features, name="batch_to_channels")(x)
    return x


def _forecast(model: cfg.Model, x, base, norm, shift):
    """The head's output -> the forecast: the base added under every quantile, instance_norm's
    level restored, a quantile model's quantiles reshaped to (batch, horizon, quantiles, targets)
    and kept from crossing."""
    import keras  # deferred: Keras loads TensorFlow

    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    n_q = _quantile_count(model)
    if base is not None:  # quantile-major, as the head's outputs: the base under every quantile
        copies = keras.layers.Concatenate(name="base_per_quantile")([base] * n_q) if n_q > 1 else base
        x = keras.layers.Add(name="base_plus_residual")([x, copies])
    if norm is not None:
        x = norm(x, shift, inverse=True)
    if model.quantiles:  # (batch, horizon, quantiles, targets), never crossing
        x = fl.MonotoneQuantiles(n_q, model.quantiles.index(0.5), name="quantiles")(x)
    return x
