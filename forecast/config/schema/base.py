"""What every config section shares: strict types, no unknown keys, and the common field types."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

Fraction = Annotated[float, Field(gt=0, lt=1)]
Rate = Annotated[float, Field(ge=0, lt=1)]
PositiveInt = Annotated[int, Field(gt=0)]


class Section(BaseModel):
    """The base of every config section (every schema module's models derive from it)."""

    # strict: a string "64" is not an int; extra="forbid": a typo is an error, not a silent default;
    # allow_inf_nan=False: `.inf` or `.nan` in any float (l2, feature_range, ...) is refused here,
    # not discovered as a diverged loss after the run directory exists.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Switch(Section):
    """A callback section that `early_stopping: false` can turn off in one word."""

    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _from_bool(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value
