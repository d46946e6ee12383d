"""Training throughput: forecast's own pipeline vs a minimal hand-written Keras script.

Same model (2 x LSTM(32) -> Dense(1)), same windows (120 timesteps x 14 features, Chollet's
lookback 720 / step 6 on a Jena-shaped series), same batch size (256), same number of training
and validation windows per epoch. Methods run in alternating blocks of epochs in one process;
the first epoch of each block (tracing, warm-up) is dropped. On the shared 2-core machine some
epochs take twice as long whichever method runs (the host takes a core away), so the ratio is
taken on the fastest epoch of each method (as timeit does), with the median and the number of
slow epochs (> 1.5x the fastest) printed beside it.

  (a) forecast: config -> prepare -> WindowDataset (lazy: origins only; on TensorFlow the batches
      are gathered in the graph, see backend.batches) -> fit with forecast's own
      callbacks (EpochStats, TerminateOnNaN, ReduceLROnPlateau, EarlyStopping, TrainingState,
      BackupAndRestore, CSVLogger, StopOnSignal), exactly as `forecast train` runs it.
  (b) hand-written: every window materialized as numpy arrays in memory, `model.fit(X, Y)`.
  (c) the seeds' Python generator: batches built row by row in a Python loop.

Usage: python bench/throughput.py [--blocks 2] [--epochs 3] [--steps 40]
                                  [--require forecast=WINDOWS_PER_S] [--require ratio=R] [--tolerance 0.15]

`--require` turns the bench into a regression gate for CI: it exits 1, with one line saying what
was measured and what was required, when forecast's training windows/s (`forecast`) or its
windows/s over the hand-written script's (`ratio`, higher is better: the reciprocal of the
table's "vs hand-written" column) falls more than `--tolerance` below the recorded figure. Record
the figure on the machine that runs the gate: throughput says nothing across machines.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BATCH, LOOKBACK, STEP, DELAY = 256, 720, 6, 6
# what --require can gate on: both higher-is-better, both from each method's fastest epoch
GATES = {
    "forecast": "forecast's training windows/s",
    "ratio": "forecast's windows/s / hand-written's",
}
TOLERANCE = 0.15


def requirement(spec: str) -> tuple[str, float]:
    """`--require`'s value: 'forecast=2100' -> ('forecast', 2100.0).

    Checked when the options are parsed, so a typo fails in a second, not after the bench.

    Raises:
        argparse.ArgumentTypeError: naming the spec and what is expected.
    """
    name, sep, value = spec.partition("=")
    expected = f"{spec!r}: expected forecast=WINDOWS_PER_S or ratio=R with a positive number"
    if not sep or name.strip() not in GATES:
        raise argparse.ArgumentTypeError(expected)
    try:
        figure = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(expected) from None
    if not math.isfinite(figure) or figure <= 0:
        raise argparse.ArgumentTypeError(expected)
    return name.strip(), figure


def tolerance(value: str) -> float:
    """`--tolerance`: the fraction a figure may fall below the recorded one, in [0, 1)."""
    try:
        fraction = float(value)
    except ValueError:
        fraction = math.nan
    if not 0 <= fraction < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a fraction in [0, 1), e.g. 0.15")
    return fraction


def gate(measured: dict[str, float], required: list[tuple[str, float]], tolerance: float = TOLERANCE):
    """Each requirement's verdict: a list of (met, line), the line saying measured vs required.

    A requirement is met when the measured figure is at least (1 - tolerance) x the recorded one:
    a drop within the tolerance is noise on a shared machine, a larger one a regression.
    """
    verdicts = []
    for name, recorded in required:
        floor = (1 - tolerance) * recorded
        value = measured[name]
        met = value >= floor
        digits = 0 if name == "forecast" else 3
        verdicts.append(
            (
                met,
                f"{GATES[name]} {value:.{digits}f} {'>=' if met else '<'} {floor:.{digits}f} required "
                f"({1 - tolerance:.2f} x recorded {recorded:g})",
            )
        )
    return verdicts


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="throughput.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=2, help="alternating blocks per method")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per block (the first is dropped)")
    parser.add_argument("--steps", type=int, default=40, help="training batches per epoch")
    parser.add_argument("--val-steps", type=int, default=4)
    parser.add_argument("--skip-generator", action="store_true")
    parser.add_argument(
        "--require",
        type=requirement,
        action="append",
        default=[],
        metavar="NAME=FIGURE",
        help="fail (exit 1) when forecast=WINDOWS_PER_S or ratio=R (forecast / hand-written windows/s) "
        "falls more than --tolerance below this recorded figure (repeatable)",
    )
    parser.add_argument(
        "--tolerance", type=tolerance, default=TOLERANCE, help="allowed drop below a --require figure (0.15)"
    )
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs: at least 2 (the first epoch of each block is dropped)")
    return args


def main() -> None:
    args = parse()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # the bench's own imports: TensorFlow loads here, not when the gate's functions are imported
    import keras
    import numpy as np
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    from bench.series import TIME_FORMAT, jena_like
    from forecast import config as cfg
    from forecast.fit import compile_model, fit
    from forecast.prepare import prepare
    from forecast.rundir import Run

    tmp = Path(tempfile.mkdtemp(prefix="forecast-throughput-"))
    rows = 60_000
    frame = jena_like(rows)
    frame.to_parquet(tmp / "series.parquet")
    config = cfg.validate(
        {
            "name": "throughput",
            "seed": 1,
            "data": {
                "path": str(tmp / "series.parquet"),
                "time_column": "Date Time",
                "time_format": TIME_FORMAT,
                "targets": ["T (degC)"],
                "split": {"train": 0.7, "val": 0.15, "test": 0.15},
            },
            "window": {"lookback": LOOKBACK, "step": STEP, "delay": DELAY, "horizon": 1},
            "model": {"cell": "lstm", "base": "none", "layers": [{"units": 32}, {"units": 32}]},  # as recorded
            "training": {
                "optimizer": "rmsprop",
                "loss": "mae",
                "batch_size": BATCH,
                "epochs": args.epochs,
                "steps_per_epoch": args.steps,
                "validation_steps": args.val_steps,
                "early_stopping": {"patience": 100},
            },
        }
    )
    prepared = prepare(config)
    spec = prepared.spec
    n_train, n_val = args.steps * BATCH, args.val_steps * BATCH
    train_origins = prepared.origins["train"][:n_train]
    val_origins = prepared.origins["val"][:n_val]
    assert len(train_origins) == n_train, "series too short for --steps"

    # (a) forecast's pipeline, run directory and callbacks included
    keras.utils.set_random_seed(1)
    model_a = compile_model(config, prepared)
    block = iter(range(10_000))

    def run_forecast() -> list[float]:
        run = Run(tmp / f"run-{next(block)}")
        run.path.mkdir()
        restricted = prepared.__class__(**{**vars(prepared), "origins": {"train": train_origins, "val": val_origins}})
        fit(model_a, config, restricted, run, verbose=0, received=[])
        return pd.read_csv(run.history_file)["epoch_seconds"].tolist()

    # (b) hand-written: materialized arrays
    x_train, y_train = spec.inputs(prepared.x, train_origins), spec.targets(prepared.y, train_origins)[:, :, 0]
    x_val, y_val = spec.inputs(prepared.x, val_origins), spec.targets(prepared.y, val_origins)[:, :, 0]
    model_b = hand_model(x_train.shape[1:])

    def run_hand() -> list[float]:
        timer = epoch_timer()
        model_b.fit(
            x_train,
            y_train,
            batch_size=BATCH,
            epochs=args.epochs,
            validation_data=(x_val, y_val),
            shuffle=True,
            verbose=0,
            callbacks=[timer],
        )
        return timer.seconds

    # (c) the seeds' generator: a Python loop over rows for every sample
    model_c = hand_model(x_train.shape[1:])

    def generator(lo, hi, shuffle):
        data, target = prepared.x, prepared.y[:, 0]
        i = lo
        while True:
            if shuffle:
                rows = np.random.randint(lo, hi, size=BATCH)
            else:
                if i + BATCH > hi:
                    i = lo
                rows = np.arange(i, i + BATCH)
                i += BATCH
            samples = np.zeros((len(rows), LOOKBACK // STEP, data.shape[-1]), dtype=np.float32)
            targets = np.zeros((len(rows), 1), dtype=np.float32)
            for j, row in enumerate(rows):
                indices = range(row - (LOOKBACK // STEP - 1) * STEP, row + 1, STEP)
                samples[j] = data[indices]
                targets[j] = target[row + DELAY]
            yield samples, targets

    def run_generator() -> list[float]:
        timer = epoch_timer()
        model_c.fit(
            generator(int(train_origins[0]), int(train_origins[-1]), True),
            steps_per_epoch=args.steps,
            epochs=args.epochs,
            validation_data=generator(int(val_origins[0]), int(val_origins[-1]), False),
            validation_steps=args.val_steps,
            verbose=0,
            callbacks=[timer],
        )
        return timer.seconds

    methods = {"forecast": run_forecast, "hand-written": run_hand}
    if not args.skip_generator:
        methods["generator"] = run_generator
    times: dict[str, list[float]] = {name: [] for name in methods}
    for b in range(args.blocks):
        order = list(methods) if b % 2 == 0 else list(reversed(methods))
        for name in order:
            epochs = methods[name]()
            times[name].extend(epochs[1:])
            print(f"block {b + 1} {name:<13} epoch seconds: {', '.join(f'{t:.2f}' for t in epochs)}", flush=True)

    hand = min(times["hand-written"])
    hand_median = statistics.median(times["hand-written"])
    print(
        f"\nbackend {keras.backend.backend()}, {n_train} training + {n_val} validation windows per epoch, "
        f"batch {BATCH}, input {x_train.shape[1:]}, 2 x LSTM(32)"
    )
    print(
        f"{'method':<14}{'fastest epoch s':>16}{'train windows/s':>17}{'vs hand-written':>17}"
        f"{'median s':>10}{'median ratio':>14}{'slow epochs':>13}"
    )
    for name, values in times.items():
        fastest, median = min(values), statistics.median(values)
        slow = sum(v > 1.5 * fastest for v in values)
        print(
            f"{name:<14}{fastest:>16.3f}{n_train / fastest:>17.0f}{fastest / hand:>16.3f}x{median:>10.3f}"
            f"{median / hand_median:>13.3f}x{slow:>8}/{len(values)}"
        )
    if args.require:
        fastest = min(times["forecast"])
        measured = {"forecast": n_train / fastest, "ratio": hand / fastest}
        verdicts = gate(measured, args.require, args.tolerance)
        print()
        for met, line in verdicts:
            print(f"{'met' if met else 'FAILED'}: {line}")
        failed = [line for met, line in verdicts if not met]
        if failed:
            print(f"throughput.py: regression: {'; '.join(failed)}", file=sys.stderr)
            sys.exit(1)


def hand_model(shape):
    import keras

    model = keras.Sequential(
        [keras.Input(shape), keras.layers.LSTM(32, return_sequences=True), keras.layers.LSTM(32), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="mae")
    return model


def epoch_timer():
    """A callback recording each epoch's seconds in `.seconds` (its class is made here, on first use:
    subclassing Keras's Callback needs Keras, which importing this module must not load)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


if __name__ == "__main__":
    main()
