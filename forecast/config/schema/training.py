"""`training:` optimizer, loss, epochs, batches, callbacks and distribution."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from forecast.config.schema.base import Fraction, PositiveInt, Section, Switch


class ReduceLROnPlateau(Switch):
    monitor: Literal["val_loss", "loss"] = "val_loss"
    factor: Fraction = 0.5
    patience: Annotated[int, Field(ge=0)] = 3
    min_lr: Annotated[float, Field(ge=0)] = 1e-5


class EarlyStopping(Switch):
    monitor: Literal["val_loss", "loss"] = "val_loss"
    patience: Annotated[int, Field(ge=0)] = 6
    restore_best_weights: bool = True


class Training(Section):
    optimizer: Literal["adam", "rmsprop", "sgd"] = "adam"
    learning_rate: Annotated[float, Field(gt=0)] = 1e-3
    loss: Literal["mse", "mae", "huber", "mape", "pinball"] = Field(
        "mae",
        description="mae (the default): what MAE and MASE score, and robust to the series and windows with the "
        "largest errors, which under mse dominate the fit (a panel's noisiest series outweigh its regular ones); "
        "chosen on validation over BENCHMARKS.md's real series (M4 Hourly: validation MASE 0.945 against 1.281 with "
        "mse). mse: the squared error (the ETT papers' loss). pinball: the quantile loss, averaged over "
        "model.quantiles (the default with them).",
    )
    epochs: PositiveInt = Field(
        200,
        description="The most epochs a fit may run: a cap, not a budget. Early stopping (on by default) ends the fit "
        "when val_loss stops improving; on the small real series of BENCHMARKS.md the default config stopped by "
        "itself after 7-87 epochs, where the former cap of 20 cut off fits still improving.",
    )
    batch_size: PositiveInt = 64
    shuffle: bool = Field(True, description="Reshuffle the training windows every epoch (never across splits).")
    steps_per_epoch: PositiveInt | None = Field(
        None,
        description="Batches per epoch (default: all training windows once); "
        "epochs continue through a reshuffled stream.",
    )
    validation_steps: PositiveInt | None = Field(
        None, description="Validation batches per epoch, spread evenly over the validation windows (default: all)."
    )
    distribute: Literal["none", "mirrored", "multi_worker"] = Field(
        "none",
        description="tf.distribute: mirrored = every visible GPU (or logical CPU) of this machine; multi_worker = "
        "the machines in TF_CONFIG. batch_size is the global batch, split across replicas. TensorFlow backend only.",
    )
    lr_decay: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None,
        description="Multiply the learning rate by this after every epoch: epoch k (from 0) trains at most at "
        "learning_rate * lr_decay**k (0.5: the per-epoch halving of the long-horizon benchmarks' code); "
        "reduce_lr_on_plateau can lower it further.",
    )
    reduce_lr_on_plateau: ReduceLROnPlateau = Field(default_factory=ReduceLROnPlateau)
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)
