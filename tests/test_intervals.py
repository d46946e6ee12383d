"""Probabilistic forecasts (issue 16): quantile models, conformal and CQR intervals, their scores and outputs."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, SEGRNN, panel_config, panel_frame, run_cli, tiny_config

import forecast
from forecast import config as cfg
from forecast import intervals as iv
from forecast.errors import ForecastError
from forecast.losses import Pinball
from forecast.model import build, count_parameters
from forecast.windows import WindowSpec

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 24, 3)).astype("float32")
SPEC = WindowSpec(timesteps=24, step=1, delay=1, horizon=10)
QUANTILES = [0.025, 0.1, 0.5, 0.9, 0.975]


def test_pinball_loss_matches_hand_computed_values():
    y = np.array([[[1.0]], [[4.0]]], dtype="float32")  # (batch 2, horizon 1, targets 1)
    pred = np.array([[[[0.0], [2.0]]], [[[5.0], [3.0]]]], dtype="float32")  # quantiles 0.1 and 0.9
    # window 1: e = 1 and -1 -> 0.1 * 1 = 0.1 and (0.9 - 1) * -1 = 0.1; window 2: e = -1 and 1 -> 0.9 and 0.9
    per_window = keras.ops.convert_to_numpy(Pinball([0.1, 0.9]).call(y, pred))
    np.testing.assert_allclose(per_window, [0.1, 0.9], rtol=1e-6)
    assert float(keras.ops.convert_to_numpy(Pinball([0.1, 0.9])(y, pred))) == pytest.approx(0.5)


def test_config_adds_the_median_and_chooses_loss_and_levels():
    config = cfg.Config.model_validate({"model": {"quantiles": [0.9, 0.1, 0.025, 0.975]}})
    assert config.model.quantiles == QUANTILES
    assert config.training.loss == "pinball"
    assert config.intervals.method == "quantiles" and config.intervals.levels == [0.8, 0.95]
    conformal = cfg.Config.model_validate({"intervals": {"method": "conformal"}})
    assert conformal.intervals.levels == [0.8, 0.95] and conformal.training.loss == "mae"
    assert cfg.Config.model_validate({}).intervals.method == "none"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"model": {"quantiles": [0.1, 0.9]}, "training": {"loss": "mse"}}, "training.loss"),
        ({"training": {"loss": "pinball"}}, "needs model.quantiles"),
        ({"intervals": {"method": "cqr"}}, "intervals.method=cqr needs model.quantiles"),
        ({"model": {"quantiles": [0.1, 0.9]}, "intervals": {"levels": [0.95]}}, "0.025 and 0.975"),
        ({"model": {"quantiles": [0.1, 0.95]}}, "no symmetric pair"),
        ({"intervals": {"method": "conformal", "levels": [1.0]}}, "levels"),
        ({"model": {"quantiles": [0.5, 0.5]}}, "each quantile once"),
        ({"model": {"quantiles": [0.1, 0.9]}, "intervals": {"method": "none"}}, "intervals.method=none"),
        ({"intervals": {"method": "none", "levels": [0.9]}}, "method none has no intervals"),
    ],
)
def test_bad_interval_configs_name_the_key(raw, message):
    with pytest.raises(ValueError, match=message):
        cfg.Config.model_validate(raw)


# base: none (model.base auto is resolved with data; these build the model directly)
OPTION_SETS = {
    "dense-decoder": dict(cell="lstm", base="none", layers=[cfg.Layer(units=8)], instance_norm="last"),
    "segrnn-affine": SEGRNN,  # test_layers' SegRNN option set: every long-horizon layer at once
    "ci-dense": dict(
        cell="gru", base="none", layers=[cfg.Layer(units=8)], channel_independent=True, instance_norm="mean"
    ),
    "plain": dict(cell="lstm", base="none", layers=[cfg.Layer(units=8)], instance_norm="none", dense=[5]),
}


@pytest.mark.slow  # loads a Keras model
@pytest.mark.parametrize("name", OPTION_SETS)
def test_quantile_models_never_cross_count_and_reload(name, tmp_path):
    model_cfg = cfg.Model(**OPTION_SETS[name], quantiles=QUANTILES)
    targets = [0, 1, 2] if model_cfg.channel_independent else [2, 0]
    model = build(model_cfg, SPEC, 3, targets)
    assert model.output_shape == (None, 10, 5, len(targets))
    assert model.count_params() == count_parameters(model_cfg, SPEC, 3, len(targets))
    # random weights far from trained ones, large inputs: the order must hold by construction
    for weight in model.weights:
        weight.assign(RNG.normal(0, 3, weight.shape).astype("float32"))
    out = keras.ops.convert_to_numpy(model(100 * X, training=False))
    assert np.isfinite(out).all()
    assert (np.diff(out, axis=2) >= 0).all()
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(100 * X, training=False)), out, rtol=1e-5, atol=1e-4)


@pytest.mark.slow  # over 0.3 s (builds and calls a Keras model)
def test_channel_independent_quantiles_belong_to_their_own_channel():
    model = build(cfg.Model(**OPTION_SETS["ci-dense"], quantiles=QUANTILES), SPEC, 3, [0, 1, 2])
    together = keras.ops.convert_to_numpy(model(X, training=False))
    for c in range(3):
        noisy = RNG.standard_normal(X.shape).astype("float32")
        noisy[:, :, c] = X[:, :, c]
        alone = keras.ops.convert_to_numpy(model(noisy, training=False))
        np.testing.assert_allclose(alone[..., c], together[..., c], rtol=1e-5, atol=1e-5)


def synthetic(n: int, sigma: np.ndarray) -> np.ndarray:
    """A noise series whose spread changes over time: (rows, 1)."""
    return (RNG.standard_normal(n) * sigma).reshape(-1, 1)


@pytest.mark.parametrize("level", [0.8, 0.95])
def test_split_conformal_covers_fresh_windows_at_the_nominal_rate(level):
    spec = WindowSpec(timesteps=20, step=1, delay=1, horizon=3)
    # calibrate on a calm stretch, test on one three times as volatile: the window scale carries it
    y = np.concatenate([synthetic(4000, np.ones(4000)), synthetic(40000, 3 * np.ones(40000))])
    cal_origins, test_origins = np.arange(19, 3996), np.arange(4019, 43996)
    zero = np.zeros((len(cal_origins), 3, 1))
    calibration = iv.calibrate("conformal", [level], None, y, cal_origins, spec, zero, None)
    assert calibration.corrections.shape == (1, 3, 1) and calibration.windows == len(cal_origins)
    pred = np.zeros((len(test_origins), 3, 1))
    low, high = calibration.bounds(pred, calibration.scale(y, test_origins, spec))[0]
    true = spec.targets(y, test_origins)
    coverage = ((true >= low) & (true <= high)).mean()
    assert coverage == pytest.approx(level, abs=0.02)
    # without the scale (all windows alike), the calm calibration would under-cover badly
    unscaled = np.abs(spec.targets(y, cal_origins)).reshape(-1)
    assert (np.abs(true) <= np.quantile(unscaled, level)).mean() < level - 0.2


def test_cqr_corrects_quantiles_that_are_too_narrow():
    spec = WindowSpec(timesteps=20, step=1, delay=1, horizon=2)
    y = synthetic(6000, np.ones(6000))
    cal, test = np.arange(19, 2997), np.arange(3019, 5997)
    narrow = np.zeros((len(cal), 2, 3, 1))
    narrow[:, :, 0], narrow[:, :, 2] = -0.5, 0.5  # "0.025" and "0.975" quantiles at +-0.5: ~38 % coverage
    calibration = iv.calibrate("cqr", [0.95], [0.025, 0.5, 0.975], y, cal, spec, narrow, None)
    assert (calibration.corrections > 0).all()
    raw = np.zeros((len(test), 2, 3, 1))
    raw[:, :, 0], raw[:, :, 2] = -0.5, 0.5
    low, high = calibration.bounds(raw, calibration.scale(y, test, spec))[0]
    true = spec.targets(y, test)
    assert ((true >= low) & (true <= high)).mean() == pytest.approx(0.95, abs=0.02)


def test_too_few_validation_windows_is_an_error():
    with pytest.raises(ForecastError, match="at least 19 validation windows"):
        iv.conformal(np.zeros((10, 2, 1)), [0.95])
    assert iv.min_windows(0.95) == 19 and iv.min_windows(0.8) == 4


def test_interval_scores_match_hand_computed_values():
    true = np.array([[[1.0], [5.0]]])  # one window, two steps
    low, high = np.array([[[0.0], [0.0]]]), np.array([[[2.0], [4.0]]])
    found = iv.scores(true, np.array([[[1.0], [2.0]]]), [(low, high)], [0.8], scale=np.array([[2.0]]))
    # step 1 inside: score 2; step 2 above by 1: 4 + (2 / 0.2) * 1 = 14
    assert found["coverage_80"] == 0.5 and found["width_80"] == 3.0
    assert found["interval_score_80"] == pytest.approx(8.0)
    assert found["msis_80"] == pytest.approx(4.0)  # mean over the horizon, / the scale
    assert found["acd_80"] == pytest.approx(0.3)
    # pinball at 0.5 (point), 0.1 (lower), 0.9 (upper), each averaged over the two values
    median = (0.5 * 0 + 0.5 * 3) / 2
    lower = (0.1 * 1 + 0.1 * 5) / 2
    upper = ((0.9 - 1) * -1 + 0.9 * 1) / 2
    assert found["pinball"] == pytest.approx((median + lower + upper) / 3)
    assert iv.level_name(0.975) == "97_5" and iv.quantile_name(0.025) == "q0.025"


def conformal_config(**overrides) -> dict:
    return tiny_config(intervals={"method": "conformal", "levels": [0.8, 0.95]}, **overrides)


@pytest.mark.slow  # trains a Keras model
def test_conformal_run_scores_saves_reloads_and_predicts_bounds(write_config, tmp_path):
    run = forecast.train(cfg.Config.model_validate(conformal_config()), tmp_path / "run")
    saved = json.loads(run.intervals_file.read_text())
    again = iv.Calibration.from_dict(json.loads(json.dumps(saved)))
    assert again.to_dict() == saved  # reloads identically
    test = run.metrics.test.intervals
    for name in ("coverage_80", "coverage_95", "width_95", "interval_score_95", "msis_95", "acd_95", "pinball"):
        assert np.isfinite(test[name]) and np.isfinite(test["naive"][name])
    assert test["coverage_95"] >= test["coverage_80"] and test["width_95"] > test["width_80"]
    assert forecast.evaluate(run).test.intervals == test  # evaluate reuses the stored calibration exactly

    frame = forecast.predict(run)
    assert list(frame.columns) == ["origin", "target_time", "step", "column", "prediction",
                                   "q0.025", "q0.1", "q0.9", "q0.975"]  # fmt: skip
    assert (frame["q0.025"] <= frame["q0.1"]).all() and (frame["q0.1"] <= frame["prediction"]).all()
    assert (frame["prediction"] <= frame["q0.9"]).all() and (frame["q0.9"] <= frame["q0.975"]).all()
    wide = forecast.predict(run, layout="wide")
    assert list(wide["output"].unique()) == ["prediction", "q0.025", "q0.1", "q0.9", "q0.975"]
    first = wide[(wide["column"] == "OT") & (wide["output"] == "q0.975")]
    long = frame[frame["column"] == "OT"].sort_values("step")["q0.975"].to_numpy()
    np.testing.assert_allclose(first[[f"step_{k}" for k in range(1, 5)]].to_numpy()[0], long)
    forecasts = forecast.api.forecasts(run)
    forecasts.write(tmp_path / "f.npz")
    arrays = np.load(tmp_path / "f.npz")
    assert arrays["q0.975"].shape == arrays["predictions"].shape == (1, 4, 7)
    np.testing.assert_allclose(arrays["q0.975"].reshape(-1), frame["q0.975"].to_numpy(), rtol=1e-6)


@pytest.mark.slow  # trains a Keras model
def test_quantile_panel_run_trains_and_predicts_per_series(tmp_path):
    path = tmp_path / "panel.csv"
    panel_frame().to_csv(path, index=False)
    config = panel_config(path).model_copy()
    raw = config.model_dump(exclude_none=True)
    raw["model"]["quantiles"] = [0.1, 0.9]
    raw["data"]["split"] = {"val_last": 16, "test_last": 8}
    raw.pop("intervals")
    raw["training"].pop("loss")
    raw["intervals"] = {"method": "cqr"}
    config = cfg.Config.model_validate(raw)
    run = forecast.train(config, tmp_path / "run")
    assert run.metrics.test.intervals["coverage_80"] >= 0  # scored
    frame = forecast.predict(run)
    assert list(frame.columns)[:1] == ["store"] and {"q0.1", "q0.9"} <= set(frame.columns)
    assert (frame["q0.1"] <= frame["q0.9"]).all()


@pytest.mark.slow  # trains a Keras model
def test_missing_intervals_file_is_named(tmp_path):
    run = forecast.train(cfg.Config.model_validate(conformal_config()), tmp_path / "run")
    run.intervals_file.unlink()
    with pytest.raises(ForecastError, match=r"intervals\.json"):
        forecast.predict(run)


@pytest.mark.slow
def test_coverage_gate_and_too_few_windows_from_the_cli(write_config, tmp_path):
    config = write_config(conformal_config())
    run_dir = tmp_path / "run"
    assert run_cli("train", config, "--run-dir", run_dir, "--quiet").returncode == 0
    ok = run_cli("evaluate", run_dir, "--require", "test.intervals.coverage_80>=0.01")
    assert ok.returncode == 0, ok.stderr
    failed = run_cli("evaluate", run_dir, "--require", "test.intervals.coverage_95>=1.01")
    assert failed.returncode == 1 and "test.intervals.coverage_95" in failed.stderr
    few = write_config(
        conformal_config(data={"split": {"train_end": 600, "val_end": 620, "test_end": 1000}}), "few.yaml"
    )
    refused = run_cli("train", few, "--run-dir", tmp_path / "few")
    assert refused.returncode == 2 and "intervals.levels" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "few").exists()
    output = tmp_path / "f.csv"
    assert run_cli("predict", run_dir, "--output", output).returncode == 0
    assert {"q0.025", "q0.975"} <= set(pd.read_csv(output).columns)


@pytest.mark.slow  # over 0.3 s
def test_derived_interval_defaults_survive_a_saved_config_and_overrides():
    levels_only = cfg.Config.model_validate({"intervals": {"levels": [0.9]}})
    assert levels_only.intervals.method == "conformal"
    again = cfg.Config.model_validate(yaml.safe_load(levels_only.to_yaml()))  # a run's config.yaml re-read
    assert again.intervals == levels_only.intervals
    example = cfg.load(ROOT / "configs" / "example.yaml", ["model.quantiles=[0.1,0.9]", "training.loss=pinball"])
    assert example.intervals.method == "quantiles" and example.intervals.levels == [0.8]


def test_one_row_windows_and_flat_series_get_finite_usable_scales():
    one_row = WindowSpec(timesteps=1, step=2, delay=1, horizon=2)
    y = synthetic(500, np.ones(500))
    origins = np.arange(5, 400)
    calibration = iv.calibrate("conformal", [0.9], None, y, origins, one_row, np.zeros((395, 2, 1)), None)
    assert np.isfinite(calibration.corrections).all() and (calibration.floor > 0).all()
    # intermittent demand: most lookbacks are all zeros, so most windows sit on the floor
    spec = WindowSpec(timesteps=12, step=1, delay=1, horizon=2)
    sparse = np.where(RNG.random(3000) < 0.02, RNG.integers(1, 24, 3000), 0).astype(float).reshape(-1, 1)
    origins = np.arange(11, 2997)
    calibration = iv.calibrate("conformal", [0.9], None, sparse, origins, spec, np.zeros((len(origins), 2, 1)), None)
    low, high = calibration.bounds(np.zeros((len(origins), 2, 1)), calibration.scale(sparse, origins, spec))[0]
    assert (high - low).max() < 100  # bounded by the data's own range, not 1e7 from a 1e-8 floor


def test_cqr_bounds_stay_nested_and_around_the_point_forecast():
    calibration = iv.Calibration(
        "cqr", [0.8, 0.95], [0.025, 0.1, 0.5, 0.9, 0.975], 1, np.ones(1),
        np.array([[[1.0]], [[-3.0]]]), np.zeros((2, 1, 1)), 10,
    )  # fmt: skip
    raw = np.array([-2.0, -1.0, 0.0, 1.0, 2.0]).reshape(1, 1, 5, 1)
    named = calibration.named(calibration.bounds(raw, np.ones((1, 1))))
    values = [float(named[k][0, 0, 0]) for k in ("q0.025", "q0.1")] + [0.0]
    values += [float(named[k][0, 0, 0]) for k in ("q0.9", "q0.975")]
    assert values == sorted(values)  # the 95 % correction (-3) would have put it inside the 80 % one
    assert named["q0.1"][0, 0, 0] == -2.0 and named["q0.025"][0, 0, 0] == -2.0


def test_sweep_refuses_interval_metrics_it_cannot_rank(write_config, tmp_path):
    from forecast.leaderboards import check_interval_metric

    config = cfg.Config.model_validate(conformal_config())
    check_interval_metric("val.intervals.msis_95", config)
    check_interval_metric("val.intervals.naive.interval_score_80", config)
    with pytest.raises(ForecastError, match="acd_95"):
        check_interval_metric("val.intervals.coverage_95", config)
    with pytest.raises(ForecastError, match="levels give 80, 95"):
        check_interval_metric("val.intervals.msis_90", config)
    with pytest.raises(ForecastError, match="no intervals"):
        check_interval_metric("val.intervals.pinball", cfg.Config.model_validate(tiny_config()))


@pytest.mark.slow  # trains its folds
def test_backtest_reports_each_folds_coverage(tmp_path):
    split = {"train_end": 500, "val_end": 700, "test_end": 1000}
    config = cfg.Config.model_validate(tiny_config(intervals={"levels": [0.8]}, data={"split": split}))
    result = forecast.backtest(config, folds=2, root=tmp_path / "bt")
    coverages = [fold.to_dict()["intervals"]["coverage_80"] for fold in result.folds]
    assert all(0 < c <= 1 for c in coverages)
    assert "coverage 80" in result.table().splitlines()[0]
    assert f"{np.mean(coverages):.4f}" in result.table().splitlines()[3]
