"""Which worker runs which trial of a shared study, and what becomes of a trial whose worker died.

Workers share the sweep directory (as `forecast sweep`'s shards do): `.tune.lock` (`study_lock`)
makes "requeue the lost, count the trials, start one" a single step, so a study stops at exactly
`--trials`, and each running trial's claim file (`.claims/trial-NNNN.lock`, an flock the kernel
frees when its holder dies) tells a worker whose process died from one still training. A dead
worker's trial is marked failed, in the study and in its run's status.json, and queued once more
with the same settings (`reap`); a worker stopped by SIGINT/SIGTERM requeues its own (`requeue`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

from forecast.rundir import Busy, Run, hold

log = logging.getLogger("forecast")


def trial_dir(sweep_dir: Path, number: int) -> Path:
    """Trial `number`'s run directory, SWEEP_DIR/trial-NNNN (Optuna's trial number: unique across workers).

    Args:
        sweep_dir: the study's directory.
        number: the trial's number in the study.
    """
    return Path(sweep_dir) / f"trial-{number:04d}"


def study_lock(sweep_dir: Path) -> Path:
    """The study's lock: held to requeue, count and ask, so those three are one step across workers.

    Args:
        sweep_dir: the study's directory.
    """
    return Path(sweep_dir) / ".tune.lock"


def claim_file(sweep_dir: Path, number: int) -> Path:
    """Trial `number`'s claim, SWEEP_DIR/.claims/trial-NNNN.lock: held (an flock) by the worker running it.

    Args:
        sweep_dir: the study's directory.
        number: the trial's number in the study.
    """
    return Path(sweep_dir) / ".claims" / f"trial-{number:04d}.lock"


def counted(study) -> int:
    """Trials that count towards --trials: finished, pruned, running, or failed by their own settings
    (not those lost with their worker: they are queued again).

    Args:
        study: the Optuna study.
    """
    from optuna.trial import TrialState  # deferred: Optuna is an optional extra (forecast[tune])

    kept = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    return sum(t.state in kept or (t.state == TrialState.FAIL and "failed" in t.user_attrs) for t in study.trials)


def requeue(study, trial, why: str) -> bool:
    """Queue a lost trial's settings once more (a retry is not retried again), then mark it failed.
    Called under .tune.lock, so no worker counts the study between the two. True if queued again.

    Args:
        study: the Optuna study.
        trial: the lost trial (a FrozenTrial or a Trial).
        why: how it was lost, for the warning: "lost its worker", "was interrupted".
    """
    from optuna.trial import TrialState  # deferred: Optuna is an optional extra (forecast[tune])

    again = "retry_of" not in trial.user_attrs
    if again:
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
    study.tell(trial.number, state=TrialState.FAIL)
    log.warning(f"warning: trial-{trial.number:04d} {why}: marked failed{', queued again' if again else ''}")
    return again


def mark_lost(path: Path, again: bool) -> None:
    """A dead worker's run says so too: its status.json `failed`, naming the worker, never the
    `running` it was left at (the kernel freed the run's lock with the worker, so it is free).

    Args:
        path: the lost trial's run directory.
        again: its settings were queued again (`requeue`'s answer), which the message says.
    """
    run = Run(path)
    if run.status not in ("created", "running"):
        return
    try:
        left = json.loads(run.status_file.read_text())
        worker = f"pid {left['pid']} on {left['host']}"
    except (OSError, ValueError, KeyError):
        worker = "its process"
    with contextlib.suppress(Busy), run.lock():
        queued = "; its settings were queued again as a new trial" if again else ""
        run.set_status("failed", f"lost: its worker ({worker}) died while it ran{queued}")


def reap(study, sweep_dir: Path) -> None:
    """Running trials whose claim nobody holds lost their worker (killed, machine gone): requeue them,
    and mark their runs failed. Called under `study_lock`.

    Args:
        study: the Optuna study.
        sweep_dir: the study's directory, whose claims tell a dead worker from a live one.
    """
    from optuna.trial import TrialState  # deferred: Optuna is an optional extra (forecast[tune])

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        claim = claim_file(sweep_dir, trial.number)
        if not claim.exists():  # claimed elsewhere (a sweep directory that is not shared)
            continue
        try:
            with hold(claim, "claim"):
                running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                if any(t.number == trial.number for t in running):  # not told finished since the list
                    mark_lost(trial_dir(sweep_dir, trial.number), requeue(study, trial, "lost its worker"))
        except Busy:
            continue
