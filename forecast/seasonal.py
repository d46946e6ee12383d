"""How many seasons the seasonal base averages (`model.base_seasons`), and its forecast in numpy.

Seasonal naive repeats the last season, noise and all: every forecast inherits that season's one-off
highs and lows. The seasonal profile averages each point of the season over the window's last k
seasons and moves the average from their mean level to the last season's, which keeps the shape and
the current level and drops most of the noise (what ETS's seasonal smoothing and seasonal ARIMA's
seasonal moving average do with a parameter; here with none). Where the season itself changes from
one season to the next (half-hourly data's days within a week), the average blurs it, and the last
season alone is the better guess. Neither forecast fits anything, so which one forecasts the
training windows better is a fair choice between them, made once per run on the training rows;
on issue 33's benchmark (bench/realdata.py) it chose the profile on the monthly, weekly, daily
and quarterly series and seasonal naive on half-hourly demand, as their validation scores would.

Pure numpy: `layers.SeasonalNaive` computes the same forecast in the graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from forecast.errors import ForecastError
from forecast.model import choose_season, seasonal_lags
from forecast.windows import WindowSpec

if TYPE_CHECKING:
    from forecast.config import schema as cfg

MAX_WINDOWS = 20_000  # training windows compared, evenly spread: plenty for two MAEs


def whole_seasons(spec: WindowSpec, season: int) -> int:
    """Seasons the window holds at every target's point of the season, and whole for the level
    (1 where the sampled rows do not repeat the season): the most the profile can average."""
    if season % spec.step:
        return 1
    period, reach = season // spec.step, max(seasonal_lags(spec, season))
    return max(1, min(1 + (spec.timesteps - 1 - reach) // period, spec.timesteps // period))


def check_seasons(spec: WindowSpec, season: int, seasons: int) -> None:
    """Refuse `seasons` the window cannot hold, or a season the sampled rows do not repeat.

    Raises:
        ForecastError: naming model.base_seasons and what it needs (exit 2).
    """
    if seasons == 1:
        return
    if season % spec.step:
        raise ForecastError(
            f"model.base_seasons={seasons}: a season of {season} rows is not a multiple of window.step ({spec.step}),"
            " so the sampled rows do not repeat it; set 1"
        )
    most = whole_seasons(spec, season)
    if seasons > most:
        raise ForecastError(
            f"model.base_seasons={seasons}: the {spec.timesteps}-timestep window holds {most} whole season(s) of "
            f"{season} rows at every target's point of the season; raise window.lookback or lower model.base_seasons"
        )


def forecast(y: np.ndarray, origins: np.ndarray, spec: WindowSpec, season: int, seasons: int) -> np.ndarray:
    """The seasonal base's forecast of the windows ending at `origins`, from rows `y` (rows, targets),
    reading the rows the window samples: (windows, horizon, targets). seasons 1: seasonal naive;
    more: the profile of the last `seasons` seasons, moved from their mean level to the last one's."""
    lags, period = np.array(seasonal_lags(spec, season)), season // spec.step

    def rows(back: np.ndarray) -> np.ndarray:  # timesteps back from each origin -> (windows, len(back), targets)
        return np.take(y, origins[:, None] - spec.step * back, axis=0)

    profile = np.mean([rows(lags + j * period) for j in range(seasons)], axis=0)
    if seasons == 1:
        return profile
    last, all_seasons = (rows(np.arange(n)).mean(axis=1, keepdims=True) for n in (period, seasons * period))
    return profile + last - all_seasons


def resolve_seasons(
    model: cfg.Model, chosen_by_auto: bool, spec: WindowSpec, season: int, y: np.ndarray, train: np.ndarray
) -> tuple[int, str | None]:
    """model.base_seasons for a seasonal base on this data, and a clause saying why where it was
    chosen here.

    Set in the config: that (checked). Unset: 1 for an explicit seasonal base, and under
    `model.base: auto` (`chosen_by_auto`) the most seasons the window holds where their profile
    forecasts the training windows (`train`, origins into the scaled targets `y`) with a lower MAE
    than the last season alone, else 1 (also where base_calendar is set: its profile is taken
    relative to the last season).

    Raises:
        ForecastError: base_seasons set where the window or step cannot take it (exit 2).
    """
    if model.base_seasons is not None:
        check_seasons(spec, season, model.base_seasons)
        return model.base_seasons, None
    most = whole_seasons(spec, season)  # 1 where window.step does not divide the season
    if not chosen_by_auto or model.base_calendar or most < 2:
        return 1, None
    sample = train[np.linspace(0, len(train) - 1, min(len(train), MAX_WINDOWS)).astype(int)]
    actual = spec.targets(y, sample)
    mae = {k: float(np.nanmean(np.abs(actual - forecast(y, sample, spec, season, k)))) for k in (1, most)}
    seasons = most if mae[most] < mae[1] else 1
    what = f"the profile of the window's {most} seasons" if seasons > 1 else "the last season"
    return seasons, (
        f"its seasonal part {what}, the better on the training windows "
        f"(MAE {mae[seasons]:.4f} against {mae[most if seasons == 1 else 1]:.4f}, scaled)"
    )


def resolve_ets(model: cfg.Model, spec: WindowSpec, season: int | None) -> tuple[int | None, int | None, str]:
    """`model.base: ets` on this data: its season (None: none, simple exponential smoothing), the
    whole seasons its profile averages (model.base_seasons, else every one the window holds), and
    the note train and validate print.

    The season is model.base_season's (of a list, the longest that fits the window and is a whole
    number of window.step rows), else the data's. One the window cannot hold, one that is not a
    whole number of window.step rows, or one of a single timestep leaves the level alone where the
    season was inferred (metrics.seasonality or the frequency's), and is refused where
    model.base_season names it.

    Raises:
        ForecastError: model.base_season or model.base_seasons the window cannot take (exit 2).
    """
    configured = model.base_season
    if isinstance(configured, list):  # the seasons the sampled rows repeat
        configured = [s for s in configured if s % spec.step == 0] or configured
    named = configured is not None
    why = None
    if (configured or season) is None:
        why = "no season known: set metrics.seasonality or model.base_season for a seasonal profile"
    else:
        try:
            chosen = choose_season(spec, configured, season, "ets")
        except ForecastError:
            if named:
                raise
            why, chosen = f"a season of {season} rows does not fit the {spec.timesteps}-timestep window", None
        if chosen is not None and chosen % spec.step:
            why = f"a season of {chosen} rows is not a multiple of window.step ({spec.step})"
        elif chosen is not None and chosen // spec.step < 2:
            why = f"a season of {chosen} rows is a single timestep at window.step {spec.step}"
        if why is not None and named:
            raise ForecastError(f"model.base_season: {why}; base ets needs a season of at least two timesteps")
    if why is not None:
        if model.base_seasons is not None:
            raise ForecastError(f"model.base_seasons: base ets has no season here ({why})")
        return None, None, f"model.base ets: the window's level, exponentially smoothed, without a season ({why})"
    seasons = model.base_seasons or whole_seasons(spec, chosen)
    check_seasons(spec, chosen, seasons)
    return (
        chosen,
        seasons,
        f"model.base ets: the profile of {seasons} season(s) of {chosen} rows, under the level exponentially smoothed",
    )
