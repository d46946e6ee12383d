"""Sweeps: a grid (or random draws) of dotted-key overrides, each an ordinary run directory.

The grid file maps dotted keys to lists of values, the same keys `--set` takes:

    model.layers[0].units: [32, 64]
    training.learning_rate: [1e-3, 3e-4]

Trial i of the expanded grid lives in SWEEP_DIR/trial-<i>; `sweep.json` records every trial's
overrides. A finished trial is skipped when the sweep runs again (resume after a kill), and
`--shard I/N` runs only the trials with i % N == I, so a job array fills one sweep directory
from many machines; `forecast leaderboard` then ranks whatever runs exist.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import random
from pathlib import Path

from forecast import config as cfg
from forecast.errors import ForecastError
from forecast.rundir import Run, write_json, write_text


def read_grid(path: Path) -> dict[str, list]:
    raw = cfg.read_yaml(Path(path))
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, list) and v for v in raw.values()):
        raise ForecastError(f"{path}: a grid maps dotted keys to non-empty lists of values, e.g. 'training.learning_rate: [1e-3, 3e-4]'")
    return raw


def trials(grid: dict[str, list], draws: int | None, seed: int) -> list[dict[str, object]]:
    """Every combination in grid order, or `draws` of them drawn without replacement."""
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    if draws is not None and draws < len(combos):
        picks = sorted(random.Random(seed).sample(range(len(combos)), draws))
        combos = [combos[i] for i in picks]
    return combos


def overrides(trial: dict[str, object]) -> list[str]:
    """A trial as `--set` assignments (values written back as YAML flow scalars/lists)."""
    return [f"{key}={json.dumps(value)}" for key, value in trial.items()]


def shard_of(spec: str | None) -> tuple[int, int]:
    """`I/N` (0 <= I < N); without one, Slurm's array variables, else the whole sweep."""
    if spec is None and "SLURM_ARRAY_TASK_ID" in os.environ and "SLURM_ARRAY_TASK_COUNT" in os.environ:
        first = int(os.environ.get("SLURM_ARRAY_TASK_MIN", "0"))
        return int(os.environ["SLURM_ARRAY_TASK_ID"]) - first, int(os.environ["SLURM_ARRAY_TASK_COUNT"])
    if spec is None:
        return 0, 1
    try:
        index, count = (int(v) for v in spec.split("/"))
    except ValueError:
        raise ForecastError(f"--shard {spec}: expected I/N, e.g. 0/4") from None
    if not 0 <= index < count:
        raise ForecastError(f"--shard {spec}: I must be in 0..N-1")
    return index, count


def record(sweep_dir: Path, config_path: Path, planned: list[dict]) -> None:
    """sweep.json: the plan. Shards started with the same grid agree on it; a different grid is refused."""
    plan = {"config": str(Path(config_path).resolve()), "trials": planned}
    path = sweep_dir / "sweep.json"
    if path.exists():
        if json.loads(path.read_text()) != plan:
            raise ForecastError(f"{sweep_dir}: holds a sweep of another config or grid; pick another --sweep-dir")
        return
    write_json(path, plan)


def leaderboard(sweep_dir: Path, metric: str = "val.model.mae") -> list[dict]:
    """Completed trials ranked by `metric` (lower is better), test metrics beside; writes CSV and Markdown."""
    sweep_dir = Path(sweep_dir)
    try:
        plan = json.loads((sweep_dir / "sweep.json").read_text())["trials"]
    except (OSError, ValueError, KeyError):
        raise ForecastError(f"{sweep_dir}: not a sweep directory (no sweep.json)") from None
    rows = []
    for i, trial in enumerate(plan):
        run = Run(sweep_dir / f"trial-{i:03d}")
        if run.status != "completed":
            continue
        metrics = json.loads(run.metrics.read_text())
        value = metrics
        for part in metric.split("."):
            value = value[part]
        rows.append({
            "trial": run.path.name, **{k: json.dumps(v) for k, v in trial.items()}, metric: value,
            "val_mae": metrics["val"]["model"]["mae"], "test_mae": metrics["test"]["model"]["mae"],
            "test_rmse": metrics["test"]["model"]["rmse"], "test_scaled_mse": metrics["test"]["scaled"]["model"]["mse"],
            "naive_test_mae": metrics["test"]["naive"]["mae"], "epochs": metrics["epochs_run"],
        })
    rows.sort(key=lambda r: r[metric])
    columns = list(rows[0]) if rows else ["trial", metric]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns)
    writer.writeheader()
    writer.writerows(rows)
    write_text(sweep_dir / "leaderboard.csv", buffer.getvalue())
    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [f"# Leaderboard: {sweep_dir.name} ({len(rows)} of {len(plan)} trials completed, ranked by {metric})", "",
             "| rank | " + " | ".join(columns) + " |", "|" + "---|" * (len(columns) + 1)]
    lines += [f"| {rank} | " + " | ".join(fmt(r[c]) for c in columns) + " |" for rank, r in enumerate(rows, 1)]
    write_text(sweep_dir / "leaderboard.md", "\n".join(lines) + "\n")
    return rows
