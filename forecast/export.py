"""`forecast export`: a run as a SavedModel or an ONNX file that serves without forecast.

The exported graph takes raw windows in original units, (batch, timesteps, features) in the run's
feature order (and, for a panel, each window's series index), and returns forecasts in original
units: the run's scalers and their inverse are inside it, in float64 as `forecast predict` does
them, so both give the same numbers. A run that reads more than the window takes it as further
inputs, raw as well: time stamps (window_time, future_time) from which the graph computes the
calendar features, the horizon's future covariates (future), and a panel's static covariates
(static: numbers, standardized inside; categories: the run's integer codes). A quantile model adds
its quantiles, a run with intervals its calibrated bounds (where the window holds what their scale
needs). `signature.json` names every input and output, its shape and columns, the window
arithmetic and the forecast version: the contract a consumer in Java, C# or C++ codes against.

Keras builds the artifact (`Model.export`: tf_saved_model, or onnx through tf2onnx); this module
only assembles the graph around the trained network. TensorFlow-only: export is a TensorFlow
backend feature.
"""

from __future__ import annotations

import importlib.util
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from forecast.errors import ForecastError
from forecast.rundir import Run, partial, write_atomic, write_json
from forecast.version import __version__

FORMATS = {"saved_model": "tf_saved_model", "onnx": "onnx"}


def signature_path(output: Path, fmt: str) -> Path:
    """Where signature.json goes: inside a SavedModel's directory, beside an ONNX file
    (`model.onnx` -> `model.signature.json`)."""
    return output / "signature.json" if fmt == "saved_model" else output.with_suffix(".signature.json")


def check(run: Run, fmt: str, output: Path) -> None:
    """Everything that can be refused before Keras loads: format, extras, dependencies, output path."""
    if fmt not in FORMATS:
        raise ForecastError(f"--format: expected saved_model or onnx (got '{fmt}')")
    if fmt == "onnx":
        missing = [m for m in ("onnx", "tf2onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
        if missing:
            raise ForecastError(f"export --format onnx needs {', '.join(missing)}: pip install 'forecast[export]'")
    for path in (output, signature_path(output, fmt)):
        if path.exists():
            raise ForecastError(f"--output: {path} exists; export never overwrites")
    if not output.parent.is_dir():
        raise ForecastError(f"--output: {output.parent} is not a directory")


def affine_tables(scalers: Any, part: str, n: int, inverse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) tables, one row per series (or one row), with x * scale + shift equal to the
    run's scaler on `part` ("features" or "targets") or, with `inverse`, to its inverse."""
    from forecast.scalers import SeriesScalers

    if isinstance(scalers, SeriesScalers):
        center, scale = (scalers.center, scalers.scale) if part == "features" else (
            scalers.target_center, scalers.target_scale)  # fmt: skip
        scale, shift = (scale, center) if inverse else (1 / scale, -center / scale)
        unfitted = ~scalers.has_scaler()[:, None]  # no training rows, no scaler: their forecasts come out NaN
        return np.where(unfitted, np.nan, scale), np.where(unfitted, np.nan, shift)
    scaler = scalers.features if part == "features" else scalers.targets
    apply = scaler.inverse_transform if inverse else scaler.transform
    zero = np.asarray(apply(np.zeros((1, n))), dtype=np.float64)
    one = np.asarray(apply(np.ones((1, n))), dtype=np.float64)
    return one - zero, zero


def clip_tables(scalers: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(low, high) tables in original units, one row per series (or one row), of scaler.clip's range
    (None: that side is open); a series without training rows gets NaN, as its forecast does."""
    from forecast.scalers import SeriesScalers, clip_bounds

    tables = []
    for bound in clip_bounds(scalers):
        if bound is not None:
            bound = np.atleast_2d(bound).astype(np.float64)
            if isinstance(scalers, SeriesScalers):
                bound = np.where(~scalers.has_scaler()[:, None], np.nan, bound)
        tables.append(bound)
    return tables[0], tables[1]


STAMPS = (
    "whole seconds since 1970-01-01T00:00 of the wall-clock time the time column shows (a zoned column: its "
    "local time, not UTC), rounded down; pandas: times.tz_localize(None).as_unit('ns').asi8 // 10**9 (a naive "
    "column without tz_localize). Seconds within a minute do not change the calendar features"
)


def stamps(times) -> np.ndarray:
    """What `window_time` and `future_time` take for `times` (a pandas DatetimeIndex, naive or
    zoned): int64 whole seconds since 1970-01-01T00:00 of each stamp's wall-clock time, the time
    the calendar features describe (a zoned index's local time, as pandas' .hour gives it)."""
    import pandas as pd

    times = pd.DatetimeIndex(times)
    naive = times.tz_localize(None) if times.tz is not None else times
    return naive.as_unit("ns").asi8 // 10**9  # floor: a stamp before 1970 keeps its own second


def _columns(tables: tuple[np.ndarray, np.ndarray], columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The (scale, shift) tables of some of the columns (future covariates among the features)."""
    return tables[0][:, columns], tables[1][:, columns]


def serving_model(run: Run):
    """The run's network wrapped with its scalers (and intervals): raw windows in, original units out.

    Beside the window, the graph takes what the network reads beside it, in original units too:
    time stamps for the calendar features (computed inside: `layers.Calendar`), the horizon's
    future covariates (scaled inside with the feature scaler's columns), and a panel's static
    covariates (numeric ones standardized inside, categorical ones as the run's codes).

    Returns:
        (keras.Model, signature dict).
    """
    import keras

    from forecast import calendar as cal
    from forecast import layers as fl
    from forecast.model import target_index
    from forecast.scalers import SeriesScalers
    from forecast.windows import WindowSpec

    config = run.config
    schema = run.load_schema()
    if schema is None:
        raise ForecastError(f"{run.path}: no schema.json (a run from before forecast recorded its columns)")
    scalers = run.load_scalers(config)
    calibration = run.load_intervals()
    features, targets = list(schema.features), list(schema.targets)
    calendar, covariates = list(config.data.calendar), list(config.data.covariates.future)
    spec = WindowSpec.from_config(config.window)
    timesteps = None if spec.variable_length else spec.timesteps
    width = len(features) + 2 * len(calendar)  # the network's window: scaled features, then calendar columns
    network = run.load_model((timesteps, width), (spec.horizon, len(targets)))
    takes = {i.name for i in network.inputs}  # "window", and a panel model's "future", "static", "categories"
    encoder = scalers.static

    window = keras.Input((timesteps, len(features)), name="window")
    inputs, series = {"window": window}, None
    panel = isinstance(scalers, SeriesScalers)
    if panel:
        series = keras.Input((), dtype="int32", name="series")
        inputs["series"] = series
    tables = affine_tables(scalers, "features", len(features))
    scaled = fl.Affine(*tables, "float32", name="scale_window")(window, series)
    if calendar:
        inputs["window_time"] = keras.Input((timesteps,), dtype="int64", name="window_time")
        days = fl.Calendar(calendar, name="window_calendar")(inputs["window_time"])
        scaled = keras.layers.Concatenate(axis=-1, name="window_with_calendar")([scaled, days])
    fed = {"window": scaled}
    if "future" in takes:
        known = []
        if covariates:
            inputs["future"] = keras.Input((spec.horizon, len(covariates)), name="future")
            own = _columns(tables, [features.index(c) for c in covariates])
            known.append(fl.Affine(*own, "float32", name="scale_future")(inputs["future"], series))
        if calendar:
            inputs["future_time"] = keras.Input((spec.horizon,), dtype="int64", name="future_time")
            known.append(fl.Calendar(calendar, name="future_calendar")(inputs["future_time"]))
        fed["future"] = (
            known[0] if len(known) == 1 else keras.layers.Concatenate(axis=-1, name="future_with_calendar")(known)
        )
    if "static" in takes:
        numeric = list(encoder.numeric.values())
        mean, std = np.array([[m for m, _ in numeric]]), np.array([[s for _, s in numeric]])
        inputs["static"] = keras.Input((len(numeric),), name="static")
        fed["static"] = fl.Affine(1 / std, -mean / std, "float32", name="scale_static")(inputs["static"])
    if "categories" in takes:
        inputs["categories"] = keras.Input((len(encoder.categorical),), dtype="int32", name="categories")
        fed["categories"] = inputs["categories"]
    if set(fed) != takes:
        raise ForecastError(
            f"{run.model_file}: the model takes {sorted(takes)} but the run's config gives {sorted(fed)}"
        )
    scaled = fed["window"]
    raw = network(fed if len(fed) > 1 else scaled)
    unscale = fl.Affine(*affine_tables(scalers, "targets", len(targets), inverse=True), "float64",
                        *clip_tables(scalers), name="unscale")  # fmt: skip
    quantiles = config.model.quantiles
    outputs = {}
    point = fl.Select(quantiles.index(0.5), axis=2, name="median")(raw) if quantiles else raw
    outputs["forecast"] = unscale(point, series)
    if quantiles:
        outputs["quantiles"] = unscale(raw, series)
    bounds, reason = None, _bounds_blocker(config, spec, features, targets, calibration)
    if calibration is not None and reason is None:
        index = target_index(config.model, features, targets)  # into the features: the calendar comes after them
        layer = fl.WindowBounds(
            calibration.method, calibration.levels, None if calibration.corrections is None
            else calibration.corrections.tolist(), calibration.floor.tolist(), calibration.lag, index,
            calibration.quantiles, name="bounds_scaled",
        )  # fmt: skip
        bounds = calibration.bound_quantiles
        outputs["bounds"] = unscale(layer(scaled, raw), series)
    model = keras.Model(inputs, outputs, name="forecast_serving")
    model(_example_batch(inputs, timesteps or spec.history + 1))  # Keras exports only a model that has run

    time_input = {"units": STAMPS, "calendar": calendar, "calendar_columns": cal.names(calendar)}
    described = {
        "window": {
            "dtype": "float32",
            "shape": [None, timesteps, len(features)],
            "columns": features,
            "units": "original: the rows of each window, oldest first, every `step` rows",
        },
        "series": {
            "dtype": "int32",
            "shape": [None],
            "meaning": "each window's series: its index in `ids`",
            "ids": list(scalers.ids),
            "unfitted": [i for i, ok in zip(scalers.ids, scalers.has_scaler(), strict=True) if not ok],
        }
        if panel
        else None,
        "window_time": {
            "dtype": "int64",
            "shape": [None, timesteps],
            "meaning": "each window row's time stamp: the graph computes the calendar features from it",
            **time_input,
        },
        "future": {
            "dtype": "float32",
            "shape": [None, spec.horizon, len(covariates)],
            "columns": covariates,
            "units": "original: each future covariate's known value at the forecast's target rows (origin + "
            "delay, ..., origin + delay + horizon - 1), the rows of the `forecast` output",
        },
        "future_time": {
            "dtype": "int64",
            "shape": [None, spec.horizon],
            "meaning": "the time stamps of the forecast's target rows, for their calendar features",
            **time_input,
        },
        "static": {
            "dtype": "float32",
            "shape": [None, len(encoder.numeric)],
            "columns": list(encoder.numeric),
            "units": "original: each window's series' numeric static covariates (standardized inside)",
        }
        if encoder is not None
        else None,
        "categories": {
            "dtype": "int32",
            "shape": [None, len(encoder.categorical)],
            "columns": list(encoder.categorical),
            "meaning": "each window's series' categorical static covariates as codes: 0 is a value the run never "
            "saw; k >= 1 is vocabularies[column][k - 1] (the value's 1-based position in its vocabulary)",
            "vocabularies": encoder.categorical,
        }
        if encoder is not None
        else None,
    }
    signature = {
        "forecast_version": __version__,
        "run": run.path.name,
        "inputs": [{"name": name, **described[name]} for name in inputs],
        "outputs": [
            {
                "name": "forecast",
                "dtype": "float64",
                "shape": [None, spec.horizon, len(targets)],
                "columns": targets,
                "meaning": "the point forecast (a quantile model's median), original units",
            },
            *(
                [
                    {
                        "name": "quantiles",
                        "dtype": "float64",
                        "shape": [None, spec.horizon, len(quantiles), len(targets)],
                        "levels": quantiles,
                        "columns": targets,
                    }
                ]
                if quantiles
                else []
            ),
            *(
                [
                    {
                        "name": "bounds",
                        "dtype": "float64",
                        "shape": [None, spec.horizon, len(bounds), len(targets)],
                        "quantiles": bounds,
                        "levels": calibration.levels,
                        "method": calibration.method,
                        "columns": targets,
                    }
                ]
                if bounds
                else []
            ),
        ],
        "window": {
            "lookback": config.window.lookback,
            "step": spec.step,
            "timesteps": timesteps,
            "delay": spec.delay,
            "horizon": spec.horizon,
        },
        "time_column": schema.time_column,
        "frequency": config.data.frequency or schema.frequency,
        "id_column": config.data.id_column,
        "clip": config.scaler.clip,  # the outputs are kept within each series' training range (scaler.clip)
    }
    if calibration is not None and reason is not None:
        signature["bounds_left_out"] = reason
    return model, signature


def _example_batch(inputs: dict, steps: int) -> dict[str, np.ndarray]:
    """Two rows of zeros for every input (a variable-length window and its stamps: `steps` long)."""
    return {name: np.zeros((2, *(d or steps for d in i.shape[1:])), i.dtype) for name, i in inputs.items()}


def _bounds_blocker(config, spec, features, targets, calibration) -> str | None:
    """Why the run's intervals cannot be computed from the window alone (None: they can)."""
    if calibration is None:
        return None
    if spec.step != 1:
        return "window.step > 1: each window's scale reads rows between the sampled ones"
    if any(t not in features for t in targets):
        return "a target is not among the features: the window does not hold its values for the scale"
    if spec.variable_length or spec.history < calibration.lag:
        return "the window is shorter than the scale's lag"
    return None


def export(run_dir: Path, fmt: str, output: Path) -> dict:
    """Write the run as `fmt` to `output` and its signature beside it; returns the signature.

    Both are written to temporary names first and renamed into place: a failure leaves nothing.
    """
    run = Run.open(Path(run_dir))
    output = Path(output)
    check(run, fmt, output)
    model, signature = serving_model(run)
    signature["format"] = fmt
    if fmt == "onnx":
        write_atomic(output, lambda tmp: _export(model, tmp, fmt))
        try:
            write_json(signature_path(output, fmt), signature)
        except BaseException:
            output.unlink(missing_ok=True)
            raise
        return signature
    tmp = partial(output)  # a folder: written whole, then renamed into place
    try:
        _export(model, tmp, fmt)
        write_json(tmp / "signature.json", signature)
        tmp.rename(output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return signature


def _export(model, path: Path, fmt: str) -> None:
    """Keras's export, without the FutureWarning its ONNX module's import (`hasattr(np, "object")`)
    prints on every run: stderr holds forecast's lines only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"keras\.src\.export\.")
        model.export(str(path), format=FORMATS[fmt], verbose=False)


def run_exported(path: Path, fmt: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs of an exported artifact for `inputs`, run the way a consumer runs it: ONNX through
    onnxruntime, a SavedModel through tf.saved_model.load's serving signature (parity checks)."""
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path))
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(None, inputs), strict=True))
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    return {k: v.numpy() for k, v in serve(**{k: tf.constant(v) for k, v in inputs.items()}).items()}
