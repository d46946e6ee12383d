"""`metrics:` how runs are scored beyond the model's own errors."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from forecast.config.schema.base import PositiveInt, Section


class MetricsSection(Section):
    seasonality: PositiveInt | None = Field(
        None,
        description="Season length in rows for the seasonal-naive baseline (24 for hourly data with a daily "
        "cycle, 52 for weekly, 12 for monthly, 11 for yearly sunspots). Default: from the time column's "
        "frequency (hourly 24, 10-minute 144, daily 7, weekly 52, monthly 12, quarterly 4); none for yearly "
        "data or without a time column.",
    )
    baselines: list[Literal["ets", "mstl"]] = Field(
        default_factory=list,
        description="Statistical baselines scored beside repeat-last and seasonal naive on the same val and test "
        "windows, fitted once per series on its training rows: ets (statsforecast's AutoETS with the season "
        "above), mstl (MSTL: one STL seasonal component per season of mstl_seasons, the rest by AutoETS; for "
        "several seasons, such as a day and a week of hourly data). pip install 'forecast[stats]'.",
    )
    mstl_seasons: list[PositiveInt] | None = Field(
        None,
        min_length=1,
        description="Rows per season of the mstl baseline. Default: the season above, and a week of them where "
        "that season is a day of sub-daily data (hourly: [24, 168]; half-hourly: [48, 336]).",
    )

    plot_series: list[str] | None = Field(
        None,
        min_length=1,
        description="Ids of the panel's series that forecast.png draws, in this order (default: the first 3 with "
        "test windows); needs data.id_column, and each must have test windows.",
    )

    @field_validator("baselines")
    @classmethod
    def _once(cls, names: list[str]) -> list[str]:
        return list(dict.fromkeys(names))

    @model_validator(mode="after")
    def _mstl_seasons_need_mstl(self) -> MetricsSection:
        if self.mstl_seasons is not None and "mstl" not in self.baselines:
            raise ValueError("mstl_seasons: needs metrics.baselines to include mstl")
        return self
