"""forecast.search_space: a tuning study's space file read, checked against the config, and drawn in order."""

import pytest
import yaml
from conftest import ROOT, SPACE, tiny_config

from forecast.errors import ForecastError
from forecast.search_space import check_space, read_space, sample

optuna = pytest.importorskip("optuna", reason="forecast[tune] is not installed")


def test_space_kinds_and_conditional_keys():
    space = read_space(SPACE)
    assert space["model.layers[0].units"].integer and not space["training.learning_rate"].integer
    assert space["model.segment_len"].when == {"model.decoder": ["parallel"]}  # one form: a list
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = []
    for _ in range(12):
        trial = study.ask()
        drawn.append(sample(trial, space))
        study.tell(trial, 0.0)
    for values in drawn:
        assert 1e-3 <= values["training.learning_rate"] <= 1e-2 and values["model.layers[0].units"] in (4, 8, 12)
        assert ("model.segment_len" in values) == (values["model.decoder"] == "parallel")  # drawn only then
    assert {v["model.decoder"] for v in drawn} == {"dense", "parallel"}


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ([1, 2], "a space maps dotted config keys to distributions"),
        ({}, "a space maps dotted config keys"),
        ({"training.learning_rate": 1e-3}, r"training\.learning_rate: expected \{low, high"),
        ({"training.learning_rate": {"low": 1e-2, "high": 1e-3}}, r"training\.learning_rate: low \(0\.01\) must be"),
        ({"training.learning_rate": {"low": 0, "high": 1, "log": True}}, "learning_rate: log needs low > 0"),
        ({"training.learning_rate": {"low": 1e-3, "high": 1, "log": True, "step": 0.1}}, "log and step cannot"),
        ({"training.learning_rate": {"low": 1e-3}}, "learning_rate: give low and high"),
        ({"training.learning_rate": {"low": 1e-3, "high": 1, "lgo": True}}, r"learning_rate\.lgo: Extra inputs"),
        ({"model.cell": {"choices": []}}, "model.cell: choices is empty"),
        ({"model.cell": {"choices": ["lstm"], "low": 1}}, "model.cell: give either choices or low/high"),
        ({"model.dense": {"choices": [[8], [16]]}}, "model.dense: choices must be numbers, strings"),
        (
            {"model.segment_len": {"choices": [2], "when": {"model.decoder": "parallel"}}},
            r"model\.segment_len\.when: model\.decoder is not a key drawn before",
        ),
        (
            {
                "model.decoder": {"choices": ["dense"]},
                "model.segment_len": {"choices": [2], "when": {"model.decoder": "x"}},
            },
            r"model\.decoder never takes x",
        ),
    ],
)
def test_bad_spaces_name_the_key(tmp_path, space, message):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    with pytest.raises(ForecastError, match=message) as err:
        read_space(path)
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"training.learning_rat": {"low": 1e-3, "high": 1e-2}}, "learning_rat"),
        ({"model.layers[3].units": {"low": 4, "high": 8}}, r"model\.layers\[3\] does not exist"),
        ({"model.layers[0].units": {"low": 0, "high": 8}}, "units"),
        ({"model.cell": {"choices": ["lstm", "tcn"]}}, "cell"),
        (  # a conditional key's every value is checked, with what it depends on set to draw it
            {
                "model.decoder": {"choices": ["dense", "parallel"]},
                "model.segment_len": {"choices": [2, 0], "when": {"model.decoder": "parallel"}},
            },
            "segment_len",
        ),
    ],
)
def test_spaces_the_config_refuses_name_the_key(write_config, space, message):
    with pytest.raises(ForecastError, match=message) as err:
        check_space(write_config(tiny_config()), read_space(space))
    assert err.value.exit_code == 2 and "--space" in str(err.value)


@pytest.mark.parametrize("space", sorted((ROOT / "configs" / "spaces").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_spaces_fit_their_config(space):
    """configs/spaces/NAME.yaml searches configs/NAME.yaml: every edge value and choice validates."""
    check_space(ROOT / "configs" / space.name, read_space(space))
