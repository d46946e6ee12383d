"""`scaler:` the scikit-learn scaler fit on the training rows."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from forecast.config.schema.base import Section


class Scaler(Section):
    """A scikit-learn scaler fit on the training rows only and stored with the run."""

    type: Literal["standard", "minmax", "robust", "mean", "none"] = Field(
        "standard",
        description="Scaler kind. mean (panels, per series): divide by the mean absolute value of the training "
        "rows, no centring (GluonTS/DeepAR mean scaling): errors then weigh as a fraction of each series' level.",
    )
    per_series: bool | None = Field(
        None,
        description="With data.id_column: fit one scaler per series on its own training rows (default true); "
        "false fits one over every series' training rows.",
    )
    clip: Literal["none", "lower", "upper", "range"] = Field(
        "none",
        description="Keep forecasts (and interval bounds) within what the training rows showed, per series with "
        "per-series scaling: lower never below the lowest training value of each target (for quantities that "
        "cannot fall below a floor: demand, load, counts); upper never above the highest; range both. Applied "
        "to every forecast (predict, the reports' metrics, per_series.csv, export); actuals are never clipped.",
    )
    feature_range: list[float] = Field(
        [0.0, 1.0], min_length=2, max_length=2, description="Output range of the minmax scaler."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _range_increases(self) -> Scaler:
        if not self.feature_range[0] < self.feature_range[1]:
            raise ValueError("feature_range must be [low, high] with low < high")
        return self
