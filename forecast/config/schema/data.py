"""`data:` which file, which columns, how missing values are treated, and the chronological split."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from forecast.config.schema.base import Fraction, PositiveInt, Section

Border = PositiveInt | str  # a row number, or a time stamp ('2017-06-01') when the data has a time column


class Split(Section):
    """Chronological split, in one of three forms, applied to each series on its own.

    - fractions of the rows (train/val/test; default 0.7 / 0.1 / 0.2);
    - borders (exclusive ends): row numbers, or time stamps when the data has a time column;
    - the last rows of each series (val_last/test_last, M4 style): the rest is training.

    Windows belong to the split that holds their target rows; their input rows may reach back
    into the previous split (the standard protocol for ETTh1, the Jena experiments and M4).
    """

    train: Fraction | None = Field(None, description="Fraction of rows for training.")
    val: Fraction | None = Field(None, description="Fraction of rows for validation.")
    test: Fraction | None = Field(None, description="Fraction of rows for test.")
    train_end: Border | None = Field(
        None, description="First row (or time stamp) after the training rows; per series in a panel."
    )
    val_end: Border | None = Field(None, description="First row (or time stamp) after the validation rows.")
    test_end: Border | None = Field(
        None, description="First row (or time stamp) after the test rows (default: end of the series)."
    )
    val_last: PositiveInt | None = Field(None, description="The last N rows before the test rows of each series.")
    test_last: PositiveInt | None = Field(
        None, description="The last N rows of each series are its test rows (M4: the horizon)."
    )

    @property
    def form(self) -> str:
        """'fractions', 'borders' or 'last'."""
        if self.val_last is not None or self.test_last is not None:
            return "last"
        return "borders" if self.train_end is not None else "fractions"

    @model_validator(mode="after")
    def _one_form(self) -> Split:
        fractions = [self.train, self.val, self.test]
        borders = [self.train_end, self.val_end, self.test_end]
        last = [self.val_last, self.test_last]
        forms = [any(v is not None for v in kind) for kind in (fractions, borders, last)]
        if sum(forms) > 1:
            raise ValueError(
                "give one form of split: fractions (train/val/test), borders (train_end/val_end/test_end) "
                "or last rows (val_last/test_last)"
            )
        if forms[2] and None in last:
            raise ValueError("last rows need both val_last and test_last")
        if any(isinstance(v, str) for v in borders) and not all(isinstance(v, str | None) for v in borders):
            raise ValueError("borders are all row numbers or all time stamps")
        if any(v is not None for v in fractions):
            if any(v is None for v in fractions):
                raise ValueError("fractions need all three of train, val and test")
            if sum(fractions) > 1 + 1e-9:
                raise ValueError(f"train + val + test = {sum(fractions):g} must be <= 1")
        if any(v is not None for v in borders):
            if self.train_end is None or self.val_end is None:
                raise ValueError("row borders need train_end and val_end (test_end defaults to the last row)")
            if isinstance(self.train_end, int) and not self.train_end < self.val_end < (
                self.test_end or self.val_end + 1
            ):
                raise ValueError("row borders must increase: train_end < val_end < test_end")
        return self


CALENDAR = ("hour", "day_of_week", "day_of_month", "month", "day_of_year", "week_of_year")


class Covariates(Section):
    """Columns that are inputs, not targets, by what is known of them when forecasting."""

    future: list[str] = Field(
        default_factory=list,
        description="Known for the horizon (planned load, promotions, holidays): read from the target rows in "
        "training; `predict` needs them in rows after each series' end (targets left empty).",
    )
    past: list[str] = Field(default_factory=list, description="Observed in the past only: encoder inputs.")
    static: list[str] = Field(
        default_factory=list,
        description="Constant per series (needs data.id_column); numeric, or text (a learned embedding).",
    )

    @property
    def all(self) -> list[str]:
        return [*self.future, *self.past, *self.static]


class Data(Section):
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
    id_column: str | None = Field(
        None,
        description="Long format: the column naming each series of a panel. Windows never cross series; "
        "each series is split, scaled (scaler.per_series) and forecast on its own.",
    )
    frequency: str | None = Field(
        None,
        description="pandas offset alias of the time column ('10min', 'h', 'D', 'W-SUN', 'MS'): missing "
        "stamps of each series are inserted (data.fill treats them); a stamp off that grid is an error.",
    )
    covariates: Covariates = Field(default_factory=Covariates)
    calendar: list[Literal[CALENDAR]] = Field(  # type: ignore[valid-type]
        default_factory=list,
        description="Calendar features generated from the time column as sin/cos pairs, known for the horizon: "
        + ", ".join(CALENDAR),
    )
    split: Split = Field(default_factory=Split)
    missing_values: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Sentinel values that mean 'missing', per column (Jena: {'wv (m/s)': [-9999.0]}); "
        "data.fill treats them.",
    )
    fill: Literal["none", "ffill", "interpolate", "drop"] = Field(
        "none", description="What to do with missing values; 'none' rejects a series that has any."
    )

    @field_validator("path")
    @classmethod
    def _a_file(cls, path: str) -> str:
        """'' would resolve to the config's own folder (and be read as a Parquet dataset)."""
        if not path.strip():
            raise ValueError("empty; give the CSV or Parquet file to read")
        if "\0" in path:
            raise ValueError("holds a NUL character, which no file name can")
        return path

    @model_validator(mode="after")
    def _panel_keys_fit(self) -> Data:
        if self.calendar and self.time_column is None:
            raise ValueError("calendar features need data.time_column")
        if self.frequency is not None:
            if self.time_column is None:
                raise ValueError("frequency needs data.time_column")
            import pandas as pd  # deferred: pandas stays out of `import forecast` and --help

            try:
                pd.tseries.frequencies.to_offset(self.frequency)
            except ValueError:
                raise ValueError(
                    f"frequency: {self.frequency!r} is not a pandas offset alias (h, D, W-SUN, MS)"
                ) from None
        if self.covariates.static and self.id_column is None:
            raise ValueError("covariates.static needs data.id_column (a value per series)")
        named = [*self.covariates.all, *(self.targets or [])]
        for key in ("id_column", "time_column"):
            if getattr(self, key) is not None and getattr(self, key) in named:
                raise ValueError(f"{key}: '{getattr(self, key)}' is also a covariate or target")
        repeated = [c for c in self.covariates.all if self.covariates.all.count(c) > 1]
        if repeated:
            raise ValueError(f"covariates: '{repeated[0]}' is listed twice")
        both = [c for c in self.covariates.all if c in (self.targets or [])]
        if both:
            raise ValueError(f"covariates: '{both[0]}' is also a target")
        return self
