"""The command line's arguments and options, typed once: `name: RunArg`, `folds: FoldsOpt = 3`.

Typer reads each parameter's `Annotated` type for its flag names and help; commands that share an
option share its alias here, so its spelling and help text are the same everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def arg(kind, help: str):
    """A positional argument's type, with its help (no default shown)."""
    return Annotated[kind, typer.Argument(help=help, show_default=False)]


def opt(kind, *names: str, help: str, **kwargs):
    """An option's type: `name: opt(int, "--folds", help="...") = 3`."""
    return Annotated[kind, typer.Option(*names, help=help, **kwargs)]


ConfigArg = arg(Path, "YAML config file.")
RunArg = arg(Path, "Run directory written by `forecast train`.")
EnsembleArg = arg(
    list[Path],
    "Run directory written by `forecast train`; several, or a `--repeats` directory, forecast as an ensemble "
    "(their forecasts averaged).",
)
SetOpt = opt(
    Optional[list[str]], "--set", help="Override a config key, e.g. --set model.layers[0].units=32 (repeatable)."
)
QuietOpt = opt(bool, "--quiet", "-q", help="Print only the result (table, JSON or CSV).")
MetricOpt = opt(str, "--metric", help="Rank by this metrics.json path (lower is better).")
OutputOpt = opt(Optional[Path], "--output", "-o", help="Write the result here ('-': stdout; a link: its target).")
RunDirOpt = opt(Optional[Path], "--run-dir", help="Write the run here instead of runs/<name>-<time>/.")
ResumeOpt = opt(Optional[Path], "--resume", help="Continue an interrupted run from its last completed epoch.")
RepeatsOpt = opt(int, "--repeats", min=1, help="Train with seeds seed, seed+1, ... and report mean ± std.")
DataOpt = opt(Optional[Path], "--data", help="Evaluate on this file instead of the run's data.path.")
SplitOpt = opt(Optional[str], "--split", help="val or test (default: both).")
RequireOpt = opt(
    Optional[list[str]],
    "--require",
    help="Gate: 'test.model.mae<=0.5', 'val.scaled.model.mse<0.45', beats-naive (-seasonal-naive, -ets, -mstl) "
    "or beats-baselines; exit 1 if unmet (repeatable).",
)
SeriesOpt = opt(Optional[Path], "--data", help="Series to forecast from (default: the run's data.path).")
OriginsOpt = opt(bool, "--all-origins", help="Forecast from every origin, not only the last row.")
PredictionsOpt = opt(
    Optional[Path],
    "--output",
    "-o",
    help="Write here, by extension: .csv, .parquet, .npy (the array) or .npz (array and labels); '-': stdout (CSV).",
)
LayoutOpt = opt(
    str,
    "--format",
    help="long: a row per origin, step and target; wide: a row per origin and target, columns step_1..step_H.",
)
PlotOpt = opt(
    Optional[Path],
    "--plot",
    help="Also draw FILE.png: the forecast after each series' end, with its intervals and the end of its history.",
)
PlotSeriesOpt = opt(
    Optional[list[str]], "--series", help="With --plot: a panel's series to draw, by id (repeatable; default: first 3)."
)
SourceArg = arg(Path, "A run directory, or a config to train first.")
FoldsOpt = opt(int, "--folds", min=1, help="Consecutive test folds.")
RefitOpt = opt(bool, "--refit", help="Train a model per fold on all rows before it (expanding window).")
GridOpt = opt(Path, "--grid", help="YAML mapping dotted keys to lists of values.", show_default=False)
RandomOpt = opt(Optional[int], "--random", min=1, help="Run N random draws of the grid instead of all of it.")
ShardOpt = opt(Optional[str], "--shard", help="Run shard I/N of the trials (default: from SLURM_ARRAY_TASK_ID/COUNT).")
SweepDirOpt = opt(Optional[Path], "--sweep-dir", help="Default: sweeps/<name>-<time>; shards share one.")
RestartOpt = opt(
    bool,
    "--restart",
    help="The sweep directory holds another plan (config, data, grid or space): remove its trials and start over.",
)

OptionalMetricOpt = opt(
    Optional[str], "--metric", help="Rank by this metrics.json path (default: val.model.mae; a study's own metric)."
)
TuneDirOpt = opt(
    Optional[Path],
    "--sweep-dir",
    help="Default: sweeps/<name>-tune-<time>; workers (processes, array tasks) share one.",
)
TuneMetricOpt = opt(str, "--metric", help="Minimise this metrics.json path (choose on val, never test).")
SpaceOpt = opt(Optional[Path], "--space", help="YAML mapping dotted keys to distributions (docs/tuning.md).")
TrialsOpt = opt(int, "--trials", min=1, help="Trials in the study, all workers together.")
StudyOpt = opt(Optional[str], "--study", help="Study name (default: the sweep directory's name).")
StorageOpt = opt(
    Optional[str], "--storage", help="Database URL or journal:PATH (default: sqlite:///SWEEP_DIR/study.db)."
)
TimeoutOpt = opt(Optional[float], "--timeout", min=0, help="Start no trial after this many seconds.")
SamplerOpt = opt(str, "--sampler", help="tpe (Bayesian, seeded from the config's seed) or random.")
PrunerOpt = opt(str, "--pruner", help="median, halving (successive halving) or none, on each epoch's val_loss.")
JobsOpt = opt(int, "--jobs", "-j", min=1, help="Worker processes on this machine, sharing the study.")
BestOpt = opt(Optional[Path], "--best", help="Print the best trial's config of this tuning directory as YAML.")
ExportFormatOpt = opt(str, "--format", help="saved_model (TensorFlow) or onnx.")
ExportOutputOpt = opt(
    Path, "--output", "-o", help="The SavedModel directory or .onnx file to write.", show_default=False
)
PredictShardOpt = opt(
    Optional[str],
    "--shard",
    help="Forecast series I, I+N, ... only (a panel; default: SLURM_ARRAY_TASK_ID/COUNT); --output needs {shard}.",
)
TemplateOpt = opt(
    Optional[Path],
    "--template",
    help="Write the future rows each series needs (.csv or .parquet) to fill in, instead of forecasting.",
)
DebugOpt = opt(bool, "--debug", help="Show Python tracebacks on errors.")
OptionalConfigArg = arg(Optional[Path], "YAML config file.")
SweepDirArg = arg(Path, "A sweep directory (shards merged).")
RunsArg = arg(list[Path], "Two or more run directories.")
DatasetArg = arg(str, "Dataset: jena (Jena climate 2009-2016, 10-minute rows).")
DestOpt = opt(Path, "--dest", help="Folder to write the CSV into.")
UrlOpt = opt(Optional[str], "--url", help="Download from here instead of the official address.")
Sha256Opt = opt(Optional[str], "--sha256", help="Expected SHA-256 of the archive.")
SizeOpt = opt(Optional[int], "--size", help="Expected size of the archive in bytes (default: the official one's).")
FrequencyArg = arg(str, "M4 frequency: Yearly, Quarterly, Monthly, Weekly, Daily or Hourly (any case).")
SourceOpt = opt(
    Optional[Path],
    "--source",
    help="Folder holding {Frequency}-train.csv and -test.csv (default: download them from Mcompetitions/M4-methods).",
)
