"""Ensembles: several runs of one task forecasting together, their forecasts averaged.

An average of models trained from different seeds is the cheapest accuracy there is in
forecasting (M4's winner and N-BEATS ensemble; on M4 Hourly three seeds' mean lowers OWA by more
than the seeds differ: BENCHMARKS.md). `forecast train --repeats N` trains the members;
`forecast predict` on its directory, or on several run directories, forecasts with all of them.
Members must read the same data the same way (the `SHARED` config sections, and the scalers fit
on the training rows), so that their scaled outputs can be averaged; their networks and training
may differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from forecast.errors import ForecastError
from forecast.rundir import Run

SHARED = ("data", "window", "scaler", "intervals", "metrics")  # config sections members must share


def members(runs: Any) -> list[Run]:
    """The completed runs to forecast with: a run (or its directory), several, each seed of a
    `--repeats` directory, or what `forecast.repeat` returned.

    Raises:
        ForecastError: exit 2, naming a directory that is not a run, a run named twice, or members
            that do not match.
    """
    runs = getattr(runs, "runs", runs)  # a Repeats
    items = list(runs) if isinstance(runs, (list, tuple)) else [runs]
    found: list[Run] = []
    for item in items:
        path = item.path if isinstance(item, Run) else Path(item)
        found += _repeats(path) if (path / "repeats.json").is_file() else [Run.open(path)]
    if not found:
        raise ForecastError("no run directory given")
    seen: dict[Path, Run] = {}
    for run in found:
        twice = seen.get(run.path.resolve())
        if twice is not None:
            raise ForecastError(f"{run.path}: named twice in the ensemble (as {twice.path}); it would count double")
        seen[run.path.resolve()] = run
    for run in found[1:]:
        _check_member(found[0], run)
    return found


def _repeats(path: Path) -> list[Run]:
    """The seeds of a `forecast train --repeats` directory, as repeats.json lists them."""
    try:
        seeds = json.loads((path / "repeats.json").read_text())["seeds"]
        if not (isinstance(seeds, list) and seeds and all(type(seed) is int for seed in seeds)):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        raise ForecastError(
            f"{path / 'repeats.json'}: no list of seeds (not a `forecast train --repeats` result)"
        ) from None
    return [Run.open(path / f"seed-{seed}") for seed in seeds]


def _check_member(first: Run, run: Run) -> None:
    a, b = first.config, run.config
    for section in SHARED:
        left, right = getattr(a, section).model_dump(), getattr(b, section).model_dump()
        if section == "data":  # the same file may be named differently (a copy, a relative path)
            left, right = {**left, "path": None}, {**right, "path": None}
        if left != right:
            raise ForecastError(
                f"{run.path}: its config's {section} section differs from {first.path}'s; ensemble members "
                "must read the same data the same way (only model and training may differ)"
            )
    if _scalers(first) != _scalers(run):
        raise ForecastError(
            f"{run.scaler_file}: differs from {first.scaler_file}; ensemble members must be trained on the same rows"
        )


def _scalers(run: Run) -> dict:
    """A member's scaler.json, without the training range where the runs do not clip (runs from
    before scaler.clip stored none)."""
    state = json.loads(run.scaler_file.read_text())
    if run.config.scaler.clip == "none":
        state.pop("target_range", None)
        for key in ("low", "high"):
            state.get("per_series", {}).get("targets", {}).pop(key, None)
    return state
