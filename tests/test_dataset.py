import numpy as np

from forecast.dataset import WindowDataset, predict
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


def test_batches_are_gathered_not_stored():
    ds = WindowDataset(X, Y, ORIGINS, SPEC, batch_size=16)
    assert ds.x is X  # the series itself, never a copy per window
    assert not any(isinstance(v, np.ndarray) and v.ndim == 3 for v in vars(ds).values())


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


def test_backend_batches_are_the_datasets_own_batches():
    """What fit consumes (on TensorFlow an in-graph gather) equals the PyDataset batch for batch,
    epoch after epoch: same shuffles, same padding, so resume and seeds hold on every backend."""
    from forecast import backend

    ds = WindowDataset(X, Y, ORIGINS, SPEC, batch_size=16, shuffle=True, full_batches=True, seed=5)
    reference = WindowDataset(X, Y, ORIGINS, SPEC, batch_size=16, shuffle=True, full_batches=True, seed=5)
    def epochs():
        batches = backend.batches(ds, endless=True)
        if batches is ds:  # JAX, torch: fit iterates the PyDataset and calls on_epoch_end itself
            while True:
                yield from ds
                ds.on_epoch_end()
        yield from batches

    stream = epochs()
    for _ in range(3):  # epochs
        for i in range(len(reference)):
            x, y = next(stream)
            np.testing.assert_array_equal(np.asarray(x), reference[i][0])
            np.testing.assert_array_equal(np.asarray(y), reference[i][1])
        reference.on_epoch_end()
    val = WindowDataset(X, Y, ORIGINS, SPEC, batch_size=16, full_batches=False)
    sizes = [len(np.asarray(x)) for x, _ in backend.batches(val)]
    assert sizes == [16, 16, 16, 2]  # one exact pass, ragged tail kept
