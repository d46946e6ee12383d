"""Statistical baselines (`metrics.baselines`): statsforecast's AutoETS and MSTL, scored beside
repeat-last and seasonal naive on exactly the model's val and test windows.

The only module that imports statsforecast (the optional extra `forecast[stats]`), and only when a
run asks for a baseline: importing forecast, `--help` and `validate` never load it, and a run that
has a baseline can still be predicted from, exported and summarised where the extra is absent
(only what scores the baselines, train and evaluate, needs it: `check_installed`).

Fitting is bounded: each model is fitted once per series and target column, on that series'
training rows (the rows the network learned from), and each window is then forecast from its own
history, every row of its series up to its origin, with those parameters (what statsforecast's
`forward` does for AutoETS, without a refit; see `forward`). A refit per origin would be the
textbook protocol but costs one model selection per window.

MSTL (`mstl`) is statsforecast's: a seasonal component per season (STL) and AutoETS without a
season on the rest, fitted once on the training rows. Its `forward` re-runs the decomposition over
each window's whole history and AutoETS forward over the deseasonalised rows; the decomposition is
the cost (seconds per window on half-hourly data), so here it runs at most `MSTL_DECOMPOSITIONS`
times per series and target: the windows, in time order, are cut into that many blocks, and each
block's windows are deseasonalised and forecast with the decomposition of the history up to the
block's first origin, each seasonal component continued from its last season as MSTL's forecast
continues it. With a block per window this is `forward` exactly; on the benchmark's 60 daily test
windows, 12 blocks gave MASE 0.819 against 0.805 (elecdaily) and 0.907 against 0.907 (hyndsight).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from typing import TYPE_CHECKING

import numpy as np

from forecast.errors import ForecastError

if TYPE_CHECKING:
    from forecast.prepare import Prepared
    from forecast.windows import WindowSpec

# values (the series' rows through its last scored origin), its training rows' count, origins
# (rows of `values`) -> forecasts (origins, horizon)
Forecaster = Callable[[np.ndarray, int, np.ndarray], np.ndarray]
MSTL_DECOMPOSITIONS = 12  # most decompositions per series and target: each refreshes the seasonal shape


def check_installed(names: list[str]) -> None:
    """Refuse baselines the extra is not installed for, naming the key (exit 2): train (before a run
    directory exists), evaluate and validate call it; what needs no baseline never does.

    Raises:
        ForecastError: `names` is not empty and statsforecast cannot be imported.
    """
    if names and find_spec("statsforecast") is None:
        raise ForecastError(f"metrics.baselines: {names[0]} needs statsforecast: pip install 'forecast[stats]'")


def forecasts(
    prepared: Prepared, names: list[str], splits: list[str], seasons: list[int] | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Each baseline's forecasts of each split's windows, {split: {name: (windows, horizon, targets)}},
    in original units, in the order of `prepared.origins[split]`. `seasons`: mstl's (metrics.mstl_seasons,
    else `prepare.infer_seasons`; empty: the season alone)."""
    check_installed(names)
    out: dict[str, dict[str, np.ndarray]] = {split: {} for split in splits}
    spec, season = prepared.spec, prepared.season or 1  # the data's, even where seasonal naive cannot be scored
    chosen = sorted(set(seasons or [season]))
    fits: dict[str, Forecaster] = {
        "ets": lambda v, n, o: forward(fit_ets(v[:n], season), v, o, spec),
        "mstl": lambda v, n, o: mstl(v, n, o, chosen, spec),
    }
    for name in names:
        for split, values in per_series(prepared, splits, fits[name]).items():
            out[split][name] = values
    return out


def per_series(prepared: Prepared, splits: list[str], forecaster: Forecaster) -> dict[str, np.ndarray]:
    """`forecaster` run per series and target column over that series' rows: {split: forecasts}."""
    series, spec = prepared.series, prepared.spec
    out = {split: np.zeros((len(prepared.origins[split]), spec.horizon, series.targets.shape[1])) for split in splits}
    which = {split: series.series_of(prepared.origins[split]) for split in splits}
    for s in np.unique(np.concatenate(list(which.values()))):
        start, train_end = int(series.offsets[s]), int(prepared.ends[s, 0])
        rows = {split: np.flatnonzero(which[split] == s) for split in splits}
        last = max(int(prepared.origins[split][r].max()) for split, r in rows.items() if len(r))
        for k in range(series.targets.shape[1]):
            values = series.targets[start : last + 1, k].astype(np.float64)
            origins = np.concatenate([prepared.origins[split][r] for split, r in rows.items()]) - start
            found = forecaster(values, train_end - start, origins)
            at = 0
            for split, r in rows.items():
                out[split][r, :, k] = found[at : at + len(r)]
                at += len(r)
    return out


def forward(model, values: np.ndarray, origins: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """What `model.forward(values[: origin + 1], h)` forecasts for each origin (rows of `values`),
    (origins, horizon), from one pass over `values`.

    statsforecast's `forward` re-runs the fitted recursion over the whole history at every call: on
    ETTh1's 5,714 val and test windows x 7 targets that took over a minute, this way under a second.
    The recursion's state after row t is all a forecast from origin t needs, so one run yields every
    origin's state, and each forecast is the fitted model's own from that state (statsforecast's
    `forward_ets` and `pegelsfcast_C`, which `forward` itself calls; tests/test_baselines.py checks
    the two agree with `forward` called directly).
    """
    from statsforecast.ets import forward_ets, pegelsfcast_C  # deferred: an optional extra (forecast[stats])

    run = forward_ets(model.model_, values)  # states: (rows + 1, states); row t + 1 is after row t
    steps = spec.delay + spec.horizon - 1  # through the last target; the horizon's rows kept
    states = run["states"]
    return np.stack([pegelsfcast_C(steps, {**run, "states": states[o + 1 : o + 2]})[spec.delay - 1 :] for o in origins])


def fit_ets(values: np.ndarray, season: int):
    """AutoETS on `values`; with too few rows for a seasonal model, the best non-seasonal one."""
    from statsforecast.models import AutoETS  # deferred: an optional extra (forecast[stats])

    try:
        return AutoETS(season_length=season).fit(values)
    except (ValueError, NotImplementedError):  # statsforecast refuses seasons it cannot initialise
        if season == 1:
            raise
        return AutoETS(season_length=1).fit(values)


def mstl(values: np.ndarray, train: int, origins: np.ndarray, seasons: list[int], spec: WindowSpec) -> np.ndarray:
    """MSTL fitted on `values[:train]` and run forward to each origin (see the module's note):
    (origins, horizon). Seasons STL cannot take from the training rows (fewer than two of them, or
    of one row) are left out; with none left, AutoETS without a season."""
    from statsforecast.models import MSTL  # deferred: an optional extra (forecast[stats])

    usable = [s for s in seasons if s > 1 and 2 * s <= train]
    if not usable:
        return forward(fit_ets(values[:train], 1), values, origins, spec)
    model = MSTL(season_length=usable).fit(values[:train])
    out = np.zeros((len(origins), spec.horizon))
    order = np.argsort(origins)
    for block in np.array_split(order, min(len(order), MSTL_DECOMPOSITIONS)):
        first = int(origins[block].min())
        seasonal = _seasonal(values[: first + 1], usable, len(values) + spec.delay + spec.horizon)
        level = forward(model.trend_forecaster, values - seasonal[: len(values)], origins[block], spec)
        out[block] = level + seasonal[origins[block][:, None] + spec.delay + np.arange(spec.horizon)[None, :]]
    return out


def _seasonal(history: np.ndarray, seasons: list[int], rows: int) -> np.ndarray:
    """MSTL's seasonal components of `history`, summed, over `rows` rows: each continued past the
    history from its last season, as MSTL's forecast continues it."""
    from statsforecast.mstl import mstl  # deferred: an optional extra (forecast[stats])

    components = mstl(history, seasons).filter(regex="^seasonal").to_numpy()  # in `seasons`' (sorted) order
    n, at = len(history), np.arange(rows)
    out = np.zeros(rows)
    for column, period in zip(components.T, seasons, strict=True):
        out += np.where(at < n, column[np.minimum(at, n - 1)], column[n - period + (at - n) % period])
    return out
