"""What a person reads after a run: the closing table and report.md (the plots are forecast.plots')."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecast import plots, tables
from forecast.intervals import level_name
from forecast.results import BASELINES, SCORED, STATISTICAL, Metrics, Repeats, TrainingStats, Validation
from forecast.rundir import Run, write_text

if TYPE_CHECKING:
    import keras

    from forecast import config as cfg
    from forecast.intervals import Calibration
    from forecast.prepare import Prepared


def table(metrics: Metrics) -> str:
    """MAE/RMSE of model and baselines per split, in original units, as fixed-width text, and the
    split's honest verdict last (see `Verdict`); a baseline's columns appear when every split has it."""
    shown = [k for k in BASELINES if all(k in s.baselines() for s in metrics.splits.values())]
    labels = {"naive": "naive", "seasonal_naive": "seasonal", "ets": "ets", "mstl": "mstl"}
    columns = ["split", "windows"]
    for metric in ("MAE", "RMSE"):
        columns += [f"model {metric}", *(f"{labels[k]} {metric}" for k in shown)]
    columns.append("beats all baselines")
    rows = []
    verdicts = metrics.verdicts()
    for name, s in metrics.splits.items():
        row = [name, s.windows]
        for metric in ("mae", "rmse"):
            row += [getattr(s.model, metric), *(getattr(s.baselines()[k], metric) for k in shown)]
        rows.append([*row, verdicts[name].cell()])
    return tables.text(columns, rows) + intervals_table(metrics)


def intervals_table(metrics: Metrics) -> str:
    """Below the error table, when the run has intervals: per split and level, observed coverage,
    mean width and interval score of the model's and of the baseline's intervals (original units)."""
    rows = []
    for name, s in metrics.splits.items():
        found = s.intervals or {}
        levels = sorted(float(k.split("_", 1)[1].replace("_", ".")) / 100 for k in found if k.startswith("coverage_"))
        for level in levels:
            key = level_name(level)
            row = [name, f"{level:.10g}"]
            for metric in ("coverage", "width", "interval_score"):
                row += [found[f"{metric}_{key}"], found["naive"][f"{metric}_{key}"]]
            rows.append(row)
    if not rows:
        return ""
    columns = ["split", "level", "coverage", "naive coverage", "width", "naive width", "int. score", "naive int. score"]
    return "\n\n" + tables.text(columns, rows)


def advice(config: cfg.Config, metrics: Metrics) -> str | None:
    """What to try when the model loses to its best baseline on the test split (else None)."""
    found = metrics.verdicts()["test"]
    if found.beats:
        return None
    return f"the model {found}; {fix(found.baseline, config, metrics.seasonality)}"


def fix(baseline: str, config: cfg.Config, season: int | None) -> str:
    """The setting to try against the baseline the model lost to."""
    if baseline == "naive":
        if config.model.instance_norm == "none":
            return (
                "on data with a trend or level shifts, set model.instance_norm: last "
                "(each window is forecast relative to its last value)"
            )
        off = "".join(f" and model.{k}: false" for k in config.model.instance_norm_options())
        return (
            "try more training.epochs or a longer window.lookback; on a stationary, mean-reverting series "
            f"try model.instance_norm: none{off}"
        )
    tries = []
    if season is not None and config.window.lookback < 2 * season:
        tries.append(f"a window.lookback of at least two seasons ({2 * season} rows)")
    if config.data.time_column is not None and not config.data.calendar:
        tries.append("data.calendar features (e.g. [hour, day_of_week] for hourly data)")
    if baseline in STATISTICAL and config.model.instance_norm == "none":
        tries.append("model.instance_norm: last")
    tries.append("more training.epochs")
    what = "the season" if baseline == "seasonal_naive" else f"level, trend and season as {BASELINES[baseline]} does"
    return f"to learn {what}, try " + ", ".join(tries)


def convergence(config: cfg.Config, stats: TrainingStats | None) -> str | None:
    """Said when the epoch cap, not early stopping, ended a fit that was still improving (else None)."""
    if stats is None or not stats.capped:
        return None
    return (
        f"the best epoch was the last ({stats.best_epoch}): training stopped at training.epochs "
        f"({config.training.epochs}), not by early stopping, so the model may not have converged; "
        "try more training.epochs (early stopping ends the fit when validation stops improving)"
    )


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
            *(
                [f"series: {v.series}, {v.series_skipped} skipped (too short for one window)"]
                if v.config.data.id_column
                else []
            ),
            (
                f"split rows: train [0, {train_end}), val [{train_end}, {val_end}), test [{val_end}, {test_end})"
                if not v.config.data.id_column
                else f"split rows of the first series: train [0, {train_end}), val [{train_end}, {val_end}), "
                f"test [{val_end}, {test_end})"
            ),
            "windows: " + ", ".join(f"{k} {n}" for k, n in v.windows.items()),
            f"input shape: {v.input_shape} -> output {v.output_shape}"
            + "".join(
                f"; {name} input {shape}" if name != "categories" else f"; categorical statics of {shape} values"
                for name, shape in v.extras.items()
            ),
            f"parameters: {v.parameters:,}",
            f"cuDNN: {blockers}",
        ]
    )


def layers_text(model: keras.Model) -> str:
    """Layers, output shapes and parameters as plain text.

    Keras's own rich summary is cropped to 80 columns when stdout is a log, not a terminal.
    """
    import keras  # deferred: Keras loads TensorFlow, which only `forecast summary` needs here

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


def markdown(run: Run, metrics: Metrics, config: cfg.Config, target_names: list[str]) -> str:
    """report.md: the verdict against the baseline, both error tables, training facts, plots, config."""
    columns = ["split", "predictor", "MAE", "RMSE", "MSE", "MAPE"]  # MAPE n/a where actuals come near zero

    def rows(scaled: bool) -> list[list[object]]:
        out = []
        for split in SCORED:
            s = metrics.splits[split]
            predictors = [
                ("model", s.scaled_model if scaled else s.model),
                ("naive", s.scaled_naive if scaled else s.naive),
            ]
            if s.seasonal_naive is not None:
                season = f"seasonal naive ({metrics.seasonality} rows)"
                predictors.append((season, s.scaled_seasonal_naive if scaled else s.seasonal_naive))
            if not scaled:
                predictors += [(BASELINES[k], s.baselines()[k]) for k in STATISTICAL if k in s.baselines()]
            for who, scores in predictors:
                out.append([split, who, scores.mae, scores.rmse, scores.mse, scores.mape])
        return out

    test, t = metrics.test, metrics.training
    hint = advice(config, metrics)
    compared = ", ".join(BASELINES[k] for k in test.baselines())
    scores = "MAE, RMSE and MASE" if metrics.seasonality is not None else "MAE and RMSE"
    auto = " (chosen by model.base auto)" if config.model.base == "auto" else ""
    if t.base_losses:  # auto trained several bases and kept the one with the lowest validation loss
        losses = ", ".join(f"{b} {'diverged' if v is None else f'{v:.4g}'}" for b, v in t.base_losses.items())
        auto = f" (chosen by model.base auto on validation: loss {losses}; each base's history in bases/)"
    profile = f", its seasonal part the profile of {t.base_seasons} seasons" if (t.base_seasons or 1) > 1 else ""
    lines = [
        f"# Run `{run.path.name}`",
        "",
        f"The model {metrics.verdicts()['test']}: compared with {compared} on {scores} "
        f"(original units; {', '.join(target_names)}).",
        *([f"**Warning:** {hint}."] if hint else []),
        "",
        "## Errors in original units",
        "",
        tables.markdown(columns, rows(scaled=False)),
        "",
        "## Errors on scaled values",
        "",
        tables.markdown(columns, rows(scaled=True)),
        "",
        "## Test errors per target (original units)",
        "",
        per_target_table(test.per_target or {}),
        "",
        "## Test errors per horizon step (MAE, scaled values)",
        "",
        tables.markdown(
            ["step", "model", "naive"],
            [[i + 1, m, n] for i, (m, n) in enumerate(zip(*(test.per_step or {}).values(), strict=True))],
        ),
        "",
        *intervals_section(metrics, config),
        "## Training",
        "",
        f"- epochs run: {t.epochs_run}, best epoch: {t.best_epoch}"
        + {"epochs": ", stopped by the training.epochs cap", "early_stopping": ", stopped early"}.get(t.stopped_by, ""),
        *([f"- **Warning:** {capped}."] if (capped := convergence(config, t)) else []),
        *([f"- base forecast: {t.base}{profile}{auto}"] if t.base else []),
        f"- parameters: {t.parameters:,}",
        f"- train time: {t.train_seconds:.1f} s ({t.samples_per_second:.0f} windows/s"
        + (f", {t.sequences_per_second:.0f} sequences/s" if t.sequences_per_second is not None else "")
        + f") on {t.device} with the {t.backend} backend",
        "",
        "![loss](loss.png)",
        "",
        "![forecast](forecast.png)",
        "",
        "## Config",
        "",
        "```yaml",
        config.to_yaml().rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def write(
    run: Run,
    config: cfg.Config,
    prepared: Prepared,
    metrics: Metrics,
    history: pd.DataFrame,
    test_pred: np.ndarray,
    calibration: Calibration | None = None,
) -> None:
    """Every human-readable artifact of a finished run: loss.png, forecast.png (with the intervals'
    bands) and report.md. `test_pred`: the model's raw test predictions."""
    stopping = config.training.early_stopping
    kept = stopping.enabled and stopping.restore_best_weights
    best = metrics.training.best_epoch if metrics.training and kept else None
    plots.plot_loss(run.loss_plot, history, f"{run.path.name}: {config.training.loss} loss", config.training.loss, best)
    chosen = plots.chosen_series(config.metrics.plot_series, prepared)
    plots.plot_test(run.forecast_plot, run.path.name, prepared, test_pred, calibration, chosen)
    write_text(run.report_file, markdown(run, metrics, config, prepared.series.target_names))


def intervals_section(metrics: Metrics, config: cfg.Config) -> list[str]:
    """report.md's calibration table: nominal vs observed coverage per level, width, interval score
    and MSIS of the model's intervals and of the baseline's (repeat-last, conformal); none without."""
    if metrics.test.intervals is None:
        return []
    levels = config.intervals.levels
    rows = []
    for split in SCORED:
        found = metrics.splits[split].intervals or {}
        for who, scores in (("model", found), ("naive", found.get("naive", {}))):
            for level in levels:
                name = level_name(level)
                keys = (f"coverage_{name}", f"width_{name}", f"interval_score_{name}", f"msis_{name}", "pinball")
                rows.append([split, who, f"{level:.10g}", *(scores.get(key) for key in keys)])
    methods = {
        "quantiles": "the quantile model's own bounds",
        "conformal": "split conformal on the validation windows",
        "cqr": "conformalized quantile regression on the validation windows",
    }
    columns = ["split", "predictor", "nominal", "coverage", "mean width", "interval score", "MSIS", "pinball"]
    return [
        f"## Prediction intervals ({methods[config.intervals.method]})",
        "",
        "Observed coverage should match the nominal level on test; val calibrated the intervals (for conformal and "
        "cqr its coverage is nominal by construction). The naive rows are repeat-last with conformal bounds.",
        "",
        tables.markdown(columns, rows),
        "",
    ]


def per_target_table(per_target: dict[str, dict[str, float]]) -> str:
    """Test MAE, sMAPE and MASE per target of the model and each baseline scored there (repeat-last,
    seasonal naive, AutoETS, MSTL): which target a statistical model does better on."""
    who = [k for k in ("model", "naive", "seasonal_naive", *STATISTICAL) if any(k in v for v in per_target.values())]
    label = {**BASELINES, "model": "model", "naive": "naive"}
    columns = [f"{label[w]} {score}" for score in ("MAE", "sMAPE", "MASE") for w in who]
    keys = [w + suffix for suffix in ("", "_smape", "_mase") for w in who]
    rows = [[name, *(v.get(k, float("nan")) for k in keys)] for name, v in per_target.items()]
    return tables.markdown(["target", *columns], rows)
