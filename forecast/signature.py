"""signature.json: what an exported run takes and returns, the contract a consumer codes against.

An exported graph (`export.py`) is called from Java, C# or C++ with no forecast installed, so
everything a consumer needs to feed it is written down beside it: every input and output by
name, its dtype, shape and columns, how the time stamps are counted, the window arithmetic, the
panel's series ids and static vocabularies, and the forecast version. `Serving` holds the run's
pieces both the graph and this description are built from, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.intervals import Calibration
from forecast.rundir import Run
from forecast.version import __version__
from forecast.windows import WindowSpec

if TYPE_CHECKING:
    from forecast.data import InputSchema
    from forecast.scalers import Scalers, SeriesScalers, StaticEncoder

STAMPS = (
    "whole seconds since 1970-01-01T00:00 of the wall-clock time the time column shows (a zoned column: its "
    "local time, not UTC), rounded down; pandas: times.tz_localize(None).as_unit('ns').asi8 // 10**9 (a naive "
    "column without tz_localize). Seconds within a minute do not change the calendar features"
)


def stamps(times) -> np.ndarray:
    """What `window_time` and `future_time` take for `times` (a pandas DatetimeIndex, naive or
    zoned): int64 whole seconds since 1970-01-01T00:00 of each stamp's wall-clock time, the time
    the calendar features describe (a zoned index's local time, as pandas' .hour gives it).

    Args:
        times: the stamps, anything `pd.DatetimeIndex` takes.
    """
    import pandas as pd  # deferred: pandas takes a second to load, and export refuses a bad --format before

    times = pd.DatetimeIndex(times)
    naive = times.tz_localize(None) if times.tz is not None else times
    return naive.as_unit("ns").asi8 // 10**9  # floor: a stamp before 1970 keeps its own second


@dataclass(frozen=True)
class Serving:
    """A run as served: the pieces its serving graph is built from and its signature describes.

    Attributes:
        run: the run.
        schema: the columns it was trained on (schema.json).
        scalers: its fitted scalers (one per series for a panel: `SeriesScalers`).
        calibration: its calibrated intervals (None: none).
        spec: its window arithmetic.
    """

    run: Run
    schema: InputSchema
    scalers: Scalers | SeriesScalers
    calibration: Calibration | None
    spec: WindowSpec

    @classmethod
    def load(cls, run: Run) -> Serving:
        """The run's pieces, read from its directory.

        Args:
            run: a completed run.

        Raises:
            ForecastError: the run has no schema.json (it predates forecast recording its columns).
        """
        schema = run.load_schema()
        if schema is None:
            raise ForecastError(f"{run.path}: no schema.json (a run from before forecast recorded its columns)")
        scalers = run.load_scalers(run.config)
        return cls(run, schema, scalers, run.load_intervals(), WindowSpec.from_config(run.config.window))

    @property
    def config(self) -> cfg.Config:
        return self.run.config

    @property
    def features(self) -> list[str]:
        return list(self.schema.features)

    @property
    def targets(self) -> list[str]:
        return list(self.schema.targets)

    @property
    def calendar(self) -> list[str]:
        return list(self.config.data.calendar)

    @property
    def covariates(self) -> list[str]:
        """The future covariates: the `future` input's columns."""
        return list(self.config.data.covariates.future)

    @property
    def timesteps(self) -> int | None:
        """Rows per window (None: a variable-length window)."""
        return None if self.spec.variable_length else self.spec.timesteps

    @property
    def panel(self) -> bool:
        """Whether the graph takes each window's series (a panel: one scaler per series)."""
        from forecast.scalers import SeriesScalers  # deferred: scalers loads scikit-learn (seconds)

        return isinstance(self.scalers, SeriesScalers)

    @property
    def bounds_left_out(self) -> str | None:
        """Why the run's intervals cannot be computed from the window alone (None: they can, or there are none)."""
        calibration, spec = self.calibration, self.spec
        if calibration is None:
            return None
        if spec.step != 1:
            return "window.step > 1: each window's scale reads rows between the sampled ones"
        if any(t not in self.features for t in self.targets):
            return "a target is not among the features: the window does not hold its values for the scale"
        if spec.variable_length or spec.history < calibration.lag:
            return "the window is shorter than the scale's lag"
        return None

    @property
    def bounds(self) -> list[float] | None:
        """The quantiles of the `bounds` output (None: the graph has none)."""
        if self.calibration is None or self.bounds_left_out is not None:
            return None
        return self.calibration.bound_quantiles


def describe(serving: Serving, inputs: list[str]) -> dict:
    """The signature of the run's serving graph, written as signature.json.

    Args:
        serving: the run as served.
        inputs: the graph's input names, in its order.
    """
    config, spec = serving.config, serving.spec
    described = _inputs(serving)
    signature = {
        "forecast_version": __version__,
        "run": serving.run.path.name,
        "inputs": [{"name": name, **described[name]} for name in inputs],
        "outputs": _outputs(serving),
        "window": {
            "lookback": config.window.lookback,
            "step": spec.step,
            "timesteps": serving.timesteps,
            "delay": spec.delay,
            "horizon": spec.horizon,
        },
        "time_column": serving.schema.time_column,
        "frequency": config.data.frequency or serving.schema.frequency,
        "id_column": config.data.id_column,
        "clip": config.scaler.clip,  # the outputs are kept within each series' training range (scaler.clip)
    }
    if serving.bounds_left_out is not None:
        signature["bounds_left_out"] = serving.bounds_left_out
    return signature


def _inputs(serving: Serving) -> dict[str, dict]:
    """Each input the graph may take, by name: dtype, shape, and its columns or meaning."""
    from forecast import calendar as cal  # deferred: calendar loads pandas

    timesteps, horizon = serving.timesteps, serving.spec.horizon
    described = {
        "window": {
            "dtype": "float32",
            "shape": [None, timesteps, len(serving.features)],
            "columns": serving.features,
            "units": "original: the rows of each window, oldest first, every `step` rows",
        },
        "future": {
            "dtype": "float32",
            "shape": [None, horizon, len(serving.covariates)],
            "columns": serving.covariates,
            "units": "original: each future covariate's known value at the forecast's target rows (origin + "
            "delay, ..., origin + delay + horizon - 1), the rows of the `forecast` output",
        },
    }
    if serving.panel:
        scalers = serving.scalers
        described["series"] = {
            "dtype": "int32",
            "shape": [None],
            "meaning": "each window's series: its index in `ids`",
            "ids": list(scalers.ids),
            "unfitted": [i for i, ok in zip(scalers.ids, scalers.has_scaler(), strict=True) if not ok],
        }
    time_input = {"units": STAMPS, "calendar": serving.calendar, "calendar_columns": cal.names(serving.calendar)}
    described["window_time"] = {
        "dtype": "int64",
        "shape": [None, timesteps],
        "meaning": "each window row's time stamp: the graph computes the calendar features from it",
        **time_input,
    }
    described["future_time"] = {
        "dtype": "int64",
        "shape": [None, horizon],
        "meaning": "the time stamps of the forecast's target rows, for their calendar features",
        **time_input,
    }
    if serving.scalers.static is not None:
        described |= _static_inputs(serving.scalers.static)
    return described


def _static_inputs(encoder: StaticEncoder) -> dict[str, dict]:
    """A panel's static covariates: numeric ones in original units, categorical ones as the run's codes."""
    return {
        "static": {
            "dtype": "float32",
            "shape": [None, len(encoder.numeric)],
            "columns": list(encoder.numeric),
            "units": "original: each window's series' numeric static covariates (standardized inside)",
        },
        "categories": {
            "dtype": "int32",
            "shape": [None, len(encoder.categorical)],
            "columns": list(encoder.categorical),
            "meaning": "each window's series' categorical static covariates as codes: 0 is a value the run never "
            "saw; k >= 1 is vocabularies[column][k - 1] (the value's 1-based position in its vocabulary)",
            "vocabularies": encoder.categorical,
        },
    }


def _outputs(serving: Serving) -> list[dict]:
    """The graph's outputs, in its order: the point forecast, a quantile model's quantiles, the bounds."""
    horizon, targets = serving.spec.horizon, serving.targets
    quantiles, bounds = serving.config.model.quantiles, serving.bounds
    outputs = [
        {
            "name": "forecast",
            "dtype": "float64",
            "shape": [None, horizon, len(targets)],
            "columns": targets,
            "meaning": "the point forecast (a quantile model's median), original units",
        }
    ]
    if quantiles:
        outputs.append({
            "name": "quantiles",
            "dtype": "float64",
            "shape": [None, horizon, len(quantiles), len(targets)],
            "levels": quantiles,
            "columns": targets,
        })  # fmt: skip
    if bounds:
        outputs.append({
            "name": "bounds",
            "dtype": "float64",
            "shape": [None, horizon, len(bounds), len(targets)],
            "quantiles": bounds,
            "levels": serving.calibration.levels,
            "method": serving.calibration.method,
            "columns": targets,
        })  # fmt: skip
    return outputs
