"""Quality gates and side-by-side comparison of runs, for CI pipelines.

A requirement is `PATH OP NUMBER` over metrics.json's keys (`test.model.mae<=0.5`,
`val.scaled.model.mse<0.45`, `test.ets.mae<=0.6`), `beats-naive` (the model's MAE below the naive
baseline's on every evaluated split; `beats-seasonal-naive`, `beats-ets`, `beats-mstl` likewise) or
`beats-baselines` (the honest verdict: better than every baseline on MAE, RMSE and MASE).
`forecast evaluate --require` exits 1 with a one-line reason when one fails, so a pipeline can
stop on a model that got worse.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forecast import tables
from forecast.errors import Error, ForecastError, GateFailed
from forecast.plans import config_differences
from forecast.results import BASELINES as LABELS
from forecast.results import PREDICTORS, SCORED, Metrics, SplitScores, lookup
from forecast.rundir import Run

BASELINES = {
    "beats-naive": "naive", "beats-seasonal-naive": "seasonal_naive", "beats-ets": "ets", "beats-mstl": "mstl"
}  # fmt: skip
_HOW = {
    "seasonal_naive": "set metrics.seasonality", "ets": "set metrics.baselines: [ets]",
    "mstl": "set metrics.baselines: [mstl]",
}  # fmt: skip
_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(<=|>=|==|<|>)\s*([-+0-9.eE]+)\s*$")

__all__ = ["GateFailed", "check", "compare", "comparison"]


def _number(metrics: Mapping[str, Any], path: str) -> float:
    try:
        node = lookup(metrics, path)
    except KeyError:
        raise ForecastError(f"--require {path}: no such metric (e.g. test.model.mae, val.scaled.model.mse)") from None
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise ForecastError(f"--require {path}: not a number")
    return float(node)


def check(metrics: Metrics | Mapping[str, Any], requirements: list[str]) -> list[str]:
    """Each requirement that holds, as a line.

    Args:
        metrics: a run's metrics (typed, or metrics.json as a dict).
        requirements: `PATH OP NUMBER`, `beats-naive` (`-seasonal-naive`, `-ets`, `-mstl`) or `beats-baselines`.

    Returns:
        One line per requirement met.

    Raises:
        GateFailed: on the first requirement that does not hold (exit 1).
        ForecastError: a requirement that names no metric or cannot be parsed (exit 2).
    """
    tree = metrics.to_dict() if isinstance(metrics, Metrics) else metrics
    passed = []
    for requirement in requirements:
        if requirement.strip() == "beats-baselines":
            scores = {split: SplitScores.from_dict(tree[split]) for split in SCORED if split in tree}
            for found in Metrics(scores, seasonality=tree.get("seasonality")).verdicts().values():
                if not found.beats:
                    raise GateFailed(f"requirement beats-baselines failed: the model {found}")
            passed.append("beats-baselines")
            continue
        if requirement.strip() in BASELINES:
            name, baseline = requirement.strip(), BASELINES[requirement.strip()]
            for split in (s for s in SCORED if s in tree):
                if baseline not in tree[split]:
                    how = _HOW[baseline]
                    raise ForecastError(f"--require {name}: the run has no {LABELS[baseline]} baseline ({how})")
                model, naive = tree[split]["model"]["mae"], tree[split][baseline]["mae"]
                if not model < naive:
                    raise GateFailed(
                        f"requirement {name} failed: {split} model MAE {model:.4g} >= {baseline} {naive:.4g}"
                    )
            passed.append(name)
            continue
        match = _REQUIREMENT.match(requirement)
        if not match:
            raise ForecastError(
                f"--require {requirement!r}: expected PATH OP NUMBER (e.g. 'test.model.mae<=0.5'), "
                "beats-naive, beats-seasonal-naive, beats-ets, beats-mstl or beats-baselines"
            )
        path, op, number = match.groups()
        try:
            float(number)
        except ValueError:
            raise ForecastError(f"--require {requirement!r}: {number!r} is not a number") from None
        value = _number(tree, path)
        if not _OPS[op](value, float(number)):
            raise GateFailed(f"requirement {path}{op}{number} failed: {path} is {value:.6g}")
        passed.append(f"{path}{op}{number} ({value:.6g})")
    return passed


def compare(paths: list[Path]) -> str:
    """`forecast compare`: two or more runs' metrics side by side, with each run's change against the
    first (`comparison`), then the config keys each differs in (`plans.config_differences`, a warning
    when their data or targets differ); a run without a readable config.yaml shows its metrics alone.

    Args:
        paths: the runs' directories; the first is the one the others are compared with.
    """
    if len(paths) < 2:
        raise ForecastError("compare: give two or more run directories")
    loaded = []
    for path in paths:
        try:
            loaded.append(json.loads((path / "metrics.json").read_text()))
        except (OSError, ValueError):
            raise ForecastError(f"{path}: no readable metrics.json (not a completed run)") from None
    try:
        dumps = [Run(path).config.model_dump(mode="json") for path in paths]
        configs = [kept_base(config, metrics) for config, metrics in zip(dumps, loaded, strict=True)]
    except Error:  # a run without a readable config.yaml: its metrics alone
        return comparison([p.name for p in paths], loaded)
    return comparison([p.name for p in paths], loaded) + config_differences([p.name for p in paths], configs)


def kept_base(config: dict[str, Any], metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A config dump whose model.base auto compared bases, with the one it kept: "auto: ets"."""
    if config["model"]["base"] == "auto" and metrics.get("base_losses"):
        config["model"]["base"] = f"auto: {metrics['base']}"
    return config


def comparison(names: list[str], runs: list[Mapping[str, Any]]) -> str:
    """Val/test MAE, RMSE, MSE of model and naive, original and scaled, one column per run,
    and the change of every later run against the first (NaN where a run lacks the metric)."""
    columns = ["metric", *names, *(f"Δ {n}" for n in names[1:])]
    rows = []
    for split in SCORED:
        for scale in ("", "scaled."):
            for who in PREDICTORS:
                for metric in ("mae", "rmse", "mse"):
                    path = f"{split}.{scale}{who}.{metric}"
                    values = []
                    for run in runs:
                        try:
                            values.append(float(lookup(run, path)))
                        except (KeyError, TypeError, ValueError):
                            values.append(float("nan"))
                    rows.append([path, *values, *(f"{v - values[0]:+.4f}" for v in values[1:])])
    return tables.text(columns, rows)
