"""forecast.dataset: the window batches training and inference read, gathered from the rows rather than stored."""

import tracemalloc

import numpy as np
import pytest

from forecast.dataset import WindowDataset
from forecast.inference import predict_windows as predict
from forecast.windows import WindowSpec

SPEC = WindowSpec(timesteps=4, step=1, delay=1, horizon=2)
X = np.arange(200, dtype=np.float32).reshape(100, 2)
Y = np.arange(100, dtype=np.float32)[:, None]
ORIGINS = np.arange(3, 53)  # 50 windows


def test_training_batches_are_full_and_cover_every_window():
    ds = WindowDataset(X, Y, ORIGINS, SPEC, batch_size=16, shuffle=True, full_batches=True, seed=1)
    assert len(ds) == 4
    seen = []
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.shape == (16, 4, 2) and y.shape == (16, 2, 1)
        seen.extend(x[:, -1, 0] / 2)  # the origin row, read back from the inputs
        np.testing.assert_array_equal(y[:, 0, 0], x[:, -1, 0] / 2 + 1)  # target = next row
    assert set(seen) == set(ORIGINS.tolist())
    first = ds[0][0].copy()
    ds.on_epoch_end()
    assert not np.array_equal(first, ds[0][0])  # reshuffled


def test_validation_batches_are_exact():
    ds = WindowDataset(X, Y, ORIGINS, SPEC, batch_size=16, full_batches=False)
    sizes = [len(ds[i][0]) for i in range(len(ds))]
    assert sizes == [16, 16, 16, 2]


def test_batches_hold_the_rows_a_manual_slice_gives():
    ds = WindowDataset(X, Y, ORIGINS, SPEC, batch_size=16, shuffle=True, seed=2)
    for i in range(len(ds)):
        x, y = ds[i]
        origins = ds.order[i * 16 : (i + 1) * 16]
        # timesteps 4 every row up to the origin; targets the 2 rows after it (delay 1)
        np.testing.assert_array_equal(x, np.stack([X[o - 3 : o + 1] for o in origins]))
        np.testing.assert_array_equal(y, np.stack([Y[o + 1 : o + 3] for o in origins]))


def test_batches_are_gathered_not_stored():
    """Memory is O(series), not O(windows x timesteps): nothing the size of the windows is ever allocated."""
    rows, features, timesteps = 20_000, 8, 256
    x = np.zeros((rows, features), dtype=np.float32)  # 640 kB; all its windows together would be 164 MB
    y = np.zeros((rows, 1), dtype=np.float32)
    spec = WindowSpec(timesteps=timesteps, step=1, delay=1, horizon=4)
    origins = np.arange(timesteps - 1, rows - 4)
    windows_bytes = len(origins) * timesteps * features * 4
    tracemalloc.start()
    try:
        ds = WindowDataset(x, y, origins, spec, batch_size=32, shuffle=True, seed=0)
        _, built = tracemalloc.get_traced_memory()
        ds.on_epoch_end()
        batch = ds[len(ds) - 1]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert batch[0].shape == (32, timesteps, features)
    # a few copies of the origins (the shuffled order) and one batch: about 0.6 MB here, against 164 MB
    assert built < windows_bytes / 100
    assert peak < windows_bytes / 50
    assert np.shares_memory(ds.x, x) and np.shares_memory(ds.y, y)  # the caller's series, not a copy
    held = sum(v.nbytes for v in vars(ds).values() if isinstance(v, np.ndarray))
    assert held <= x.nbytes + y.nbytes + 3 * origins.nbytes


@pytest.mark.slow  # over 0.3 s (a Keras model's first predict)
def test_predict_keeps_order_and_drops_padding():
    import keras

    model = keras.Sequential([keras.Input((4, 2)), keras.layers.Lambda(lambda t: t[:, -2:, :1])])
    out = predict(model, X, ORIGINS, SPEC, batch_size=16)
    assert out.shape == (50, 2, 1)
    np.testing.assert_array_equal(out[:, -1, 0], ORIGINS * 2)


def test_steps_per_epoch_streams_through_reshuffled_passes():
    ds = WindowDataset(X, Y, ORIGINS, SPEC, batch_size=16, shuffle=True, seed=3, steps=2)  # 32 of 50 per epoch
    epochs = []
    for _ in range(5):  # 160 windows: passes 0, 1, 2 and the start of 3
        assert len(ds) == 2
        epochs.append(np.concatenate([ds[i][0][:, -1, 0] / 2 for i in range(2)]))
        ds.on_epoch_end()
    stream = np.concatenate(epochs)
    for k in range(3):
        assert sorted(stream[k * 50 : (k + 1) * 50]) == ORIGINS.tolist()  # each pass covers every window once
    resumed = WindowDataset(X, Y, ORIGINS, SPEC, batch_size=16, shuffle=True, seed=3, steps=2, epoch=3)
    np.testing.assert_array_equal(np.concatenate([resumed[i][0][:, -1, 0] / 2 for i in range(2)]), epochs[3])


@pytest.mark.slow  # trains a Keras model
def test_fit_trains_on_the_same_batches_on_every_backend():
    """What fit consumes (on TensorFlow an in-graph gather, elsewhere the PyDataset) is the same
    sequence of batches: same seeded shuffles, same padding, so seeds and resume hold alike.

    The model predicts zeros and never learns (learning rate 0), so each batch's loss is the mean
    of its squared targets, read back from the running mean Keras logs after every batch.
    """
    import keras

    from forecast import backend

    model = keras.Sequential(
        [
            keras.Input((4, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(2, kernel_initializer="zeros"),
            keras.layers.Reshape((2, 1)),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    means = []
    log = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: means.append(float(logs["loss"])))
    ds = WindowDataset(X, Y, ORIGINS, SPEC, batch_size=16, shuffle=True, full_batches=True, seed=5)
    model.fit(
        backend.batches(ds, endless=True), steps_per_epoch=len(ds), epochs=3, shuffle=False, callbacks=[log], verbose=0
    )
    per_epoch = np.reshape(means, (3, len(ds)))
    k = np.arange(1, len(ds) + 1)
    seen = (per_epoch * k - np.c_[np.zeros(3), per_epoch[:, :-1]] * (k - 1)).ravel()  # running means -> each batch's

    def expected(reset_first: bool) -> np.ndarray:
        reference = WindowDataset(X, Y, ORIGINS, SPEC, batch_size=16, shuffle=True, full_batches=True, seed=5)
        losses = []
        for _ in range(3):
            if reset_first:  # Keras resets a PyDataset before the first epoch
                reference.on_epoch_end()
            losses.extend(np.mean(reference[i][1] ** 2) for i in range(len(reference)))
            if not reset_first:
                reference.on_epoch_end()
        return np.array(losses)

    np.testing.assert_allclose(seen, expected(reset_first=True), rtol=1e-4)
    assert not np.allclose(seen, expected(reset_first=False), rtol=1e-4)  # the order is really checked

    val = WindowDataset(X, Y, ORIGINS, SPEC, batch_size=16, full_batches=False)
    sizes = [len(np.asarray(x)) for x, _ in backend.batches(val)]
    assert sizes == [16, 16, 16, 2]  # one exact pass, ragged tail kept
