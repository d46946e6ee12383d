"""A run directory: where each artifact lives, and writing them so a crash never leaves half a file.

Every artifact is written under a temporary name in the same directory and renamed into place
(os.replace is atomic on one filesystem), so a reader sees the old file or the new one, never a
truncated one.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forecast import config as cfg
from forecast.errors import ForecastError, path_error
from forecast.results import Metrics
from forecast.startup import load_keras

if TYPE_CHECKING:
    import keras

    from forecast.data import InputSchema
    from forecast.intervals import Calibration
    from forecast.scalers import Scalers


def write_atomic(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp)` on a temporary sibling, then rename it over `path`.

    The temporary name keeps the whole file name as its ending, since Keras insists on
    `.keras` and `.weights.h5` and matplotlib picks the format from the suffix. It is unique to
    this writer: two processes writing one file (two `tune` workers on one sweep writing
    tune.json) must not rename each other's temporary away; the last rename wins whole.

    An OSError (a full disk, `ulimit -f`, a read-only or forbidden folder) becomes one line naming
    `path` (`errors.path_error`), with the temporary removed: nothing half-written is left.
    """
    tmp = partial(path)
    try:
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    except OSError as exc:
        failure = path_error(exc, path if exc.filename in (None, str(tmp)) else None)
    else:
        return path
    # raised here, not inside `except`: the OSError's traceback (a failed h5py file among its
    # frames) is freed now, not kept alive as the context until exit, where h5py crashes
    raise failure


def partial(path: Path) -> Path:
    """The temporary a writer of `path` writes first, unique to it (see `write_atomic`)."""
    return path.with_name(f".partial-{uuid.uuid4().hex[:12]}-{path.name}")


def clear_partials(path: Path) -> None:
    """Remove the temporaries that writers of `path` left beside it when killed mid-write (SIGKILL,
    a lost machine; SIGINT and SIGTERM unwind through `write_atomic`'s own clean-up).

    Call it only while holding the lock that every writer of `path` holds, or it could take a live
    writer's temporary away (the race `write_atomic`'s unique names exist to avoid).
    """
    for tmp in path.parent.glob(f".partial-{'[0-9a-f]' * 12}-{glob.escape(path.name)}"):
        tmp.unlink(missing_ok=True)


class Busy(ForecastError):
    """Another process holds the lock: exit 2, naming it."""


@contextmanager
def hold(path: Path, what: str, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if needed) for the duration, or fail at once
    (`wait`: block until the holder lets go).

    fcntl.flock, so the kernel releases the lock when the holder dies, however it dies: a lock is
    never stale. The file names its holder (pid and host), for the message another process gets.

    Raises:
        Busy: exit 2, naming the holder, when another process holds the lock.
    """
    handle = open(path, "a+")  # noqa: SIM115  held open for as long as the lock is
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise Busy(f"{what} is being written by {holder}; wait for it or stop it") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


def write_text(path: Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, obj: Any) -> Path:
    # numpy scalars (callback state, metrics) become plain numbers
    return write_text(path, json.dumps(obj, indent=2, default=lambda v: v.item()) + "\n")


class Run:
    """A run directory: where each artifact lives, and its config, scalers, model and metrics loaded.

    `create` makes a new directory, `open` checks an existing one. This is what `forecast.train`
    returns: `run.metrics.test.model.mae`, `run.config`, `run.load_model()`.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r})"

    config_file = property(lambda self: self.path / "config.yaml")
    model_file = property(lambda self: self.path / "model.keras")
    scaler_file = property(lambda self: self.path / "scaler.json")
    schema_file = property(lambda self: self.path / "schema.json")
    history_file = property(lambda self: self.path / "history.csv")
    metrics_file = property(lambda self: self.path / "metrics.json")
    report_file = property(lambda self: self.path / "report.md")
    per_series_file = property(lambda self: self.path / "per_series.csv")  # a panel's test scores per series
    intervals_file = property(lambda self: self.path / "intervals.json")  # calibrated prediction intervals
    loss_plot = property(lambda self: self.path / "loss.png")
    forecast_plot = property(lambda self: self.path / "forecast.png")
    status_file = property(lambda self: self.path / "status.json")
    backup = property(lambda self: self.path / "backup")  # BackupAndRestore's folder while training
    bases = property(lambda self: self.path / "bases")  # model.base auto's rivals, each fitted in bases/<base>/

    STATUSES = ("created", "running", "completed", "failed", "interrupted", "pruned")

    @property
    def status(self) -> str | None:
        """status.json's state (one of `STATUSES`), or None when it is missing or unreadable."""
        try:
            return json.loads(self.status_file.read_text())["status"]
        except (OSError, ValueError, KeyError):
            return None

    def set_status(self, status: str, message: str | None = None) -> None:
        assert status in self.STATUSES
        record = {
            "status": status,
            "updated": datetime.now().isoformat(timespec="seconds"),
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        if message:
            record["message"] = message
        write_json(self.status_file, record)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One writer per run: held while a process writes the run (create, train, resume).

        A kill inside a write leaves its uniquely named temporary; whoever next holds the lock is
        the run's only writer, so it clears them.
        """
        with hold(self.path / ".lock", f"run {self.path}"):
            for path in self.path.glob("**/.partial-*"):
                path.unlink(missing_ok=True)
            yield

    @classmethod
    def create(cls, name: str, run_dir: Path | None = None, root: Path = Path("runs")) -> Run:
        """A new, empty run directory: `run_dir` (absent or empty), else `root/<name>-<date>-<time>`."""
        if run_dir is not None:
            run_dir = Path(run_dir)
            if run_dir.exists() and not run_dir.is_dir():
                raise ForecastError(f"--run-dir: {run_dir} is a file, not a directory")
            if run_dir.exists() and any(run_dir.iterdir()):
                raise ForecastError(f"--run-dir: {run_dir} already exists and is not empty")
            run_dir.mkdir(parents=True, exist_ok=True)
            return cls(run_dir)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            path = root / (f"{name}-{stamp}" if n == 1 else f"{name}-{stamp}-{n}")
            try:
                path.mkdir()
                return cls(path)
            except FileExistsError:
                continue
        raise ForecastError(f"{root}: cannot create a new run directory for {name}-{stamp}")

    @classmethod
    def open(cls, path: Path, trained: bool = True) -> Run:
        """An existing run; `trained=False` accepts one whose training has not finished (resume)."""
        run = cls(path)
        needed = (run.config_file, run.scaler_file, run.model_file) if trained else (run.config_file, run.scaler_file)
        missing = [p.name for p in needed if not p.is_file()]
        if not Path(path).is_dir() or missing:
            what = "no such directory" if not Path(path).is_dir() else f"missing {', '.join(missing)}"
            raise ForecastError(f"{path}: not a forecast run directory ({what})")
        return run

    @property
    def config(self) -> cfg.Config:
        """The run's config.yaml, validated."""
        return cfg.validate(cfg.read_yaml(self.config_file), str(self.config_file))

    @property
    def model_config(self) -> cfg.Config:
        """config.yaml, with model.base auto replaced by the rival it kept where it trained several
        (metrics.json's base, when not auto's own choice): the config that builds model.keras's network."""
        config = self.config
        training = self.metrics.training if self.metrics_file.is_file() else None
        if config.model.base != "auto" or training is None or not training.base_losses:
            return config
        if training.base == next(iter(training.base_losses)):  # auto's own choice: auto builds it
            return config
        return config.model_copy(update={"model": config.model.model_copy(update={"base": training.base})})

    def load_config(self) -> cfg.Config:
        return self.config

    @property
    def metrics(self) -> Metrics:
        """metrics.json as typed results (a completed run's)."""
        try:
            return Metrics.from_dict(json.loads(self.metrics_file.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            raise ForecastError(f"{self.path}: no readable metrics.json (not a completed run)") from None

    def save(self, config: cfg.Config, scalers: Scalers, schema: InputSchema) -> None:
        """What a run needs before it trains: its resolved config, its input columns and its scalers."""
        write_text(self.config_file, config.to_yaml())
        write_json(self.schema_file, schema.to_dict())
        self.save_scalers(scalers)

    def load_schema(self) -> InputSchema | None:
        """The input columns the run was trained on; None for a run made before forecast recorded them."""
        from forecast.data import InputSchema  # deferred: data loads pandas; `import forecast` (Run) stays light

        if not self.schema_file.exists():
            return None
        try:
            raw = json.loads(self.schema_file.read_text())
        except (OSError, ValueError):
            raw = None
        return InputSchema.from_dict(raw, str(self.schema_file))

    def save_scalers(self, scalers: Scalers) -> None:
        from forecast.scalers import to_state  # deferred: scalers loads scikit-learn; `import forecast` stays light

        write_json(self.scaler_file, to_state(scalers))

    def load_scalers(self, config: cfg.Config) -> Scalers:
        from forecast.scalers import from_state  # deferred: scalers loads scikit-learn; `import forecast` stays light

        try:
            return from_state(json.loads(self.scaler_file.read_text()), config.scaler)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ForecastError(f"{self.scaler_file}: not a forecast scaler file ({exc})") from None

    def load_intervals(self) -> Calibration | None:
        """The run's calibrated intervals; None when its config asks for none (or it predates them)."""
        from forecast.intervals import Calibration  # deferred: intervals loads NumPy; `import forecast` stays light

        config = self.config
        if config.intervals.method == "none":
            return None
        try:
            raw = json.loads(self.intervals_file.read_text())
        except (OSError, ValueError):
            raise ForecastError(
                f"{self.intervals_file}: missing or unreadable, but config.yaml asks for intervals"
            ) from None
        calibration = Calibration.from_dict(raw, str(self.intervals_file))
        if calibration.levels != config.intervals.levels or calibration.method != config.intervals.method:
            raise ForecastError(f"{self.intervals_file}: its method or levels differ from config.yaml's")
        if calibration.naive.shape[1] != config.window.horizon:
            raise ForecastError(f"{self.intervals_file}: calibrated for another horizon than config.yaml's")
        return calibration

    def load_model(self, input_shape: tuple[int | None, int], output_shape: tuple[int, int]) -> keras.Model:
        """The trained model, loaded with safe_mode (no Lambda layers or pickled code).

        The shapes are what the run's config implies: a model.keras from another run is refused.
        """
        load_keras()
        # deferred: Keras loads TensorFlow, which `import forecast` (Run) never needs
        import keras

        import forecast.losses  # noqa: F401  registers forecast's own layers and loss for deserialization

        try:
            model = keras.saving.load_model(self.model_file, safe_mode=True)
        except (ValueError, OSError, TypeError) as exc:
            raise ForecastError(f"{self.model_file}: cannot load the model ({str(exc).splitlines()[0]})") from None
        window = next((i for i in model.inputs if i.name == "window"), model.inputs[0])  # a panel's other inputs follow
        got = (tuple(window.shape[1:]), tuple(model.output_shape[1:]))
        quantiles = self.config.model.quantiles
        if quantiles:  # a quantile model: (horizon, quantiles, targets)
            output_shape = (output_shape[0], len(quantiles), output_shape[-1])
        if got != (tuple(input_shape), tuple(output_shape)):
            raise ForecastError(
                f"{self.model_file}: the model maps {got[0]} -> {got[1]} but {self.config_file.name} implies "
                f"{tuple(input_shape)} -> {tuple(output_shape)}; the model does not belong to this config"
            )
        return model
