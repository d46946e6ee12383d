"""`intervals:` how sure the forecast is: prediction intervals from quantiles or split conformal."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from forecast.config.schema.base import Fraction, Section

DEFAULT_LEVELS = [0.8, 0.95]


class Intervals(Section):
    method: Literal["none", "quantiles", "conformal", "cqr"] | None = Field(
        None,
        description="none: point forecasts only. quantiles: the bounds are a quantile model's own (model.quantiles), "
        "uncalibrated. conformal: split conformal on the validation windows around the point forecast, for any "
        "model, no retraining. cqr: conformalized quantile regression, the quantile model's bounds corrected on the "
        "validation windows. Default: quantiles with model.quantiles, conformal when levels are given, else none.",
    )
    levels: list[Fraction] | None = Field(
        None,
        min_length=1,
        description="Nominal coverage of each interval, e.g. [0.8, 0.95]. Default: [0.8, 0.95] for conformal; "
        "for quantiles and cqr, every symmetric pair of model.quantiles (0.1 and 0.9 give 0.8).",
    )

    @model_validator(mode="after")
    def _levels_distinct(self) -> Intervals:
        if self.levels is not None:
            if len(set(self.levels)) != len(self.levels):
                raise ValueError("levels: each level once")
            self.levels = sorted(self.levels)
        if self.method == "none" and self.levels:
            raise ValueError("levels: method none has no intervals; set method: conformal (or quantiles, cqr)")
        return self
