"""What a person reads after a run: the closing table, report.md and the two plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecast.rundir import Run, write_atomic, write_text


def table(metrics: dict, splits=("val", "test")) -> str:
    """MAE/RMSE of model and naive baseline per split, in original units, as fixed-width text."""
    head = f"{'split':<6}{'windows':>9}{'model MAE':>12}{'naive MAE':>12}{'model RMSE':>12}{'naive RMSE':>12}  beats naive"
    lines = [head]
    for split in splits:
        if split not in metrics:
            continue
        m, n = metrics[split]["model"], metrics[split]["naive"]
        verdict = "yes" if m["mae"] < n["mae"] else ("same" if m["mae"] == n["mae"] else "NO")
        lines.append(
            f"{split:<6}{metrics[split]['windows']:>9}{m['mae']:>12.4f}{n['mae']:>12.4f}{m['rmse']:>12.4f}{n['rmse']:>12.4f}  {verdict}"
        )
    return "\n".join(lines)


def _markdown_rows(metrics: dict, scaled: bool) -> list[str]:
    rows = []
    for split in ("val", "test"):
        block = metrics[split]["scaled"] if scaled else metrics[split]
        for who in ("model", "naive"):
            s = block[who]
            rows.append(f"| {split} | {who} | {s['mae']:.4f} | {s['rmse']:.4f} | {s['mse']:.4f} | {s['mape']:.4f} |")
    return rows


def write_markdown(run: Run, metrics: dict, config_yaml: str, target_names: list[str]) -> None:
    header = ["| split | predictor | MAE | RMSE | MSE | MAPE |", "|---|---|---|---|---|---|"]
    test = metrics["test"]
    verdict = "beats" if test["model"]["mae"] < test["naive"]["mae"] else "does NOT beat"
    lines = [
        f"# Run `{run.path.name}`",
        "",
        f"On the test split the model {verdict} the common-sense baseline (repeat the last value): "
        f"MAE {test['model']['mae']:.4f} vs {test['naive']['mae']:.4f} ({', '.join(target_names)}).",
        "",
        "## Errors in original units",
        "",
        *header,
        *_markdown_rows(metrics, scaled=False),
        "",
        "## Errors on scaled values",
        "",
        *header,
        *_markdown_rows(metrics, scaled=True),
        "",
        "## Training",
        "",
        f"- epochs run: {metrics['epochs_run']}, best epoch: {metrics['best_epoch']}",
        f"- parameters: {metrics['parameters']:,}",
        f"- train time: {metrics['train_seconds']:.1f} s ({metrics['samples_per_second']:.0f} windows/s) "
        f"on {metrics['device']} with the {metrics['backend']} backend",
        "",
        "![loss](loss.png)",
        "",
        "![forecast](forecast.png)",
        "",
        "## Config",
        "",
        "```yaml",
        config_yaml.rstrip(),
        "```",
        "",
    ]
    write_text(run.report, "\n".join(lines))


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))


def plot_loss(run: Run, history: pd.DataFrame) -> None:
    """Train and validation loss per epoch; dotted lines where ReduceLROnPlateau lowered the rate."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 4))
    if history.empty:
        ax.text(0.5, 0.5, "no training (model.cell: naive)", ha="center", va="center", transform=ax.transAxes)
        _save(fig, run.loss_plot)
        plt.close(fig)
        return
    epochs = history["epoch"] + 1
    ax.plot(epochs, history["loss"], label="train loss")
    if "val_loss" in history:
        ax.plot(epochs, history["val_loss"], label="validation loss")
    lr = history["learning_rate"].to_numpy()
    for i in np.flatnonzero(lr[1:] < lr[:-1]) + 1:
        ax.axvline(epochs.iloc[i], color="grey", linestyle=":", linewidth=1)
        ax.annotate(f"lr {lr[i]:.1e}", (epochs.iloc[i], ax.get_ylim()[1]), fontsize=7, rotation=90, va="top", ha="right")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, run.loss_plot)
    plt.close(fig)


def plot_forecast(run: Run, actual: np.ndarray, predicted: np.ndarray, names: list[str], horizon: int, limit: int = 336) -> None:
    """Actual vs predicted on the start of the test split: the 1-step and the last-step forecasts.

    `actual` and `predicted` are (windows, horizon, targets) in original units, windows in order.
    """
    plt = _figure()
    shown = names[:4]
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 2.6 * len(shown)), squeeze=False, sharex=True)
    n = min(limit, len(actual))
    for k, (ax, name) in enumerate(zip(axes[:, 0], shown)):
        ax.plot(np.arange(n), actual[:n, 0, k], color="black", linewidth=1, label="actual")
        ax.plot(np.arange(n), predicted[:n, 0, k], label="predicted, 1 step ahead")
        if horizon > 1:
            ax.plot(np.arange(n) + horizon - 1, predicted[:n, -1, k], alpha=0.7, label=f"predicted, {horizon} steps ahead")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel("test window (first target row)")
    _save(fig, run.forecast_plot)
    plt.close(fig)


def long_frame(series, spec, origins: np.ndarray, predictions: np.ndarray) -> pd.DataFrame:
    """Predictions (windows, horizon, targets) in long form: origin, target_time, step, column, prediction.

    With a time column, origins and targets are timestamps; targets past the end of the series
    continue at the series' median spacing. Without one, they are row indices.
    """
    n_windows, horizon, n_targets = predictions.shape
    target_rows = origins[:, None] + spec.target_offsets()  # (windows, horizon)
    if series.times is not None:
        times = series.times
        spacing = times.to_series().diff().median() if len(times) > 1 else pd.Timedelta(0)
        last = int(target_rows.max()) + 1
        extra = max(0, last - len(times))
        axis = times.append(pd.DatetimeIndex([times[-1] + spacing * (i + 1) for i in range(extra)]))
        origin_values, target_values = axis[origins], axis[target_rows.reshape(-1)]
    else:
        origin_values, target_values = origins, target_rows.reshape(-1)
    cells = n_windows * horizon * n_targets
    return pd.DataFrame(
        {
            "origin": np.repeat(np.asarray(origin_values), horizon * n_targets),
            "target_time": np.repeat(np.asarray(target_values), n_targets),
            "step": np.tile(np.repeat(np.arange(1, horizon + 1), n_targets), n_windows),
            "column": np.tile(np.asarray(series.target_names, dtype=object), n_windows * horizon)[:cells],
            "prediction": predictions.reshape(-1),
        }
    )
