"""Backend set-up: seeding, determinism and CPU threads. The TensorFlow-only calls live here.

Everything else in forecast is written against `keras` and `keras.ops`, so it runs unchanged
with KERAS_BACKEND=jax or torch; this module is where the backends differ.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

import keras

if TYPE_CHECKING:
    from forecast.dataset import BatchSource


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
        import tensorflow as tf  # deferred: only the TensorFlow backend has it

        tf.config.experimental.enable_op_determinism()
        threads = int(os.environ.get("FORECAST_THREADS", "0"))  # 0: TensorFlow's default, all cores
        if threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:  # the runtime already started (a second run in one process)
                pass


# Above this many bytes of series, TensorFlow's copy of them (tf.constant copies, briefly twice)
# costs more than the Python call per batch saves: batches are then gathered by the PyDataset.
GRAPH_COPY_LIMIT = 256 * 2**20


def batches(source: BatchSource, endless: bool = False):
    """What `model.fit` / `model.predict` should consume for a WindowDataset (any `BatchSource`).

    Other backends take the PyDataset as it is. On TensorFlow, Keras would wrap it in
    `tf.data.Dataset.from_generator`: a Python call per batch, holding the GIL beside
    TensorFlow's own threads. On the 2-core machine that cost ~10 % per epoch against arrays in
    memory and made some epochs take twice as long (bench/throughput.py). So here the same
    batches (the dataset's own order and padding, so resume and seeds behave alike on every
    backend) are gathered in the graph by tf.gather; Python runs once per epoch, to hand over
    that epoch's order.

    endless: training, an unending stream of epochs (fit it with steps_per_epoch=len(source));
    otherwise one pass, as validation and prediction need.

    Series larger than GRAPH_COPY_LIMIT (a panel of tens of millions of rows) stay in NumPy and go
    through the PyDataset: TensorFlow's tf.constant would copy them (measured: 2.35 GB more for a
    1.14 GB array), and with batches of a thousand windows the per-batch Python call is noise.
    """
    x, y = source.arrays()
    if keras.backend.backend() != "tensorflow" or x.nbytes + (0 if y is None else y.nbytes) > GRAPH_COPY_LIMIT:
        return source
    import tensorflow as tf  # deferred: only the TensorFlow backend has it

    input_offsets, target_offsets = source.offsets()
    series = tf.constant(x)
    inputs = tf.constant(input_offsets)
    targets = tf.constant(target_offsets)
    labels = None if y is None else tf.constant(y)

    feed = getattr(source, "feed", None)
    extras = {}
    if feed is not None:  # a panel model's other inputs, gathered in the graph the same way
        starts = tf.constant(feed.starts, tf.int64)
        future = tf.constant(feed.future, tf.int32)
        extras = {k: tf.constant(v) for k, v in (("static", feed.static), ("categories", feed.categories))
                  if v is not None and v.shape[1]}  # fmt: skip

    def gather(origins):
        x = tf.gather(series, origins[:, None] + inputs)
        if feed is not None:
            x = {"window": x}
            if feed.future:
                x["future"] = tf.gather(tf.gather(series, origins[:, None] + targets), future, axis=2)
            which = tf.searchsorted(starts, origins, side="right") - 1
            x.update({k: tf.gather(v, which) for k, v in extras.items()})
        return x if labels is None else (x, tf.gather(labels, origins[:, None] + targets))

    if endless:

        def orders():
            while True:
                # Keras's fit calls a PyDataset's on_epoch_end once before the first epoch (its
                # epoch iterator's reset) and after each: do the same, so that epoch k trains on
                # the same pass here as on JAX and torch.
                yield source.next_epoch()

        origins = tf.data.Dataset.from_generator(orders, output_signature=tf.TensorSpec([None], tf.int64))
        origins = origins.flat_map(tf.data.Dataset.from_tensor_slices)
    else:
        origins = tf.data.Dataset.from_tensor_slices(source.epoch_order())
    # A sequential map: one gather per batch takes ~0.1 ms, and prefetch already overlaps it with
    # the step (a parallel map measured no faster and logs an op-attribute error on TF 2.21).
    return origins.batch(source.batch_size, drop_remainder=endless).map(gather).prefetch(tf.data.AUTOTUNE)


def device() -> str:
    """The accelerator the backend uses first ('gpu:0'), else 'cpu:0'."""
    if keras.backend.backend() == "torch":  # keras.distribution has no torch implementation
        import torch  # deferred: only the torch backend has it

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
        import tensorboard  # noqa: F401  tf.summary's implementation; deferred: only TensorFlow uses it
    except ImportError:
        return None
    return keras.callbacks.TensorBoard(str(log_dir), write_graph=False, profile_batch=0)


def _split_cpu() -> None:
    """FORECAST_CPU_DEVICES=N splits the CPU into N logical devices (to test mirrored training
    without GPUs). It must run before TensorFlow initializes its devices."""
    count = int(os.environ.get("FORECAST_CPU_DEVICES", "0"))
    if count > 1:
        import tensorflow as tf  # deferred: only the TensorFlow backend has it

        cpu = tf.config.list_physical_devices("CPU")[0]
        with contextlib.suppress(RuntimeError):  # already initialized in this process: keep what it has
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def strategy(kind: str):
    """A tf.distribute strategy for `training.distribute`, or None for the default device.

    mirrored: one replica per visible GPU, or per logical CPU when there is no GPU; multi_worker:
    MultiWorkerMirroredStrategy, whose cluster comes from the TF_CONFIG variable.
    """
    if kind == "none":
        return None
    # deferred: only the TensorFlow backend has it; another was refused before the run existed (check_distribute)
    import tensorflow as tf

    if kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [
        d.name for d in tf.config.list_logical_devices("CPU")
    ]
    return tf.distribute.MirroredStrategy(devices)
