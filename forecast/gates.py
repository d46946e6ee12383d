"""Quality gates and side-by-side comparison of runs, for CI pipelines.

A requirement is `PATH OP NUMBER` over metrics.json's keys (`test.model.mae<=0.5`,
`val.scaled.model.mse<0.45`) or `beats-naive` (the model's MAE below the naive baseline's on
every evaluated split). `forecast evaluate --require` exits 1 with a one-line reason when one
fails, so a pipeline can stop on a model that got worse.
"""

from __future__ import annotations

import operator
import re

from forecast.errors import ForecastError

_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(<=|>=|==|<|>)\s*([-+0-9.eE]+)\s*$")


class GateFailed(Exception):
    """A --require that the metrics do not meet: exit 1, like any failed check in CI."""

    exit_code = 1


def _lookup(metrics: dict, path: str) -> float:
    node = metrics
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ForecastError(f"--require {path}: no such metric (e.g. test.model.mae, val.scaled.model.mse)")
        node = node[part]
    if not isinstance(node, (int, float)):
        raise ForecastError(f"--require {path}: not a number")
    return float(node)


def check(metrics: dict, requirements: list[str]) -> list[str]:
    """Each requirement that holds, as a line; raises GateFailed on the first that does not."""
    passed = []
    for requirement in requirements:
        if requirement.strip() == "beats-naive":
            for split in (s for s in ("val", "test") if s in metrics):
                model, naive = metrics[split]["model"]["mae"], metrics[split]["naive"]["mae"]
                if not model < naive:
                    raise GateFailed(f"requirement beats-naive failed: {split} model MAE {model:.4g} >= naive {naive:.4g}")
            passed.append("beats-naive")
            continue
        match = _REQUIREMENT.match(requirement)
        if not match:
            raise ForecastError(f"--require {requirement!r}: expected PATH OP NUMBER (e.g. 'test.model.mae<=0.5') or beats-naive")
        path, op, number = match.groups()
        value = _lookup(metrics, path)
        if not _OPS[op](value, float(number)):
            raise GateFailed(f"requirement {path}{op}{number} failed: {path} is {value:.6g}")
        passed.append(f"{path}{op}{number} ({value:.6g})")
    return passed


def comparison(names: list[str], runs: list[dict]) -> str:
    """Val/test MAE, RMSE, MSE of model and naive, original and scaled, one column per run,
    and the change of every later run against the first."""
    width = max(12, *(len(n) for n in names))
    head = f"{'metric':<28}" + "".join(f"{n:>{width + 2}}" for n in names)
    head += "".join(f"{'Δ ' + n:>{width + 2}}" for n in names[1:])
    lines = [head]
    for split in ("val", "test"):
        for scale in ("", "scaled."):
            for who in ("model", "naive"):
                for metric in ("mae", "rmse", "mse"):
                    path = f"{split}.{scale}{who}.{metric}"
                    values = []
                    for run in runs:
                        try:
                            values.append(_lookup(run, path))
                        except ForecastError:
                            values.append(float("nan"))
                    row = f"{path:<28}" + "".join(f"{v:>{width + 2}.4f}" for v in values)
                    row += "".join(f"{v - values[0]:>+{width + 2}.4f}" for v in values[1:])
                    lines.append(row)
    return "\n".join(lines)
