"""What a run reports, as types: importable without Keras or TensorFlow (a dashboard, a CI script or
an orchestrator reads results without the framework).

metrics.json is `Metrics.to_dict()`; every reader goes through `Metrics.from_dict` or the one
dotted-path helper `lookup`, so the layout is written down in one place:

    {"val":  {"model": {mae, rmse, mse, mape}, "naive": {...},
              "scaled": {"model": {...}, "naive": {...}}, "windows": n},
     "test": {...},
     "epochs_run": ..., "best_epoch": ..., ... (training statistics, absent from `forecast evaluate`)}
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from forecast import config as cfg

SPLITS = ("train", "val", "test")  # chronological order; windows belong to the split of their targets
SCORED = SPLITS[1:]  # the splits a run is scored on
PREDICTORS = ("model", "naive")  # the model and the common-sense baseline (repeat the last value)
# every baseline a split may hold, by metrics.json key, and as the verdict names it
BASELINES = {"naive": "repeat-last", "seasonal_naive": "seasonal naive", "ets": "AutoETS", "mstl": "MSTL"}
STATISTICAL = ("ets", "mstl")  # metrics.baselines: scored in original units only


def lookup(tree: Mapping[str, Any], path: str) -> Any:
    """`lookup(m, "test.scaled.model.mae")`: the node at a dotted path.

    Raises:
        KeyError: naming the whole path, when any part of it is missing.
    """
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}: the inverse view of `lookup`."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def mean_std(values: Iterable[float]) -> dict[str, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    values = [float(v) for v in values]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return {"mean": mean, "std": std}


def aggregate(trees: list[Any]) -> Any:
    """Every number of same-shaped results replaced by its `mean_std` across them (repeats, folds).

    Keys missing from any tree are dropped; a number missing (None) from some trees is averaged over
    the others (a base that diverged on one seed, a MAPE undefined on one fold); strings and booleans
    are taken from the first where they agree, else counted (the bases model.base auto kept on
    different seeds: "ets (2), seasonal_linear (1)").
    """
    first = trees[0]
    if isinstance(first, Mapping):
        keys = [k for k in first if all(isinstance(t, Mapping) and k in t for t in trees)]
        return {k: aggregate([t[k] for t in trees]) for k in keys}
    numbers = [t for t in trees if isinstance(t, (int, float)) and not isinstance(t, bool)]
    if numbers and all(t is None or t in numbers for t in trees):
        return mean_std(numbers)
    if isinstance(first, str) and any(t != first for t in trees):
        counts = Counter(str(t) for t in trees)
        return ", ".join(f"{value} ({counts[value]})" for value in sorted(counts))
    return first


def means(aggregated: Any) -> Any:
    """An `aggregate` with each {mean, std} replaced by its mean: the shape of a single result."""
    if isinstance(aggregated, Mapping):
        if set(aggregated) == {"mean", "std"}:
            return aggregated["mean"]
        return {k: means(v) for k, v in aggregated.items()}
    return aggregated


@dataclass(frozen=True)
class Scores:
    """Errors averaged over every window, horizon step and target column."""

    mae: float
    rmse: float
    mse: float
    mape: float | None  # None where actuals come near zero: a percentage of ~0 means nothing
    smape: float | None = None  # mean of 200 |y - f| / (|y| + |f|), in percent (M4's definition)
    mase: float | None = None  # mean over windows and targets of MAE / in-sample seasonal-naive MAE

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scores:
        optional = {"smape", "mase"}  # absent from runs scored before they existed
        present = [f.name for f in fields(cls) if f.name not in optional or f.name in d]
        return cls(**{name: None if d[name] is None else float(d[name]) for name in present})

    def to_dict(self) -> dict[str, float | None]:
        """As metrics.json holds it: sMAPE and MASE only where they were computed."""
        return {k: v for k, v in asdict(self).items() if k not in ("smape", "mase") or v is not None}


@dataclass(frozen=True)
class SplitScores:
    """One split's errors: model and naive baseline, in original units and on scaled values."""

    windows: int
    model: Scores
    naive: Scores
    scaled_model: Scores
    scaled_naive: Scores
    seasonal_naive: Scores | None = None  # absent when the data has no season (see metrics.seasonality)
    scaled_seasonal_naive: Scores | None = None
    ets: Scores | None = None  # metrics.baselines: [ets] (original units only)
    mstl: Scores | None = None  # metrics.baselines: [mstl] (original units only)
    # MAE per target column (original units) and per horizon step (scaled: columns share no unit)
    per_target: dict[str, dict[str, float]] | None = None  # {column: {"model": mae, "naive": mae}}
    per_step: dict[str, list[float]] | None = None  # {"model": [mae step 1, ...], "naive": [...]}
    # prediction intervals (see forecast.intervals.scores): {"coverage_95": ..., ..., "naive": {...}}
    intervals: dict[str, Any] | None = None

    @property
    def beats_naive(self) -> bool:
        """The model's MAE is below the repeat-last baseline's (original units)."""
        return self.model.mae < self.naive.mae

    @property
    def beats_seasonal_naive(self) -> bool | None:
        """The model's MAE is below the seasonal-naive baseline's; None without a season."""
        return None if self.seasonal_naive is None else self.model.mae < self.seasonal_naive.mae

    def baselines(self) -> dict[str, Scores]:
        """Every baseline this split was scored with, by metrics.json key (see BASELINES)."""
        return {key: scores for key in BASELINES if (scores := getattr(self, key)) is not None}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model.to_dict(), "naive": self.naive.to_dict()}
        scaled: dict[str, Any] = {"model": self.scaled_model.to_dict(), "naive": self.scaled_naive.to_dict()}
        if self.seasonal_naive is not None and self.scaled_seasonal_naive is not None:
            out["seasonal_naive"] = self.seasonal_naive.to_dict()
            scaled["seasonal_naive"] = self.scaled_seasonal_naive.to_dict()
        for name in STATISTICAL:
            if (found := getattr(self, name)) is not None:
                out[name] = found.to_dict()
        out = {**out, "scaled": scaled, "windows": self.windows}
        if self.per_target is not None:
            out["per_target"] = self.per_target
        if self.per_step is not None:
            out["per_step"] = self.per_step
        if self.intervals is not None:
            out["intervals"] = self.intervals
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SplitScores:
        seasonal = "seasonal_naive" in d and "seasonal_naive" in d["scaled"]
        return cls(
            windows=int(d["windows"]),
            model=Scores.from_dict(d["model"]),
            naive=Scores.from_dict(d["naive"]),
            scaled_model=Scores.from_dict(d["scaled"]["model"]),
            scaled_naive=Scores.from_dict(d["scaled"]["naive"]),
            seasonal_naive=Scores.from_dict(d["seasonal_naive"]) if seasonal else None,
            scaled_seasonal_naive=Scores.from_dict(d["scaled"]["seasonal_naive"]) if seasonal else None,
            **{name: Scores.from_dict(d[name]) for name in STATISTICAL if name in d},
            per_target=d.get("per_target"),
            per_step=d.get("per_step"),
            intervals=d.get("intervals"),
        )


@dataclass(frozen=True)
class Margin:
    """The model against one baseline on one score: `change` = model / baseline - 1 (below 0: better)."""

    baseline: str  # a key of BASELINES
    metric: str  # mae, rmse or mase
    change: float

    def __str__(self) -> str:
        return f"{self.metric.upper()} {100 * self.change:+.1f} %"


@dataclass(frozen=True)
class Verdict:
    """One split's honest verdict: the model against the baseline it comes closest to losing to (or
    loses to worst), the baseline with the largest margin of all, on MAE, RMSE and MASE together."""

    split: str
    baseline: str  # a key of BASELINES
    margins: tuple[Margin, ...]  # the model against that baseline, one per score compared

    @property
    def beats(self) -> bool:
        """The model is better than every baseline on every score compared (a tie is no win)."""
        return all(m.change < 0 for m in self.margins)

    def __str__(self) -> str:
        name = BASELINES[self.baseline]
        if self.beats:
            return f"beats every baseline on {self.split} (closest: {name}, {', '.join(map(str, self.margins))})"
        return f"loses to {name} on {self.split} ({self._lost()})"

    def cell(self) -> str:
        """The verdict in a table cell: yes, or NO and what the model lost on."""
        return "yes" if self.beats else f"NO: {BASELINES[self.baseline]} {self._lost()}"

    def _lost(self) -> str:
        return ", ".join(str(m) for m in self.margins if m.change >= 0)


def verdict(split: str, scores: SplitScores, mase: bool) -> Verdict:
    """`scores`' model against every baseline it holds, on MAE and RMSE, and on MASE with `mase`
    (where a season is known) when both sides have it."""
    margins = {}
    for key, base in scores.baselines().items():
        pairs = [("mae", scores.model.mae, base.mae), ("rmse", scores.model.rmse, base.rmse)]
        if mase and scores.model.mase is not None and base.mase is not None:
            pairs.append(("mase", scores.model.mase, base.mase))
        margins[key] = tuple(Margin(key, name, _change(m, b)) for name, m, b in pairs)
    key = max(margins, key=lambda k: max(m.change for m in margins[k]))
    return Verdict(split, key, margins[key])


def _change(model: float, baseline: float) -> float:
    """model / baseline - 1, with a perfect baseline (0) beaten by nothing and tied only by 0."""
    if baseline > 0:
        return model / baseline - 1
    return 0.0 if model == baseline else math.inf


@dataclass(frozen=True)
class TrainingStats:
    """How the fit went: written by `forecast train`, absent from `forecast evaluate`."""

    epochs_run: int
    best_epoch: int
    train_seconds: float  # the fit's; where model.base auto trained two bases, both fits'
    samples_per_second: float  # training windows (as batch_size counts them) per second of fit
    parameters: int
    backend: str
    device: str
    replicas: int = 1
    # sequences the network processed per second: samples_per_second x channels under
    # channel_independent (each window becomes one univariate sequence per channel), else equal
    sequences_per_second: float | None = None  # None: a run from before it was recorded
    # what ended the fit: "epochs" (it ran all training.epochs) or "early_stopping"; None: nothing
    # was trained (model.cell: naive) or a run from before it was recorded
    stopped_by: str | None = None
    # the base forecast the network was built with (model.base, auto resolved for the data); None:
    # a run from before it was recorded
    base: str | None = None
    # whole seasons its seasonal part averages (model.base_seasons, as resolved; 1: seasonal naive);
    # None: no seasonal base, or a run from before it was recorded
    base_seasons: int | None = None
    # model.base auto's bases and the validation loss of each one's kept weights (None: it diverged),
    # where it trained several and kept `base`, the lowest (`lifecycle._choose_base`); None: one base
    base_losses: dict[str, float | None] | None = None

    @property
    def capped(self) -> bool:
        """The fit ran out of epochs while still improving: its best epoch is its last, so more
        epochs would probably have helped (the model may not have converged)."""
        return self.stopped_by == "epochs" and self.best_epoch == self.epochs_run


@dataclass(frozen=True)
class Metrics:
    """Everything metrics.json holds: scores per split, and training statistics after a fit."""

    splits: dict[str, SplitScores]
    training: TrainingStats | None = None
    seasonality: int | None = None  # rows per season of the seasonal-naive baseline
    filled: dict[str, int] | None = None  # missing values data.fill treated, per column (absent: none)
    series: int | None = None  # a panel's series count
    series_skipped: int | None = None  # a panel's series too short for one window (none of their windows scored)

    @property
    def val(self) -> SplitScores:
        return self.splits["val"]

    @property
    def test(self) -> SplitScores:
        return self.splits["test"]

    def verdicts(self) -> dict[str, Verdict]:
        """Each split's honest verdict against its best baseline (MASE counted where a season is known)."""
        return {name: verdict(name, s, self.seasonality is not None) for name, s in self.splits.items()}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: scores.to_dict() for name, scores in self.splits.items()}
        if self.training is not None:
            out.update({k: v for k, v in asdict(self.training).items() if v is not None})
        if self.seasonality is not None:
            out["seasonality"] = self.seasonality
        if self.filled:
            out["filled"] = dict(self.filled)
        if self.series is not None:
            out["series"], out["series_skipped"] = self.series, self.series_skipped or 0
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Metrics:
        splits = {name: SplitScores.from_dict(d[name]) for name in SCORED if name in d}
        names = {f.name for f in fields(TrainingStats)}
        training = TrainingStats(**{k: d[k] for k in names if k in d}) if "epochs_run" in d else None
        return cls(splits, training, d.get("seasonality"), d.get("filled"), d.get("series"), d.get("series_skipped"))

    def get(self, path: str) -> Any:
        """A value by its metrics.json path, e.g. `get("val.scaled.model.mse")`."""
        return lookup(self.to_dict(), path)


SCORE_NAMES = tuple(f.name for f in fields(Scores))
# Every numeric path of a training run's metrics.json: what --metric and --require can name.
METRIC_PATHS = frozenset(
    [
        f"{split}.{scale}{who}.{name}"
        for split in SCORED
        for scale in ("", "scaled.")
        for who in (*PREDICTORS, "seasonal_naive")
        for name in SCORE_NAMES
    ]
    + [f"{split}.{who}.{name}" for split in SCORED for who in STATISTICAL for name in SCORE_NAMES]
    + [f"{split}.windows" for split in SCORED]
    + [f.name for f in fields(TrainingStats) if f.type in ("int", "float", "float | None")]
    + ["seasonality", "series", "series_skipped"]
)
_INTERVAL_PATH = re.compile(
    r"^(val|test)\.intervals\.(naive\.)?((coverage|width|interval_score|msis|acd)_[0-9_]+|pinball)$"
)


def is_metric_path(path: str) -> bool:
    """Whether `path` names a number of a training run's metrics.json: one of METRIC_PATHS, or an
    interval score (`test.intervals.coverage_95`, `val.intervals.naive.msis_95`), whose levels
    the config chooses."""
    return path in METRIC_PATHS or bool(_INTERVAL_PATH.match(path))


@dataclass(frozen=True)
class Repeats:
    """One run per seed, and mean ± std of every metric across them (repeats.json)."""

    seeds: list[int]
    runs: list[Any]  # each seed's run (rundir.Run)
    summary: dict[str, Any] = field(repr=False)

    @property
    def means(self) -> Metrics:
        """The mean of every metric, in the shape of one run's metrics (a string the seeds disagree
        on, such as the base auto kept, is their counts: "ets (2), seasonal_linear (1)")."""
        return Metrics.from_dict(means(self.summary))


@dataclass(frozen=True)
class Validation:
    """What `forecast validate` reports: the data, the split, the windows and the model's size."""

    config: cfg.Config
    rows: int
    feature_names: list[str]
    target_names: list[str]
    borders: tuple[int, int, int]
    windows: dict[str, int]
    input_shape: tuple[int, int]
    output_shape: tuple[int, ...]  # (horizon, targets); a quantile model (horizon, quantiles, targets)
    parameters: int
    cudnn_blockers: list[str]
    notes: list[str]
    series: int = 1
    series_skipped: int = 0
    extras: dict[str, Any] = field(default_factory=dict)  # a panel model's other inputs and their sizes
    base: str = "none"  # the base the model is built with: model.base, auto as decided with the data
    base_seasons: int | None = None  # seasons its seasonal part averages (1: seasonal naive); None: no seasonal part
    rivals: list[str] = field(default_factory=list)  # bases auto trains beside `base`, the better on validation kept
