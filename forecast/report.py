"""What a person reads after a run: the closing table, report.md and the two plots."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecast import rundir, tables
from forecast.results import SCORED, Metrics
from forecast.rundir import Run, write_text

if TYPE_CHECKING:
    import keras

    from forecast import config as cfg
    from forecast.api import Repeats, Validation
    from forecast.prepare import Prepared


def verdict(model: float, naive: float) -> str:
    """yes / same / NO: does the model's error beat the repeat-last baseline's?"""
    return "yes" if model < naive else ("same" if model == naive else "NO")


def table(metrics: Metrics) -> str:
    """MAE/RMSE of model and naive baseline per split, in original units, as fixed-width text."""
    columns = ["split", "windows", "model MAE", "naive MAE", "model RMSE", "naive RMSE", "beats naive"]
    rows = [
        [name, s.windows, s.model.mae, s.naive.mae, s.model.rmse, s.naive.rmse, verdict(s.model.mae, s.naive.mae)]
        for name, s in metrics.splits.items()
    ]
    return tables.text(columns, rows)


def repeats_text(result: Repeats) -> str:
    """The mean table over seeds, and mean ± std of the model's MAE and scaled MSE per split."""
    lines = [f"mean of {len(result.seeds)} seeds ({result.seeds[0]}..{result.seeds[-1]}):", table(result.means)]
    for split in SCORED:
        mae, mse = result.summary[split]["model"]["mae"], result.summary[split]["scaled"]["model"]["mse"]
        lines.append(
            f"{split} model MAE {mae['mean']:.4f} ± {mae['std']:.4f}; scaled MSE {mse['mean']:.4f} ± {mse['std']:.4f}"
        )
    return "\n".join(lines)


def validation_text(v: Validation, source: Path | str) -> str:
    """What `forecast validate` prints: data, split rows, windows, shapes, parameters, cuDNN."""
    train_end, val_end, test_end = v.borders
    blockers = "eligible" if not v.cudnn_blockers else "not eligible: " + "; ".join(v.cudnn_blockers)
    return "\n".join(
        [
            f"config: {source} is valid",
            *(f"data: {note}" for note in v.notes),
            f"data: {v.config.data.path}: {v.rows} rows, {len(v.feature_names)} features, "
            f"{len(v.target_names)} targets ({', '.join(v.target_names)})",
            f"split rows: train [0, {train_end}), val [{train_end}, {val_end}), test [{val_end}, {test_end})",
            "windows: " + ", ".join(f"{k} {n}" for k, n in v.windows.items()),
            f"input shape: {v.input_shape} -> output {v.output_shape}",
            f"parameters: {v.parameters:,}",
            f"cuDNN: {blockers}",
        ]
    )


def layers_text(model: keras.Model) -> str:
    """Layers, output shapes and parameters as plain text.

    Keras's own rich summary is cropped to 80 columns when stdout is a log, not a terminal.
    """
    import keras

    rows = []
    for layer in model.layers:
        try:
            shape = str(keras.tree.map_structure(lambda t: tuple(t.shape), layer.output))
        except (AttributeError, ValueError):  # a layer called more than once (shared decoder cells)
            shape = "(shared)"
        rows.append([layer.name, type(layer).__name__, shape, f"{layer.count_params():,}"])
    return (
        tables.text(["layer", "type", "output shape", "parameters"], rows)
        + f"\ntotal: {model.count_params():,} parameters"
    )


def markdown(run: Run, metrics: Metrics, config_yaml: str, target_names: list[str]) -> str:
    """report.md: the verdict against the baseline, both error tables, training facts, plots, config."""
    columns = ["split", "predictor", "MAE", "RMSE", "MSE", "MAPE"]

    def rows(scaled: bool) -> list[list[object]]:
        out = []
        for split in SCORED:
            s = metrics.splits[split]
            for who, scores in (
                ("model", s.scaled_model if scaled else s.model),
                ("naive", s.scaled_naive if scaled else s.naive),
            ):
                out.append([split, who, scores.mae, scores.rmse, scores.mse, scores.mape])
        return out

    test, t = metrics.test, metrics.training
    word = "beats" if test.beats_naive else "does NOT beat"
    lines = [
        f"# Run `{run.path.name}`",
        "",
        f"On the test split the model {word} the common-sense baseline (repeat the last value): "
        f"MAE {test.model.mae:.4f} vs {test.naive.mae:.4f} ({', '.join(target_names)}).",
        "",
        "## Errors in original units",
        "",
        tables.markdown(columns, rows(scaled=False)),
        "",
        "## Errors on scaled values",
        "",
        tables.markdown(columns, rows(scaled=True)),
        "",
        "## Training",
        "",
        f"- epochs run: {t.epochs_run}, best epoch: {t.best_epoch}",
        f"- parameters: {t.parameters:,}",
        f"- train time: {t.train_seconds:.1f} s ({t.samples_per_second:.0f} windows/s) "
        f"on {t.device} with the {t.backend} backend",
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
    return "\n".join(lines)


def write(
    run: Run, config: cfg.Config, prepared: Prepared, metrics: Metrics, history: pd.DataFrame, test_pred: np.ndarray
) -> None:
    """Every human-readable artifact of a finished run: loss.png, forecast.png and report.md."""
    plot_loss(run.loss_plot, history)
    test = prepared.origins["test"]
    inverse = prepared.scalers.inverse_targets
    plot_forecast(
        run.forecast_plot,
        inverse(prepared.spec.targets(prepared.y, test)),
        inverse(test_pred),
        prepared.series.target_names,
        prepared.spec.horizon,
    )
    write_text(run.report_file, markdown(run, metrics, config.to_yaml(), prepared.series.target_names))


def figure():
    """matplotlib's pyplot on the Agg backend (no display needed), imported only when plotting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path) -> None:
    """A PNG written atomically."""
    rundir.write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))


def plot_loss(path: Path, history: pd.DataFrame) -> None:
    """Train and validation loss per epoch; dotted lines where ReduceLROnPlateau lowered the rate."""
    plt = figure()
    fig, ax = plt.subplots(figsize=(7, 4))
    if history.empty:
        ax.text(0.5, 0.5, "no training (model.cell: naive)", ha="center", va="center", transform=ax.transAxes)
        save(fig, path)
        plt.close(fig)
        return
    epochs = history["epoch"] + 1
    ax.plot(epochs, history["loss"], label="train loss")
    if "val_loss" in history:
        ax.plot(epochs, history["val_loss"], label="validation loss")
    lr = history["learning_rate"].to_numpy()
    for i in np.flatnonzero(lr[1:] < lr[:-1]) + 1:
        ax.axvline(epochs.iloc[i], color="grey", linestyle=":", linewidth=1)
        ax.annotate(
            f"lr {lr[i]:.1e}", (epochs.iloc[i], ax.get_ylim()[1]), fontsize=7, rotation=90, va="top", ha="right"
        )
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, path)
    plt.close(fig)


def plot_forecast(
    path: Path, actual: np.ndarray, predicted: np.ndarray, names: list[str], horizon: int, limit: int = 336
) -> None:
    """Actual vs predicted on the start of the test split: the 1-step and the last-step forecasts.

    `actual` and `predicted` are (windows, horizon, targets) in original units, windows in order.
    """
    plt = figure()
    shown = names[:4]
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 2.6 * len(shown)), squeeze=False, sharex=True)
    n = min(limit, len(actual))
    for k, (ax, name) in enumerate(zip(axes[:, 0], shown, strict=True)):
        ax.plot(np.arange(n), actual[:n, 0, k], color="black", linewidth=1, label="actual")
        ax.plot(np.arange(n), predicted[:n, 0, k], label="predicted, 1 step ahead")
        if horizon > 1:
            ax.plot(
                np.arange(n) + horizon - 1, predicted[:n, -1, k], alpha=0.7, label=f"predicted, {horizon} steps ahead"
            )
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel("test window (first target row)")
    save(fig, path)
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
