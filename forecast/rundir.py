"""A run directory: where each artifact lives, and writing them so a crash never leaves half a file.

Every artifact is written under a temporary name in the same directory and renamed into place
(os.replace is atomic on one filesystem), so a reader sees the old file or the new one, never a
truncated one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from forecast import config as cfg
from forecast import data
from forecast.errors import ForecastError


def write_atomic(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp)` on a temporary sibling (same suffix, for writers that look at it), then rename."""
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2) + "\n")


class Run:
    """Names of a run's artifacts; `create` makes a new directory, `open` checks an existing one."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    config = property(lambda self: self.path / "config.yaml")
    model = property(lambda self: self.path / "model.keras")
    scaler = property(lambda self: self.path / "scaler.joblib")
    history = property(lambda self: self.path / "history.csv")
    metrics = property(lambda self: self.path / "metrics.json")
    report = property(lambda self: self.path / "report.md")
    loss_plot = property(lambda self: self.path / "loss.png")
    forecast_plot = property(lambda self: self.path / "forecast.png")

    @classmethod
    def create(cls, name: str, run_dir: Path | None = None, root: Path = Path("runs")) -> Run:
        if run_dir is not None:
            run_dir = Path(run_dir)
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
    def open(cls, path: Path) -> Run:
        run = cls(path)
        missing = [p.name for p in (run.config, run.model, run.scaler) if not p.is_file()]
        if not Path(path).is_dir() or missing:
            what = "no such directory" if not Path(path).is_dir() else f"missing {', '.join(missing)}"
            raise ForecastError(f"{path}: not a forecast run directory ({what})")
        return run

    def load_config(self) -> cfg.Config:
        return cfg.validate(cfg.read_yaml(self.config), str(self.config))

    def save_scalers(self, scalers: data.Scalers) -> None:
        import joblib

        write_atomic(self.scaler, lambda tmp: joblib.dump(scalers, tmp))

    def load_scalers(self) -> data.Scalers:
        import joblib

        scalers = joblib.load(self.scaler)
        if not isinstance(scalers, data.Scalers):
            raise ForecastError(f"{self.scaler}: not a forecast scaler file")
        return scalers

    def load_model(self):
        """The trained model, loaded with safe_mode (no Lambda layers or pickled code)."""
        import keras

        try:
            return keras.saving.load_model(self.model, safe_mode=True)
        except (ValueError, OSError) as exc:
            raise ForecastError(f"{self.model}: cannot load the model ({str(exc).splitlines()[0]})") from None
