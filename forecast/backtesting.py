"""Rolling-origin evaluation: the test rows cut into K consecutive folds.

One test score hides how a model's error moves with the season or a regime change. Folds show
it, model against the repeat-last baseline, with mean and standard deviation over the folds.
With refit (expanding window), fold k gets a model trained on every row before it (validation on
the `val` rows just before the fold, as long as the config's validation split); without, one
model is scored on every fold. Every model trained here goes through the run lifecycle, so each
fold is an ordinary run directory.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from forecast import config as cfg
from forecast import lifecycle, tables
from forecast.data import load_series
from forecast.errors import ForecastError
from forecast.metrics import evaluate
from forecast.plots import plot_backtest
from forecast.prepare import arrange, split_borders
from forecast.results import PREDICTORS, SplitScores, aggregate, mean_std
from forecast.rundir import Run
from forecast.windows import WindowSpec, split_origins

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger("forecast")


@dataclass(frozen=True)
class Fold:
    """One fold's test scores; `rows` are the [start, end) rows its targets fall in."""

    fold: int
    rows: tuple[int, int]
    scores: SplitScores

    def to_dict(self) -> dict[str, Any]:
        s = self.scores.to_dict()
        return {
            "fold": self.fold,
            "rows": list(self.rows),
            "windows": s["windows"],
            "model": s["model"],
            "naive": s["naive"],
            "scaled": s["scaled"],
            **({"intervals": s["intervals"]} if "intervals" in s else {}),
        }

    def coverages(self) -> dict[str, float]:
        """The model's observed coverage per level ("coverage_95": ...); empty without intervals."""
        found = self.scores.intervals or {}
        return {k: v for k, v in found.items() if k.startswith("coverage_")}


@dataclass(frozen=True)
class Backtest:
    """Every fold, and mean ± std over the folds of model and naive MAE and RMSE."""

    folds: list[Fold]
    refit: bool

    @property
    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """{"model": {"mae": {"mean", "std"}, "rmse": ...}, "naive": ...}."""
        per_fold = [{who: {m: f.to_dict()[who][m] for m in ("mae", "rmse")} for who in PREDICTORS} for f in self.folds]
        return aggregate(per_fold)

    def to_dict(self) -> dict[str, Any]:
        return {"refit": self.refit, "folds": [f.to_dict() for f in self.folds], **self.summary}

    def table(self) -> str:
        columns = ["fold", "rows", "windows", "model MAE", "naive MAE", "model RMSE", "naive RMSE"]
        rows: list[list[object]] = [
            [
                f.fold,
                f"{f.rows[0]}-{f.rows[1]}",
                f.scores.windows,
                f.scores.model.mae,
                f.scores.naive.mae,
                f.scores.model.rmse,
                f.scores.naive.rmse,
            ]
            for f in self.folds
        ]
        s = self.summary
        for stat in ("mean", "std"):
            rows.append(
                [
                    stat,
                    "",
                    "",
                    s["model"]["mae"][stat],
                    s["naive"]["mae"][stat],
                    s["model"]["rmse"][stat],
                    s["naive"]["rmse"][stat],
                ]
            )
        coverages = [f.coverages() for f in self.folds]
        if coverages[0]:  # the run has intervals: each fold's observed coverage per level
            names = list(coverages[0])
            columns += [name.replace("coverage_", "coverage ") for name in names]
            for row, found in zip(rows, coverages, strict=False):
                row += [found[name] for name in names]
            for row, stat in zip(rows[len(self.folds) :], ("mean", "std"), strict=True):
                row += [mean_std([c[name] for c in coverages])[stat] for name in names]
        return tables.text(columns, rows)

    def plot(self, path: Path) -> Figure:
        """Model and naive MAE per fold, as bars."""
        return plot_backtest(path, self.folds)


def fold_borders(config: cfg.Config, n_rows: int, folds: int) -> list[tuple[int, int, int, int]]:
    """(train_end, val_end, fold_start, fold_end) per fold; the folds tile the test rows."""
    train_end, val_end, test_end = split_borders(config.data.split, n_rows)
    edges = np.linspace(val_end, test_end, folds + 1).round().astype(int)
    val_rows = val_end - train_end
    out = []
    for start, end in itertools.pairwise(edges):
        if end - start < config.window.horizon:
            raise ForecastError(
                f"--folds {folds}: folds of {end - start} test rows are shorter than the horizon "
                f"({config.window.horizon})"
            )
        out.append((int(start) - val_rows, int(start), int(start), int(end)))
    return out


def with_split(config: cfg.Config, train_end: int, val_end: int, test_end: int) -> cfg.Config:
    """The config with its split moved to these row borders (one fold's)."""
    split = cfg.Split(train_end=train_end, val_end=val_end, test_end=test_end)
    return config.model_copy(update={"data": config.data.model_copy(update={"split": split})})


def run(
    config: cfg.Config, folds: int, refit: bool, root: Path, trained: Run | None = None, verbose: int = 0
) -> Backtest:
    """Score `folds` consecutive test folds.

    Args:
        config: the config to backtest (a run's own, when `trained` is given).
        folds: how many folds tile the test rows.
        refit: train one model per fold on every row before it; else one model for all folds.
        root: where the runs trained here go (root/model or root/fold-K).
        trained: an existing run to score instead of training one (ignored with refit).
        verbose: Keras's verbosity for the runs trained here.
    """
    from forecast.inference import predict_splits  # deferred: loads Keras (TensorFlow); a refused backtest never does

    if config.data.id_column is not None:
        raise ForecastError(
            "backtest: folds are row borders of one series; a panel (data.id_column) is scored per series by "
            "`forecast evaluate` (per_series.csv) instead"
        )
    series = load_series(config.data)
    spec = WindowSpec.from_config(config.window)
    plan = fold_borders(config, len(series), folds)
    for train_end, val_end, _, end in plan:  # every fold has its windows before anything trains
        split_origins(spec, (train_end, val_end, end))

    def train(fold_config: cfg.Config, name: str) -> Run:
        prepared = lifecycle.plan(fold_config, arrange(series, fold_config))
        log.info(f"training {root / name}")
        return lifecycle.train(fold_config, prepared, root / name, verbose)

    if trained is None and not refit:
        trained = train(config, "model")
    results = []
    for k, (train_end, val_end, start, end) in enumerate(plan, 1):
        fold_config = with_split(config, train_end, val_end, end)
        fold_run = train(fold_config, f"fold-{k}") if refit else trained
        prepared = arrange(series, fold_config, fold_run.load_scalers(fold_config))
        model = fold_run.load_model(prepared.input_shape, prepared.output_shape)
        scores = evaluate(prepared, predict_splits(model, prepared, ("test",)), fold_run.load_intervals())["test"]
        results.append(Fold(k, (start, end), scores))
    return Backtest(results, refit)
