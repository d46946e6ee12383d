"""`data:` which file, which columns, how missing values are treated, and the chronological split."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from forecast.config.schema.base import Fraction, PositiveInt, _Section


class Split(_Section):
    """Chronological split, as fractions of the rows or as row borders (exclusive ends).

    Windows belong to the split that holds their target rows; their input rows may reach back
    into the previous split (the standard protocol for ETTh1 and the Jena experiments).
    With nothing given, the split is 0.7 / 0.1 / 0.2.
    """

    train: Fraction | None = Field(None, description="Fraction of rows for training.")
    val: Fraction | None = Field(None, description="Fraction of rows for validation.")
    test: Fraction | None = Field(None, description="Fraction of rows for test.")
    train_end: PositiveInt | None = Field(None, description="First row after the training rows.")
    val_end: PositiveInt | None = Field(None, description="First row after the validation rows.")
    test_end: PositiveInt | None = Field(
        None, description="First row after the test rows (default: end of the series)."
    )

    @model_validator(mode="after")
    def _one_form(self) -> Split:
        fractions = [self.train, self.val, self.test]
        borders = [self.train_end, self.val_end, self.test_end]
        if any(v is not None for v in fractions) and any(v is not None for v in borders):
            raise ValueError("give fractions (train/val/test) or row borders (train_end/val_end/test_end), not both")
        if any(v is not None for v in fractions):
            if any(v is None for v in fractions):
                raise ValueError("fractions need all three of train, val and test")
            if sum(fractions) > 1 + 1e-9:
                raise ValueError(f"train + val + test = {sum(fractions):g} must be <= 1")
        if any(v is not None for v in borders):
            if self.train_end is None or self.val_end is None:
                raise ValueError("row borders need train_end and val_end (test_end defaults to the last row)")
            if not self.train_end < self.val_end < (self.test_end or self.val_end + 1):
                raise ValueError("row borders must increase: train_end < val_end < test_end")
        return self


class Data(_Section):
    path: str = Field(
        "data/ETTh1.csv",
        description="CSV or Parquet file; a relative path is looked up beside the config file, "
        "then in the working directory.",
    )
    time_column: str | None = Field(
        None, description="Column parsed as datetime; rows must be sorted and unique in it."
    )
    time_format: str | None = Field(
        None,
        description="strptime format of the time column, e.g. '%d.%m.%Y %H:%M:%S' "
        "(default: inferred; ISO 8601 is safe).",
    )
    features: list[str] | None = Field(None, min_length=1, description="Input columns (default: every numeric column).")
    targets: list[str] | None = Field(None, min_length=1, description="Predicted columns (default: the features).")
    split: Split = Field(default_factory=Split)
    missing_values: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Sentinel values that mean 'missing', per column (Jena: {'wv (m/s)': [-9999.0]}); "
        "data.fill treats them.",
    )
    fill: Literal["none", "ffill", "interpolate", "drop"] = Field(
        "none", description="What to do with missing values; 'none' rejects a series that has any."
    )
