"""The run lifecycle every training path goes through: plan -> create -> fit -> finish.

A single `forecast train`, each seed of `--repeats`, each backtest fold, each sweep trial and a
`--resume` all run these same steps, so a run directory means the same thing whichever path made
it:

- `plan`: prepare and check the data and the environment; nothing is written yet.
- `create`: a new run directory holding the resolved config and the fitted scalers.
- `execute`: fit (status "running", signals turned into a clean stop, divergence kept), then
  `finish`: save the model, score val and test, write metrics.json, plots and report.md, log
  to MLflow, mark "completed" and drop the resume backup.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from forecast import config as cfg
from forecast.errors import Diverged, Interrupted
from forecast.prepare import Prepared, arrange, prepare
from forecast.results import Metrics
from forecast.rundir import Run

log = logging.getLogger("forecast")


def plan(config: cfg.Config, prepared: Prepared | None = None) -> Prepared:
    """Every check a training run needs before a directory exists: data, model against data, tracking.

    Args:
        config: the validated config.
        prepared: already prepared data (a backtest fold); None loads and prepares the config's data.

    Returns:
        The prepared data. Raises ForecastError (exit 2) on any problem, before anything is written.
    """
    from forecast.model import cudnn_blockers
    from forecast.tracking import check_available

    prepared = prepared if prepared is not None else prepare(config)
    check_available(config)
    for reason in cudnn_blockers(config.model)[:1]:
        log.warning(
            f"warning: this model cannot use the cuDNN kernel on a GPU ({reason}); "
            "it will train with the slower generic loop"
        )
    log.info(f"data: {config.data.path}")
    for note in prepared.series.notes:
        log.info(f"data: {note}")
    return prepared


def create(config: cfg.Config, prepared: Prepared, run_dir: Path | None = None) -> Run:
    """A new run directory (runs/<name>-<time>/ unless `run_dir`) with config.yaml and scaler.json."""
    from forecast.data import InputSchema

    run = Run.create(config.name, run_dir)
    run.save(config, prepared.scalers, InputSchema.of(config.data, prepared.series))
    return run


def execute(config: cfg.Config, prepared: Prepared, run: Run, verbose: int = 0) -> Metrics:
    """Fit (or resume) the run, then `finish` it.

    Raises:
        Interrupted: SIGINT/SIGTERM; the status says "interrupted" and the message how to resume.
        Diverged: a NaN loss; model.keras holds the last good epoch's weights.
    """
    from forecast import backend
    from forecast.callbacks import completed_epochs, signals
    from forecast.fit import compile_model, fit

    backend.configure(config.seed)
    strategy = backend.strategy(config.training.distribute)
    if strategy is None:
        model = compile_model(config, prepared)
    else:  # variables are created, and mirrored, inside the strategy's scope
        with strategy.scope():
            model = compile_model(config, prepared)
    run.set_status("running")
    try:
        with signals() as received:
            fit(model, config, prepared, run, verbose, received)
    except Interrupted as exc:
        run.set_status("interrupted", str(exc))
        raise Interrupted(
            f"{exc} after {completed_epochs(run)} completed epochs; continue with: forecast train --resume {run.path}",
            exc.signum,
        ) from None
    except Diverged as exc:
        latest = run.backup / "latest.weights.h5"
        if latest.exists():
            model.load_weights(latest)
            _save_model(run, model)
            exc = Diverged(f"{exc}; model.keras holds the weights of the last good epoch ({completed_epochs(run)})")
        run.set_status("failed", str(exc))
        raise exc from None
    except BaseException as exc:
        run.set_status("failed", f"{type(exc).__name__}: {exc}")
        raise
    return finish(config, prepared, run, model, replicas=strategy.num_replicas_in_sync if strategy is not None else 1)


def _save_model(run: Run, model) -> None:
    from forecast.rundir import write_atomic

    write_atomic(run.model_file, lambda tmp: model.save(tmp))


def finish(config: cfg.Config, prepared: Prepared, run: Run, model, replicas: int = 1) -> Metrics:
    """Save, score, report and track a fitted run; the one place a run becomes "completed"."""
    import keras
    import pandas as pd

    from forecast import backend, report
    from forecast.fit import train_batches
    from forecast.inference import predict_splits
    from forecast.metrics import evaluate
    from forecast.model import count_parameters
    from forecast.results import TrainingStats
    from forecast.rundir import write_json

    _save_model(run, model)
    history = pd.read_csv(run.history_file)
    predictions = predict_splits(model, prepared)
    monitor = config.training.early_stopping.monitor
    train_seconds = float(history["epoch_seconds"].sum())
    windows = train_batches(config.training, len(prepared.origins["train"])) * config.training.batch_size
    stats = TrainingStats(
        epochs_run=len(history),
        best_epoch=int(history[monitor].idxmin()) + 1 if len(history) and monitor in history else len(history),
        train_seconds=round(train_seconds, 3),
        samples_per_second=round(len(history) * windows / train_seconds, 1) if train_seconds else 0.0,
        parameters=count_parameters(config.model, prepared.spec, prepared.x.shape[1], prepared.y.shape[1]),
        backend=keras.backend.backend(),
        device=backend.device(),
        replicas=replicas,
    )
    metrics = Metrics(evaluate(prepared, predictions), stats)
    write_json(run.metrics_file, metrics.to_dict())
    report.write(run, config, prepared, metrics, history, predictions["test"])
    if config.tracking.mlflow is not None:
        from forecast.tracking import log_run

        log_run(config, run, metrics)
    run.set_status("completed")
    shutil.rmtree(run.backup, ignore_errors=True)
    return metrics


def train(config: cfg.Config, prepared: Prepared, run_dir: Path | None = None, verbose: int = 0) -> Run:
    """create + execute: one complete training run from planned data."""
    run = create(config, prepared, run_dir)
    log.info(f"run directory: {run.path}")
    execute(config, prepared, run, verbose)
    return run


def resume(path: Path, verbose: int = 0) -> Run:
    """Continue an interrupted or failed run from its last completed epoch, with its own config and scalers."""
    from forecast.errors import ForecastError

    run = Run.open(path, trained=False)
    if run.status == "completed":
        raise ForecastError(f"--resume: {path} is completed; there is nothing to resume")
    config = run.config
    prepared = plan(config, prepare(config, run.load_scalers(config), schema=run.load_schema()))
    log.info(f"run directory: {run.path}")
    execute(config, prepared, run, verbose)
    return run


__all__ = ["arrange", "create", "execute", "finish", "plan", "prepare", "resume", "train"]
