"""Backend set-up: seeding, determinism and CPU threads. The TensorFlow-only calls live here.

Everything else in forecast is written against `keras` and `keras.ops`, so it runs unchanged
with KERAS_BACKEND=jax or torch; this module is where the backends differ.
"""

from __future__ import annotations

import os

import keras


def configure(seed: int) -> None:
    """Seed Python, NumPy and the backend, and make TensorFlow's CPU kernels deterministic.

    With op determinism, two CPU trainings of one config give bit-identical weights. On a GPU,
    TensorFlow's cuDNN RNN kernels are deterministic under the same switch; JAX and torch GPU
    runs may still differ in the last bits (atomics in their reductions).
    """
    if keras.backend.backend() == "tensorflow":
        _split_cpu()
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        threads = int(os.environ.get("FORECAST_THREADS", "0"))  # 0: TensorFlow's default, all cores
        if threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:  # the runtime already started (a second run in one process)
                pass


def device() -> str:
    """The accelerator the backend uses first ('gpu:0'), else 'cpu:0'."""
    if keras.backend.backend() == "torch":  # keras.distribution has no torch implementation
        import torch

        return "gpu:0" if torch.cuda.is_available() else "cpu:0"
    try:
        devices = keras.distribution.list_devices()
    except Exception:  # a backend without device listing still trains
        return "unknown"
    return next((d for d in devices if not d.lower().startswith("cpu")), devices[0] if devices else "cpu:0")


def tensorboard(log_dir) -> keras.callbacks.Callback | None:
    """Keras's TensorBoard callback where tf.summary exists (TensorFlow backend), else None."""
    if keras.backend.backend() != "tensorflow":
        return None
    try:
        import tensorboard  # noqa: F401  tf.summary's implementation
    except ImportError:
        return None
    return keras.callbacks.TensorBoard(str(log_dir), write_graph=False, profile_batch=0)


def _split_cpu() -> None:
    """FORECAST_CPU_DEVICES=N splits the CPU into N logical devices (to test mirrored training
    without GPUs). It must run before TensorFlow initializes its devices."""
    count = int(os.environ.get("FORECAST_CPU_DEVICES", "0"))
    if count > 1:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        except RuntimeError:  # already initialized in this process: keep what it has
            pass


def strategy(kind: str):
    """A tf.distribute strategy for `training.distribute`, or None for the default device.

    mirrored: one replica per visible GPU, or per logical CPU when there is no GPU; multi_worker:
    MultiWorkerMirroredStrategy, whose cluster comes from the TF_CONFIG variable.
    """
    if kind == "none":
        return None
    if keras.backend.backend() != "tensorflow":
        from forecast.errors import ForecastError

        raise ForecastError(f"training.distribute={kind} needs the TensorFlow backend (KERAS_BACKEND is {keras.backend.backend()})")
    import tensorflow as tf

    if kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)
