"""The run lifecycle every training path goes through: plan -> create -> fit -> finish.

A single `forecast train`, each seed of `--repeats`, each backtest fold, each sweep trial and a
`--resume` all run these same steps, so a run directory means the same thing whichever path made
it:

- `plan`: prepare and check the data and the environment; nothing is written yet.
- `create`: a new run directory holding the resolved config and the fitted scalers.
- `execute`: fit (status "running", signals turned into a clean stop, divergence kept), then
  `finish`: save the model, score val and test, write metrics.json, plots and report.md, log
  to MLflow, mark "completed" and drop the resume backup.

Beside them: `validate` (plan's checks, nothing trained), `repeat` (one run per seed) and
`evaluate` (a completed run scored again).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import shutil
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from forecast import baselines, intervals, plots, report, rundir
from forecast import config as cfg
from forecast.data import InputSchema
from forecast.errors import Diverged, ForecastError, Interrupted, Pruned
from forecast.intervals import Calibration, min_windows, point
from forecast.metrics import evaluate as score
from forecast.metrics import per_series
from forecast.model import GATES, build, count_parameters, cudnn_blockers
from forecast.plans import content, difference
from forecast.prepare import Prepared, infer_seasons, prepare
from forecast.results import SCORED, Metrics, Repeats, TrainingStats, Validation, aggregate
from forecast.rundir import Run, write_json
from forecast.startup import backend_name, check_backend, load_keras
from forecast.tracking import check_available, log_run

if TYPE_CHECKING:
    import keras

log = logging.getLogger("forecast")


def plan(config: cfg.Config, prepared: Prepared | None = None) -> Prepared:
    """Every check a training run needs before a directory exists: data, model against data, tracking.

    Args:
        config: the validated config.
        prepared: already prepared data (a backtest fold); None loads and prepares the config's data.

    Returns:
        The prepared data. Raises ForecastError (exit 2) on any problem, before anything is written.
    """
    prepared = prepared if prepared is not None else prepare(config)
    check(config, prepared)
    load_keras()
    return prepared


def check(config: cfg.Config, prepared: Prepared) -> None:
    """Every refusal of a config against its prepared data that training would make: `plan` runs it
    before a run directory exists, and `forecast validate` runs it too, so a config that validates
    is never refused by train (each raises the same one-line ForecastError). No TensorFlow import.
    """
    check_available(config)
    baselines.check_installed(config.metrics.baselines)
    check_backend()
    check_distribute(config)
    check_intervals(config, prepared)
    check_memory(config, prepared)
    plots.chosen_series(config.metrics.plot_series, prepared)


def check_distribute(config: cfg.Config) -> None:
    """training.distribute is tf.distribute: refused under another backend before anything trains."""
    kind, backend = config.training.distribute, backend_name()
    if kind != "none" and backend != "tensorflow":
        raise ForecastError(f"training.distribute={kind} needs the TensorFlow backend (KERAS_BACKEND is {backend})")


def check_intervals(config: cfg.Config, prepared: Prepared) -> None:
    """Refuse, before anything trains, interval levels the validation windows cannot calibrate."""
    if config.intervals.method == "none":
        return
    windows, level = len(prepared.origins["val"]), max(config.intervals.levels)
    if windows < min_windows(level):
        raise ForecastError(
            f"intervals.levels: {level:g} needs at least {min_windows(level)} validation windows to calibrate, "
            f"the split has {windows}; lower the level or give data.split more validation rows"
        )


def memory_estimate(config: cfg.Config, prepared: Prepared) -> int:
    """Bytes a fit needs, roughly and on the high side: weights, gradients and Adam's two moments
    (4 x float32 per parameter), plus each recurrent layer's gate activations for a batch, kept
    for the backward pass (x2)."""
    spec, n_features = prepared.spec, prepared.x.shape[1]
    parameters = count_parameters(prepared.model, spec, n_features, prepared.y.shape[1], prepared.extras)
    gates = GATES[config.model.cell][0] * (2 if config.model.bidirectional else 1)
    rows = config.training.batch_size * (n_features if config.model.channel_independent else 1)
    activations = rows * spec.timesteps * sum(gates * layer.units for layer in config.model.layers)
    return 4 * 4 * parameters + 4 * 2 * activations


def available_memory() -> int | None:
    """Bytes the kernel could give this process now: MemAvailable (free memory plus reclaimable
    cache), capped by the cgroup's limit in a container; None where neither can be read."""
    found = None
    try:
        match = re.search(r"^MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        found = int(match.group(1)) * 1024 if match else None
    except OSError:
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            found = min(found, int(limit)) if found is not None else int(limit)
    except OSError:
        pass
    return found


def check_memory(config: cfg.Config, prepared: Prepared) -> None:
    """Refuse, before the run directory exists, a model that cannot fit in this machine's memory."""

    available = available_memory()
    if available is None:
        return
    need = memory_estimate(config, prepared)
    if need > available:
        raise ForecastError(
            f"model: training needs about {need / 2**30:,.1f} GiB (parameters, optimizer state and one batch's "
            f"activations), more than the {available / 2**30:,.1f} GiB available; use fewer units or layers, "
            "or a smaller training.batch_size"
        )


def _announce(config: cfg.Config, prepared: Prepared, run: Run) -> None:
    """What a user should know once a run exists (never before: bad input prints only its error)."""
    log.info(f"run directory: {run.path}")
    for reason in cudnn_blockers(config.model)[:1]:
        log.warning(
            f"warning: this model cannot use the cuDNN kernel on a GPU ({reason}); "
            "it will train with the slower generic loop"
        )
    log.info(f"data: {config.data.path}")
    if prepared.base_note:
        log.info(f"note: {prepared.base_note}")
    for note in config.notes:
        log.warning(f"note: {note}")
    for note in prepared.series.notes:
        log.info(f"data: {note}")


def create(config: cfg.Config, prepared: Prepared, run_dir: Path | None = None) -> Run:
    """A new run directory (runs/<name>-<time>/ unless `run_dir`) with config.yaml and scaler.json."""
    run = Run.create(config.name, run_dir)
    with run.lock():
        run.set_status("created")
        run.save(config, prepared.scalers, InputSchema.of(config.data, prepared.series))
        run.backup.mkdir(exist_ok=True)
        write_json(run.backup / PLAN, content(run.config))  # config.yaml as read back: what resume compares
    _announce(config, prepared, run)
    return run


# backup/plan.json: the run's resolved config and data identity at its start (`forecast.plans`)
PLAN = "plan.json"


def check_plan(run: Run, config: cfg.Config) -> None:
    """Refuse to resume a run whose config.yaml was edited, or whose data file changed, since it
    started: the epochs to come would train something else than the epochs done. A run made
    before forecast recorded its plan is resumed unchecked."""
    try:
        recorded = json.loads((run.backup / PLAN).read_text())
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise ForecastError(f"{run.backup / PLAN}: unreadable ({exc}); train a new run") from None
    why = difference(recorded, content(config), "when the run started")
    if why:
        raise ForecastError(f"--resume {run.path}: {why}; put config.yaml and the data back, or train a new run")


def execute(
    config: cfg.Config, prepared: Prepared, run: Run, verbose: int = 0, callbacks: Sequence[object] = ()
) -> Metrics:
    """Fit (or resume) the run, then `finish` it.

    Args:
        callbacks: Keras callbacks added to the run's own, after its checkpoint (a tuner's pruner).

    Raises:
        Pruned: a callback pruned the trial; the status says "pruned", the history holds its epochs.
        Interrupted: SIGINT/SIGTERM; the status says "interrupted" and the message how to resume.
        Diverged: a NaN loss; model.keras holds the last good epoch's weights.
    """
    with run.lock(), _signals_and_status(run) as received:
        return _execute(config, prepared, run, verbose, received, callbacks)


@contextmanager
def _signals_and_status(run: Run) -> Iterator[list[int]]:
    """status.json is true on every way out: SIGINT/SIGTERM become a flag from here to the end
    (fit stops at the next batch; the final writes finish first), and any error marks the run."""
    from forecast.callbacks import completed_epochs, signals  # deferred: the callbacks load Keras (TensorFlow)

    with signals() as received:
        try:
            yield received
        except Interrupted as exc:
            run.set_status("interrupted", str(exc))
            epochs = sum(completed_epochs(Run(path)) for path in (run.path, *run.bases.glob("*/")))
            resume = f"continue with: forecast train --resume {run.path}"
            raise Interrupted(f"{exc} after {epochs} completed epochs; {resume}", exc.signum) from None
        except Diverged as exc:
            run.set_status("failed", str(exc))
            raise
        except Pruned as exc:
            run.set_status("pruned", str(exc))
            raise
        except KeyboardInterrupt:
            run.set_status("interrupted", "KeyboardInterrupt")
            raise
        except BaseException as exc:
            run.set_status("failed", f"{type(exc).__name__}: {exc}")
            raise


def _execute(
    config: cfg.Config, prepared: Prepared, run: Run, verbose: int, received: list[int], callbacks: Sequence[object]
) -> Metrics:
    # deferred: loads Keras (TensorFlow), which `forecast validate` (lifecycle.check) never needs
    from forecast import backend

    run.set_status("running")
    backend.configure(config.seed)  # before the strategy: it may split the CPU into logical devices
    strategy = backend.strategy(config.training.distribute)
    if prepared.rivals:
        model, prepared, losses = _choose_base(config, prepared, run, verbose, received, callbacks, strategy)
    else:
        model, losses = _fit(config, prepared, run, verbose, received, callbacks, strategy), None
    metrics = finish(config, prepared, run, model, strategy.num_replicas_in_sync if strategy else 1, losses)
    if received:
        name = signal.Signals(received[0]).name
        log.warning(f"{name} arrived during the final writes; the run completed first, now it stops")
    return metrics


def _fit(
    config: cfg.Config, prepared: Prepared, run: Run, verbose: int, received: list[int], callbacks: Sequence[object],
    strategy,
):  # fmt: skip
    """Compile and fit (or resume) one model in `run`'s history and backup; seeded afresh (again,
    for the first), so a model.base auto rival trains exactly as a run of its own with that base would."""
    # deferred: these load Keras (TensorFlow), which `forecast validate` (lifecycle.check) never needs
    from forecast import backend
    from forecast.callbacks import completed_epochs, latest_weights
    from forecast.fit import compile_model, fit

    backend.configure(config.seed)
    if strategy is None:
        model = compile_model(config, prepared)
    else:  # variables are created, and mirrored, inside the strategy's scope
        with strategy.scope():
            model = compile_model(config, prepared)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras's progress is progress: stdout holds results
            fit(model, config, prepared, run, verbose, received, callbacks)
    except Diverged as exc:
        latest = latest_weights(run)
        if latest is not None:
            model.load_weights(latest)
            _save_model(run, model)
            raise Diverged(
                f"{exc}; {run.model_file} holds the weights of the last good epoch ({completed_epochs(run)})"
            ) from None
        raise
    return model


def _choose_base(
    config: cfg.Config, prepared: Prepared, run: Run, verbose: int, received: list[int], callbacks: Sequence[object],
    strategy,
) -> tuple[object, Prepared, dict[str, float | None]]:  # fmt: skip
    """model.base auto's base and its rivals (`Prepared.rivals`), each fitted in run/bases/<base>/
    as a run of its own would be; the one whose kept weights have the lower validation loss becomes
    the run's model and history. A base that diverges is left out (None), unless every one does.

    Each base's status.json says it is done ("completed", or "failed": diverged), so resume fits
    only the others, continuing an interrupted one from its checkpoint. `callbacks` (a tuner's
    pruner) watch the first base only: a trial reports each epoch once.

    Returns:
        (model, its prepared data, {base: validation loss, None where it diverged}).
    """
    options = {option.model.base: option for option in (prepared, *map(prepared.rival, prepared.rivals))}
    losses: dict[str, float | None] = {}
    for n, (base, option) in enumerate(options.items()):
        part = Run(run.bases / base)
        part.path.mkdir(parents=True, exist_ok=True)
        if part.status not in ("completed", "failed"):
            try:
                model = _fit(config, option, part, verbose, received, callbacks if n == 0 else (), strategy)
            except Diverged as exc:
                part.set_status("failed", str(exc))
                log.warning(f"warning: model.base auto: {base} left out, it diverged ({exc})")
            else:
                _save_model(part, model)
                part.set_status("completed")
                del model  # one model in memory at a time: the kept one is loaded back below
        losses[base] = kept_loss(config, pd.read_csv(part.history_file)) if part.status == "completed" else None
    fitted = {base: loss for base, loss in losses.items() if loss is not None}
    if not fitted:
        raise Diverged(f"model.base auto: every base diverged ({', '.join(losses)}; see {run.bases})")
    best = min(fitted, key=fitted.__getitem__)
    shutil.copyfile(run.bases / best / "history.csv", run.history_file)
    import keras  # deferred: loads TensorFlow

    # deferred: loads Keras; registers forecast's layers and loss, which a resume that fitted nothing lacks
    import forecast.losses  # noqa: F401

    model = keras.saving.load_model(run.bases / best / "model.keras", safe_mode=True)
    others = ", ".join(f"{b}'s {'(diverged)' if v is None else f'{v:.4g}'}" for b, v in losses.items() if b != best)
    log.info(f"model.base auto: {best} kept (validation loss {losses[best]:.4g} against {others})")
    return model, options[best], losses


def kept_loss(config: cfg.Config, history: pd.DataFrame) -> float | None:
    """The validation loss of the weights a fit kept: its best epoch's where early stopping restores
    the best weights (the best by training.early_stopping.monitor), else its last epoch's; None
    where there is none or it is not finite."""
    stopping = config.training.early_stopping
    if history.empty:
        return None
    if stopping.enabled and stopping.restore_best_weights and stopping.monitor in history:
        loss = float(history.loc[history[stopping.monitor].idxmin(), "val_loss"])
    else:
        loss = float(history["val_loss"].iloc[-1])
    return loss if math.isfinite(loss) else None


def _save_model(run: Run, model) -> None:
    rundir.write_atomic(run.model_file, lambda tmp: model.save(tmp))


def finish(
    config: cfg.Config, prepared: Prepared, run: Run, model, replicas: int = 1, base_losses: dict | None = None
) -> Metrics:
    """Save, score, report and track a fitted run; the one place a run becomes "completed".

    Args:
        base_losses: model.base auto's bases and their validation losses, where it compared several.
    """
    # deferred: these load Keras (TensorFlow), which `forecast validate` (lifecycle.check) never needs
    import keras

    from forecast import backend
    from forecast.fit import train_batches
    from forecast.inference import predict_splits

    _save_model(run, model)
    history = pd.read_csv(run.history_file)
    predictions = predict_splits(model, prepared)
    calibration = calibrate(config, prepared, predictions["val"])
    if calibration is not None:
        write_json(run.intervals_file, calibration.to_dict())
    monitor = config.training.early_stopping.monitor
    seconds = float(history["epoch_seconds"].sum())
    windows = train_batches(config.training, len(prepared.origins["train"])) * config.training.batch_size
    rate = round(len(history) * windows / seconds, 1) if seconds else 0.0
    # under auto's comparison, every base's fit: what the run cost
    others = [run.bases / base / "history.csv" for base in base_losses or {} if base != prepared.model.base]
    train_seconds = seconds + sum(float(pd.read_csv(p)["epoch_seconds"].sum()) for p in others if p.is_file())
    sequences = prepared.x.shape[1] if config.model.channel_independent else 1
    stats = TrainingStats(
        epochs_run=len(history),
        best_epoch=int(history[monitor].idxmin()) + 1 if len(history) and monitor in history else len(history),
        train_seconds=round(train_seconds, 3),
        samples_per_second=rate,
        sequences_per_second=round(rate * sequences, 1),
        parameters=count_parameters(
            prepared.model, prepared.spec, prepared.x.shape[1], prepared.y.shape[1], prepared.extras
        ),
        backend=keras.backend.backend(),
        device=backend.device(),
        replicas=replicas,
        stopped_by=None if history.empty else "epochs" if len(history) >= config.training.epochs else "early_stopping",
        base=prepared.model.base,
        base_seasons=prepared.model.averaged_seasons,
        base_losses=base_losses,
    )
    statistical = statistical_baselines(config, prepared, list(predictions))
    metrics = Metrics(score(prepared, predictions, calibration, statistical), stats, **panel_counts(prepared))
    write_json(run.metrics_file, metrics.to_dict())
    if prepared.series.ids is not None:
        test = point(predictions["test"], config.model.quantiles)
        table = per_series(prepared, "test", test, config.data.id_column, statistical["test"])
        rundir.write_atomic(run.per_series_file, lambda tmp: table.to_csv(tmp, index=False))
    report.write(run, config, prepared, metrics, history, predictions["test"], calibration)
    for hint in (report.advice(config, metrics), report.convergence(config, stats)):
        if hint:
            log.warning(f"warning: {hint}")
    if config.tracking.mlflow is not None:
        log_run(config, run, metrics)
    run.set_status("completed")
    shutil.rmtree(run.backup, ignore_errors=True)
    for part in run.bases.glob("*/"):  # each base's history stays; its model is the run's or lost to it
        shutil.rmtree(part / "backup", ignore_errors=True)
        (part / "model.keras").unlink(missing_ok=True)
    return metrics


def statistical_baselines(config: cfg.Config, prepared: Prepared, splits: list[str]) -> dict[str, dict]:
    """metrics.baselines' forecasts of `splits` ({split: {name: forecasts}}, forecast.baselines)."""
    names, series, seasons = config.metrics.baselines, prepared.series, config.metrics.mstl_seasons
    if "mstl" in names and seasons is None:
        seasons = infer_seasons(series.times, config.data.frequency, series.offsets, prepared.season)
    return baselines.forecasts(prepared, names, splits, seasons)


def calibrate(config: cfg.Config, prepared: Prepared, val_pred) -> Calibration | None:
    """The run's intervals calibrated on its validation predictions; None when it asks for none."""
    if config.intervals.method == "none":
        return None
    spec, origins = prepared.spec, prepared.origins["val"]
    return intervals.calibrate(
        config.intervals.method, config.intervals.levels, config.model.quantiles, prepared.y, origins, spec,
        val_pred, prepared.seasonality,
    )  # fmt: skip


def panel_counts(prepared: Prepared) -> dict:
    """The Metrics fields that describe the data rather than the scores."""
    panel = prepared.series.ids is not None
    return {
        "seasonality": prepared.seasonality,
        "filled": prepared.series.filled or None,
        "series": prepared.series.n_series if panel else None,
        "series_skipped": len(prepared.skipped) if panel else None,
    }


def validate(config: cfg.Config) -> Validation:
    """`forecast validate`: the config checked against its data without training (no TensorFlow
    import), every refusal `plan` makes (`check`) with the same message, and what it found."""
    p = prepare(config)
    check(config, p)
    if p.base_note:
        log.info(f"note: {p.base_note}")
    s, spec = p.series, p.spec
    return Validation(
        config=config,
        rows=len(s),
        feature_names=s.feature_names,
        target_names=s.target_names,
        borders=p.borders,
        windows={k: len(v) for k, v in p.origins.items()},
        input_shape=(spec.timesteps, p.x.shape[1]),
        output_shape=(
            spec.horizon,
            *([len(config.model.quantiles)] if config.model.quantiles else []),
            len(s.target_names),
        ),
        parameters=count_parameters(p.model, spec, p.x.shape[1], len(s.target_names), p.extras),
        cudnn_blockers=cudnn_blockers(config.model),
        notes=list(s.notes),
        series=s.n_series,
        series_skipped=len(p.skipped),
        base=p.model.base,
        base_seasons=p.model.averaged_seasons,
        rivals=list(p.rivals),
        extras={
            k: v
            for k, v in {
                "future": (spec.horizon, len(p.extras.future)) if p.extras.future else None,
                "static": p.extras.static or None,
                "categories": p.extras.categories or None,
            }.items()
            if v is not None
        },
    )


def build_model(config: cfg.Config) -> keras.Model:
    """`forecast summary`: the (untrained, uncompiled) network a config describes, built for its data.

    Args:
        config: the config (`api.shape_only`'s, when a gap in the data should not matter).
    """
    p = prepare(config)
    return build(p.model, p.spec, p.x.shape[1], p.target_index, p.extras, p.base_season)


def repeat(config: cfg.Config, repeats: int, run_dir: Path | None = None, verbose: int = 0) -> Repeats:
    """`train --repeats N`: seeds seed .. seed+N-1, each an ordinary run in RUN_DIR/seed-N from data
    planned once, and their mean ± std written to RUN_DIR/repeats.json."""
    prepared = plan(config)
    parent = Run.create(config.name, run_dir)
    log.info(f"run directory: {parent.path}")
    seeds = list(range(config.seed, config.seed + repeats))
    runs, results = [], []
    for seed in seeds:
        seeded = config.model_copy(update={"seed": seed})
        log.info(f"seed {seed}: {parent.path / f'seed-{seed}'}")
        run = create(seeded, prepared, parent.path / f"seed-{seed}")
        results.append(execute(seeded, prepared, run, verbose).to_dict())
        runs.append(run)
    summary = aggregate(results)
    write_json(parent.path / "repeats.json", {"seeds": seeds, **summary})
    return Repeats(seeds, runs, summary)


def evaluate(run: Run, data: Path | str | None = None, split: str | None = None) -> Metrics:
    """`forecast evaluate`: a completed run's scores recomputed, on its own data or `data` (same
    columns, same split rules), on `split` or both; no training statistics."""
    config = run.config
    baselines.check_installed(config.metrics.baselines)
    prepared = prepare(config, run.load_scalers(config), path=data, schema=run.load_schema())
    for note in prepared.series.notes:
        log.info(f"data: {note}")
    calibration = run.load_intervals()
    model = run.load_model(prepared.input_shape, prepared.output_shape)  # Keras loads here, after the data checks
    from forecast.inference import predict_splits  # deferred: loads Keras (TensorFlow)

    predictions = predict_splits(model, prepared, (split,) if split else SCORED)
    statistical = statistical_baselines(config, prepared, list(predictions))
    return Metrics(score(prepared, predictions, calibration, statistical), **panel_counts(prepared))


def train(config: cfg.Config, prepared: Prepared, run_dir: Path | None = None, verbose: int = 0) -> Run:
    """create + execute: one complete training run from planned data."""
    run = create(config, prepared, run_dir)
    execute(config, prepared, run, verbose)
    return run


def resume(path: Path, verbose: int = 0) -> Run:
    """Continue an interrupted or failed run from its last completed epoch, with its own config and scalers."""

    run = Run.open(path, trained=False)
    if run.status == "completed":
        raise ForecastError(f"--resume: {path} is completed; there is nothing to resume")
    config = run.config
    check_plan(run, config)
    prepared = plan(config, prepare(config, run.load_scalers(config), schema=run.load_schema()))
    _announce(config, prepared, run)
    execute(config, prepared, run, verbose)
    return run


__all__ = ["build_model", "create", "evaluate", "execute", "finish", "plan", "repeat", "resume", "train", "validate"]
