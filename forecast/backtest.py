"""Rolling-origin evaluation: the test rows cut into K consecutive folds.

One test score hides how a model's error moves with the season or a regime change. Folds show
it, model against the repeat-last baseline, with mean and standard deviation over the folds.
With refit (expanding window), fold k gets a model trained on every row before it (validation on
the `val` rows just before the fold, as long as the config's validation split); without, one
model is scored on every fold.
"""

from __future__ import annotations

import numpy as np

from forecast import config as cfg
from forecast.errors import ForecastError


def fold_borders(config: cfg.Config, n_rows: int, folds: int) -> list[tuple[int, int, int, int]]:
    """(train_end, val_end, fold_start, fold_end) per fold; the folds tile the test rows."""
    train_end, val_end, test_end = config.data.split.borders(n_rows)
    edges = np.linspace(val_end, test_end, folds + 1).round().astype(int)
    val_rows = val_end - train_end
    out = []
    for start, end in zip(edges[:-1], edges[1:]):
        if end - start < config.window.horizon:
            raise ForecastError(f"--folds {folds}: folds of {end - start} test rows are shorter than the horizon ({config.window.horizon})")
        out.append((int(start) - val_rows, int(start), int(start), int(end)))
    return out


def with_split(config: cfg.Config, train_end: int, val_end: int, test_end: int) -> cfg.Config:
    split = cfg.Split(train_end=train_end, val_end=val_end, test_end=test_end)
    return config.model_copy(update={"data": config.data.model_copy(update={"split": split})})


def summarize(folds: list[dict]) -> dict:
    """Mean and standard deviation over folds of each model/naive MAE and RMSE."""
    out = {}
    for who in ("model", "naive"):
        for metric in ("mae", "rmse"):
            values = np.array([f[who][metric] for f in folds])
            out.setdefault(who, {})[metric] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return out


def table(folds: list[dict], summary: dict) -> str:
    lines = [f"{'fold':<6}{'rows':>16}{'windows':>9}{'model MAE':>12}{'naive MAE':>12}{'model RMSE':>12}{'naive RMSE':>12}"]
    for f in folds:
        rows = f"{f['rows'][0]}-{f['rows'][1]}"
        lines.append(f"{f['fold']:<6}{rows:>16}{f['windows']:>9}{f['model']['mae']:>12.4f}{f['naive']['mae']:>12.4f}"
                     f"{f['model']['rmse']:>12.4f}{f['naive']['rmse']:>12.4f}")
    m, n = summary["model"], summary["naive"]
    lines.append(f"{'mean':<6}{'':>16}{'':>9}{m['mae']['mean']:>12.4f}{n['mae']['mean']:>12.4f}{m['rmse']['mean']:>12.4f}{n['rmse']['mean']:>12.4f}")
    lines.append(f"{'std':<6}{'':>16}{'':>9}{m['mae']['std']:>12.4f}{n['mae']['std']:>12.4f}{m['rmse']['std']:>12.4f}{n['rmse']['std']:>12.4f}")
    return "\n".join(lines)


def plot(path, folds: list[dict]) -> None:
    from forecast.report import _figure, _save

    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(len(folds))
    ax.bar(x - 0.2, [f["model"]["mae"] for f in folds], 0.4, label="model")
    ax.bar(x + 0.2, [f["naive"]["mae"] for f in folds], 0.4, label="naive (repeat last)")
    ax.set_xticks(x, [f"{f['fold']}\n{f['rows'][0]}-{f['rows'][1]}" for f in folds], fontsize=7)
    ax.set_ylabel("MAE (original units)")
    ax.set_title("rolling-origin backtest")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    _save(fig, path)
    plt.close(fig)
