"""inference.py: honest rates and bounded inference batches (issue 21), what a channel-independent model counts."""

import pytest
from conftest import tiny_config

import forecast
from forecast.inference import PREDICT_SEQUENCES, predict_batch


@pytest.fixture(scope="module")
def independent_run(tmp_path_factory):
    config = tiny_config(
        model={"cell": "lstm", "layers": [{"units": 8}], "channel_independent": True},
        training={"epochs": 1, "batch_size": 8, "steps_per_epoch": 3, "validation_steps": 1},
    )
    return forecast.train(forecast.Config.model_validate(config), run_dir=tmp_path_factory.mktemp("ci") / "run")


def test_channel_independent_rates_count_sequences(independent_run):
    stats = independent_run.metrics.training
    assert stats.sequences_per_second == pytest.approx(7 * stats.samples_per_second, rel=1e-3)  # ETTh1: 7 channels


def test_inference_batches_are_sized_in_sequences(independent_run, tiny_run):
    # 7 sequences per window: 1,024 // 7 windows, so a batch's memory does not grow with the channel count
    independent = independent_run.load_model((12, 7), (4, 7))
    assert predict_batch(independent) == PREDICT_SEQUENCES // 7
    plain = tiny_run.load_model((12, 7), (4, 7))
    assert predict_batch(plain) == PREDICT_SEQUENCES
