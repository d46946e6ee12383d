"""A tuning study's search space: dotted config keys mapped to distributions, drawn in order.

The space file maps the keys `--set` takes to distributions, in the order they are drawn:

    training.learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}    # a float (log-uniform)
    model.layers[0].units: {low: 16, high: 128, step: 16}             # an int: low and high are ints
    model.decoder: {choices: [dense, parallel]}
    model.segment_len: {choices: [12, 24], when: {model.decoder: parallel}}   # drawn only then

A space is read and checked (`read_space`, `check_space`) before a study starts, so a typo'd key
or a value the config refuses fails at once, not at trial 17; `sample` draws a trial's values
through Optuna's define-by-run `suggest_*` calls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.sweep_dirs import overrides


class Distribution(BaseModel):
    """One key's distribution: `choices`, or `low`/`high` (ints when both are ints) with `log` or `step`."""

    model_config = ConfigDict(extra="forbid")
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    step: int | float | None = None
    choices: list[Any] | None = None
    when: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> Distribution:
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.step is not None or self.log:
                raise ValueError("give either choices or low/high, not both")
            if not self.choices:
                raise ValueError("choices is empty")
            if not all(v is None or isinstance(v, str | int | float | bool) for v in self.choices):
                raise ValueError("choices must be numbers, strings, booleans or null (not lists or mappings)")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give low and high (a range), or choices")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.step is not None:
            raise ValueError("log and step cannot be combined")
        if self.log and self.low <= 0:
            raise ValueError("log needs low > 0")
        if self.step is not None and self.step <= 0:
            raise ValueError("step must be positive")
        return self

    @property
    def integer(self) -> bool:
        """A range drawn as ints: low, high and step (if any) are all ints."""
        return self.choices is None and all(isinstance(v, int) for v in (self.low, self.high, self.step or 1))

    def values(self) -> list:
        """The values a config must accept: the choices, or both ends of the range."""
        return list(self.choices) if self.choices is not None else [self.low, self.high]


def read_space(source: Path | dict) -> dict[str, Distribution]:
    """The space (a YAML file, or its mapping), checked: ForecastError (exit 2) naming the key.

    Args:
        source: a space YAML file, or the mapping of dotted keys -> distribution mappings it holds.

    Returns:
        The distributions in drawing order; each `when` in one form (parent -> list of values).
    """
    path = "space" if isinstance(source, dict) else source
    raw = source if isinstance(source, dict) else cfg.read_yaml(Path(source))
    if not isinstance(raw, dict) or not raw:
        raise ForecastError(
            f"{path}: a space maps dotted config keys to distributions, e.g. "
            "'training.learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}'"
        )
    space: dict[str, Distribution] = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict):
            raise ForecastError(f"{path}: {key}: expected {{low, high[, log | step]}} or {{choices: [...]}}")
        try:
            dist = Distribution(**spec)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            raise ForecastError(f"{path}: {key}{'.' + where if where else ''}: {message}") from None
        for parent, allowed in (dist.when or {}).items():
            if parent not in space:
                raise ForecastError(f"{path}: {key}.when: {parent} is not a key drawn before {key}")
            choices = space[parent].values() if space[parent].choices is not None else None
            wanted = allowed if isinstance(allowed, list) else [allowed]
            if choices is not None and not set(map(json.dumps, wanted)) <= set(map(json.dumps, choices)):
                raise ForecastError(f"{path}: {key}.when: {parent} never takes {allowed} (choices: {choices})")
            dist.when[parent] = wanted  # one form: a list of the allowed values
        space[str(key)] = dist
    return space


def check_space(config_path: Path, space: dict[str, Distribution], base_overrides=()) -> None:
    """Every value at the edges of every range, and every choice, makes a valid config (the other
    keys at their first value, where their `when` holds): a typo'd key or a bad value fails now,
    not at trial 17 (exit 2, naming `--space` and the key).

    Args:
        config_path: the base config file.
        space: `read_space`'s distributions.
        base_overrides: `--set` assignments applied before the space's values.
    """
    for key, dist in space.items():
        for value in dist.values():
            fixed = {k: d.values()[0] for k, d in space.items()}
            fixed[key] = value
            _enable(key, space, fixed)
            cfg.load(config_path, [*base_overrides, *overrides(sample(FixedValues(fixed), space))], option="--space")


def _enable(key: str, space: dict[str, Distribution], fixed: dict[str, object]) -> None:
    """Set the keys `key` depends on (and theirs) to values under which it is drawn."""
    for parent, allowed in (space[key].when or {}).items():
        fixed[parent] = allowed[0]
        _enable(parent, space, fixed)


class FixedValues:
    """A stand-in trial whose every suggestion is a given value (`check_space` draws with it)."""

    def __init__(self, values: dict[str, object]) -> None:
        self.values = values

    def _pick(self, name, *args, **kwargs):
        return self.values[name]

    suggest_categorical = suggest_int = suggest_float = _pick


def sample(trial, space: dict[str, Distribution]) -> dict[str, object]:
    """Draw a trial's values (define-by-run: a key whose `when` does not hold is not drawn at all).

    Args:
        trial: an Optuna trial, or a `FixedValues`.
        space: `read_space`'s distributions.

    Returns:
        Dotted config keys -> the values drawn, in the space's order.
    """
    values: dict[str, object] = {}
    for key, dist in space.items():
        if any(key_ not in values or values[key_] not in wanted for key_, wanted in (dist.when or {}).items()):
            continue
        if dist.choices is not None:
            values[key] = trial.suggest_categorical(key, dist.choices)
        elif dist.integer:
            values[key] = trial.suggest_int(key, dist.low, dist.high, step=dist.step or 1, log=dist.log)
        else:
            values[key] = trial.suggest_float(key, dist.low, dist.high, step=dist.step, log=dist.log)
    return values
