"""`forecast export`: a run as a SavedModel or an ONNX file that serves without forecast.

The exported graph takes raw windows in original units, (batch, timesteps, features) in the run's
feature order (and, for a panel, each window's series index), and returns forecasts in original
units: the run's scalers and their inverse are inside it, in float64 as `forecast predict` does
them, so both give the same numbers. A quantile model adds its quantiles, a run with intervals its
calibrated bounds (where the window holds what their scale needs). `signature.json` names every
input and output, its shape and columns, the window arithmetic and the forecast version: the
contract a consumer in Java, C# or C++ codes against.

Keras builds the artifact (`Model.export`: tf_saved_model, or onnx through tf2onnx); this module
only assembles the graph around the trained network. TensorFlow-only: export is a TensorFlow
backend feature.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from forecast.errors import ForecastError
from forecast.rundir import Run, write_json

FORMATS = {"saved_model": "tf_saved_model", "onnx": "onnx"}


def signature_path(output: Path, fmt: str) -> Path:
    """Where signature.json goes: inside a SavedModel's directory, beside an ONNX file
    (`model.onnx` -> `model.signature.json`)."""
    return output / "signature.json" if fmt == "saved_model" else output.with_suffix(".signature.json")


def check(run: Run, fmt: str, output: Path) -> None:
    """Everything that can be refused before Keras loads: format, extras, dependencies, output path."""
    if fmt not in FORMATS:
        raise ForecastError(f"--format: expected saved_model or onnx (got '{fmt}')")
    config = run.config
    covariates = config.data.covariates
    if covariates.future or covariates.static or config.data.calendar:  # past covariates are window columns
        raise ForecastError(
            "export: runs with future or static covariates or calendar features cannot be exported yet "
            "(the graph would need the horizon's known values); forecast predict serves them"
        )
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
        unfitted = ~scalers._fitted()[:, None]  # no training rows, no scaler: their forecasts come out NaN
        return np.where(unfitted, np.nan, scale), np.where(unfitted, np.nan, shift)
    scaler = scalers.features if part == "features" else scalers.targets
    apply = scaler.inverse_transform if inverse else scaler.transform
    zero = np.asarray(apply(np.zeros((1, n))), dtype=np.float64)
    one = np.asarray(apply(np.ones((1, n))), dtype=np.float64)
    return one - zero, zero


def serving_model(run: Run):
    """The run's network wrapped with its scalers (and intervals): raw windows in, original units out.

    Returns:
        (keras.Model, signature dict).
    """
    import keras

    from forecast import __version__
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
    spec = WindowSpec.from_config(config.window)
    timesteps = None if spec.variable_length else spec.timesteps
    network = run.load_model((timesteps, len(features)), (spec.horizon, len(targets)))

    window = keras.Input((timesteps, len(features)), name="window")
    inputs, series = {"window": window}, None
    panel = isinstance(scalers, SeriesScalers)
    if panel:
        series = keras.Input((), dtype="int32", name="series")
        inputs["series"] = series
    scaled = fl.Affine(*affine_tables(scalers, "features", len(features)), "float32", name="scale_window")(
        window, series
    )
    raw = network(scaled)
    unscale = fl.Affine(*affine_tables(scalers, "targets", len(targets), inverse=True), "float64", name="unscale")
    quantiles = config.model.quantiles
    outputs = {}
    point = fl.Select(quantiles.index(0.5), axis=2, name="median")(raw) if quantiles else raw
    outputs["forecast"] = unscale(point, series)
    if quantiles:
        outputs["quantiles"] = unscale(raw, series)
    bounds, reason = None, _bounds_blocker(config, spec, features, targets, calibration)
    if calibration is not None and reason is None:
        index = target_index(config.model, features, targets)
        layer = fl.WindowBounds(
            calibration.method, calibration.levels, None if calibration.corrections is None
            else calibration.corrections.tolist(), calibration.floor.tolist(), calibration.lag, index,
            calibration.quantiles, name="bounds_scaled",
        )  # fmt: skip
        bounds = calibration.bound_quantiles
        outputs["bounds"] = unscale(layer(scaled, raw), series)
    model = keras.Model(inputs, outputs, name="forecast_serving")
    batch = {"window": np.zeros((2, timesteps or spec.history + 1, len(features)), "float32")}
    if panel:
        batch["series"] = np.zeros((2,), "int32")
    model(batch)  # built and called once: Keras exports only a model that has run

    signature = {
        "forecast_version": __version__,
        "run": run.path.name,
        "inputs": [
            {
                "name": "window",
                "dtype": "float32",
                "shape": [None, timesteps, len(features)],
                "columns": features,
                "units": "original: the rows of each window, oldest first, every `step` rows",
            },
            *(
                [
                    {
                        "name": "series",
                        "dtype": "int32",
                        "shape": [None],
                        "meaning": "each window's series: its index in `ids`",
                        "ids": list(scalers.ids),
                        "unfitted": [i for i, ok in zip(scalers.ids, scalers._fitted(), strict=True) if not ok],
                    }
                ]
                if panel
                else []
            ),
        ],
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
    }
    if calibration is not None and reason is not None:
        signature["bounds_left_out"] = reason
    return model, signature


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
    import os

    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")  # this process's own
    try:
        model.export(str(tmp), format=FORMATS[fmt], verbose=False)
        if fmt == "saved_model":
            write_json(tmp / "signature.json", signature)
        tmp.rename(output)
        if fmt == "onnx":
            try:
                write_json(signature_path(output, fmt), signature)
            except BaseException:
                output.unlink(missing_ok=True)
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        raise
    return signature


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
