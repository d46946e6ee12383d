"""What a sweep directory (`--sweep-dir`: a grid sweep's or a tuned study's) holds for its workers.

Workers of one sweep or study share its directory: the plan file (sweep.json, tune.json) they
agree on before any trial runs, `--restart`'s clearing of an old plan's trials, and each trial's
values as the `--set` assignments its config is loaded with.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from forecast.errors import ForecastError
from forecast.leaderboards import leaderboard_lock
from forecast.plans import describe, difference, first_difference
from forecast.rundir import clear_partials, hold, write_json

log = logging.getLogger("forecast")

# entries of a plan written before plans recorded their resolved config (kept for the message only)
LEGACY = ("resolved", "data")


def overrides(trial: dict[str, object]) -> list[str]:
    """A trial as `--set` assignments (values written back as YAML flow scalars/lists).

    Args:
        trial: dotted config keys -> the trial's values.
    """
    return [f"{key}={json.dumps(value)}" for key, value in trial.items()]


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
    to the config cannot be seen.

    Args:
        path: the plan file (SWEEP_DIR/sweep.json or tune.json).
        plan: this worker's plan.
        name: the plan as messages name it, e.g. "the sweep's plan".
        restart: replace another plan instead of refusing it.
        clear: with `restart`, removes what the old plan made (its trials, its study).
    """
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
    naming it, before anything is removed); `forget` (the old study) runs under them too.

    Args:
        sweep_dir: the sweep or tuning directory.
        forget: deletes what the old plan keeps outside the directory (a tuned study's storage).
    """
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
