"""Statistical baselines (`metrics.baselines`): statsforecast's AutoETS, scored beside repeat-last
and seasonal naive on exactly the model's val and test windows.

The only module that imports statsforecast (the optional extra `forecast[stats]`), and only when a
run asks for a baseline: importing forecast, `--help` and `validate` never load it.

Fitting is bounded: AutoETS is fitted once per series and target column, on that series' training
rows (the rows the network learned from), and each window is then forecast from its own history,
every row of its series up to its origin, with those parameters (what statsforecast's `forward`
does, without a refit; see `forward`). A refit per origin would be the textbook protocol but
costs one model selection per window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from forecast.prepare import Prepared
    from forecast.windows import WindowSpec


def forecasts(prepared: Prepared, names: list[str], splits: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """Each baseline's forecasts of each split's windows, {split: {name: (windows, horizon, targets)}},
    in original units, in the order of `prepared.origins[split]`."""
    if not names:
        return {split: {} for split in splits}
    return {split: {"ets": values} for split, values in ets(prepared, splits).items()}


def ets(prepared: Prepared, splits: list[str]) -> dict[str, np.ndarray]:
    """AutoETS (season: `prepared.seasonality`, else none) per series and target: see the module's note."""
    series, spec = prepared.series, prepared.spec
    out = {split: np.zeros((len(prepared.origins[split]), spec.horizon, series.targets.shape[1])) for split in splits}
    which = {split: series.series_of(prepared.origins[split]) for split in splits}
    for s in np.unique(np.concatenate(list(which.values()))):
        start, train_end = int(series.offsets[s]), int(prepared.ends[s, 0])
        rows = {split: np.flatnonzero(which[split] == s) for split in splits}
        last = max(int(prepared.origins[split][r].max()) for split, r in rows.items() if len(r))
        for k in range(series.targets.shape[1]):
            values = series.targets[start : last + 1, k].astype(np.float64)
            model = fit_ets(values[: train_end - start], prepared.seasonality or 1)
            for split, r in rows.items():
                out[split][r, :, k] = forward(model, values, prepared.origins[split][r] - start, spec)
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
