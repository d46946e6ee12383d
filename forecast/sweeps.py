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

import csv
import io
import json
import logging
import math
import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from forecast import config as cfg
from forecast import tables
from forecast.errors import Diverged, ForecastError
from forecast.plans import content, describe, difference, first_difference
from forecast.results import is_metric_path
from forecast.rundir import Busy, Run, clear_partials, hold, write_json, write_text
from forecast.shards import shard_of

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


def overrides(trial: dict[str, object]) -> list[str]:
    """A trial as `--set` assignments (values written back as YAML flow scalars/lists)."""
    return [f"{key}={json.dumps(value)}" for key, value in trial.items()]


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


# entries of a plan written before plans recorded their resolved config (kept for the message only)
LEGACY = ("resolved", "data")


def keep_plan(
    path: Path, plan: dict, name: str, restart: bool = False, clear: Callable[[], None] | None = None
) -> None:
    """Write a directory's plan file, or check that the one there is the same: workers of one
    sweep or study agree on it. Another plan (its first differing key named, see
    `plans.difference`) is refused with exit 2, unless `restart`: then `clear` removes what the
    old plan made and this plan replaces it (the same plan with `restart` just goes on, so every
    task of a job array may be given it).

    A plan written by an earlier forecast records the config by path only: it is compared as it
    was (path, --set and grid or space) and, when those agree, accepted with a warning that edits
    to the config cannot be seen."""
    # two workers starting at once: one writes, the other compares
    with hold(path.with_name(f".{path.name}.lock"), path.name, wait=True):
        clear_partials(path)  # a worker killed while writing the plan
        if path.exists():
            old = json.loads(path.read_text())
            legacy = "resolved" not in old
            if legacy:
                why = describe(first_difference(old, {k: v for k, v in plan.items() if k not in LEGACY}), f"in {name}")
            else:
                why = difference(old, plan, f"in {name}")
            if not restart:
                if why:
                    raise ForecastError(f"{why}; rerun with --restart or use a new --sweep-dir")
                if legacy:
                    log.warning(
                        f"warning: {path} was written by an earlier forecast and records the config by path "
                        "only: edits to it cannot be detected (--restart records it by content)"
                    )
                return
            if not (why or legacy):  # the same plan: --restart has nothing to replace
                return
            if clear is not None:
                clear()
        write_json(path, plan)


def clear_trials(sweep_dir: Path, forget: Callable[[], None] = lambda: None) -> None:
    """--restart: remove the old plan's trials and leaderboard. Every claim and every trial's run
    lock is held first, so nothing is removed under a process still working on it (Busy, exit 2,
    naming it, before anything is removed); `forget` (the old study) runs under them too."""
    import shutil

    trials = sorted(p for p in sweep_dir.glob("trial-*") if p.is_dir())
    claims = sweep_dir / ".claims"
    claims.mkdir(exist_ok=True)
    with ExitStack() as held:
        for lock in sorted({*claims.glob("trial-*.lock"), *(claims / f"{p.name}.lock" for p in trials)}):
            held.enter_context(hold(lock, f"--restart: {lock.stem}"))
        for trial in trials:
            held.enter_context(hold(trial / ".lock", f"--restart: run {trial}"))
        forget()
        for trial in trials:
            shutil.rmtree(trial)
    with leaderboard_lock(sweep_dir):
        for name in ("leaderboard.csv", "leaderboard.md"):
            (sweep_dir / name).unlink(missing_ok=True)
    (sweep_dir / "best.yaml").unlink(missing_ok=True)
    log.info(f"{sweep_dir}: --restart removed the old plan's {len(trials)} trials")


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
    with leaderboard_lock(sweep_dir):
        rows = []
        for i, trial in enumerate(plan):
            run = Run(sweep_dir / f"trial-{i:03d}")
            if run.status != "completed":
                continue
            rows.append({"trial": run.path.name, **cells(trial), **scores(run, metric)})
        rows.sort(key=lambda r: r[metric])
        title = f"{len(rows)} of {len(plan)} trials completed, ranked by {metric}"
        return write_leaderboard(sweep_dir, metric, rows, title, ["trial", metric])


@contextmanager
def leaderboard_lock(sweep_dir: Path) -> Iterator[None]:
    """Held while a leaderboard is read and written. Workers that finish together each write one;
    without it, one that read the trials earlier could rename its table over a later one. The
    holder is the leaderboard's only writer, so it clears what a killed writer left."""
    with hold(Path(sweep_dir) / ".leaderboard.lock", "the leaderboard", wait=True):
        for name in ("leaderboard.csv", "leaderboard.md"):
            clear_partials(Path(sweep_dir) / name)
        yield


def cells(values: dict[str, object]) -> dict[str, object]:
    """A trial's settings as table cells: scalars as they are, lists as JSON."""
    return {k: v if isinstance(v, str | int | float | bool) else json.dumps(v) for k, v in values.items()}


def scores(run: Run, metric: str) -> dict[str, object]:
    """A completed trial's leaderboard columns: the ranked metric, then the test scores beside it."""
    metrics = run.metrics
    try:
        value = metrics.get(metric)
    except KeyError:
        raise ForecastError(f"--metric {metric}: no such metric in {run.metrics_file}") from None
    return {
        metric: value,
        **({} if metric == "val.model.mae" else {"val_mae": metrics.val.model.mae}),
        "test_mae": metrics.test.model.mae,
        "test_rmse": metrics.test.model.rmse,
        "test_scaled_mse": metrics.test.scaled_model.mse,
        "naive_test_mae": metrics.test.naive.mae,
        "epochs": metrics.training.epochs_run if metrics.training else 0,
    }


def write_leaderboard(directory: Path, metric: str, rows: list[dict], title: str, empty: list[str]) -> Leaderboard:
    """leaderboard.csv and leaderboard.md of rows in rank order (columns: the union, first seen first)."""
    columns = list(dict.fromkeys(c for r in rows for c in r)) or empty
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns)
    writer.writeheader()
    writer.writerows(rows)
    write_text(directory / "leaderboard.csv", buffer.getvalue())
    body = tables.markdown(
        ["rank", *columns], [[rank, *(r.get(c, "") for c in columns)] for rank, r in enumerate(rows, 1)]
    )
    markdown = f"# Leaderboard: {directory.name} ({title})\n\n{body}\n"
    write_text(directory / "leaderboard.md", markdown)
    return Leaderboard(directory, metric, rows, markdown)


def check_interval_metric(metric: str, config: cfg.Config) -> None:
    """An interval score to rank by must exist in every trial (the config has intervals at its level)
    and be lower-is-better: coverage is not (rank by acd_L, its distance from nominal)."""
    from forecast.intervals import level_name

    parts = metric.split(".")
    if parts[1] != "intervals":
        return
    name = parts[-1]
    if config.intervals.method == "none":
        raise ForecastError(f"--metric {metric}: the config has no intervals (set intervals.method)")
    if name.startswith("coverage_"):
        better = metric.replace("coverage", "acd")
        raise ForecastError(f"--metric {metric}: higher coverage is not better; rank by {better}")
    suffixes = [level_name(v) for v in config.intervals.levels]
    for kind in ("width", "interval_score", "msis", "acd"):
        if name.startswith(f"{kind}_") and name[len(kind) + 1 :] not in suffixes:
            raise ForecastError(f"--metric {metric}: the config's intervals.levels give {', '.join(suffixes)}")


def run(
    config_path: Path,
    grid: dict[str, list],
    sweep_dir: Path,
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
        grid: dotted keys -> lists of values (`read_grid`).
        sweep_dir: shards and resumed sweeps share it.
        draws: run this many random draws of the grid instead of all of it.
        shard: "I/N" (default: Slurm's array variables, else the whole sweep).
        metric: the metrics.json path the leaderboard ranks by.
        base_overrides: `--set` assignments applied to the base config before each trial's.
        restart: a directory holding another plan (another config, data or grid) is cleared and
            started over, instead of refused.

    Returns:
        The leaderboard of every completed trial in the directory (all shards').
    """
    import shutil

    from forecast import lifecycle

    base = cfg.load(config_path, base_overrides)
    if not is_metric_path(metric):
        raise ForecastError(f"--metric {metric}: no such metric (e.g. val.model.mae, val.scaled.model.mse)")
    check_interval_metric(metric, base)
    planned = trials(grid, draws, base.seed)
    index, count = shard_of(shard)
    # every trial validates before any trains; a bad grid key or value is named as the grid's
    configs = [cfg.load(config_path, [*base_overrides, *overrides(t)], option="--grid") for t in planned]
    sweep_dir.mkdir(parents=True, exist_ok=True)
    record(sweep_dir, config_path, base, planned, base_overrides, restart)
    mine = [i for i in range(len(planned)) if i % count == index]
    log.info(f"sweep {sweep_dir}: {len(planned)} trials, shard {index}/{count} runs {len(mine)}")
    failed: list[str] = []
    claims = sweep_dir / ".claims"
    claims.mkdir(exist_ok=True)
    for done, i in enumerate(mine, 1):
        trial = Run(sweep_dir / f"trial-{i:03d}")
        label = " ".join(overrides(planned[i]))
        step = f"[{done}/{len(mine)}] {trial.path.name}"
        if trial.status == "completed":
            log.info(f"{step} already completed: {label}")
            continue
        try:
            # a trial belongs to whoever holds its claim: several unsharded processes on one
            # directory share the trials like a queue, and a killed one's claim is released
            with hold(claims / f"{trial.path.name}.lock", f"trial {trial.path.name}"):
                if trial.status == "completed":  # finished by another process since the check above
                    continue
                if trial.path.exists():  # a trial killed part-way starts over
                    shutil.rmtree(trial.path)
                prepared = lifecycle.plan(configs[i])
                log.info(f"{step}: {label}")
                metrics = lifecycle.execute(configs[i], prepared, lifecycle.create(configs[i], prepared, trial.path))
        except Busy as exc:
            log.info(f"{step} skipped: {exc}")
            continue
        except (ForecastError, Diverged) as exc:  # this trial's settings: the others still run
            log.warning(f"warning: {step} failed, the sweep goes on ({exc})")
            failed.append(trial.path.name)
            continue
        log.info(f"{step}: val MAE {metrics.val.model.mae:.4f}, test MAE {metrics.test.model.mae:.4f}")
        import keras

        keras.backend.clear_session()
    if failed:
        log.warning(f"warning: {len(failed)} trials failed ({', '.join(failed)}); a rerun retries them")
    return leaderboard(sweep_dir, metric)
