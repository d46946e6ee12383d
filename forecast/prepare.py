"""The one prepare-and-check step: load, regularise, split, scale, and check the config against the data.

Every path that needs a config's data (train, resume, evaluate, backtest folds, sweep trials,
validate) goes through `prepare` or `arrange`, so every data-dependent check runs, in the same
order, before anything is trained or written, and no caller has to remember that order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import config as cfg
from forecast.data import InputSchema, Series, load_series
from forecast.errors import ForecastError
from forecast.memory import release_memory
from forecast.model import Extras, auto_rivals, choose_season, resolve_base, target_index
from forecast.panels import leading_rows
from forecast.results import SCORED, SPLITS
from forecast.scalers import Scalers, SeriesScalers
from forecast.scalers import fit as fit_scalers
from forecast.seasonal import resolve_ets, resolve_seasons
from forecast.timegrid import frequency
from forecast.windows import Feed, WindowSpec, seasonal_offsets


@dataclass
class Prepared:
    """A config's series, scaled, with its split borders and the origins of each split's windows.

    Attributes:
        series: the columns in original units, with their time axis (one series or a panel).
        scalers: fit on the training rows (or the run's own, when given).
        x: the model's window inputs (rows, columns): scaled features, then calendar features.
        y: scaled targets (rows, targets).
        spec: the window arithmetic.
        ends: exclusive end rows of train, val and test of each series, (series, 3), in all rows' numbering.
        origins: the windows of each split, by origin row (never crossing a series).
        target_index: where each target sits among the features (for instance norm).
        seasonality: rows per season of the seasonal-naive baseline; None when there is none.
        season: the data's rows per season (metrics.seasonality, else the frequency's; None: unknown),
            also where some scored window reaches back less than a season, so that seasonal naive
            cannot be scored: MASE's and the statistical baselines' (AutoETS, MSTL), which are
            fitted on every training row and read no window.
        base_season: rows per season of `model.base: seasonal_naive` (None for another base): its
            model.base_season, else the data's season, even where the baseline cannot be scored.
        model: the config's model section with `model.base: auto` resolved for this data
            (`model.resolve_base`), and under it `base_seasons` (`seasonal.resolve_seasons`): what
            builds and counts the network. config.model keeps what the user wrote.
        base_note: what auto chose and why, for train's and validate's stderr; None for an explicit base.
        rivals: the other bases auto trains beside `model` (`model.auto_rivals`), each as the model
            section and base_season that build it; the run keeps the one with the lower validation
            loss (`rival` gives its prepared data). Empty for an explicit base.
        extras: a panel model's inputs beside the window (future columns, static covariates).
        static: (series, numeric static) and categories: (series, categorical static codes).
        skipped: ids of the series too short for one window (they get none).
        mase_scale: per scored split, per series and target: the in-sample seasonal-naive MAE (original
            units) of the rows before that split, which MASE divides by.
    """

    series: Series
    scalers: Scalers | SeriesScalers
    x: np.ndarray
    y: np.ndarray
    spec: WindowSpec
    ends: np.ndarray
    origins: dict[str, np.ndarray]
    target_index: list[int]
    seasonality: int | None = None
    extras: Extras = field(default_factory=Extras)
    static: np.ndarray | None = None
    categories: np.ndarray | None = None
    skipped: list[str] = field(default_factory=list)
    mase_scale: dict[str, np.ndarray] = field(default_factory=dict)
    base_season: int | None = None
    model: cfg.Model = field(kw_only=True)
    base_note: str | None = field(default=None, kw_only=True)
    rivals: dict[str, tuple[cfg.Model, int | None]] = field(default_factory=dict, kw_only=True)
    season: int | None = field(default=None, kw_only=True)

    def rival(self, base: str) -> Prepared:
        """The same data prepared for one of `rivals`' bases (the arrays are shared, not copied)."""
        model, base_season = self.rivals[base]
        return replace(self, model=model, base_season=base_season, base_note=None, rivals={})

    @property
    def borders(self) -> tuple[int, int, int]:
        """The split's end rows (the first series' in a panel)."""
        return tuple(int(v - self.series.offsets[0]) for v in self.ends[0])  # type: ignore[return-value]

    @property
    def input_shape(self) -> tuple[int | None, int]:
        """(timesteps, columns) the model's window takes; None timesteps for a variable-length model."""
        return model_shapes(self.spec, self.series)[0]

    @property
    def output_shape(self) -> tuple[int, int]:
        """(horizon, targets) the model returns."""
        return model_shapes(self.spec, self.series)[1]

    def feed(self) -> Feed | None:
        """What the model reads beside the window, for `WindowDataset`; None without extras."""
        if not self.extras.any:
            return None
        return Feed(self.series.offsets, list(self.extras.future), self.static, self.categories)


def model_shapes(spec: WindowSpec, series: Series) -> tuple[tuple[int | None, int], tuple[int, int]]:
    """The (timesteps, columns) -> (horizon, targets) a run's model must have."""
    timesteps = None if spec.variable_length else spec.timesteps
    return (timesteps, len(series.feature_names) + len(series.calendar_names)), (spec.horizon, len(series.target_names))


def extras_of(config: cfg.Config, series: Series, scalers: Scalers | SeriesScalers) -> Extras:
    """A panel model's extra inputs: future covariates and calendar columns, static covariates."""
    n = len(series.feature_names)
    future = [series.feature_names.index(c) for c in config.data.covariates.future]
    future += [n + k for k in range(len(series.calendar_names))]
    encoder = scalers.static
    return Extras(
        future=future,
        static=len(encoder.numeric) if encoder else 0,
        categories=encoder.vocabularies if encoder else [],
        normalized=n if series.calendar_names else None,
    )


def split_ends(split: cfg.Split, series: Series) -> np.ndarray:
    """Exclusive end rows of train, val and test within each series, (series, 3), local row numbers.

    Each series is split on its own: fractions of its rows, its last rows (val_last/test_last),
    or borders (row numbers, or time stamps looked up in its own times).

    Raises:
        ForecastError: a row border lies past the end of a single series (naming the split).
    """
    starts = series.offsets[:-1]
    n = (series.history_ends - starts).astype(np.int64)
    form = split.form
    if form == "last":
        test = n
        val = n - split.test_last
        return np.stack([val - split.val_last, val, test], axis=1)
    if form == "borders":
        stamps = isinstance(split.train_end, str)
        if stamps and series.times is None:
            raise ForecastError("data.split: borders given as time stamps need data.time_column")
        ends = []
        for name, border in zip(SPLITS, (split.train_end, split.val_end, split.test_end), strict=True):
            if border is None:
                ends.append(n)
            elif stamps:
                ends.append(_rows_before(series, _stamp(border, name, series)))
            else:
                if series.ids is None and border > n[0]:
                    raise ForecastError(f"data.split: {name} ends at row {border} but the series has only {n[0]} rows")
                ends.append(np.minimum(border, n))
        return np.stack(ends, axis=1)
    train, val, test = (split.train, split.val, split.test) if split.train else (0.7, 0.1, 0.2)
    return np.stack([np.round(n * f) for f in (train, train + val, train + val + test)], axis=1).astype(np.int64)


def _stamp(border: str, name: str, series: Series):
    try:
        stamp = pd.Timestamp(border)
    except ValueError:
        raise ForecastError(f"data.split: {name}_end {border!r} is not a time stamp") from None
    tz = series.times.tz
    return stamp.tz_localize(tz) if tz is not None and stamp.tz is None else stamp


def _rows_before(series: Series, stamp) -> np.ndarray:
    """Per series, how many of its history rows lie before `stamp`."""
    stamps = series.times.as_unit("ns").asi8
    value = stamp.as_unit("ns").value
    before = (stamps < value).astype(np.int64)
    counts = np.add.reduceat(before, series.offsets[:-1]) if len(stamps) else np.zeros(0, np.int64)
    counts[np.diff(series.offsets) == 0] = 0
    return np.minimum(counts, series.history_ends - series.offsets[:-1])


def ranges(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """np.concatenate([np.arange(f, l + 1) for f, l in zip(first, last)]) without the loop."""
    counts = np.maximum(last - first + 1, 0)
    total = int(counts.sum())
    keep = counts > 0
    if total == 0:
        return np.zeros(0, np.int64)
    first, last, counts = first[keep], last[keep], counts[keep]
    # one array of steps, summed in place: +1 within a range, a jump to the next range's first
    # (int32 while row numbers fit: the training origins of a large panel are its biggest index)
    out = np.ones(total, dtype=np.int32 if int(last.max()) < 2**31 - 1 else np.int64)
    heads = np.cumsum(counts) - counts
    out[heads[1:]] = first[1:] - last[:-1]
    out[0] = first[0]
    return np.cumsum(out, out=out)


def origins_of(spec: WindowSpec, ends: np.ndarray, starts: np.ndarray, usable: np.ndarray) -> dict[str, np.ndarray]:
    """Origins per split, over every usable series. Inputs may reach back into the previous split
    (within the series); targets never cross a border or a series' end."""
    out = {}
    lower = np.concatenate([np.zeros((len(ends), 1), np.int64), ends[:, :2]], axis=1)
    for k, name in enumerate(SPLITS):
        first = np.maximum(lower[:, k] - spec.delay, spec.history)
        last = ends[:, k] - spec.delay - spec.horizon
        last = np.where(usable, last, first - 1)
        out[name] = ranges(starts + first, starts + last)
    return out


def split_borders(split: cfg.Split, n_rows: int) -> tuple[int, int, int]:
    """Exclusive end rows of train, val and test for a single series of `n_rows` rows (backtests).

    Raises:
        ForecastError: a row border lies past the end of the series (naming the split).
    """
    if split.form == "borders" and isinstance(split.train_end, str):
        raise ForecastError("backtest: data.split borders must be row numbers, not time stamps")
    ends = split_ends(split, Series(np.zeros((n_rows, 0)), np.zeros((n_rows, 0)), [], [], None))
    return tuple(int(v) for v in ends[0])  # type: ignore[return-value]


def prepare(
    config: cfg.Config,
    scalers: Scalers | SeriesScalers | None = None,
    path: Path | str | None = None,
    schema: InputSchema | None = None,
) -> Prepared:
    """Load the config's data (or `path` instead of data.path), then `arrange` it.

    Args:
        config: a validated config.
        scalers: a run's stored scalers; None fits new ones on the training rows.
        path: another file with the same columns (evaluate on new data).
        schema: a run's recorded input columns: the file's columns are matched by name.

    Returns:
        The prepared series. Every data problem raises a ForecastError (exit 2) here.
    """
    prepared = arrange(load_series(config.data, path, schema), config, scalers)
    release_memory()  # arrange's temporaries, before TensorFlow starts
    return prepared


def arrange(series: Series, config: cfg.Config, scalers: Scalers | SeriesScalers | None = None) -> Prepared:
    """Split, check and scale a loaded series or panel (backtests arrange one series under several splits)."""
    spec = WindowSpec.from_config(config.window)
    local = split_ends(config.data.split, series)
    starts = series.offsets[:-1]
    need = spec.history + spec.delay + spec.horizon
    usable = ((series.history_ends - starts) >= need) & (local[:, 0] > 0)
    skipped = [] if series.ids is None else [series.ids[i] for i in np.flatnonzero(~usable)]
    if skipped:
        series.notes.append(
            f"{len(skipped)} of {series.n_series} series are too short for one window of {need} rows "
            f"(or have no training rows) and were skipped (first: '{skipped[0]}')"
        )
    origins = origins_of(spec, local, starts, usable)
    _check_windows(spec, origins, local, series)
    targets = target_index(config.model, series.feature_names, series.target_names)
    train = leading_rows(series.offsets, np.maximum(local[:, 0], 0))
    if scalers is None:
        scalers = fit_scalers(config.scaler, series, train)
    else:
        if isinstance(scalers, SeriesScalers):  # a run's own: matched to this file's series by id
            scale_free = config.model.instance_norm != "none"
            scalers, notes = scalers.for_series(series, config.scaler, scale_free, "scaler.json", train, usable)
            series.notes.extend(notes)
        scalers.check(len(series.feature_names), len(series.target_names))
    x, y = scalers.transform(series)  # x: scaled features, then the calendar columns
    static = categories = None
    if series.static is not None and scalers.static is not None:
        static, categories = scalers.static.encode(series.static)
    season = config.metrics.seasonality or infer_seasonality(series.times, config.data.frequency, series.offsets)
    model, base_note = resolve_base(config.model, spec, season, series.feature_names, series.target_names)
    base_season = None
    if model.seasonal_base:  # refused here, before anything is trained
        base_season = choose_season(spec, model.base_season, season)
        seasons, why = resolve_seasons(model, base_note is not None, spec, base_season, y, origins["train"])
        if seasons != model.averaged_seasons:
            model = model.model_copy(update={"base_seasons": seasons})
        base_note = f"{base_note}; {why}" if why else base_note
    elif model.base == "ets":
        base_season, seasons, base_note = resolve_ets(model, spec, season)
        model = model.model_copy(update={"base_seasons": seasons})
    rivals = {}
    for base in auto_rivals(config.model, model.base) if base_note is not None else []:
        rival = config.model.model_copy(update={"base": base})
        try:
            rival_season, seasons, _ = resolve_ets(rival, spec, season)
        except ForecastError:  # a model.base_season ets cannot take (a single timestep): no rival
            continue
        if rival_season is not None:  # a seasonal ets: a season fits, as seasonal_linear's
            rivals[base] = (rival.model_copy(update={"base_seasons": seasons}), rival_season)
    if rivals:
        base_note += f"; {', '.join(rivals)} trained beside it, the base with the lower validation loss kept"
    ends = local + starts[:, None]
    # MASE's m is the data's season whether or not the seasonal-naive baseline can be scored
    mase = {split: mase_scales(series, ends[:, k], season or 1) for k, split in enumerate(SCORED)}
    seasonality = season
    if season is not None and _reaches_before(spec, origins, series, season):
        series.notes.append(f"seasonal naive: the scored windows reach back less than one season ({season} rows)")
        seasonality = None
    return Prepared(
        series, scalers, x, y, spec, ends, origins, targets, seasonality,
        extras_of(config, series, scalers), static, categories, skipped, mase, base_season,
        model=model, base_note=base_note, rivals=rivals, season=season,
    )  # fmt: skip


def _check_windows(spec: WindowSpec, origins: dict[str, np.ndarray], local: np.ndarray, series: Series) -> None:
    for k, name in enumerate(SPLITS):
        if len(origins[name]):
            continue
        start, end = (0 if k == 0 else int(local[0, k - 1])), int(local[0, k])
        need = spec.history + spec.delay + spec.horizon if name == "train" else spec.horizon
        where = f"the {name} split (rows {start} to {end}) has {end - start} rows"
        if series.ids is not None:
            where = f"no series has a full window in the {name} split"
        raise ForecastError(
            f"window: {where}, too few for one window (needs {need}); "
            "shorten window.lookback/delay/horizon or move data.split"
        )


def _reaches_before(spec: WindowSpec, origins: dict[str, np.ndarray], series: Series, season: int) -> bool:
    """Whether some scored window's seasonal-naive value lies before its series' first row."""
    reach = int(seasonal_offsets(spec, season).min())
    for split in SCORED:
        o = origins[split]
        if len(o) and ((o - series.offsets[series.series_of(o)]) + reach < 0).any():
            return True
    return False


CHUNK = 1 << 20  # rows at a time in per-row arithmetic over a panel


def mase_scales(series: Series, before: np.ndarray, season: int) -> np.ndarray:
    """Per series and target, the mean absolute seasonal difference |y[t] - y[t - m]| over the rows
    before `before` (each series' first scored row): the in-sample seasonal-naive MAE MASE divides by
    (Hyndman & Koehler 2006; M4's definition). NaN where a series has no such pair or it is 0."""
    y, n = series.targets, series.n_series
    out = np.full((n, y.shape[1]), np.nan)
    if len(y) <= season:
        return out
    of_row = series.row_series()
    inside = leading_rows(series.offsets, before - series.offsets[:-1])
    sums, counts = np.zeros((n, y.shape[1])), np.zeros(n)
    for start in range(season, len(y), CHUNK):  # a chunk of rows at a time: small temporaries
        rows = slice(start, start + CHUNK)
        earlier = slice(start - season, min(start + CHUNK, len(y)) - season)
        later = of_row[rows]
        pairs = (of_row[earlier] == later) & inside[rows]
        counts += np.bincount(later[pairs], minlength=n)
        for k in range(y.shape[1]):
            diff = np.abs(y[rows, k].astype(np.float64) - y[earlier, k])[pairs]
            sums[:, k] += np.bincount(later[pairs], weights=diff, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sums / counts[:, None]
    out[~(out > 0)] = np.nan
    return out


def infer_seasonality(times, declared: str | None = None, offsets: np.ndarray | None = None) -> int | None:
    """Rows per natural season of a series' frequency: a day for sub-daily data (24 hourly, 144 at
    10 minutes), a week for daily (7; 5 business days), a year for weekly, monthly and quarterly
    (52, 12, 4). None for yearly or irregular stamps, or without a time column."""
    offset = _offset(times, declared, offsets)
    if offset is None:
        return None
    if (per_day := _rows_per_day(offset)) is not None:
        return per_day
    if offset.n != 1:
        return None
    o = pd.offsets
    yearly = ((o.Day, 7), (o.BusinessDay, 5), (o.Week, 52), (o.MonthEnd, 12), (o.MonthBegin, 12),
              (o.QuarterEnd, 4), (o.QuarterBegin, 4))  # fmt: skip
    return next((count for kind, count in yearly if isinstance(offset, kind)), None)


def infer_seasons(times, declared: str | None, offsets: np.ndarray | None, season: int | None) -> list[int]:
    """The seasons of the mstl baseline (metrics.mstl_seasons unset): `season`, and a week of them
    where `season` is a day of sub-daily data (hourly: 24 and 168), the second season such data
    carries (MSTL's own examples: electricity demand by day and week); empty without a season."""
    if season is None:
        return []
    offset = _offset(times, declared, offsets)
    return [season, 7 * season] if offset is not None and _rows_per_day(offset) == season else [season]


def _offset(times, declared: str | None, offsets: np.ndarray | None):
    """The frequency as a pandas offset (None: no time column, or stamps with no frequency)."""
    if declared is None and times is not None and offsets is not None:
        times = times[: int(offsets[1])]  # a panel: the first series' own stamps
    # every stamp: a gap anywhere means no season
    name = declared if declared is not None else frequency(times) if times is not None else None
    return None if name is None else pd.tseries.frequencies.to_offset(name)


def _rows_per_day(offset) -> int | None:
    """Rows per day of a sub-daily frequency (None: daily or longer, or a step that does not divide a day)."""
    per_day = {pd.offsets.Hour: 24, pd.offsets.Minute: 1440, pd.offsets.Second: 86400}
    for kind, count in per_day.items():
        if isinstance(offset, kind):
            return count // offset.n if count % offset.n == 0 else None
    return None
