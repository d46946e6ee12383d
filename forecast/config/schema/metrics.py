"""`metrics:` how runs are scored beyond the model's own errors."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Literal

from pydantic import Field, field_validator

from forecast.config.schema.base import PositiveInt, Section


class MetricsSection(Section):
    seasonality: PositiveInt | None = Field(
        None,
        description="Season length in rows for the seasonal-naive baseline (24 for hourly data with a daily "
        "cycle, 52 for weekly, 12 for monthly, 11 for yearly sunspots). Default: from the time column's "
        "frequency (hourly 24, 10-minute 144, daily 7, weekly 52, monthly 12, quarterly 4); none for yearly "
        "data or without a time column.",
    )
    baselines: list[Literal["ets"]] = Field(
        default_factory=list,
        description="Statistical baselines scored beside repeat-last and seasonal naive on the same val and test "
        "windows: ets (statsforecast's AutoETS with the season above, fitted once per series on the training rows; "
        "pip install 'forecast[stats]').",
    )

    plot_series: list[str] | None = Field(
        None,
        min_length=1,
        description="Ids of the panel's series that forecast.png draws, in this order (default: the first 3 with "
        "test windows); needs data.id_column, and each must have test windows.",
    )

    @field_validator("baselines")
    @classmethod
    def _installed(cls, names: list[str]) -> list[str]:
        reason = missing(names)
        if reason:
            raise ValueError(reason)
        return list(dict.fromkeys(names))


def missing(names: list[str]) -> str | None:
    """Why the configured baselines (forecast.baselines) cannot run here (the extra is not installed),
    else None. Checked when the config is validated, so a run never trains to fail at scoring."""
    if names and find_spec("statsforecast") is None:
        return f"{names[0]} needs statsforecast: pip install 'forecast[stats]'"
    return None
