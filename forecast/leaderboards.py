"""Leaderboards: a sweep's or a tuned study's trials ranked by a metric, as leaderboard.csv and .md.

A sweep's board ranks the completed trials its sweep.json plans (shards merged); a study's board
lists every trial Optuna holds: completed ones ranked, then pruned, running and failed ones with
why. Both are rebuilt whole from what the directory holds, under `.leaderboard.lock`, so workers
that finish together never write one over another's later table.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from forecast import config as cfg
from forecast import tables
from forecast.errors import ForecastError
from forecast.intervals import level_name
from forecast.optuna_study import load_study
from forecast.results import is_metric_path
from forecast.rundir import Run, clear_partials, hold, write_text
from forecast.trial_claims import trial_dir


@dataclass(frozen=True)
class Leaderboard:
    """Completed trials ranked by a metric, and the Markdown written to SWEEP_DIR/leaderboard.md."""

    directory: Path
    metric: str
    rows: list[dict]
    markdown: str


def check_metric(metric: str, config: cfg.Config) -> None:
    """A metric to rank trials of `config` by, checked before any trains (exit 2 naming it): a
    metrics.json path, and an interval score only as `check_interval_metric` allows.

    Args:
        metric: a metrics.json path, e.g. val.model.mae.
        config: the base config every trial starts from.
    """
    if not is_metric_path(metric):
        raise ForecastError(f"--metric {metric}: no such metric (e.g. val.model.mae, val.scaled.model.mse)")
    check_interval_metric(metric, config)


def check_interval_metric(metric: str, config: cfg.Config) -> None:
    """An interval score to rank by must exist in every trial (the config has intervals at its level)
    and be lower-is-better: coverage is not (rank by acd_L, its distance from nominal).

    Args:
        metric: a metrics.json path; only `*.intervals.*` ones are checked.
        config: the base config every trial starts from.
    """
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


def of_sweep(sweep_dir: Path, metric: str = "val.model.mae") -> Leaderboard:
    """A sweep's completed trials ranked by `metric` (lower is better), test metrics beside; writes CSV and Markdown.

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


def of_study(sweep_dir: Path, metric: str | None = None, storage: str | None = None) -> Leaderboard:
    """Every trial of a tuned study: completed ones ranked by `metric` (default: the one tuned), then
    pruned (at which epoch), running and failed ones (why); writes leaderboard.csv/.md.

    Args:
        sweep_dir: a tuning directory (its tune.json names the study).
        metric: a metrics.json path.
        storage: `--storage`, when tune.json's (recorded without a password) is not enough.

    Returns:
        The leaderboard: completed trials best first, then the others in trial order.
    """
    from optuna.trial import TrialState  # deferred: Optuna is an optional extra (forecast[tune])

    plan, study = load_study(sweep_dir, storage)
    metric = metric or plan["metric"]
    with leaderboard_lock(sweep_dir):
        done, rest = [], []
        undrawn = dict.fromkeys(plan["space"], "")  # a conditional key not drawn in a trial: an empty cell
        for t in study.trials:
            row = {
                "trial": trial_dir(sweep_dir, t.number).name,
                "state": t.state.name.lower(),
                **undrawn,
                **cells(t.params),
            }
            run = Run(trial_dir(sweep_dir, t.number))
            if t.state == TrialState.COMPLETE and run.status == "completed":
                done.append({**row, **scores(run, metric)})
                continue
            note = ""
            if t.state == TrialState.PRUNED:
                epoch = t.user_attrs.get("pruned_epoch", t.last_step)
                row["epochs"] = epoch
                note = f"pruned at epoch {epoch} (val_loss {t.intermediate_values.get(epoch, float('nan')):.4g})"
            elif t.state == TrialState.FAIL:
                note = t.user_attrs.get("failed") or t.user_attrs.get("lost") or "its worker died"
            rest.append({**row, "note": note})
        done.sort(key=lambda r: r[metric])
        counts = {
            s: sum(t.state.name.lower() == s for t in study.trials) for s in ("complete", "pruned", "fail", "running")
        }
        title = (
            f"study {plan['study']}: {counts['complete']} completed, {counts['pruned']} pruned, "
            f"{counts['fail']} failed, {counts['running']} running; ranked by {metric}"
        )
        return write_leaderboard(Path(sweep_dir), metric, done + rest, title, ["trial", "state", metric])


def rebuild(sweep_dir: Path, metric: str | None = None, storage: str | None = None) -> Leaderboard:
    """`forecast leaderboard`: a tuning directory's (it holds tune.json) rebuilt from its study
    (`of_study`), any other's from its completed trials (`of_sweep`, by default on val.model.mae).

    Args:
        sweep_dir: a sweep's or a study's directory.
        metric: rank by this metrics.json path (default: a sweep's val.model.mae, a study's own metric).
        storage: a tuned study's storage, when tune.json's (recorded without a password) is not enough.
    """
    if (sweep_dir / "tune.json").exists():
        return of_study(sweep_dir, metric, storage)
    return of_sweep(sweep_dir, metric or "val.model.mae")


def best(sweep_dir: Path, storage: str | None = None) -> str:
    """A tuned study's best completed trial's config as YAML (also written to SWEEP_DIR/best.yaml).

    Args:
        sweep_dir: a tuning directory (exit 2 when none of its trials has completed).
        storage: `--storage`, when tune.json's (recorded without a password) is not enough.
    """
    from optuna.trial import TrialState  # deferred: Optuna is an optional extra (forecast[tune])

    plan, study = load_study(sweep_dir, storage)
    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if Run(trial_dir(sweep_dir, t.number)).status == "completed"  # a run this directory holds
    ]
    if not done:
        raise ForecastError(f"{sweep_dir}: no trial of study {plan['study']!r} has completed yet")
    trial = min(done, key=lambda t: t.value)
    path = trial_dir(sweep_dir, trial.number)
    header = f"# best of study {plan['study']}: {path.name}, {plan['metric']} {trial.value:.6g}\n"
    text = header + Run(path).config_file.read_text()
    write_text(Path(sweep_dir) / "best.yaml", text)
    return text


@contextmanager
def leaderboard_lock(sweep_dir: Path) -> Iterator[None]:
    """Held while a leaderboard is read and written. Workers that finish together each write one;
    without it, one that read the trials earlier could rename its table over a later one. The
    holder is the leaderboard's only writer, so it clears what a killed writer left.

    Args:
        sweep_dir: the sweep or tuning directory whose leaderboard is read or written.
    """
    with hold(Path(sweep_dir) / ".leaderboard.lock", "the leaderboard", wait=True):
        for name in ("leaderboard.csv", "leaderboard.md"):
            clear_partials(Path(sweep_dir) / name)
        yield


def cells(values: dict[str, object]) -> dict[str, object]:
    """A trial's settings as table cells: scalars as they are, lists as JSON.

    Args:
        values: dotted config keys -> the trial's values.
    """
    return {k: v if isinstance(v, str | int | float | bool) else json.dumps(v) for k, v in values.items()}


def scores(run: Run, metric: str) -> dict[str, object]:
    """A completed trial's leaderboard columns: the ranked metric, then the test scores beside it.

    Args:
        run: a completed trial's run directory.
        metric: the metrics.json path ranked by (exit 2 when the run has no such metric).
    """
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
    """leaderboard.csv and leaderboard.md of rows in rank order (columns: the union, first seen first).

    Args:
        directory: the sweep or tuning directory written to (under `leaderboard_lock`).
        metric: the metric the rows are ranked by.
        rows: the table's rows, best first.
        title: the Markdown heading's parenthesis.
        empty: the CSV's columns when there are no rows.
    """
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
