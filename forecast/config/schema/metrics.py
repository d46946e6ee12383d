"""`metrics:` how runs are scored beyond the model's own errors."""

from __future__ import annotations

from pydantic import Field

from forecast.config.schema.base import PositiveInt, _Section


class MetricsSection(_Section):
    seasonality: PositiveInt | None = Field(
        None,
        description="Season length in rows for the seasonal-naive baseline (24 for hourly data with a daily "
        "cycle, 52 for weekly, 12 for monthly, 11 for yearly sunspots). Default: from the time column's "
        "frequency (hourly 24, 10-minute 144, daily 7, weekly 52, monthly 12, quarterly 4); none for yearly "
        "data or without a time column.",
    )
