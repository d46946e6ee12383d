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
    out = make_scaler(scaler)
    for key, value in state.items():
        value = np.asarray(value)
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

    def inverse_targets(self, values: np.ndarray) -> np.ndarray:
        """Inverse-transform an array whose last axis is the targets, whatever its leading shape."""
        flat = values.reshape(-1, values.shape[-1])
        return np.asarray(self.targets.inverse_transform(flat), dtype=np.float64).reshape(values.shape)
