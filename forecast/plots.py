"""Every picture forecast draws, and the one module that imports matplotlib (when it draws).

Figures are `matplotlib.figure.Figure` objects, not pyplot's: no global state, no backend to pick,
safe in a worker thread. Each function writes its PNG and returns the Figure, so a test or a
notebook can check what was drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecast import rundir

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def figure(**kwargs) -> Figure:
    """A new Figure with matplotlib's constrained layout (titles, labels and outside legends make
    room for each other)."""
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def save(fig: Figure, path: Path) -> Figure:
    """`fig` written atomically as a PNG; returned for inspection."""
    rundir.write_atomic(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    return fig


def plot_loss(path: Path, history: pd.DataFrame, title: str, loss: str, best_epoch: int | None = None) -> Figure:
    """Train and validation loss per epoch, the restored best epoch marked, and dotted lines where
    ReduceLROnPlateau lowered the rate, each labelled with the new rate. The legend sits outside
    the axes, so it hides no curve and no label."""
    fig = figure(figsize=(8, 4))
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10)
    if history.empty:
        ax.text(0.5, 0.5, "no training (model.cell: naive)", ha="center", va="center", transform=ax.transAxes)
        return save(fig, path)
    epochs = history["epoch"] + 1
    ax.plot(epochs, history["loss"], label="train")
    if "val_loss" in history:
        ax.plot(epochs, history["val_loss"], label="validation")
    if best_epoch:
        ax.axvline(best_epoch, color="green", linewidth=1, alpha=0.6, label=f"best epoch ({best_epoch}), kept")
    lr = history["learning_rate"].to_numpy()
    for n, i in enumerate(np.flatnonzero(lr[1:] < lr[:-1]) + 1):
        label = "learning rate lowered" if n == 0 else None
        ax.axvline(epochs.iloc[i], color="grey", linestyle=":", linewidth=1, label=label)
        ax.annotate(
            f"lr {lr[i]:.1e}", (epochs.iloc[i], ax.get_ylim()[1]), fontsize=7, rotation=90, va="top", ha="right"
        )
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{loss} (scaled values)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.grid(alpha=0.3)
    return save(fig, path)


def plot_backtest(path: Path, folds: list) -> Figure:
    """A backtest's model and naive MAE per fold, as bars (`folds`: backtesting.Fold)."""
    fig = figure(figsize=(7, 3.5))
    ax = fig.add_subplot()
    x = np.arange(len(folds))
    ax.bar(x - 0.2, [f.scores.model.mae for f in folds], 0.4, label="model")
    ax.bar(x + 0.2, [f.scores.naive.mae for f in folds], 0.4, label="naive (repeat last)")
    ax.set_xticks(x, [f"{f.fold}\n{f.rows[0]}-{f.rows[1]}" for f in folds], fontsize=7)
    ax.set_ylabel("MAE (original units)")
    ax.set_title("rolling-origin backtest")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.grid(alpha=0.3, axis="y")
    return save(fig, path)


MAX_PANELS = 12  # targets drawn in forecast.png; more are named in its title as left out


def plot_forecast(
    path: Path,
    actual: np.ndarray,
    predicted: np.ndarray,
    naive: np.ndarray,
    names: list[str],
    x: pd.Index | np.ndarray,
    title: str,
    bands: list[tuple[float, np.ndarray, np.ndarray]] = (),
) -> Figure:
    """Actual, model and repeat-last forecasts one step ahead over the whole test split, a panel
    per target (the first MAX_PANELS), against time (or row) of the forecast row; each interval
    of `bands` (level, lower, upper) shaded around the model's, widest lightest.

    `actual`, `predicted`, `naive` and the bounds are (windows, horizon, targets) in original units.
    """
    shown = names[:MAX_PANELS]
    cols = 1 if len(shown) <= 4 else 2
    rows = -(-len(shown) // cols)
    fig = figure(figsize=(11, 2.3 * rows + 0.8))
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
    capped = f" (first {len(shown)} of {len(names)} targets)" if len(names) > len(shown) else ""
    fig.suptitle(f"{title}: 1-step-ahead forecasts{capped}", fontsize=10)
    for k, name in enumerate(shown):
        ax = axes[k // cols, k % cols]
        for level, low, high in sorted(bands, key=lambda band: -band[0]):
            ax.fill_between(x, low[:, 0, k], high[:, 0, k], color="tab:blue", alpha=0.15, linewidth=0,
                            label=f"{level:.0%} interval")  # fmt: skip
        ax.plot(x, actual[:, 0, k], color="black", linewidth=0.8, label="actual")
        ax.plot(x, predicted[:, 0, k], linewidth=0.8, label="model")
        ax.plot(x, naive[:, 0, k], linewidth=0.6, alpha=0.6, linestyle="--", label="naive (repeat last)")
        ax.set_ylabel(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for k in range(len(shown), rows * cols):
        axes[k // cols, k % cols].set_visible(False)
        axes[k // cols - 1, k % cols].tick_params(labelbottom=True)  # its column's last panel shows the axis
    for ax in axes.flat:
        for label in ax.get_xticklabels():
            label.set_rotation(20)
            label.set_horizontalalignment("right")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3 + len(bands), fontsize=8, frameon=False)
    return save(fig, path)
