"""Tuning: an Optuna study over dotted config keys; every trial an ordinary run directory.

The space file maps the keys `--set` takes to distributions, in the order they are drawn:

    training.learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}    # a float (log-uniform)
    model.layers[0].units: {low: 16, high: 128, step: 16}             # an int: low and high are ints
    model.decoder: {choices: [dense, parallel]}
    model.segment_len: {choices: [12, 24], when: {model.decoder: parallel}}   # drawn only then

Trial n lives in SWEEP_DIR/trial-<n:04d> (n is Optuna's trial number, unique across workers);
each epoch's val_loss is reported to the trial and the study's pruner may stop it there. The
study lives in a storage any number of workers share: a SQLite file in the sweep directory by
default, any SQLAlchemy URL, or `journal:PATH` (Optuna's journal file, for shared filesystems).

Workers share the sweep directory (as `forecast sweep`'s shards do): `.tune.lock` makes "count
the trials, start one" atomic, so a study stops at exactly `--trials`, and each running trial's
claim file (`.claims/trial-NNNN.lock`, an flock the kernel frees when its holder dies) tells a
worker whose process died from one still training. A dead worker's trial is marked failed and
queued once more with the same settings; a worker stopped by SIGINT/SIGTERM does the same itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import multiprocessing
import os
import time
from pathlib import Path

from forecast import config as cfg
from forecast.errors import Error, ForecastError, Interrupted, Pruned
from forecast.leaderboard import Leaderboard, check_metric, of_study
from forecast.optuna_study import (
    PRUNERS,
    SAMPLERS,
    check_storage,
    forget,
    load_optuna,
    make_pruner,
    make_sampler,
    open_storage,
    public_url,
)
from forecast.plans import content, difference
from forecast.rundir import hold
from forecast.search_space import Distribution, check_space, sample
from forecast.sweep_dirs import clear_trials, keep_plan, overrides
from forecast.trial_claims import claim_file, counted, reap, requeue, study_lock, trial_dir

log = logging.getLogger("forecast")


def record(sweep_dir: Path, plan: dict, storage: str | None = None, restart: bool = False) -> None:
    """tune.json: what the study searches (the base config resolved, its data's identity, the space,
    metric and study), and where it is stored unless by default (without a password; `leaderboard`
    and `--best` find it there). Workers started with the same plan agree; another is refused (its
    trial numbers would collide with this study's run directories), or with `restart` replaces it:
    the old study is deleted from its storage and its trials removed."""
    if (sweep_dir / "sweep.json").exists():
        raise ForecastError(f"{sweep_dir}: holds a `forecast sweep`; give tune its own --sweep-dir")

    def clear() -> None:
        old = json.loads((sweep_dir / "tune.json").read_text())
        with hold(study_lock(sweep_dir), "the study", wait=True):  # workers between trials wait
            clear_trials(sweep_dir, forget=lambda: forget(old, storage, sweep_dir))

    keep_plan(sweep_dir / "tune.json", plan, "the study's plan", restart, clear)


def run(
    config_path: Path,
    space: dict[str, Distribution],
    sweep_dir: Path,
    trials: int,
    study_name: str | None = None,
    storage: str | None = None,
    metric: str = "val.model.mae",
    timeout: float | None = None,
    sampler: str = "tpe",
    pruner: str = "median",
    jobs: int = 1,
    base_overrides: list[str] | tuple[str, ...] = (),
    restart: bool = False,
) -> Leaderboard:
    """Run trials of a study until it holds `trials` of them (all workers'), then rebuild the leaderboard.

    Args:
        config_path: the base config file.
        space: `read_space`'s distributions.
        sweep_dir: the study's directory: trials, tune.json, study.db, leaderboard; workers share it.
        trials: the study's size: a worker starts trials until the study holds this many.
        study_name: default: the sweep directory's name.
        storage: default: sqlite:///SWEEP_DIR/study.db.
        metric: the metrics.json path minimised.
        timeout: a worker starts no trial after this many seconds.
        sampler: tpe or random; the study's k-th trial draws with seed `config.seed + k`.
        pruner: median, halving (successive halving) or none, on each epoch's val_loss.
        jobs: worker processes on this machine (this one and jobs-1 more).
        base_overrides: `--set` assignments applied before each trial's values.
        restart: a directory holding another plan (another config, data, space, metric or study)
            is cleared and its study deleted, instead of refused.

    Returns:
        The leaderboard of every trial in the study.
    """
    if sampler not in SAMPLERS:
        raise ForecastError(f"--sampler {sampler}: expected one of {', '.join(SAMPLERS)}")
    if pruner not in PRUNERS:
        raise ForecastError(f"--pruner {pruner}: expected one of {', '.join(PRUNERS)}")
    base = cfg.load(config_path, base_overrides)
    check_metric(metric, base)
    check_space(config_path, space, base_overrides)
    load_optuna()
    check_storage(storage)  # all before the directory exists: bad input leaves nothing behind
    sweep_dir = Path(sweep_dir)
    study_name = study_name or sweep_dir.resolve().name
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / ".claims").mkdir(exist_ok=True)
    plan = {
        **content(base),
        "config": str(Path(config_path).resolve()),
        "space": {k: v.model_dump(exclude_defaults=True) for k, v in space.items()},
        "metric": metric,
        "study": study_name,
        **({"set": list(base_overrides)} if base_overrides else {}),
        **({"storage": public_url(storage)} if storage else {}),
    }
    record(sweep_dir, plan, storage, restart)
    args = (config_path, space, sweep_dir, trials, study_name, storage, metric, timeout, sampler, pruner)
    children = []
    if jobs > 1:
        # each worker a process of its own (TensorFlow, signals); cores shared out unless set
        os.environ.setdefault("FORECAST_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
        context = multiprocessing.get_context("spawn")
        children = [
            context.Process(target=_child, args=(i, args, tuple(base_overrides), log.level), name=f"worker {i}")
            for i in range(1, jobs)
        ]
    started = []
    try:
        for child in children:
            child.start()
            started.append(child)
        work(*args, base_overrides=base_overrides)
        for child in started:  # a SIGTERM while waiting here is passed on too
            child.join()
    except BaseException:
        for child in started:  # SIGTERM: each requeues its trial and stops
            child.terminate()
        for child in started:
            child.join()
        raise
    if failed := [c.exitcode for c in children if c.exitcode]:
        raise Error(f"{len(failed)} of {jobs - 1} other workers failed (exit codes {failed}); see their lines above")
    return of_study(sweep_dir, metric, storage)


def _child(worker: int, args: tuple, base_overrides: tuple, level: int) -> None:
    """A `-j` worker process: the parent's log level with a prefix, the same loop, one line on error."""
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"[worker {worker}] %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
    try:
        work(*args, base_overrides=base_overrides)
    except Error as exc:
        log.error(f"error: {exc}")
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:
        log.error(f"error: {type(exc).__name__}: {exc}")
        raise SystemExit(1) from None


def work(
    config_path: Path,
    space: dict[str, Distribution],
    sweep_dir: Path,
    trials: int,
    study_name: str,
    storage: str | None,
    metric: str,
    timeout: float | None,
    sampler: str,
    pruner: str,
    base_overrides=(),
) -> None:
    """One worker's loop: (under the directory's lock) requeue lost trials, stop at `trials`, start
    one and claim it; then train it and tell the study how it ended.

    Raises:
        Interrupted: SIGINT/SIGTERM: the running trial stops at its next batch and is queued again
            (or, when it was already finishing, finishes); no new trial starts.
    """
    import signal

    from forecast.startup import load_keras

    load_keras()  # quietly, before anything imports Keras: TensorFlow's start-up lines stay off stderr
    from forecast.callbacks import signals

    optuna = load_optuna()
    start = time.monotonic()
    base = cfg.load(config_path, base_overrides)
    lock = study_lock(sweep_dir)
    # one flag for the whole loop: each trial's training shares it (callbacks.signals nests)
    with signals() as received:
        with hold(lock, "the study", wait=True):
            study = optuna.create_study(
                study_name=study_name,
                storage=open_storage(storage, sweep_dir),
                direction="minimize",
                load_if_exists=True,
            )
        study.pruner = make_pruner(pruner)
        log.info(f"study {study_name} in {sweep_dir}: {trials} trials, {sampler} sampler, {pruner} pruner")
        while timeout is None or time.monotonic() - start < timeout:
            with contextlib.ExitStack() as claim:
                with hold(lock, "the study", wait=True):
                    if received:
                        break
                    reap(study, sweep_dir)
                    if counted(study) >= trials:
                        break
                    _unchanged(sweep_dir, config_path, base_overrides)
                    # reseeded at each ask: the study's k-th trial draws with seed + k, whichever
                    # worker asks (asks are serialised), so workers never draw alike and one worker
                    # on a new study is reproducible
                    study.sampler = make_sampler(sampler, base.seed + len(study.trials))
                    trial = study.ask()
                    claim.enter_context(hold(claim_file(sweep_dir, trial.number), f"trial-{trial.number:04d}"))
                _trial(study, trial, config_path, space, sweep_dir, metric, base_overrides)
        if received:
            name = signal.Signals(received[0]).name
            raise Interrupted(f"interrupted by {name}; rerun the same command to finish the study", received[0])
    log.info(f"worker done: the study holds {counted(study)} of {trials} trials")


def _unchanged(sweep_dir: Path, config_path: Path, base_overrides=()) -> None:
    """Before each trial: the config and data are still those tune.json records. A worker runs for
    hours and reads the config file at every trial, so an edit meanwhile would make its later
    trials another study's; it stops instead (exit 2, naming the key)."""
    plan = json.loads((Path(sweep_dir) / "tune.json").read_text())
    if "resolved" not in plan:  # a study started by an earlier forecast: nothing to compare
        return
    why = difference(plan, {**plan, **content(cfg.load(config_path, base_overrides))}, "in the study's plan")
    if why:
        raise ForecastError(f"{why}: changed while the study ran, so this worker stops; rerun with --restart")


def _trial(study, trial, config_path, space, sweep_dir, metric, base_overrides) -> None:
    """Train one trial in its run directory and tell the study: complete, pruned or failed (with why)."""
    import keras
    from optuna.trial import TrialState

    from forecast import lifecycle
    from forecast.callbacks import PruneTrial

    values = sample(trial, space)
    label = " ".join(overrides(values))
    path = trial_dir(sweep_dir, trial.number)
    log.info(f"{path.name}: {label}")
    try:
        config = cfg.load(config_path, [*base_overrides, *overrides(values)], option="--space")
        if path.exists():  # trial numbers are never reused: another study's run, which is kept
            raise ForecastError(f"{path} exists (another study's trial); give this study its own --sweep-dir")
        prepared = lifecycle.plan(config)
        run = lifecycle.create(config, prepared, path)
        metrics = lifecycle.execute(config, prepared, run, callbacks=[PruneTrial(trial)])
        value = float(metrics.get(metric))
    except Pruned as exc:
        trial.set_user_attr("pruned_epoch", exc.epoch)
        study.tell(trial, state=TrialState.PRUNED)
        log.info(f"{path.name}: {exc}")
        return
    except Interrupted as exc:
        trial.set_user_attr("lost", str(exc))
        with hold(study_lock(sweep_dir), "the study", wait=True):
            requeue(study, trial, "was interrupted")
        raise
    except Exception as exc:  # these settings fail (bad for the data, diverged, out of memory): the study goes on
        reason = " ".join((str(exc) if isinstance(exc, Error) else f"{type(exc).__name__}: {exc}").split())
        trial.set_user_attr("failed", reason[:300])
        study.tell(trial, state=TrialState.FAIL)
        log.warning(f"warning: {path.name} failed, the study goes on ({reason[:300]})")
        return
    finally:
        keras.backend.clear_session()
    if not math.isfinite(value):
        trial.set_user_attr("failed", f"{metric} is {value}")
        study.tell(trial, state=TrialState.FAIL)
        return
    study.tell(trial, value)
    log.info(f"{path.name}: {metric} {value:.4f}")
