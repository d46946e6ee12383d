"""Ensembles: several runs of one task forecasting together, their forecasts averaged.

An average of models trained from different seeds is the cheapest accuracy there is in
forecasting (M4's winner and N-BEATS ensemble; on M4 Hourly three seeds' mean lowers OWA by more
than the seeds differ: BENCHMARKS.md). `forecast train --repeats N` trains the members;
`forecast predict` on its directory, or on several run directories, forecasts with all of them.
Members must read the same data the same way (data, window, scaler and intervals sections, and
the scalers fit on the training rows), so that their scaled outputs can be averaged; their
networks and training may differ.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

from forecast.errors import ForecastError
from forecast.rundir import Run

SHARED = ("data", "window", "scaler", "intervals", "metrics")  # config sections members must share


def members(runs: Run | PathLike | str | Sequence[Run | PathLike | str]) -> list[Run]:
    """The completed runs to forecast with: a run, several, or each seed of a `--repeats` directory.

    Raises:
        ForecastError: exit 2, naming a directory that is not a run or members that do not match.
    """
    items = list(runs) if isinstance(runs, (list, tuple)) else [runs]
    found: list[Run] = []
    for item in items:
        path = item.path if isinstance(item, Run) else Path(item)
        found += _repeats(path) if (path / "repeats.json").is_file() else [Run.open(path)]
    if not found:
        raise ForecastError("no run directory given")
    for run in found[1:]:
        _check_member(found[0], run)
    return found


def _repeats(path: Path) -> list[Run]:
    """The seeds of a `forecast train --repeats` directory, as repeats.json lists them."""
    try:
        seeds = json.loads((path / "repeats.json").read_text())["seeds"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ForecastError(f"{path / 'repeats.json'}: unreadable (not a `forecast train --repeats` result)") from None
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
    if json.loads(first.scaler_file.read_text()) != json.loads(run.scaler_file.read_text()):
        raise ForecastError(
            f"{run.scaler_file}: differs from {first.scaler_file}; ensemble members must be trained on the same rows"
        )
