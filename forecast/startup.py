"""Loading Keras: once, quietly, and as bad input when KERAS_BACKEND cannot be loaded.

TensorFlow prints C++ start-up lines (oneDNN, CUDA probing) straight to file descriptor 2, which
TF_CPP_MIN_LOG_LEVEL does not silence in TF 2.21. Importing Keras here with fd 2 pointed at
/dev/null keeps a later one-line error (a bad run directory, a tampered model) the only line a
user sees on stderr.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

from forecast.errors import ForecastError


def load_keras() -> None:
    """Import Keras (and its backend) now, with the backend's C++ start-up chatter kept off stderr,
    so that an error found after this point prints one line; an unusable backend is bad input.

    Raises:
        ForecastError: KERAS_BACKEND names a backend that cannot be imported.
    """
    if "keras" in sys.modules:
        return
    check_backend()  # an unknown or missing backend: the line validate and train say
    if os.environ.get("FORECAST_DEBUG"):  # --debug: every line the libraries print
        import keras  # deferred: this function is where Keras (TensorFlow) loads

        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                import keras  # deferred: this function is where Keras (TensorFlow) loads

                if keras.backend.backend() == "tensorflow":  # its device probe (cuInit) logs to fd 2 too
                    import tensorflow as tf  # deferred: only the TensorFlow backend has it

                    tf.config.list_physical_devices()
                    tf.get_logger().setLevel("ERROR")  # retracing notes (backtest --refit) are TF's, not ours
            finally:
                os.dup2(saved, 2)
    except Exception as exc:  # Keras raises ValueError for an unknown backend, ImportError for a missing one
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise unusable(backend_name(), reason[:150]) from None
    finally:
        os.close(saved)


def backend_name() -> str:
    """The backend Keras has loaded, or would load, found without importing it (validate must stay
    quick): KERAS_BACKEND, else keras.json's "backend" (in $KERAS_HOME or ~/.keras), else tensorflow."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as stream:
            return str(json.load(stream).get("backend", "tensorflow"))
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


BACKENDS = ("tensorflow", "jax", "torch", "numpy", "openvino")  # what Keras 3 can load


def check_backend() -> None:
    """Refuse, without importing it, a backend Keras does not know or that is not installed, so
    `forecast validate` refuses it as `train` does (`load_keras` reports any other failure)."""
    backend = backend_name()
    if backend not in BACKENDS:
        reason = f"not one of {', '.join(BACKENDS)}"
    elif importlib.util.find_spec(backend) is None:
        reason = f"{backend} is not installed"
    else:
        return
    raise unusable(backend, reason)


def unusable(backend: str, reason: str) -> ForecastError:
    """The one line for a backend Keras cannot load, named as `backend_name` finds it (KERAS_BACKEND
    or keras.json), whichever check found it."""
    return ForecastError(f"KERAS_BACKEND={backend}: cannot load Keras with this backend ({reason})")
