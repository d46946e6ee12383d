"""`forecast export`: a run as a SavedModel or an ONNX file that serves without forecast.

The exported graph takes raw windows in original units, (batch, timesteps, features) in the run's
feature order (and, for a panel, each window's series index), and returns forecasts in original
units: the run's scalers and their inverse are inside it, in float64 as `forecast predict` does
them, so both give the same numbers. A run that reads more than the window takes it as further
inputs, raw as well: time stamps (window_time, future_time) from which the graph computes the
calendar features, the horizon's future covariates (future), and a panel's static covariates
(static: numbers, standardized inside; categories: the run's integer codes). A quantile model adds
its quantiles, a run with intervals its calibrated bounds (where the window holds what their scale
needs). `signature.json` (`signature.py`) names every input and output, its shape and columns,
the window arithmetic and the forecast version: the contract a consumer in Java, C# or C++ codes
against.

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
from forecast.model import target_index
from forecast.rundir import Run, partial, write_atomic, write_json
from forecast.signature import Serving, describe

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
    from forecast.scalers import SeriesScalers  # deferred: scalers loads scikit-learn, which check() never needs

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
    from forecast.scalers import SeriesScalers, clip_bounds  # deferred: scalers loads scikit-learn

    tables = []
    for bound in clip_bounds(scalers):
        if bound is not None:
            bound = np.atleast_2d(bound).astype(np.float64)
            if isinstance(scalers, SeriesScalers):
                bound = np.where(~scalers.has_scaler()[:, None], np.nan, bound)
        tables.append(bound)
    return tables[0], tables[1]


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
    import keras  # deferred: Keras loads TensorFlow

    serving = Serving.load(run)
    spec, timesteps = serving.spec, serving.timesteps
    width = len(serving.features) + 2 * len(serving.calendar)  # the network's window: features, then calendar
    network = run.load_model((timesteps, width), (spec.horizon, len(serving.targets)))
    takes = {i.name for i in network.inputs}  # "window", and a panel model's "future", "static", "categories"
    inputs, fed, series = _graph_inputs(serving, takes)
    if set(fed) != takes:
        raise ForecastError(
            f"{run.model_file}: the model takes {sorted(takes)} but the run's config gives {sorted(fed)}"
        )
    outputs = _graph_outputs(serving, network(fed if len(fed) > 1 else fed["window"]), fed["window"], series)
    model = keras.Model(inputs, outputs, name="forecast_serving")
    model(_example_batch(inputs, timesteps or spec.history + 1))  # Keras exports only a model that has run
    return model, describe(serving, list(inputs))


def _graph_inputs(serving: Serving, takes: set[str]) -> tuple[dict, dict, Any]:
    """The graph's raw inputs and what they feed the network.

    Args:
        serving: the run as served.
        takes: the network's input names.

    Returns:
        (raw inputs by name, in the graph's order; the network's inputs by name, scaled; the
        `series` input, None for one series).
    """
    import keras  # deferred: Keras loads TensorFlow

    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    inputs = {"window": keras.Input((serving.timesteps, len(serving.features)), name="window")}
    series = None
    if serving.panel:
        series = inputs["series"] = keras.Input((), dtype="int32", name="series")
    tables = affine_tables(serving.scalers, "features", len(serving.features))
    scaled = fl.Affine(*tables, "float32", name="scale_window")(inputs["window"], series)
    if serving.calendar:
        inputs["window_time"] = keras.Input((serving.timesteps,), dtype="int64", name="window_time")
        days = fl.Calendar(serving.calendar, name="window_calendar")(inputs["window_time"])
        scaled = keras.layers.Concatenate(axis=-1, name="window_with_calendar")([scaled, days])
    fed = {"window": scaled}
    if "future" in takes:
        raw, fed["future"] = _future_inputs(serving, tables, series)
        inputs |= raw
    raw, static = _static_inputs(serving, takes)
    return inputs | raw, fed | static, series


def _future_inputs(serving: Serving, tables: tuple[np.ndarray, np.ndarray], series) -> tuple[dict, Any]:
    """The horizon's known values: (raw inputs by name, what the network's "future" input gets):
    the future covariates scaled by their feature columns' `tables`, then the calendar of the
    target rows' stamps."""
    import keras  # deferred: Keras loads TensorFlow

    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    inputs, known = {}, []
    if serving.covariates:
        inputs["future"] = keras.Input((serving.spec.horizon, len(serving.covariates)), name="future")
        own = _columns(tables, [serving.features.index(c) for c in serving.covariates])
        known.append(fl.Affine(*own, "float32", name="scale_future")(inputs["future"], series))
    if serving.calendar:
        inputs["future_time"] = keras.Input((serving.spec.horizon,), dtype="int64", name="future_time")
        known.append(fl.Calendar(serving.calendar, name="future_calendar")(inputs["future_time"]))
    if len(known) == 1:
        return inputs, known[0]
    return inputs, keras.layers.Concatenate(axis=-1, name="future_with_calendar")(known)


def _static_inputs(serving: Serving, takes: set[str]) -> tuple[dict, dict]:
    """A panel's static covariates, for the network inputs in `takes`: (raw inputs by name, what
    the network gets by name): numeric ones standardized inside, categorical codes as they are."""
    import keras  # deferred: Keras loads TensorFlow

    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    encoder = serving.scalers.static
    inputs, fed = {}, {}
    if "static" in takes:
        numeric = list(encoder.numeric.values())
        mean, std = np.array([[m for m, _ in numeric]]), np.array([[s for _, s in numeric]])
        inputs["static"] = keras.Input((len(numeric),), name="static")
        fed["static"] = fl.Affine(1 / std, -mean / std, "float32", name="scale_static")(inputs["static"])
    if "categories" in takes:
        inputs["categories"] = keras.Input((len(encoder.categorical),), dtype="int32", name="categories")
        fed["categories"] = inputs["categories"]
    return inputs, fed


def _graph_outputs(serving: Serving, raw, scaled, series) -> dict:
    """The network's output `raw` in original units: the point forecast (a quantile model's
    median), its quantiles, and the calibrated bounds computed from the `scaled` window, where the
    window holds what their scale needs (`Serving.bounds`)."""
    from forecast import layers as fl  # deferred: layers loads Keras (TensorFlow)

    scalers, targets, quantiles = serving.scalers, serving.targets, serving.config.model.quantiles
    unscale = fl.Affine(*affine_tables(scalers, "targets", len(targets), inverse=True), "float64",
                        *clip_tables(scalers), name="unscale")  # fmt: skip
    point = fl.Select(quantiles.index(0.5), axis=2, name="median")(raw) if quantiles else raw
    outputs = {"forecast": unscale(point, series)}
    if quantiles:
        outputs["quantiles"] = unscale(raw, series)
    calibration = serving.calibration
    if calibration is not None and serving.bounds_left_out is None:
        index = target_index(serving.config.model, serving.features, targets)  # the calendar comes after them
        layer = fl.WindowBounds(
            calibration.method, calibration.levels, None if calibration.corrections is None
            else calibration.corrections.tolist(), calibration.floor.tolist(), calibration.lag, index,
            calibration.quantiles, name="bounds_scaled",
        )  # fmt: skip
        outputs["bounds"] = unscale(layer(scaled, raw), series)
    return outputs


def _example_batch(inputs: dict, steps: int) -> dict[str, np.ndarray]:
    """Two rows of zeros for every input (a variable-length window and its stamps: `steps` long)."""
    return {name: np.zeros((2, *(d or steps for d in i.shape[1:])), i.dtype) for name, i in inputs.items()}


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
        import onnxruntime as ort  # deferred: an optional extra (forecast[export])

        session = ort.InferenceSession(str(path))
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(None, inputs), strict=True))
    import tensorflow as tf  # deferred: TensorFlow takes seconds to load

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    return {k: v.numpy() for k, v in serve(**{k: tf.constant(v) for k, v in inputs.items()}).items()}
