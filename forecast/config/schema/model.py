"""`model:` the recurrent network and its long-horizon options."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from forecast.config.schema.base import Fraction, PositiveInt, Rate, Section


class Layer(Section):
    units: PositiveInt = Field(64, description="Units of this recurrent layer.")
    dropout: Rate = Field(0.0, description="Dropout on the layer's inputs (keeps cuDNN).")
    recurrent_dropout: Rate = Field(0.0, description="Dropout on the recurrent state (rules cuDNN out).")


class Model(Section):
    cell: Literal["lstm", "gru", "simple_rnn", "naive"] = Field(
        "lstm",
        description="Recurrent cell; 'naive' is the common-sense baseline (repeat the last value), nothing to train.",
    )
    layers: list[Layer] = Field(
        default_factory=lambda: [Layer()], min_length=1, description="Stacked recurrent layers."
    )
    bidirectional: bool = Field(False, description="Wrap each recurrent layer in Bidirectional.")
    dropout_between: Rate = Field(0.0, description="Dropout layer after each recurrent layer.")
    l2: Annotated[float, Field(ge=0)] = Field(0.0, description="L2 penalty on the recurrent layers' kernels.")
    dense: list[PositiveInt] = Field(default_factory=list, description="Hidden Dense layers (relu) before the output.")
    instance_norm: Literal["none", "last", "mean"] | None = Field(
        None,
        description="Subtract each window's last value or mean per channel, and add it back to the forecast. "
        "Default: last when every target is also a feature (it wins on data with a trend or level shifts: "
        "BENCHMARKS.md, 'Defaults'), else none; none suits a stationary, mean-reverting series.",
    )
    instance_norm_std: bool = Field(
        False,
        description="Also divide each window by its own standard deviation per channel after instance_norm, and "
        "multiply the forecast back (RevIN's scaling).",
    )
    instance_norm_affine: bool = Field(
        False, description="Learnable per-channel scale and bias after instance_norm (RevIN)."
    )
    channel_independent: bool = Field(
        False, description="Run one shared network on each channel as its own series (targets must equal the features)."
    )
    channel_embedding: bool = Field(
        False, description="A learned embedding per channel in the parallel decoder's queries."
    )
    segment_len: PositiveInt | None = Field(
        None, description="Feed the RNN non-overlapping segments of this many timesteps (a Dense embedding each)."
    )
    quantiles: list[Fraction] | None = Field(
        None,
        min_length=1,
        description="Forecast these quantiles (e.g. [0.025, 0.1, 0.5, 0.9, 0.975]) instead of one value, trained "
        "with the pinball loss; they never cross. The point forecast is the median (0.5 is added when absent).",
    )
    base: Literal["auto", "none", "seasonal_naive", "linear", "seasonal_linear", "ets"] = Field(
        "auto",
        description="A base forecast from the window itself, under the network, which learns its residual (the two "
        "are added in the model): seasonal_naive repeats the last season (suits one strong season within the "
        "lookback); linear is a learned map from the lookback to the horizon per channel, DLinear-style and zero at "
        "the start (suits trends and several seasons within the lookback); seasonal_linear is the two added: the last "
        "season repeated plus a learned linear correction, zero at the start; ets is exponential smoothing of the "
        "window in the graph (ETS(A,N,A)): the seasonal profile of its whole seasons plus the level of the rest, "
        "exponentially smoothed with a learned alpha (without a season that fits: the window's level alone, simple "
        "exponential smoothing). Computed after instance_norm. "
        "auto (the default) decides with the data: seasonal_linear when a season is known (base_season, "
        "metrics.seasonality or the time column's frequency) and fits the lookback, and then ets trained beside it, "
        "the one with the lower validation loss kept (twice the training time; not with base_seasons, "
        "base_calendar or base_shared: false); else linear; none where the "
        "model cannot take a base (cell naive, window.variable_length, a target that is not a feature). "
        "config.yaml keeps auto; train and validate say what it chose, metrics.json records it as base. "
        "With a base the network's output layer starts at zero, so an untrained model forecasts its base.",
    )
    base_season: PositiveInt | list[PositiveInt] | None = Field(
        None,
        description="Rows per season of base: seasonal_naive, seasonal_linear or ets (or auto); a list of seasons "
        "(half-hourly: [48, 336]) uses the longest that fits in the lookback (it repeats the shorter ones too when "
        "they divide it). Default: "
        "metrics.seasonality, else the time column's frequency's season (hourly 24, daily 7, monthly 12...).",
    )
    base_seasons: PositiveInt | None = Field(
        None,
        description="Whole seasons of the window that the seasonal base (seasonal_naive, seasonal_linear) averages at "
        "each target's point of the season, moved to the last season's level: a seasonal profile, steadier than one "
        "season's values (seasonal smoothing, as ETS's). 1: the last season repeated (seasonal naive). Default: 1 "
        "for an explicit seasonal base; under auto, every whole season the lookback holds or 1, whichever forecasts "
        "the training windows with the lower MAE (neither fits anything, so the in-sample comparison is fair); "
        "under ets, every whole season the lookback holds.",
    )
    base_calendar: Annotated[int, Field(ge=0)] = Field(
        0,
        description="Harmonics per data.calendar cycle of a learned seasonal profile added to the base (harmonic "
        "regression on the calendar's sin/cos pairs, zero at the start): seasons longer than the lookback (weekly "
        "data's year, half-hourly data's week) without a long lookback. 0: off.",
    )
    base_shared: bool = Field(
        True,
        description="base: linear (or seasonal_linear, or auto): one map shared by every channel; false: one per "
        "target channel.",
    )
    decoder: Literal["dense", "parallel"] = Field(
        "dense",
        description="dense: one Dense to horizon x targets; "
        "parallel: SegRNN's one-step decoding of every output segment.",
    )

    @property
    def seasonal_base(self) -> bool:
        """The base repeats the last season (seasonal_naive, or under seasonal_linear's correction)."""
        return self.base in ("seasonal_naive", "seasonal_linear")

    @property
    def averaged_seasons(self) -> int | None:
        """Seasons the seasonal base averages (base_seasons; unset: 1, seasonal naive; ets: as prepare resolved
        it, None without a season); None without one."""
        if self.base == "ets":
            return self.base_seasons
        return (self.base_seasons or 1) if self.seasonal_base else None

    @property
    def linear_base(self) -> bool:
        """The base has a learned linear map of the lookback (linear, or seasonal_linear's correction)."""
        return self.base in ("linear", "seasonal_linear")

    @model_validator(mode="after")
    def _options_fit(self) -> Model:
        if self.decoder == "parallel" and self.segment_len is None:
            raise ValueError("decoder: parallel decodes segments; set segment_len")
        if self.decoder == "parallel" and self.bidirectional:
            raise ValueError("decoder: parallel continues the encoder's state; it cannot be bidirectional")
        if self.channel_embedding and not (self.channel_independent and self.decoder == "parallel"):
            raise ValueError("channel_embedding needs channel_independent: true and decoder: parallel")
        if self.quantiles is not None:
            if len(set(self.quantiles)) != len(self.quantiles):
                raise ValueError("quantiles: each quantile once")
            self.quantiles = sorted({*self.quantiles, 0.5})
            if self.cell == "naive":
                raise ValueError("quantiles: model.cell=naive repeats the last value; it has no quantiles to learn")
        if self.base not in ("none", "auto") and self.cell == "naive":  # auto: none with cell naive
            raise ValueError("base: cell naive has no network to learn a residual; use a recurrent cell or base: none")
        if self.base_calendar and self.cell == "naive":
            raise ValueError("base_calendar: cell naive has no network to learn a residual; use a recurrent cell")
        if isinstance(self.base_season, list) and not self.base_season:
            raise ValueError("base_season: list at least one season")
        # auto may resolve to a base that uses them: prepare refuses them where it does not
        if self.base_season is not None and not (self.seasonal_base or self.base in ("auto", "ets")):
            raise ValueError("base_season needs base: seasonal_naive, seasonal_linear, ets or auto")
        if self.base_seasons is not None and not (self.seasonal_base or self.base in ("auto", "ets")):
            raise ValueError("base_seasons needs base: seasonal_naive, seasonal_linear, ets or auto")
        if self.base == "ets" and self.base_calendar:
            raise ValueError("base_calendar: not with base ets, which has a seasonal profile of its own")
        if (self.base_seasons or 1) > 1 and self.base_calendar:
            raise ValueError("base_seasons: base_calendar's profile is taken relative to the last season; set 1")
        if not self.base_shared and not (self.linear_base or self.base == "auto"):
            raise ValueError("base_shared: false needs base: linear, seasonal_linear or auto")
        if self.instance_norm == "none" and self.instance_norm_options():  # None: decided with the data section
            raise ValueError(f"{self.instance_norm_options()[0]} needs instance_norm: last or mean")
        return self

    def instance_norm_options(self) -> list[str]:
        """The instance_norm_* keys that are on: they act after instance_norm, so they need one."""
        return [k for k in ("instance_norm_affine", "instance_norm_std") if getattr(self, k)]
