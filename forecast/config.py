"""The YAML config: one pydantic schema, loaded safely, with `--set` overrides and errors by dotted key.

This module must stay free of TensorFlow/Keras: `forecast validate` and `forecast --help` go through it.
"""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from forecast.errors import ForecastError

Fraction = Annotated[float, Field(gt=0, lt=1)]
Rate = Annotated[float, Field(ge=0, lt=1)]
PositiveInt = Annotated[int, Field(gt=0)]


class _Section(BaseModel):
    # strict: a string "64" is not an int; extra="forbid": a typo is an error, not a silent default.
    model_config = ConfigDict(extra="forbid", strict=True)


class _Switch(_Section):
    """A callback section that `early_stopping: false` can turn off in one word."""

    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _from_bool(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value


class Split(_Section):
    """Chronological split, as fractions of the rows or as row borders (exclusive ends).

    Windows belong to the split that holds their target rows; their input rows may reach back
    into the previous split (the standard protocol for ETTh1 and the Jena experiments).
    With nothing given, the split is 0.7 / 0.1 / 0.2.
    """

    train: Fraction | None = Field(None, description="Fraction of rows for training.")
    val: Fraction | None = Field(None, description="Fraction of rows for validation.")
    test: Fraction | None = Field(None, description="Fraction of rows for test.")
    train_end: PositiveInt | None = Field(None, description="First row after the training rows.")
    val_end: PositiveInt | None = Field(None, description="First row after the validation rows.")
    test_end: PositiveInt | None = Field(
        None, description="First row after the test rows (default: end of the series)."
    )

    @model_validator(mode="after")
    def _one_form(self) -> Split:
        fractions = [self.train, self.val, self.test]
        borders = [self.train_end, self.val_end, self.test_end]
        if any(v is not None for v in fractions) and any(v is not None for v in borders):
            raise ValueError("give fractions (train/val/test) or row borders (train_end/val_end/test_end), not both")
        if any(v is not None for v in fractions):
            if any(v is None for v in fractions):
                raise ValueError("fractions need all three of train, val and test")
            if sum(fractions) > 1 + 1e-9:
                raise ValueError(f"train + val + test = {sum(fractions):g} must be <= 1")
        if any(v is not None for v in borders):
            if self.train_end is None or self.val_end is None:
                raise ValueError("row borders need train_end and val_end (test_end defaults to the last row)")
            if not self.train_end < self.val_end < (self.test_end or self.val_end + 1):
                raise ValueError("row borders must increase: train_end < val_end < test_end")
        return self

    def borders(self, n_rows: int) -> tuple[int, int, int]:
        """Exclusive end rows of train, val and test for a series of `n_rows` rows."""
        if self.train_end is not None:
            ends = (self.train_end, self.val_end, self.test_end or n_rows)
            for name, end in zip(("train", "val", "test"), ends):
                if end > n_rows:
                    raise ForecastError(f"data.split: {name} ends at row {end} but the series has only {n_rows} rows")
            return ends  # type: ignore[return-value]
        train, val, test = (self.train, self.val, self.test) if self.train else (0.7, 0.1, 0.2)
        return round(n_rows * train), round(n_rows * (train + val)), round(n_rows * (train + val + test))


class Data(_Section):
    path: str = Field(
        "data/ETTh1.csv",
        description="CSV or Parquet file; a relative path is looked up beside the config file, then in the working directory.",
    )
    time_column: str | None = Field(None, description="Column parsed as datetime; rows must be sorted and unique in it.")
    time_format: str | None = Field(
        None, description="strptime format of the time column, e.g. '%d.%m.%Y %H:%M:%S' (default: inferred; ISO 8601 is safe)."
    )
    features: list[str] | None = Field(None, min_length=1, description="Input columns (default: every numeric column).")
    targets: list[str] | None = Field(None, min_length=1, description="Predicted columns (default: the features).")
    split: Split = Field(default_factory=Split)
    missing_values: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Sentinel values that mean 'missing', per column (Jena: {'wv (m/s)': [-9999.0]}); data.fill treats them.",
    )
    fill: Literal["none", "ffill", "interpolate", "drop"] = Field(
        "none", description="What to do with missing values; 'none' rejects a series that has any."
    )


class Window(_Section):
    """Chollet's Jena windowing: `lookback` rows of history sampled every `step` rows.

    The last input row is the newest row of history; targets are the `horizon` consecutive rows
    that start `delay` rows after it (delay 1 = the next row).
    """

    lookback: PositiveInt = Field(96, description="Rows of history the model sees.")
    step: PositiveInt = Field(1, description="Sampling period inside the window (input timesteps = lookback // step).")
    delay: PositiveInt = Field(1, description="Rows from the last input row to the first target row.")
    horizon: PositiveInt = Field(1, description="Consecutive target rows predicted at once.")
    variable_length: bool = Field(
        False, description="Build the model with None timesteps: trained on lookback windows, it can predict from any length."
    )

    @model_validator(mode="after")
    def _step_fits(self) -> Window:
        if self.step > self.lookback:
            raise ValueError(f"step ({self.step}) must be <= lookback ({self.lookback})")
        return self

    @property
    def timesteps(self) -> int:
        return self.lookback // self.step


class Scaler(_Section):
    """A scikit-learn scaler fit on the training rows only and stored with the run."""

    type: Literal["standard", "minmax", "robust", "none"] = Field("standard", description="Scaler kind.")
    feature_range: list[float] = Field(
        [0.0, 1.0], min_length=2, max_length=2, description="Output range of the minmax scaler."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _range_increases(self) -> Scaler:
        if not self.feature_range[0] < self.feature_range[1]:
            raise ValueError("feature_range must be [low, high] with low < high")
        return self


class Layer(_Section):
    units: PositiveInt = Field(64, description="Units of this recurrent layer.")
    dropout: Rate = Field(0.0, description="Dropout on the layer's inputs (keeps cuDNN).")
    recurrent_dropout: Rate = Field(0.0, description="Dropout on the recurrent state (rules cuDNN out).")


class Model(_Section):
    cell: Literal["lstm", "gru", "simple_rnn", "naive"] = Field(
        "lstm", description="Recurrent cell; 'naive' is the common-sense baseline (repeat the last value), nothing to train."
    )
    layers: list[Layer] = Field(default_factory=lambda: [Layer()], min_length=1, description="Stacked recurrent layers.")
    bidirectional: bool = Field(False, description="Wrap each recurrent layer in Bidirectional.")
    dropout_between: Rate = Field(0.0, description="Dropout layer after each recurrent layer.")
    l2: Annotated[float, Field(ge=0)] = Field(0.0, description="L2 penalty on the recurrent layers' kernels.")
    dense: list[PositiveInt] = Field(default_factory=list, description="Hidden Dense layers (relu) before the output.")
    instance_norm: Literal["none", "last", "mean"] = Field(
        "none", description="Subtract each window's last value or mean per channel, and add it back to the forecast."
    )
    instance_norm_affine: bool = Field(False, description="Learnable per-channel scale and bias after instance_norm (RevIN).")
    channel_independent: bool = Field(
        False, description="Run one shared network on each channel as its own series (targets must equal the features)."
    )
    channel_embedding: bool = Field(False, description="A learned embedding per channel in the parallel decoder's queries.")
    segment_len: PositiveInt | None = Field(
        None, description="Feed the RNN non-overlapping segments of this many timesteps (a Dense embedding each)."
    )
    decoder: Literal["dense", "parallel"] = Field(
        "dense", description="dense: one Dense to horizon x targets; parallel: SegRNN's one-step decoding of every output segment."
    )

    @model_validator(mode="after")
    def _options_fit(self) -> Model:
        if self.decoder == "parallel" and self.segment_len is None:
            raise ValueError("decoder: parallel decodes segments; set segment_len")
        if self.decoder == "parallel" and self.bidirectional:
            raise ValueError("decoder: parallel continues the encoder's state; it cannot be bidirectional")
        if self.channel_embedding and not (self.channel_independent and self.decoder == "parallel"):
            raise ValueError("channel_embedding needs channel_independent: true and decoder: parallel")
        if self.instance_norm == "none" and self.instance_norm_affine:
            raise ValueError("instance_norm_affine needs instance_norm: last or mean")
        return self


class ReduceLROnPlateau(_Switch):
    monitor: Literal["val_loss", "loss"] = "val_loss"
    factor: Fraction = 0.5
    patience: Annotated[int, Field(ge=0)] = 3
    min_lr: Annotated[float, Field(ge=0)] = 1e-5


class EarlyStopping(_Switch):
    monitor: Literal["val_loss", "loss"] = "val_loss"
    patience: Annotated[int, Field(ge=0)] = 6
    restore_best_weights: bool = True


class Training(_Section):
    optimizer: Literal["adam", "rmsprop", "sgd"] = "adam"
    learning_rate: Annotated[float, Field(gt=0)] = 1e-3
    loss: Literal["mse", "mae", "huber", "mape"] = "mse"
    epochs: PositiveInt = 20
    batch_size: PositiveInt = 64
    shuffle: bool = Field(True, description="Reshuffle the training windows every epoch (never across splits).")
    steps_per_epoch: PositiveInt | None = Field(
        None, description="Batches per epoch (default: all training windows once); epochs continue through a reshuffled stream."
    )
    validation_steps: PositiveInt | None = Field(
        None, description="Validation batches per epoch, spread evenly over the validation windows (default: all)."
    )
    distribute: Literal["none", "mirrored", "multi_worker"] = Field(
        "none",
        description="tf.distribute: mirrored = every visible GPU (or logical CPU) of this machine; multi_worker = "
        "the machines in TF_CONFIG. batch_size is the global batch, split across replicas. TensorFlow backend only.",
    )
    reduce_lr_on_plateau: ReduceLROnPlateau = Field(default_factory=ReduceLROnPlateau)
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)


class Mlflow(_Section):
    uri: str = Field("file:./mlruns", description="MLflow tracking URI (default: a local mlruns/ folder).")
    experiment: str | None = Field(None, description="Experiment name (default: the config's name).")


class Tracking(_Section):
    tensorboard: bool = Field(True, description="TensorBoard logs in RUN_DIR/tensorboard (TensorFlow backend): tensorboard --logdir runs/.")
    mlflow: Mlflow | None = Field(None, description="Log each completed run to MLflow (pip install 'forecast[mlflow]'); null: off.")


class Config(_Section):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+$")] = Field(
        "forecast", description="Run name; run directories are runs/<name>-<timestamp>."
    )
    seed: int = Field(42, description="Seeds Python, NumPy and the backend, and the window shuffling.")
    data: Data = Field(default_factory=Data)
    window: Window = Field(default_factory=Window)
    scaler: Scaler = Field(default_factory=Scaler)
    model: Model = Field(default_factory=Model)
    training: Training = Field(default_factory=Training)
    tracking: Tracking = Field(default_factory=Tracking)

    @model_validator(mode="after")
    def _segments_fit(self) -> Config:
        segment = self.model.segment_len
        if segment is not None and self.window.variable_length:
            raise ValueError("model.segment_len needs a fixed number of timesteps; set window.variable_length: false")
        if segment is not None and self.window.timesteps % segment:
            raise ValueError(
                f"model.segment_len ({segment}) must divide the input timesteps, lookback // step = {self.window.timesteps}"
            )
        return self

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(exclude_none=True), sort_keys=False)


# --- loading ---------------------------------------------------------------------------------


def dotted(loc: tuple[str | int, ...]) -> str:
    """('model', 'layers', 1, 'units') -> 'model.layers[1].units'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "config"


def _section_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The schema class that sits at `loc`, to list its keys in an 'unknown key' message."""
    cls: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(part)
        if field is None:
            return None
        candidates = [field.annotation]
        cls = None
        while candidates:
            tp = candidates.pop()
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                cls = tp
                break
            candidates.extend(typing.get_args(tp))
        if cls is None:
            return None
    return cls


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        section = _section_at(loc[:-1])
        allowed = sorted(section.model_fields) if section else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
        return f"{dotted(loc)}: unknown key ({hint})"
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] not in ("value_error", "missing") and "input" in error:
        msg += f" (got {error['input']!r})"
    return f"{dotted(loc)}: {msg}" if loc else msg


def validate(raw: Any, source: str = "config") -> Config:
    """Validate a parsed YAML document; errors become one ForecastError naming the first bad key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ForecastError(f"{source}: the config must be a YAML mapping of keys, not {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ForecastError(f"{source}: {_describe(errors[0])}{more}") from None


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `3e-4` as a float: YAML 1.1 wants `3.0e-4`, and ML configs don't."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parse_key(key: str) -> list[str | int]:
    parts: list[str | int] = []
    pos = 0
    for match in _TOKEN.finditer(key):
        between = key[pos : match.start()]
        if between not in ("", "."):
            break
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        pos = match.end()
    if not parts or pos != len(key):
        raise ForecastError(f"--set {key}: not a dotted key like model.layers[0].units")
    return parts


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    """Apply one `--set key.path=value`; the value is parsed as YAML (so 32, 1e-3, true, [1, 2] work)."""
    key, sep, text = assignment.partition("=")
    if not sep:
        raise ForecastError(f"--set {assignment}: expected key.path=value")
    parts = _parse_key(key.strip())
    try:
        value = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ForecastError(f"--set {key}: value is not valid YAML ({exc})") from None
    node: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = dotted(tuple(parts[: i + 1]))
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                size = len(node) if isinstance(node, list) else 0
                raise ForecastError(f"--set {key}: {where} does not exist (the list has {size} items)")
        elif not isinstance(node, dict):
            raise ForecastError(f"--set {key}: {dotted(tuple(parts[:i]))} is not a mapping")
        if last:
            node[part] = value
        else:
            if isinstance(node, dict) and not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]


def read_yaml(path: Path) -> Any:
    """Safe-load a YAML file: Python object tags are refused, not executed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ForecastError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ForecastError(f"{path}: cannot read config ({exc})") from None
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ForecastError(f"{path}: invalid YAML{where}: {problem}") from None


def resolve_data_path(path: str, config_dir: Path) -> Path:
    """Beside the config file first, then the working directory; absolute paths as they are."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    for base in (config_dir, Path.cwd()):
        if (base / candidate).exists():
            return (base / candidate).resolve()
    return (config_dir / candidate).resolve()


def load(path: Path | str, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override and validate a config file; data.path comes back absolute."""
    path = Path(path)
    config = validate(read_yaml(path), str(path))
    if overrides:
        raw = config.model_dump(exclude_none=True)
        for assignment in overrides:
            apply_override(raw, assignment)
        config = validate(raw, f"{path} with --set")
    resolved = resolve_data_path(config.data.path, path.resolve().parent)
    return config.model_copy(update={"data": config.data.model_copy(update={"path": str(resolved)})})
