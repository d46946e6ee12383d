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
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path

from forecast import config as cfg
from forecast import tables
from forecast.errors import ForecastError
from forecast.rundir import Run, write_json, write_text

log = logging.getLogger("forecast")


def read_grid(path: Path) -> dict[str, list]:
    raw = cfg.read_yaml(Path(path))
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, list) and v for v in raw.values()):
        raise ForecastError(
            f"{path}: a grid maps dotted keys to non-empty lists of values, e.g. 'training.learning_rate: [1e-3, 3e-4]'"
        )
    return raw


def trials(grid: dict[str, list], draws: int | None, seed: int) -> list[dict[str, object]]:
    """Every combination in grid order, or `draws` of them drawn without replacement."""
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
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


@dataclass(frozen=True)
class Leaderboard:
    """Completed trials ranked by a metric, and the Markdown written to SWEEP_DIR/leaderboard.md."""

    directory: Path
    metric: str
    rows: list[dict]
    markdown: str


def leaderboard(sweep_dir: Path, metric: str = "val.model.mae") -> Leaderboard:
    """Completed trials ranked by `metric` (lower is better), test metrics beside; writes CSV and Markdown.

    Args:
        sweep_dir: a sweep directory; every completed trial-NNN run in it is ranked (shards merged).
        metric: a metrics.json path.

    Returns:
        The leaderboard, rows best first.
    """
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
        metrics = run.metrics
        try:
            value = metrics.get(metric)
        except KeyError:
            raise ForecastError(f"--metric {metric}: no such metric in {run.metrics_file}") from None
        rows.append(
            {
                "trial": run.path.name,
                **{k: json.dumps(v) for k, v in trial.items()},
                metric: value,
                "val_mae": metrics.val.model.mae,
                "test_mae": metrics.test.model.mae,
                "test_rmse": metrics.test.model.rmse,
                "test_scaled_mse": metrics.test.scaled_model.mse,
                "naive_test_mae": metrics.test.naive.mae,
                "epochs": metrics.training.epochs_run if metrics.training else 0,
            }
        )
    rows.sort(key=lambda r: r[metric])
    columns = list(rows[0]) if rows else ["trial", metric]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns)
    writer.writeheader()
    writer.writerows(rows)
    write_text(sweep_dir / "leaderboard.csv", buffer.getvalue())
    title = f"# Leaderboard: {sweep_dir.name} ({len(rows)} of {len(plan)} trials completed, ranked by {metric})"
    body = tables.markdown(["rank", *columns], [[rank, *(r[c] for c in columns)] for rank, r in enumerate(rows, 1)])
    markdown = f"{title}\n\n{body}\n"
    write_text(sweep_dir / "leaderboard.md", markdown)
    return Leaderboard(sweep_dir, metric, rows, markdown)


def run(
    config_path: Path,
    grid: dict[str, list],
    sweep_dir: Path,
    draws: int | None = None,
    shard: str | None = None,
    metric: str = "val.model.mae",
) -> Leaderboard:
    """Run this shard's trials of a grid, each an ordinary run directory, and rebuild the leaderboard.

    A completed trial is skipped (resume after a kill); one killed part-way starts over.

    Args:
        config_path: the base config file.
        grid: dotted keys -> lists of values (`read_grid`).
        sweep_dir: shards and resumed sweeps share it.
        draws: run this many random draws of the grid instead of all of it.
        shard: "I/N" (default: Slurm's array variables, else the whole sweep).
        metric: the metrics.json path the leaderboard ranks by.

    Returns:
        The leaderboard of every completed trial in the directory (all shards').
    """
    import shutil

    from forecast import lifecycle

    base = cfg.load(config_path)
    planned = trials(grid, draws, base.seed)
    index, count = shard_of(shard)
    configs = [cfg.load(config_path, overrides(t)) for t in planned]  # every trial validates before any trains
    sweep_dir.mkdir(parents=True, exist_ok=True)
    record(sweep_dir, config_path, planned)
    mine = [i for i in range(len(planned)) if i % count == index]
    log.info(f"sweep {sweep_dir}: {len(planned)} trials, shard {index}/{count} runs {len(mine)}")
    for done, i in enumerate(mine, 1):
        trial = Run(sweep_dir / f"trial-{i:03d}")
        label = " ".join(overrides(planned[i]))
        if trial.status == "completed":
            log.info(f"[{done}/{len(mine)}] {trial.path.name} already completed: {label}")
            continue
        if trial.path.exists():  # a trial killed part-way starts over
            shutil.rmtree(trial.path)
        prepared = lifecycle.plan(configs[i])
        log.info(f"[{done}/{len(mine)}] {trial.path.name}: {label}")
        run_ = lifecycle.create(configs[i], prepared, trial.path)
        metrics = lifecycle.execute(configs[i], prepared, run_, verbose=0)
        log.info(
            f"[{done}/{len(mine)}] {trial.path.name}: "
            f"val MAE {metrics.val.model.mae:.4f}, test MAE {metrics.test.model.mae:.4f}"
        )
        import keras

        keras.backend.clear_session()
    return leaderboard(sweep_dir, metric)
