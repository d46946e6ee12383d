"""Sweeps: a grid (or random draws) of dotted-key overrides, each an ordinary run directory.

The grid file maps dotted keys to lists of values, the same keys `--set` takes:

    model.layers[0].units: [32, 64]
    training.learning_rate: [1e-3, 3e-4]

Trial i of the expanded grid lives in SWEEP_DIR/trial-<i>; `sweep.json` records every trial's
overrides, the resolved base config and its data's identity (`forecast.plans`): a rerun whose
config, data or grid differ is refused unless `--restart`. A finished trial is skipped when the
sweep runs again (resume after a kill), and
`--shard I/N` runs only the trials with i % N == I, so a job array fills one sweep directory
from many machines; `forecast leaderboard` then ranks whatever runs exist.
"""

from __future__ import annotations

import logging
import math
import random
import shutil
from datetime import datetime
from pathlib import Path

from forecast import config as cfg
from forecast.errors import Diverged, ForecastError
from forecast.leaderboards import Leaderboard, check_metric, of_sweep
from forecast.plans import content
from forecast.rundir import Busy, Run, hold
from forecast.shards import shard_of
from forecast.sweep_dirs import clear_trials, keep_plan, overrides

log = logging.getLogger("forecast")


def read_grid(path: Path) -> dict[str, list]:
    raw = cfg.read_yaml(Path(path))
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, list) and v for v in raw.values()):
        raise ForecastError(
            f"{path}: a grid maps dotted keys to non-empty lists of values, e.g. 'training.learning_rate: [1e-3, 3e-4]'"
        )
    return raw


# A sweep runs each trial to the end: a grid larger than this is a mistake, or wants --random.
MAX_TRIALS = 10_000


def combination(grid: dict[str, list], index: int) -> dict[str, object]:
    """The index-th combination in itertools.product order (the last key varies fastest)."""
    values = {}
    for key in reversed(grid):
        index, pick = divmod(index, len(grid[key]))
        values[key] = grid[key][pick]
    return {key: values[key] for key in grid}


def trials(grid: dict[str, list], draws: int | None, seed: int) -> list[dict[str, object]]:
    """Every combination in grid order, or `draws` of them drawn without replacement.

    The product is never built: its size is computed and the draws are decoded from their index,
    so a grid of 10^11 combinations costs nothing with --random.
    """
    size = math.prod(len(v) for v in grid.values())
    if draws is not None and draws < size:
        picks = sorted(random.Random(seed).sample(range(size), draws))
    elif size > MAX_TRIALS:
        raise ForecastError(f"--grid: {size:,} combinations, more than {MAX_TRIALS:,}; run --random N of them")
    else:
        picks = range(size)
    return [combination(grid, i) for i in picks]


def record(
    sweep_dir: Path,
    config_path: Path,
    config: cfg.Config,
    planned: list[dict],
    base_overrides=(),
    restart: bool = False,
) -> None:
    """sweep.json: the plan, by content (the base config resolved, its data's identity, the trials).
    Shards started with the same plan agree on it; another is refused, or with `restart` replaces it."""
    plan = {**content(config), "trials": planned, "config": str(Path(config_path).resolve())}
    if base_overrides:
        plan["set"] = list(base_overrides)
    keep_plan(sweep_dir / "sweep.json", plan, "the sweep's plan", restart, lambda: clear_trials(sweep_dir))


def run(
    config_path: Path,
    grid: Path | dict[str, list],
    sweep_dir: Path | None,
    draws: int | None = None,
    shard: str | None = None,
    metric: str = "val.model.mae",
    base_overrides: list[str] | tuple[str, ...] = (),
    restart: bool = False,
) -> Leaderboard:
    """Run this shard's trials of a grid, each an ordinary run directory, and rebuild the leaderboard.

    A completed trial is skipped (resume after a kill); one killed part-way starts over.

    Args:
        config_path: the base config file.
        grid: dotted keys -> lists of values, or a YAML grid file (`read_grid`).
        sweep_dir: shards and resumed sweeps share it; None: a new `sweeps/<name>-<time>`.
        draws: run this many random draws of the grid instead of all of it.
        shard: "I/N" (default: Slurm's array variables, else the whole sweep).
        metric: the metrics.json path the leaderboard ranks by.
        base_overrides: `--set` assignments applied to the base config before each trial's.
        restart: a directory holding another plan (another config, data or grid) is cleared and
            started over, instead of refused.

    Returns:
        The leaderboard of every completed trial in the directory (all shards').
    """
    grid = read_grid(grid) if isinstance(grid, Path) else grid
    if sweep_dir is None:
        sweep_dir = Path("sweeps") / f"{cfg.load(config_path).name}-{datetime.now():%Y%m%d-%H%M%S}"
    base = cfg.load(config_path, base_overrides)
    check_metric(metric, base)
    planned = trials(grid, draws, base.seed)
    index, count = shard_of(shard)
    # every trial validates before any trains; a bad grid key or value is named as the grid's
    configs = [cfg.load(config_path, [*base_overrides, *overrides(t)], option="--grid") for t in planned]
    sweep_dir.mkdir(parents=True, exist_ok=True)
    record(sweep_dir, config_path, base, planned, base_overrides, restart)
    mine = [i for i in range(len(planned)) if i % count == index]
    log.info(f"sweep {sweep_dir}: {len(planned)} trials, shard {index}/{count} runs {len(mine)}")
    failed: list[str] = []
    (sweep_dir / ".claims").mkdir(exist_ok=True)
    for done, i in enumerate(mine, 1):
        trial = Run(sweep_dir / f"trial-{i:03d}")
        if not _train(trial, configs[i], f"[{done}/{len(mine)}] {trial.path.name}", " ".join(overrides(planned[i]))):
            failed.append(trial.path.name)
    if failed:
        log.warning(f"warning: {len(failed)} trials failed ({', '.join(failed)}); a rerun retries them")
    return of_sweep(sweep_dir, metric)


def _train(trial: Run, config: cfg.Config, step: str, label: str) -> bool:
    """Train one trial of a sweep, unless it completed or another process holds its claim.

    A trial belongs to whoever holds its claim (SWEEP_DIR/.claims/trial-NNN.lock): several unsharded
    processes on one directory share the trials like a queue, and a killed one's claim is released;
    a trial killed part-way starts over.

    Args:
        trial: the trial's run directory, SWEEP_DIR/trial-NNN.
        config: the trial's config (the base with its grid values).
        step: the trial as log lines name it, e.g. "[2/4] trial-001".
        label: its grid values as `--set` assignments.

    Returns:
        False when its settings failed (the sweep goes on); True when it trained, had, or was skipped.
    """
    # deferred: lifecycle loads scikit-learn and the model stack; `forecast leaderboard` needs neither
    from forecast import lifecycle

    if trial.status == "completed":
        log.info(f"{step} already completed: {label}")
        return True
    try:
        with hold(trial.path.parent / ".claims" / f"{trial.path.name}.lock", f"trial {trial.path.name}"):
            if trial.status == "completed":  # finished by another process since the check above
                return True
            if trial.path.exists():  # a trial killed part-way starts over
                shutil.rmtree(trial.path)
            prepared = lifecycle.plan(config)
            log.info(f"{step}: {label}")
            metrics = lifecycle.execute(config, prepared, lifecycle.create(config, prepared, trial.path))
    except Busy as exc:
        log.info(f"{step} skipped: {exc}")
        return True
    except (ForecastError, Diverged) as exc:  # this trial's settings: the others still run
        log.warning(f"warning: {step} failed, the sweep goes on ({exc})")
        return False
    log.info(f"{step}: val MAE {metrics.val.model.mae:.4f}, test MAE {metrics.test.model.mae:.4f}")
    import keras  # deferred: Keras loads TensorFlow (loaded by now: this only names it)

    keras.backend.clear_session()
    return True
