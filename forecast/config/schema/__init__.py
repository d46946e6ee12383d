"""The config schema: one pydantic model per section (one file each), and the root `Config`.

Checks that involve one section live in its model; checks across sections live on `Config`.
Checks that need the data (column names, row counts) live in `forecast.prepare`.
"""

from __future__ import annotations

from typing import Annotated

import yaml
from pydantic import Field, PrivateAttr, field_validator, model_validator

from forecast.config.schema.base import Section
from forecast.config.schema.data import CALENDAR, Covariates, Data, Split
from forecast.config.schema.intervals import DEFAULT_LEVELS, Intervals
from forecast.config.schema.metrics import MetricsSection
from forecast.config.schema.model import Layer, Model
from forecast.config.schema.scaler import Scaler
from forecast.config.schema.tracking import Mlflow, Tracking
from forecast.config.schema.training import EarlyStopping, ReduceLROnPlateau, Training
from forecast.config.schema.window import Window

__all__ = [
    "CALENDAR",
    "Config",
    "Covariates",
    "Data",
    "EarlyStopping",
    "Intervals",
    "Layer",
    "MetricsSection",
    "Mlflow",
    "Model",
    "ReduceLROnPlateau",
    "Scaler",
    "Split",
    "Tracking",
    "Training",
    "Window",
]

# Longest `name`: run and sweep directories append at most 21 characters (`-tune-YYYYmmdd-HHMMSS`,
# `-YYYYmmdd-HHMMSS-999`) and a writer's temporary prefixes 22 (`.partial-<12 hex>-`), which stays
# within the 255 bytes most filesystems allow a file name (NAME_MAX).
MAX_NAME = 200


class Config(Section):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+$")] = Field(
        "forecast",
        description=f"Run name; run directories are runs/<name>-<timestamp> (at most {MAX_NAME} characters).",
    )
    seed: Annotated[int, Field(ge=0, lt=2**32)] = Field(
        42, description="Seeds Python, NumPy and the backend, and the window shuffling (0 <= seed < 2**32)."
    )
    data: Data = Field(default_factory=Data)
    window: Window = Field(default_factory=Window)
    scaler: Scaler = Field(default_factory=Scaler)
    model: Model = Field(default_factory=Model)
    training: Training = Field(default_factory=Training)
    tracking: Tracking = Field(default_factory=Tracking)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
    intervals: Intervals = Field(default_factory=Intervals)
    # what loading decided for the user (a defaulted data.path), shown once a run exists; not a key
    _notes: list[str] = PrivateAttr(default_factory=list)

    @property
    def notes(self) -> list[str]:
        return self._notes

    @field_validator("name")
    @classmethod
    def _file_name(cls, name: str) -> str:
        """Refused here, not as `OSError: File name too long` once training is about to start."""
        if len(name) > MAX_NAME:
            raise ValueError(f"{len(name)} characters, more than the {MAX_NAME} a run directory's name may hold")
        if set(name) == {"."}:
            raise ValueError(f"{name!r} is not a file name")
        return name

    @model_validator(mode="after")
    def _default_instance_norm(self) -> Config:
        """instance_norm left out: last when every target is also a feature (its own last value is
        then known), else none. Decided here, so config.yaml records what the run used."""
        if self.model.instance_norm is None:
            data = self.data
            last = data.features is None or data.targets is None or set(data.targets) <= set(data.features)
            self.model.instance_norm = "last" if last else "none"
        if self.model.instance_norm == "none" and self.model.instance_norm_options():
            raise ValueError(f"model.{self.model.instance_norm_options()[0]} needs model.instance_norm: last or mean")
        return self

    @model_validator(mode="after")
    def _panel_fits(self) -> Config:
        """scaler.per_series defaults to true with an id column; options that mix channels refuse covariates."""
        if self.scaler.per_series is None:
            self.scaler.per_series = self.data.id_column is not None
        elif self.scaler.per_series and self.data.id_column is None:
            raise ValueError("scaler.per_series needs data.id_column")
        if self.scaler.type == "mean" and not self.scaler.per_series:
            raise ValueError("scaler.type=mean scales each series by its own level: it needs data.id_column")
        extra = self.data.covariates.all or self.data.calendar
        if extra and self.model.channel_independent:
            raise ValueError(
                "model.channel_independent forecasts each channel alone: it takes no covariates or calendar"
            )
        if extra and self.model.cell == "naive":
            raise ValueError("model.cell=naive repeats the last value: it takes no covariates or calendar")
        if self.model.base_calendar and not self.data.calendar:
            raise ValueError(
                "model.base_calendar fits a seasonal profile to the calendar's sin/cos features: set data.calendar "
                "(e.g. [hour, day_of_week]); model.channel_independent takes no calendar"
            )
        return self

    @model_validator(mode="after")
    def _intervals_fit(self) -> Config:
        """The loss follows model.quantiles; quantiles/cqr need a quantile model with each level's pair.
        Decided here, so config.yaml records the method, levels and loss the run used."""
        quantiles, intervals, training = self.model.quantiles, self.intervals, self.training
        if quantiles is not None:
            if "loss" not in training.model_fields_set:
                training.loss = "pinball"
            elif training.loss != "pinball":
                raise ValueError(f"training.loss={training.loss}: model.quantiles train with the pinball loss (set it)")
        elif training.loss == "pinball":
            raise ValueError("training.loss=pinball needs model.quantiles")
        if intervals.method is None:
            intervals.method = "quantiles" if quantiles is not None else "conformal" if intervals.levels else "none"
        if intervals.method == "none" and quantiles is not None:
            raise ValueError(
                "intervals.method=none: a quantile model's bounds are its intervals; use method quantiles (or cqr)"
            )
        if intervals.method in ("quantiles", "cqr"):
            if quantiles is None:
                raise ValueError(f"intervals.method={intervals.method} needs model.quantiles (or method: conformal)")
            pairs = [round(hi - lo, 10) for lo in quantiles for hi in quantiles if lo < 0.5 < hi and
                     abs(lo + hi - 1) < 1e-9]  # fmt: skip
            if intervals.levels is None:
                if not pairs:
                    raise ValueError("model.quantiles: no symmetric pair (like 0.1 and 0.9) to make an interval of")
                intervals.levels = sorted(pairs)
            for level in intervals.levels:
                if not any(abs(level - p) < 1e-9 for p in pairs):
                    low, high = (1 - level) / 2, (1 + level) / 2
                    raise ValueError(
                        f"intervals.levels: {level:g} needs quantiles {low:g} and {high:g} in model.quantiles"
                    )
        elif intervals.method == "conformal" and intervals.levels is None:
            intervals.levels = list(DEFAULT_LEVELS)
        return self

    @model_validator(mode="after")
    def _segments_fit(self) -> Config:
        segment = self.model.segment_len
        if segment is not None and self.window.variable_length:
            raise ValueError("model.segment_len needs a fixed number of timesteps; set window.variable_length: false")
        if self.metrics.plot_series is not None and self.data.id_column is None:
            raise ValueError("metrics.plot_series picks series of a panel: it needs data.id_column")
        if (self.model.linear_base or self.model.base == "ets") and self.window.variable_length:
            raise ValueError(
                f"model.base={self.model.base} maps a fixed number of timesteps; set window.variable_length: false"
            )
        if segment is not None and self.window.timesteps % segment:
            raise ValueError(
                f"model.segment_len ({segment}) must divide the input timesteps, "
                f"lookback // step = {self.window.timesteps}"
            )
        return self

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(exclude_none=True), sort_keys=False)
