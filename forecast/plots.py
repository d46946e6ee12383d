"""Every picture forecast draws, and the one module that imports matplotlib (when it draws).

Figures are `matplotlib.figure.Figure` objects, not pyplot's: no global state, no backend to pick,
safe in a worker thread. Each function writes its PNG and returns the Figure, so a test or a
notebook can check what was drawn.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from forecast import rundir
from forecast.errors import ForecastError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from forecast.intervals import Calibration
    from forecast.prepare import Prepared


def figure(**kwargs) -> Figure:
    """A new Figure with matplotlib's constrained layout (titles, labels and outside legends make
    room for each other)."""
    from matplotlib.figure import Figure  # deferred: matplotlib loads only when a plot is drawn

    return Figure(layout="constrained", **kwargs)


def save(fig: Figure, path: Path) -> Figure:
    """`fig` written atomically as a PNG; returned for inspection."""
    rundir.write_atomic(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=110))
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


MAX_PANELS = 12  # (series, target) panels a forecast plot draws; the title names what it leaves out
ORIGINS = 4  # test origins whose whole-horizon forecasts forecast.png draws per panel
FORECAST_ROWS = 1500  # at most, fewer origins: four of 720 steps would draw four months of hourly rows
SERIES = 3  # a panel's series drawn by default (forecast.png, predict --plot)
MODEL = "tab:blue"
TITLE_WIDTH = 120  # characters of a title line: an 11-inch figure shows about 140 at 10 points


@dataclass(frozen=True)
class Fan:
    """The model's forecast of a whole horizon from one origin: the point forecast and its intervals."""

    origin: Any  # the origin's stamp (or row): the last actual the forecast saw
    x: np.ndarray | pd.Index  # the horizon's stamps (or rows)
    point: np.ndarray  # (horizon,), original units
    bands: tuple[tuple[float, np.ndarray, np.ndarray], ...] = ()  # (level, lower, upper) per interval


@dataclass(frozen=True)
class Panel:
    """One axes of a forecast plot: one target of one series, its actuals and forecast fans."""

    title: str
    ylabel: str
    x: np.ndarray | pd.Index  # the actuals' stamps (or rows)
    actual: np.ndarray
    fans: list[Fan]
    split_start: Any = None  # the test split's first row, shaded from there when it is in view


@dataclass(frozen=True)
class StepErrors:
    """The overview under forecast.png: MAE per horizon step of the model and each baseline."""

    title: str
    ylabel: str
    mae: dict[str, np.ndarray]  # predictor -> (horizon,)


def plot_fans(path: Path, panels: list[Panel], title: str, errors: StepErrors | None = None) -> Figure:
    """Actuals (black) with the model's forecast fans, a vertical dotted line at each origin and
    each interval shaded around its fan, a panel per (series, target); under them, with `errors`,
    the MAE per horizon step against the baselines. One legend for the panels, above them."""
    cols = 1 if len(panels) <= 3 else 2
    rows = -(-len(panels) // cols)
    heights = [2.6 * rows + 0.5] + ([2.4] if errors is not None else [])
    fig = figure(figsize=(11, sum(heights) + 0.6))
    fig.suptitle("\n".join(textwrap.fill(line, TITLE_WIDTH) for line in title.split("\n")), fontsize=10)
    top, *bottom = fig.subfigures(len(heights), 1, height_ratios=heights, squeeze=False)[:, 0]
    axes = top.subplots(rows, cols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels, strict=False):
        _draw_panel(ax, panel)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    top.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8, frameon=False)
    if errors is not None:
        _draw_errors(bottom[0].subplots(), errors)
    return save(fig, path)


def band_styles(levels: list[float]) -> dict[float, dict[str, Any]]:
    """fill_between's style per interval level: the narrowest solid and darkest, each wider one
    lighter and hatched differently, so that 80 % and 95 % differ by more than a shade."""
    hatches = ["////", "\\\\\\\\", "...."]
    styles = {}
    for rank, level in enumerate(sorted(levels)):
        if rank == 0:
            styles[level] = {"facecolor": MODEL, "alpha": 0.35, "edgecolor": MODEL, "linewidth": 0.6}
        else:
            styles[level] = {"facecolor": (0.12, 0.47, 0.71, 0.10), "edgecolor": (0.12, 0.47, 0.71, 0.55),
                             "hatch": hatches[(rank - 1) % len(hatches)], "linewidth": 0.0}  # fmt: skip
    return styles


def _draw_panel(ax: Axes, panel: Panel) -> None:
    """One panel; its artists carry a gid ("actual", "forecast", "origin", "interval 0.95") by
    which a test finds them."""
    x = _plain_x(panel.x)
    ax.plot(x, panel.actual, color="black", linewidth=0.9, label="actual", gid="actual", zorder=3)  # over the bands
    styles = band_styles([level for level, _, _ in panel.fans[0].bands]) if panel.fans else {}
    for n, fan in enumerate(panel.fans):
        first = n == 0
        fx = _plain_x(fan.x)
        for level, low, high in sorted(fan.bands, key=lambda band: -band[0]):  # widest first, underneath
            label = f"{level:.0%} interval" if first else None
            ax.fill_between(fx, low, high, label=label, gid=f"interval {level:g}", **styles[level])
        ax.plot(fx, fan.point, color=MODEL, linewidth=1.3, label="model forecast" if first else None, gid="forecast")
        ax.axvline(_plain_x(fan.origin), color="grey", linestyle=":", linewidth=0.9,
                   label="forecast origin" if first else None, gid="origin")  # fmt: skip
    if panel.split_start is not None:
        end = _plain_x(panel.fans[-1].x[-1] if panel.fans else panel.x[-1])
        ax.axvspan(_plain_x(panel.split_start), end, color="0.92", zorder=0, label="test split", gid="test split")
    ax.set_title(panel.title, fontsize=9)
    ax.set_ylabel(panel.ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if isinstance(panel.x, pd.DatetimeIndex):
        # deferred: matplotlib loads only when a plot is drawn
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.xaxis.get_offset_text().set_fontsize(7)
        if panel.x.tz is not None:
            ax.set_xlabel(f"time ({panel.x.tz})", fontsize=7)
    else:
        ax.set_xlabel("row within the series", fontsize=7)
        ax.xaxis.get_major_locator().set_params(integer=True)


def _draw_errors(ax: Axes, errors: StepErrors) -> None:
    """The MAE-per-step overview; each line's gid is its predictor's name."""
    styles = {"model": {"color": MODEL, "linewidth": 1.6}}
    baselines = [{"color": "tab:orange", "linestyle": "--"}, {"color": "tab:green", "linestyle": "-."}]
    for n, (name, mae) in enumerate(errors.mae.items()):
        style = styles.get(name) or baselines[(n - 1) % len(baselines)]
        steps = np.arange(1, len(mae) + 1)
        ax.plot(steps, mae, marker="o" if len(mae) <= 48 else None, markersize=3, label=name, gid=name, **style)
    ax.set_title(errors.title, fontsize=9)
    ax.set_xlabel("horizon step", fontsize=8)
    ax.set_ylabel(errors.ylabel, fontsize=8)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)


def _plain_x(x: Any) -> Any:
    """Stamps as naive datetime64 on their own wall clock (the axis names the zone), rows as they are."""
    if isinstance(x, pd.DatetimeIndex):
        return np.asarray(x.tz_localize(None) if x.tz is not None else x)
    if isinstance(x, pd.Timestamp):
        return (x.tz_localize(None) if x.tz is not None else x).to_datetime64()
    return np.asarray(x) if isinstance(x, pd.Index) else x


def plot_test(
    path: Path,
    name: str,
    prepared: Prepared,
    test_pred: np.ndarray,
    calibration: Calibration | None,
    chosen: list[int] | None = None,
):
    """forecast.png: for the `chosen` series (indices; default the first SERIES series of the test
    split), all their targets (MAX_PANELS panels at most), the actuals of its last few seasons with the model's
    whole-horizon forecasts from its last ORIGINS test origins (fewer where they would pass
    FORECAST_ROWS), a horizon apart, and their intervals; under them the MAE per horizon step
    over every test window against the baselines. `test_pred`: the model's raw test predictions
    (scaled)."""
    spec = prepared.spec
    test = prepared.origins["test"]
    which = prepared.series.series_of(test)
    count = min(ORIGINS, max(1, FORECAST_ROWS // spec.horizon))
    chosen = chosen or list(dict.fromkeys(which.tolist()))[:SERIES]
    picked = pick_origins(test, which, spec.horizon, count, chosen)
    names = prepared.series.target_names
    shown_series = list(dict.fromkeys(which[picked].tolist()))
    cells = [(s, k) for s in shown_series for k in range(len(names))]
    panels = [_test_panel(prepared, test_pred, calibration, picked[which[picked] == s], s, k)
              for s, k in cells[:MAX_PANELS]]  # fmt: skip
    fans = sorted({len(panel.fans) for panel in panels})
    steps = f"step {spec.horizon}" if spec.horizon == 1 else f"steps 1-{spec.horizon}"
    title = (
        f"{name}: test split, the model's forecasts of {steps} from the split's last "
        + (f"{'/'.join(map(str, fans))} origins, {spec.horizon} rows apart" if fans[-1] > 1 else "origin")
        + (", with their intervals" if calibration is not None else "")
    )
    left = []
    if prepared.series.ids is not None:
        every = len(np.unique(which))
        some = "the first" if chosen == list(dict.fromkeys(which.tolist()))[: len(chosen)] else "chosen:"
        left.append(f"{some} {len(shown_series)} of {every} series with test windows" if every > len(shown_series)
                    else f"all {every} series with test windows")  # fmt: skip
    if len(cells) > len(panels):
        left.append(f"{len(panels)} of {len(cells)} panels")
    title += f"\n({'; '.join(left)})" if left else ""
    return plot_fans(path, panels, title, step_errors(prepared, test_pred, calibration))


def chosen_series(names: list[str] | None, prepared: Prepared) -> list[int] | None:
    """metrics.plot_series (`names`, ids) as series indices, in their order; None: forecast.png's
    default choice. An id without test windows is refused, by validate and before training.

    Raises:
        ForecastError: an id that is not a series with test windows (exit 2).
    """
    if names is None:
        return None
    tested = set(prepared.series.series_of(prepared.origins["test"]).tolist())
    index = {str(name): s for s, name in enumerate(prepared.series.ids or []) if s in tested}
    unknown = [name for name in names if name not in index]
    if unknown:
        raise ForecastError(
            f"metrics.plot_series: '{unknown[0]}' has no test windows (not in the data, or too short for one)"
        )
    return [index[name] for name in dict.fromkeys(names)]


def pick_origins(origins: np.ndarray, which: np.ndarray, horizon: int, count: int, series: list[int]) -> np.ndarray:
    """Indices into `origins` (rows, each of series `which`): per series of `series` (indices, in
    that order; each with test origins), its last origin and up to `count - 1` before it, each at
    least `horizon` rows before the next, so their forecasts tile the end of the split without
    overlapping."""
    out = []
    for s in series:
        own = np.flatnonzero(which == s)
        chosen = [own[-1]]
        for j in own[::-1]:
            if len(chosen) == count:
                break
            if origins[j] <= origins[chosen[-1]] - horizon:
                chosen.append(j)
        out.extend(reversed(chosen))
    return np.asarray(out, dtype=np.int64)


def _test_panel(
    prepared: Prepared, test_pred: np.ndarray, calibration: Calibration | None, picked: np.ndarray, s: int, k: int
) -> Panel:
    """Target `k` of series `s`: its actuals from a little before the first picked origin (see
    `context_rows`) to the last one's horizon, and a fan per picked origin."""
    spec, series = prepared.spec, prepared.series
    origins = prepared.origins["test"][picked]
    which = np.full(len(picked), s)
    raw = test_pred[picked]
    point = calibration.point(raw) if calibration is not None else raw
    values = prepared.scalers.forecast_units(point, which)[..., k]
    bands = []
    if calibration is not None:
        scale = calibration.scale(prepared.y, origins, spec)
        for level, (low, high) in zip(calibration.levels, calibration.bounds(raw, scale), strict=True):
            bands.append((level, *(prepared.scalers.forecast_units(b, which)[..., k] for b in (low, high))))
    offsets = spec.target_offsets()
    context = context_rows(spec.horizon, prepared.seasonality)
    first = max(int(series.offsets[s]), int(origins[0]) + 1 - context)
    rows = np.arange(first, int(origins[-1] + offsets[-1]) + 1)

    def label(r):
        return series.times[r] if series.times is not None else r - int(series.offsets[s])

    fans = [
        Fan(label(int(o)), label(o + offsets), values[n], tuple((lv, lo[n], hi[n]) for lv, lo, hi in bands))
        for n, o in enumerate(origins)
    ]
    start = int(prepared.ends[s, 1])  # the test split's first row of this series
    name = series.target_names[k]
    return Panel(
        title=f"series '{series.ids[s]}': {name}" if series.ids is not None else name,
        ylabel=name,
        x=label(rows),
        actual=series.targets[rows, k],
        fans=fans,
        split_start=label(start) if first < start <= rows[-1] else None,
    )


def context_rows(horizon: int, season: int | None) -> int:
    """Actuals drawn before the first forecast: two seasons, or up to four where a horizon is
    longer; a horizon without a season (or with a season of one row)."""
    if not season or season < 2:
        return horizon
    return max(2 * season, min(horizon, 4 * season))


def step_errors(prepared: Prepared, test_pred: np.ndarray, calibration: Calibration | None) -> StepErrors:
    """MAE per horizon step over every test window: the model, repeat-last and (with a season)
    seasonal naive. In original units for one target of one series; else on scaled values (the
    units of several columns or series do not add up), as metrics.json's per_step."""
    spec, y, scalers = prepared.spec, prepared.y, prepared.scalers
    test = prepared.origins["test"]
    which = prepared.series.series_of(test)
    point = calibration.point(test_pred) if calibration is not None else test_pred
    true = spec.targets(y, test)
    predictors = {"model": scalers.clip_scaled(point, which), "repeat-last": spec.last_values(y, test)}
    if prepared.seasonality is not None:
        predictors[f"seasonal naive ({prepared.seasonality} rows)"] = spec.seasonal_values(
            y, test, prepared.seasonality
        )
    units = prepared.series.ids is None and y.shape[1] == 1
    if units:
        true = scalers.inverse_targets(true, which)
        predictors = {
            name: scalers.forecast_units(point, which) if name == "model" else scalers.inverse_targets(values, which)
            for name, values in predictors.items()
        }
    mae = {name: np.abs(true - values).mean(axis=(0, 2)) for name, values in predictors.items()}
    over = (
        []
        if units
        else [f"{y.shape[1]} targets" if y.shape[1] > 1 else "", "all series" if prepared.series.ids else ""]
    )
    scope = ", ".join(part for part in over if part)
    return StepErrors(
        title=f"MAE per horizon step over all {len(test):,} test windows"
        + ("" if units else f" (scaled values, mean over {scope})"),
        ylabel=f"MAE ({prepared.series.target_names[0]})" if units else "MAE (scaled)",
        mae=mae,
    )
