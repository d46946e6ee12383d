"""The long-horizon options (issue 4): shapes, save/load, exact inverses, per-channel equivalence."""

import json
import re

import keras
import numpy as np
import pytest
from conftest import SEGRNN, run_cli, tiny_config

from forecast import config as cfg
from forecast import layers as fl
from forecast.errors import ForecastError
from forecast.model import Extras, build, count_parameters
from forecast.windows import WindowSpec

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 24, 3)).astype("float32")


@pytest.mark.parametrize("mode", ["last", "mean"])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("std", [False, True])
def test_instance_norm_inverts_exactly(mode, affine, std):
    norm = fl.InstanceNorm(mode, targets=[0, 1, 2], affine=affine, std=std)
    z, shift = norm(X)
    if affine:  # make the affine part non-trivial
        norm.scale.assign([2.0, 0.5, 3.0])
        norm.bias.assign([1.0, -1.0, 0.25])
        z, shift = norm(X)
    shift = keras.ops.convert_to_numpy(shift)
    stat = X[:, -1:, :] if mode == "last" else X.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(shift[:, :1], stat, rtol=1e-6)
    if std:
        np.testing.assert_allclose(shift[:, 1:], np.sqrt(X.var(axis=1, keepdims=True) + 1e-5), rtol=1e-5)
    assert shift.shape == (6, 2 if std else 1, 3)
    back = keras.ops.convert_to_numpy(norm(z, shift, inverse=True))
    np.testing.assert_allclose(back, X, rtol=1e-5, atol=1e-5)


def test_instance_norm_std_gives_every_window_one_scale():
    # a window and the same window 10x larger, shifted, reach the network identically (RevIN's point)
    z, _ = fl.InstanceNorm("mean", targets=[0, 1, 2], std=True)(np.concatenate([X, 10 * X + 3]))
    z = keras.ops.convert_to_numpy(z)
    np.testing.assert_allclose(z[6:], z[:6], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=1), 1.0, rtol=1e-3)


def test_instance_norm_std_leaves_the_unnormalized_channels_alone():
    z, shift = fl.InstanceNorm("last", targets=[0], std=True, channels=1)(X)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(z)[:, :, 1:], X[:, :, 1:])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(shift)[:, 1, 1:], 1.0)


def test_instance_norm_adds_back_the_targets_own_level():
    norm = fl.InstanceNorm("last", targets=[2, 0])
    _, shift = norm(X)
    zeros = np.zeros((6, 4, 2), dtype="float32")
    out = keras.ops.convert_to_numpy(norm(zeros, shift, inverse=True))
    np.testing.assert_allclose(out[:, 0, 0], X[:, -1, 2])
    np.testing.assert_allclose(out[:, 3, 1], X[:, -1, 0])


def test_channels_to_batch_round_trip():
    folded = keras.ops.convert_to_numpy(fl.ChannelsToBatch()(X))
    assert folded.shape == (18, 24, 1)
    np.testing.assert_array_equal(folded[1 * 3 + 2, :, 0], X[1, :, 2])  # row = batch * channels + channel
    back = keras.ops.convert_to_numpy(fl.BatchToChannels(3)(folded[:, :5, 0]))
    np.testing.assert_array_equal(back, X[:, :5, :])


SPEC = WindowSpec(timesteps=24, step=1, delay=1, horizon=10)


@pytest.mark.slow  # over 0.3 s
def test_channel_independent_output_equals_per_channel_application():
    model = build(cfg.Model(**SEGRNN), SPEC, 3, [0, 1, 2])
    together = keras.ops.convert_to_numpy(model(X, training=False))
    assert together.shape == (6, 10, 3)
    for c in range(3):
        # the same channel, placed alone in a batch whose other channels are noise
        noisy = RNG.standard_normal(X.shape).astype("float32")
        noisy[:, :, c] = X[:, :, c]
        alone = keras.ops.convert_to_numpy(model(noisy, training=False))
        np.testing.assert_allclose(alone[:, :, c], together[:, :, c], rtol=1e-5, atol=1e-5)


OPTION_SETS = {
    "segrnn-gru": SEGRNN,
    "segrnn-lstm-stacked": {
        **SEGRNN,
        "cell": "lstm",
        "layers": [cfg.Layer(units=8), cfg.Layer(units=12, dropout=0.1)],
        "dense": [7],
    },
    "segments-dense-decoder": dict(
        cell="lstm", base="none", layers=[cfg.Layer(units=8)], segment_len=4, instance_norm="mean"
    ),
    "segrnn-revin": {**SEGRNN, "instance_norm": "mean", "instance_norm_std": True},
    "ci-dense": dict(
        cell="gru",
        base="none",
        layers=[cfg.Layer(units=8), cfg.Layer(units=4)],
        channel_independent=True,
        bidirectional=True,
    ),
    "parallel-multivariate": dict(
        cell="gru", base="none", layers=[cfg.Layer(units=8)], segment_len=8, decoder="parallel"
    ),
    "segrnn-seasonal-naive-base": {**SEGRNN, "base": "seasonal_naive", "base_season": 5},
    "seasonal-profile-base": {**SEGRNN, "base": "seasonal_linear", "base_season": 5, "base_seasons": 3},
    "linear-base-per-channel": dict(
        layers=[cfg.Layer(units=8)], instance_norm="mean", base="linear", base_shared=False
    ),
    "ets-base": {**SEGRNN, "base": "ets", "base_season": 5, "base_seasons": 3},
    "ets-base-without-a-season": dict(layers=[cfg.Layer(units=8)], base="ets"),
}


@pytest.mark.slow  # loads a Keras model
@pytest.mark.parametrize("name", OPTION_SETS)
def test_options_save_load_and_count(name, tmp_path):
    model_cfg = cfg.Model(**OPTION_SETS[name])
    targets = [0, 1, 2] if model_cfg.channel_independent else [2, 0]
    model = build(model_cfg, SPEC, 3, targets, season=model_cfg.base_season)
    if model_cfg.base in ("linear", "ets"):  # a base that is not as it started, so that loading must restore it
        model.get_layer("base").set_weights([RNG.standard_normal(w.shape) for w in model.get_layer("base").weights])
    assert model.output_shape == (None, 10, len(targets))
    assert model.count_params() == count_parameters(model_cfg, SPEC, 3, len(targets))
    before = keras.ops.convert_to_numpy(model(X, training=False))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(X, training=False)), before, rtol=1e-5, atol=1e-6)


# model.base_calendar: window rows at phases pi, pi/2, 3pi/2, 0 (the origin), target rows at pi/2, pi
PHASES_IN, PHASES_OUT = np.array([np.pi, np.pi / 2, 3 * np.pi / 2, 0]), np.array([np.pi / 2, np.pi])


def calendar_columns(phases: np.ndarray) -> np.ndarray:
    return np.stack([np.sin(phases), np.cos(phases)], axis=-1)[None].astype("float32")


@pytest.mark.parametrize(
    ("reference", "lags", "expected"),
    [  # f(θ) = 1 sin θ + 2 cos θ + 3 sin 2θ + 4 cos 2θ: f(pi/2) = -3, f(pi) = 2, f(3pi/2) = -5, f(0) = 6
        ("none", None, [-3, 2]),  # plus the bias
        ("last", None, [-3 - 6, 2 - 6]),  # less f at the origin
        ("mean", None, [-3 - 0, 2 - 0]),  # less the window's mean of f: (2 - 3 - 5 + 6) / 4 = 0
        ("lags", [1, 0], [-3 - (-5), 2 - 6]),  # less f at the rows seasonal naive repeats: 3pi/2, then 0
    ],
)
def test_the_calendar_base_by_hand(reference, lags, expected):
    window = np.concatenate([np.full((1, 4, 1), 7.0, "float32"), calendar_columns(PHASES_IN)], axis=-1)
    layer = fl.CalendarBase([1, 2], [0, 1], targets=2, harmonics=2, reference=reference, lags=lags)
    layer([window, calendar_columns(PHASES_OUT)])
    kernel = np.array([[1.0], [2.0], [3.0], [4.0]]) * [1.0, -2.0]  # [sin θ, cos θ, sin 2θ, cos 2θ] x targets
    layer.set_weights([kernel, np.array([0.5, -1.0])] if reference == "none" else [kernel])
    out = keras.ops.convert_to_numpy(layer([window, calendar_columns(PHASES_OUT)]))
    bias = np.array([0.5, -1.0]) if reference == "none" else 0
    np.testing.assert_allclose(out[0], np.array(expected)[:, None] * [1.0, -2.0] + bias, atol=1e-5)


@pytest.mark.slow  # loads a Keras model
def test_the_calendar_base_saves_and_loads(tmp_path):
    # a panel-like model: a future covariate (column 1) before two calendar pairs (columns 2-5)
    extras = Extras(future=[1, 2, 3, 4, 5], normalized=2)
    model_cfg = cfg.Model(layers=[cfg.Layer(units=4)], base="seasonal_naive", base_calendar=3, quantiles=[0.2, 0.8])
    spec = WindowSpec(timesteps=12, step=1, delay=1, horizon=5)
    model = build(model_cfg, spec, 6, [0, 1], extras, season=6)
    layer = model.get_layer("calendar_base")
    assert layer.kernel.shape == (12, 2) and layer.reference == "lags"
    assert model.count_params() == count_parameters(model_cfg, spec, 6, 2, extras)
    layer.set_weights([RNG.standard_normal((12, 2))])
    batch = {"window": RNG.standard_normal((3, 12, 6)).astype("float32"),
             "future": RNG.standard_normal((3, 5, 5)).astype("float32")}  # fmt: skip
    before = keras.ops.convert_to_numpy(model(batch))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(batch)), before, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"model": {"decoder": "parallel"}}, "set segment_len"),
        ({"model": {"segment_len": 5}}, "model.segment_len (5) must divide the input timesteps"),
        ({"model": {"channel_embedding": True}}, "channel_embedding needs channel_independent"),
        ({"model": {"segment_len": 4, "decoder": "parallel", "bidirectional": True}}, "cannot be bidirectional"),
        ({"model": {"cell": "naive", "base": "linear"}}, "base: cell naive has no network"),
        ({"model": {"base": "none", "base_season": 24}}, "base_season needs base: seasonal_naive"),
        ({"model": {"base": "none", "base_shared": False}}, "base_shared: false needs base: linear"),
        ({"model": {"base": "seasonal_naive", "base_shared": False}}, "base_shared: false needs base: linear"),
        ({"model": {"base": "linear"}, "window": {"variable_length": True}}, "model.base=linear maps a fixed"),
        (
            {"model": {"base_calendar": 2}},
            "model.base_calendar fits a seasonal profile to the calendar's sin/cos features: set data.calendar",
        ),
        ({"model": {"base_calendar": 2, "channel_independent": True}}, "model.channel_independent takes no calendar"),
        ({"model": {"cell": "naive", "base_calendar": 1}}, "base_calendar: cell naive has no network"),
        ({"model": {"base": "seasonal_naive", "base_season": []}}, "base_season: list at least one season"),
        ({"model": {"base": "linear", "base_season": [24, 168]}}, "base_season needs base: seasonal_naive"),
    ],
)
def test_option_conflicts_are_config_errors(raw, message):
    with pytest.raises(ForecastError, match=re.escape(message)) as err:
        cfg.validate(raw)
    assert err.value.exit_code == 2


@pytest.mark.slow
def test_every_option_trains_and_beats_naive(tmp_path, write_config):
    config = tiny_config(
        data={"split": {"train_end": 2400, "val_end": 2800, "test_end": 3200}},
        window={"lookback": 48, "step": 1, "horizon": 24},
        model={
            "cell": "gru",
            "layers": [{"units": 32}],
            "instance_norm": "last",
            "instance_norm_affine": True,
            "channel_independent": True,
            "channel_embedding": True,
            "segment_len": 12,
            "decoder": "parallel",
            "dropout_between": 0.1,
        },
        training={"epochs": 2, "batch_size": 32, "loss": "mae", "learning_rate": 0.003},
    )
    out = run_cli("train", write_config(config), "--run-dir", tmp_path / "run", "--quiet")
    assert out.returncode == 0, out.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for split in ("val", "test"):
        assert metrics[split]["scaled"]["model"]["mae"] < metrics[split]["scaled"]["naive"]["mae"], split
    assert run_cli("evaluate", tmp_path / "run").returncode == 0  # the custom layers load in a new process
