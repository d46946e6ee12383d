"""The scalers: scikit-learn's, fit on the training rows only, stored with the run as JSON.

One scaler for the inputs and one for the targets; `Scalers.to_dict` keeps each scaler's fitted
attributes as plain JSON, so opening a run directory never unpickles (never executes) anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, RobustScaler, StandardScaler

from forecast import config as cfg
from forecast.data import Series
from forecast.errors import ForecastError


def make_scaler(scaler: cfg.Scaler) -> TransformerMixin:
    if scaler.type == "standard":
        return StandardScaler()
    if scaler.type == "minmax":
        return MinMaxScaler(feature_range=tuple(scaler.feature_range))
    if scaler.type == "robust":
        return RobustScaler()
    return FunctionTransformer()  # identity, with an identity inverse


def _scaler_state(scaler: TransformerMixin) -> dict:
    """A fitted scaler as plain JSON: its fitted `*_` attributes (scikit-learn's convention).

    Stored as JSON rather than a pickle, so loading a run directory never executes code.
    """
    fitted = {k: v for k, v in vars(scaler).items() if k.endswith("_") and not k.startswith("_")}
    return {k: np.asarray(v).tolist() for k, v in fitted.items()}


def _scaler_from(state: dict, scaler: cfg.Scaler) -> TransformerMixin:
    """Rebuild a fitted scaler from its JSON state, refusing anything but finite numbers.

    Raises:
        ValueError: a value that is not a finite number, or a key that is not a fitted attribute.
    """
    out = make_scaler(scaler)
    for key, value in state.items():
        if not (isinstance(key, str) and key.endswith("_") and not key.startswith("_")):
            raise ValueError(f"{key!r} is not a fitted scaler attribute")
        value = np.asarray(value)
        if value.dtype.kind not in "iuf":
            raise ValueError(f"{key} holds {value.dtype} values, not numbers")
        if not np.isfinite(value).all():
            raise ValueError(f"{key} is not finite at index {int(np.flatnonzero(~np.isfinite(value.ravel()))[0])}")
        setattr(out, key, value.item() if value.ndim == 0 else value)
    return out


@dataclass
class Scalers:
    """One scaler for the inputs and one for the targets, both fit on the training rows only.

    Two scalers (rather than one over the union of columns) let reports inverse-transform the
    targets alone, which scikit-learn cannot do for a subset of a fitted scaler's columns.
    """

    features: TransformerMixin
    targets: TransformerMixin

    @classmethod
    def fit(cls, scaler: cfg.Scaler, series: Series, train_end: int) -> Scalers:
        return cls(
            features=make_scaler(scaler).fit(series.features[:train_end]),
            targets=make_scaler(scaler).fit(series.targets[:train_end]),
        )

    def transform(self, series: Series) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.asarray(self.features.transform(series.features), dtype=np.float32),
            np.asarray(self.targets.transform(series.targets), dtype=np.float32),
        )

    def to_dict(self) -> dict:
        return {"features": _scaler_state(self.features), "targets": _scaler_state(self.targets)}

    @classmethod
    def from_dict(cls, state: dict, scaler: cfg.Scaler) -> Scalers:
        return cls(_scaler_from(state["features"], scaler), _scaler_from(state["targets"], scaler))

    def check(self, n_features: int, n_targets: int, source: str = "scaler.json") -> None:
        """A stored pair of scalers fits the data's columns: every per-column array has one value per column.

        Raises:
            ForecastError: exit 2, naming `source` and the scaler attribute whose length is wrong.
        """
        for name, scaler, n in (("features", self.features, n_features), ("targets", self.targets, n_targets)):
            for key, value in vars(scaler).items():
                if key.endswith("_") and not key.startswith("_") and key != "n_samples_seen_":
                    size = np.size(value) if key != "n_features_in_" else int(value)
                    if (np.ndim(value) > 0 or key == "n_features_in_") and size != n:
                        raise ForecastError(
                            f"{source}: {name}.{key} has {size} values for {n} columns; "
                            "the run's scalers do not fit these columns"
                        )

    def inverse_targets(self, values: np.ndarray) -> np.ndarray:
        """Inverse-transform an array whose last axis is the targets, whatever its leading shape."""
        flat = values.reshape(-1, values.shape[-1])
        return np.asarray(self.targets.inverse_transform(flat), dtype=np.float64).reshape(values.shape)
