"""Tuning: an Optuna study over dotted config keys; every trial an ordinary run directory.

The space (`forecast.search_space`) maps the keys `--set` takes to distributions. Trial n lives in
SWEEP_DIR/trial-<n:04d> (n is Optuna's trial number, unique across workers); each epoch's val_loss
is reported to the trial and the study's pruner may stop it there. The study lives in a storage
any number of workers share (`forecast.optuna_study`); workers share the sweep directory too, and
its lock and claims (`forecast.trial_claims`) keep the study at exactly `--trials` and requeue a
trial whose worker died. A worker stopped by SIGINT/SIGTERM requeues its own trial.

A tune's settings are one `TuneSettings`, built once by `forecast.api.tune` and handed down whole:
`run` (this machine's `-j` workers), `work` (one worker's loop) and `_trial` (one trial).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from forecast import config as cfg
from forecast.errors import Error, ForecastError, Interrupted, Pruned
from forecast.leaderboards import Leaderboard, check_metric, of_study
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
from forecast.startup import load_keras
from forecast.sweep_dirs import clear_trials, keep_plan, overrides
from forecast.trial_claims import claim_file, counted, reap, requeue, study_lock, trial_dir

log = logging.getLogger("forecast")


@dataclass(frozen=True)
class TuneSettings:
    """What one `forecast tune` (or `forecast.api.tune`) asks for: built once, read everywhere.

    A `-j` worker process is handed it whole (it pickles), so every worker of this machine runs
    with the same settings; workers elsewhere agree through tune.json (`record`).

    Attributes:
        config_path: the base config file.
        space: `search_space.read_space`'s distributions, in drawing order.
        sweep_dir: the study's directory: trials, tune.json, study.db, leaderboard; workers share it.
        trials: the study's size: a worker starts trials until the study holds this many (all workers').
        study: the study's name; None: the sweep directory's name (`study_name`).
        storage: a database URL or `journal:PATH`; None: sqlite:///SWEEP_DIR/study.db.
        metric: the metrics.json path minimised.
        timeout: a worker starts no trial after this many seconds; None: no limit.
        sampler: tpe or random (SAMPLERS); the study's k-th trial draws with seed `config.seed + k`.
        pruner: median, halving (successive halving) or none (PRUNERS), on each epoch's val_loss.
        jobs: worker processes on this machine (this one and jobs-1 more).
        base_overrides: `--set` assignments applied before each trial's values.
        restart: a directory holding another plan (another config, data, space, metric or study)
            is cleared and its study deleted, instead of refused.
    """

    config_path: Path
    space: dict[str, Distribution]
    sweep_dir: Path
    trials: int
    study: str | None = None
    storage: str | None = None
    metric: str = "val.model.mae"
    timeout: float | None = None
    sampler: str = "tpe"
    pruner: str = "median"
    jobs: int = 1
    base_overrides: tuple[str, ...] = ()
    restart: bool = False

    @property
    def study_name(self) -> str:
        """The study's name: `study`, else the sweep directory's name."""
        return self.study or Path(self.sweep_dir).resolve().name


def record(sweep_dir: Path, plan: dict, storage: str | None = None, restart: bool = False) -> None:
    """tune.json: what the study searches (the base config resolved, its data's identity, the space,
    metric and study), and where it is stored unless by default (without a password; `leaderboard`
    and `--best` find it there). Workers started with the same plan agree; another is refused (its
    trial numbers would collide with this study's run directories), or with `restart` replaces it:
    the old study is deleted from its storage and its trials removed.

    Args:
        sweep_dir: the study's directory.
        plan: this worker's plan (`_plan`).
        storage: `--storage`, to delete an old study from when it is the recorded one.
        restart: replace another plan instead of refusing it.
    """
    if (sweep_dir / "sweep.json").exists():
        raise ForecastError(f"{sweep_dir}: holds a `forecast sweep`; give tune its own --sweep-dir")

    def clear() -> None:
        old = json.loads((sweep_dir / "tune.json").read_text())
        with hold(study_lock(sweep_dir), "the study", wait=True):  # workers between trials wait
            clear_trials(sweep_dir, forget=lambda: forget(old, storage, sweep_dir))

    keep_plan(sweep_dir / "tune.json", plan, "the study's plan", restart, clear)


def run(settings: TuneSettings) -> Leaderboard:
    """Run trials of a study until it holds `settings.trials` of them (all workers'), then rebuild the leaderboard.

    Every setting is checked before the sweep directory exists: bad input leaves nothing behind.

    Args:
        settings: the tune's settings.

    Returns:
        The leaderboard of every trial in the study.
    """
    base = _check(settings)
    sweep_dir = Path(settings.sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / ".claims").mkdir(exist_ok=True)
    record(sweep_dir, _plan(settings, base), settings.storage, settings.restart)
    _workers(settings)
    return of_study(sweep_dir, settings.metric, settings.storage)


def _check(settings: TuneSettings) -> cfg.Config:
    """Every setting a study needs, checked (exit 2 naming it); returns the base config."""
    if settings.sampler not in SAMPLERS:
        raise ForecastError(f"--sampler {settings.sampler}: expected one of {', '.join(SAMPLERS)}")
    if settings.pruner not in PRUNERS:
        raise ForecastError(f"--pruner {settings.pruner}: expected one of {', '.join(PRUNERS)}")
    base = cfg.load(settings.config_path, settings.base_overrides)
    check_metric(settings.metric, base)
    check_space(settings.config_path, settings.space, settings.base_overrides)
    load_optuna()
    check_storage(settings.storage)
    return base


def _plan(settings: TuneSettings, base: cfg.Config) -> dict:
    """What tune.json records of these settings (`record`); the storage without its password."""
    return {
        **content(base),
        "config": str(Path(settings.config_path).resolve()),
        "space": {k: v.model_dump(exclude_defaults=True) for k, v in settings.space.items()},
        "metric": settings.metric,
        "study": settings.study_name,
        **({"set": list(settings.base_overrides)} if settings.base_overrides else {}),
        **({"storage": public_url(settings.storage)} if settings.storage else {}),
    }


def _workers(settings: TuneSettings) -> None:
    """This process's `work` and, with `jobs` > 1, jobs-1 more worker processes; a signal while they
    run is passed on to each (each requeues its trial and stops), and one that failed is an error."""
    children = []
    if settings.jobs > 1:
        # each worker a process of its own (TensorFlow, signals); cores shared out unless set
        os.environ.setdefault("FORECAST_THREADS", str(max(1, (os.cpu_count() or 1) // settings.jobs)))
        context = multiprocessing.get_context("spawn")
        children = [
            context.Process(target=_child, args=(i, settings, log.level), name=f"worker {i}")
            for i in range(1, settings.jobs)
        ]
    started = []
    try:
        for child in children:
            child.start()
            started.append(child)
        work(settings)
        for child in started:  # a SIGTERM while waiting here is passed on too
            child.join()
    except BaseException:
        for child in started:  # SIGTERM: each requeues its trial and stops
            child.terminate()
        for child in started:
            child.join()
        raise
    if failed := [c.exitcode for c in children if c.exitcode]:
        raise Error(
            f"{len(failed)} of {settings.jobs - 1} other workers failed (exit codes {failed}); see their lines above"
        )


def _child(worker: int, settings: TuneSettings, level: int) -> None:
    """A `-j` worker process: the parent's log level with a prefix, the same loop, one line on error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"[worker {worker}] %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
    try:
        work(settings)
    except Error as exc:
        log.error(f"error: {exc}")
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:
        log.error(f"error: {type(exc).__name__}: {exc}")
        raise SystemExit(1) from None


def work(settings: TuneSettings) -> None:
    """One worker's loop: (under the directory's lock) requeue lost trials, stop at `trials`, start
    one and claim it; then train it and tell the study how it ended.

    Args:
        settings: the tune's settings (tune.json already records them: `run`, `record`).

    Raises:
        Interrupted: SIGINT/SIGTERM: the running trial stops at its next batch and is queued again
            (or, when it was already finishing, finishes); no new trial starts.
    """
    load_keras()  # quietly, before anything imports Keras: TensorFlow's start-up lines stay off stderr
    from forecast.callbacks import signals  # deferred: the callbacks import Keras, loaded just above

    optuna = load_optuna()
    start, sweep_dir, trials = time.monotonic(), settings.sweep_dir, settings.trials
    base = cfg.load(settings.config_path, settings.base_overrides)
    lock = study_lock(sweep_dir)
    # one flag for the whole loop: each trial's training shares it (callbacks.signals nests)
    with signals() as received:
        with hold(lock, "the study", wait=True):
            study = optuna.create_study(
                study_name=settings.study_name,
                storage=open_storage(settings.storage, sweep_dir),
                direction="minimize",
                load_if_exists=True,
            )
        study.pruner = make_pruner(settings.pruner)
        log.info(
            f"study {settings.study_name} in {sweep_dir}: {trials} trials, "
            f"{settings.sampler} sampler, {settings.pruner} pruner"
        )
        while settings.timeout is None or time.monotonic() - start < settings.timeout:
            with contextlib.ExitStack() as claim:
                with hold(lock, "the study", wait=True):
                    if received:
                        break
                    reap(study, sweep_dir)
                    if counted(study) >= trials:
                        break
                    _unchanged(settings)
                    # reseeded at each ask: the study's k-th trial draws with seed + k, whichever
                    # worker asks (asks are serialised), so workers never draw alike and one worker
                    # on a new study is reproducible
                    study.sampler = make_sampler(settings.sampler, base.seed + len(study.trials))
                    trial = study.ask()
                    claim.enter_context(hold(claim_file(sweep_dir, trial.number), f"trial-{trial.number:04d}"))
                _trial(study, trial, settings)
        if received:
            name = signal.Signals(received[0]).name
            raise Interrupted(f"interrupted by {name}; rerun the same command to finish the study", received[0])
    log.info(f"worker done: the study holds {counted(study)} of {trials} trials")


def _unchanged(settings: TuneSettings) -> None:
    """Before each trial: the config and data are still those tune.json records. A worker runs for
    hours and reads the config file at every trial, so an edit meanwhile would make its later
    trials another study's; it stops instead (exit 2, naming the key)."""
    plan = json.loads((Path(settings.sweep_dir) / "tune.json").read_text())
    if "resolved" not in plan:  # a study started by an earlier forecast: nothing to compare
        return
    now = content(cfg.load(settings.config_path, settings.base_overrides))
    why = difference(plan, {**plan, **now}, "in the study's plan")
    if why:
        raise ForecastError(f"{why}: changed while the study ran, so this worker stops; rerun with --restart")


def _trial(study, trial, settings: TuneSettings) -> None:
    """Train one trial in its run directory and tell the study: complete, pruned or failed (with why)."""
    import keras  # deferred: Keras loads TensorFlow (`work` has loaded it quietly by now)
    from optuna.trial import TrialState  # deferred: Optuna is an optional extra (forecast[tune])

    from forecast import lifecycle  # deferred: it loads pandas and the data stack; a refused tune needs none
    from forecast.callbacks import PruneTrial  # deferred: the callbacks import Keras

    values = sample(trial, settings.space)
    label = " ".join(overrides(values))
    path = trial_dir(settings.sweep_dir, trial.number)
    log.info(f"{path.name}: {label}")
    try:
        config = cfg.load(settings.config_path, [*settings.base_overrides, *overrides(values)], option="--space")
        if path.exists():  # trial numbers are never reused: another study's run, which is kept
            raise ForecastError(f"{path} exists (another study's trial); give this study its own --sweep-dir")
        prepared = lifecycle.plan(config)
        run = lifecycle.create(config, prepared, path)
        metrics = lifecycle.execute(config, prepared, run, callbacks=[PruneTrial(trial)])
        value = float(metrics.get(settings.metric))
    except Pruned as exc:
        trial.set_user_attr("pruned_epoch", exc.epoch)
        study.tell(trial, state=TrialState.PRUNED)
        log.info(f"{path.name}: {exc}")
        return
    except Interrupted as exc:
        trial.set_user_attr("lost", str(exc))
        with hold(study_lock(settings.sweep_dir), "the study", wait=True):
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
        trial.set_user_attr("failed", f"{settings.metric} is {value}")
        study.tell(trial, state=TrialState.FAIL)
        return
    study.tell(trial, value)
    log.info(f"{path.name}: {settings.metric} {value:.4f}")
