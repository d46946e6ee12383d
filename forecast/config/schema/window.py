"""`window:` Chollet's lookback / step / delay / horizon."""

from __future__ import annotations

from pydantic import Field, model_validator

from forecast.config.schema.base import PositiveInt, Section


class Window(Section):
    """Chollet's Jena windowing: `lookback` rows of history sampled every `step` rows.

    The last input row is the newest row of history; targets are the `horizon` consecutive rows
    that start `delay` rows after it (delay 1 = the next row).
    """

    lookback: PositiveInt = Field(96, description="Rows of history the model sees.")
    step: PositiveInt = Field(1, description="Sampling period inside the window (input timesteps = lookback // step).")
    delay: PositiveInt = Field(1, description="Rows from the last input row to the first target row.")
    horizon: PositiveInt = Field(1, description="Consecutive target rows predicted at once.")
    variable_length: bool = Field(
        False,
        description="Build the model with None timesteps: trained on lookback windows, it can predict from any length.",
    )

    @model_validator(mode="after")
    def _step_fits(self) -> Window:
        if self.step > self.lookback:
            raise ValueError(f"step ({self.step}) must be <= lookback ({self.lookback})")
        return self

    @property
    def timesteps(self) -> int:
        return self.lookback // self.step
