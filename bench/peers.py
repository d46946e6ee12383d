"""One network, one task, three systems: forecast vs Darts vs NeuralForecast on ETTh1 (horizon 96).

Trains the same channel-independent network -- 2 x LSTM(64), the last hidden state into a linear
head emitting 96 steps -- under the standard ETTh1 long-horizon protocol with forecast, Darts and
NeuralForecast, one after another, each in its own child process (so each one's peak RSS is its
own), then scores every system's test forecasts with one scorer here, in the parent.

Protocol: data/ETTh1.csv, all 7 channels; train rows [0, 8640), val [8640 - 96, 11520), test
[11520 - 96, 14400); StandardScaler statistics (mean, std with ddof=0) from the train rows, per
channel; lookback 96, horizon 96; test windows: every origin o in 11520..14304 (inputs rows
[o - 96, o), targets [o, o + 96)), 2,785 windows x 7 channels, MSE and MAE on scaled values.
Training: Adam lr 1e-3, MSE loss, no dropout, no early stopping, no LR schedule, 126 univariate
windows per optimizer step (18 multivariate windows of 7 channels for forecast), --steps steps,
--threads threads per process, seed --seed.

  forecast        `forecast train CONFIG` (a temporary config, FORECAST_THREADS=--threads; it sets
                  model.instance_norm: none, model.dropout_between: 0 and tensorboard off, whose
                  defaults are last, 0.1 and on), then
                  `forecast predict RUN --all-origins` on the rows [11424, 14304): one child each.
                  train s: the sum of history.csv's epoch_seconds (the fit loop); predict s: an
                  in-process `forecast.predict(run, data, all_origins=True)` in a third child,
                  TensorFlow already imported, loading the saved model included (the CLI child's
                  wall time, which adds interpreter and TensorFlow start-up and writing 1.87 M CSV
                  rows, is printed below the table, as are all children's wall times).
  darts           BlockRNNModel fit on 7 univariate TimeSeries of the scaled train rows;
                  historical_forecasts(retrain=False, stride 1, last_points_only=False) on the 7
                  scaled test series (Darts' optimized route: one inference dataset, batched).
  neuralforecast  models.LSTM(recurrent=False) fit on the scaled train rows in long format;
                  cross_validation(use_fitted=True, refit=False, step_size=1, test_size=2880) on the
                  scaled test rows: every window, no retraining.
  The peers' train s and predict s time the library calls in-process; training and prediction
  are one process, so their two peak-RSS columns are the same number.
  Checks of the scorer: "repeat the last value" must give MSE 1.2944 / MAE 0.7132 (the Repeat
  row of the Informer/Autoformer tables: 1.295 / 0.713), and forecast's score here must equal
  the test.scaled figures of its own metrics.json (printed under the table).

Differences that remain (checked in darts 0.48.1 and neuralforecast 3.3.0 sources):
  - Heads. Darts' BlockRNNModel("LSTM") and NF's LSTM(recurrent=False) do not feed the last hidden
    state to a Linear(64, 96): both apply one Linear(64, 1) to each of the RNN's last 96 outputs
    (with input and output length both 96, the forecast for step k comes from the state after input
    step k; hidden_fc_sizes / decoder_layers=1 only make that head linear). Same multiply-adds per
    window, 65 head weights instead of 6,240. By default (--peer-head last) each peer gets the
    specified head through its documented extension point instead: a CustomBlockRNNModule for
    Darts (passed as `model=`), a subclass of neuralforecast.models.LSTM overriding forward() for
    NF. --peer-head stock runs the libraries' own heads.
  - Parameters: torch's LSTM has two bias vectors per layer (b_ih, b_hh) where Keras has one:
    56,672 parameters against forecast's 56,160 (the extra 512 are redundant, not more capacity).
  - Initialisation, library defaults kept: Keras LSTM glorot-uniform input kernel, orthogonal
    recurrent kernel, zero bias with forget-gate bias 1, Dense glorot-uniform; torch
    U(-1/8, 1/8) for every LSTM weight and bias, Linear kaiming-uniform(a=sqrt 5).
  - Adam: epsilon set to Keras's 1e-7 for both peers (torch's default is 1e-8), but Keras adds it
    to sqrt(v) before the bias correction and torch after it ("epsilon hat" vs epsilon).
  - Sampling of the 126 windows per step. forecast: 18 origins of a shuffled pass over the 8,449
    training origins, each with all 7 channels. Darts: 126 (channel, origin) pairs of a shuffled
    pass over the 59,143 univariate windows (drop_last=True, so every step has 126). NF: every
    step draws 126 windows without replacement from all windows of the 7 series, independently of
    the other steps (no passes). NF pads each training series with 96 missing rows at the end and
    by default also trains on windows whose target runs into that padding (masked loss);
    training_data_availability_threshold=[0.0, 1.0] keeps only full windows (the same 8,449 per
    series as the others; NF draws among the windows that pass, so every step still has 126; the
    NF child counts the windows it trained on, as a check).
  - What train s covers: forecast's epoch_seconds time the fit loop (graph tracing in the first
    epoch included, data preparation and model building not); the peers' fit() calls also build
    their datasets and Lightning trainer. forecast's fit also runs one validation batch per epoch
    (validation_steps: 1) and its per-epoch callbacks (CSV log, backup for resume); the peers run
    no validation.
  - Inference batches: 7,168 univariate windows for the peers, forecast's 1,024 sequences (146
    multivariate windows of 7 channels).

Usage:
  python bench/peers.py [--steps 3000] [--threads 2] [--peer-python /path/to/venv/bin/python]
      [--systems forecast,darts,neuralforecast] [--seed 1] [--peer-head last|stock]

The peers live in a virtualenv of their own, never a CI dependency of forecast:
  python3.11 -m venv /tmp/peersvenv
  /tmp/peersvenv/bin/pip install torch==2.13.0 'darts==0.48.*' 'neuralforecast==3.3.*'
(for CPU-only torch wheels, install torch first with --index-url https://download.pytorch.org/whl/cpu).
In its child mode (--child darts|neuralforecast) this file imports only numpy, pandas, torch and the
peer, never forecast or Keras.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
LOOKBACK = HORIZON = 96
TRAIN_END, VAL_END, TEST_END = 8640, 11520, 14400
TEST_START = VAL_END - LOOKBACK  # 11424: the first test window's first input row
N_ORIGINS = TEST_END - HORIZON - VAL_END + 1  # 2,785 origins: 11520..14304
UNIVARIATE_BATCH = 126  # univariate windows per optimizer step
PREDICT_BATCH = 7 * 1024  # univariate windows per inference batch for the peers (forecast: 1,024 x 7)
ADAM_EPSILON = 1e-7  # Keras's default, given to torch's Adam
PEERS = ("darts", "neuralforecast")
SYSTEMS = ("forecast", *PEERS)


@dataclass
class Result:
    """One system's measurements; predictions on scaled values, (origins, horizon, channels)."""

    system: str
    predictions: np.ndarray
    train_s: float
    predict_s: float
    windows: int  # univariate training windows actually trained on
    steps: int
    rss_train_mb: float
    rss_predict_mb: float
    one_process: bool
    walls: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------- parent


def load() -> tuple[pd.DataFrame, list[str], np.ndarray, np.ndarray]:
    """ETTh1, its channel names, and the train rows' per-channel mean and std (ddof=0)."""
    frame = pd.read_csv(ROOT / "data" / "ETTh1.csv")
    columns = [c for c in frame.columns if c != "date"]
    train = frame[columns].to_numpy(np.float64)[:TRAIN_END]
    return frame, columns, train.mean(axis=0), train.std(axis=0)


def test_targets(scaled: np.ndarray) -> np.ndarray:
    """Every test window's targets, scaled: (2785, 96, channels)."""
    windows = np.lib.stride_tricks.sliding_window_view(scaled[VAL_END:TEST_END], HORIZON, axis=0)
    return windows.transpose(0, 2, 1)  # (origins, channels, horizon) -> (origins, horizon, channels)


def score(predictions: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """MSE and MAE over every test window, step and channel, on scaled values."""
    if predictions.shape != targets.shape:
        raise SystemExit(f"predictions {predictions.shape} vs targets {targets.shape}")
    error = predictions.astype(np.float64) - targets
    return float(np.mean(error**2)), float(np.mean(np.abs(error)))


def read_forecast_predictions(path: Path, columns: list[str] | None = None) -> np.ndarray:
    """`forecast predict --all-origins` output as (origins, horizon, channels) in original units.

    The long CSV (origin, target_time, step, column, prediction) ordered by origin, then step,
    then channel in `columns`' order (default: the order the file first names them, the data
    file's); a .npy output is taken as it is.
    """
    if path.suffix == ".npy":
        return np.load(path)
    frame = pd.read_csv(path)
    columns = columns or list(frame["column"].unique())
    frame["origin"] = pd.to_datetime(frame["origin"])
    wide = frame.pivot(index=["origin", "step"], columns="column", values="prediction").sort_index()[columns]
    origins = wide.index.get_level_values("origin").nunique()
    return wide.to_numpy(np.float64).reshape(origins, -1, len(columns))


def forecast_config(steps: int, seed: int) -> dict[str, Any]:
    epochs = 6 if steps % 6 == 0 else 1
    return {
        "name": "peers",
        "seed": seed,
        "data": {
            "path": str(ROOT / "data" / "ETTh1.csv"),
            "time_column": "date",
            "split": {"train_end": TRAIN_END, "val_end": VAL_END, "test_end": TEST_END},
        },
        "window": {"lookback": LOOKBACK, "step": 1, "delay": 1, "horizon": HORIZON},
        "scaler": "standard",
        "model": {
            "cell": "lstm",
            "layers": [{"units": 64}, {"units": 64}],
            "channel_independent": True,
            "instance_norm": "none",  # the default would subtract each window's last value
            "base": "none",  # the peers' LSTMs have no base forecast under them (the default, auto, adds one)
            "dropout_between": 0.0,  # the default is 0.1
        },
        "training": {
            "optimizer": "adam",
            "learning_rate": 0.001,
            "loss": "mse",
            "batch_size": UNIVARIATE_BATCH // 7,
            "epochs": epochs,
            "steps_per_epoch": steps // epochs,
            "validation_steps": 1,
            "shuffle": True,
            "reduce_lr_on_plateau": False,
            "early_stopping": False,
        },
        "tracking": {"tensorboard": False},
    }


PREDICT_TIMER = """
import sys, time
import forecast, keras  # Keras (and TensorFlow) imported before the clock starts
start = time.perf_counter()
forecast.predict(sys.argv[1], sys.argv[2], all_origins=True)
print(time.perf_counter() - start)
"""


def run_forecast(args: argparse.Namespace, work: Path, frame: pd.DataFrame, columns: list[str]) -> Result:
    from bench.procs import child

    python = sys.executable
    cli = [python, "-m", "forecast"]
    config = work / "forecast.yaml"
    config.write_text(json.dumps(forecast_config(args.steps, args.seed), indent=2))  # JSON is YAML
    checked = subprocess.run([*cli, "validate", str(config)], capture_output=True, text=True)
    if checked.returncode:
        raise SystemExit(f"forecast validate {config}:\n{checked.stdout}{checked.stderr}")
    run = work / "forecast-run"
    train_wall, train_rss, _ = child([*cli, "train", str(config), "--run-dir", str(run), "-q"])
    history = pd.read_csv(run / "history.csv")
    steps = len(history) * forecast_config(args.steps, args.seed)["training"]["steps_per_epoch"]

    test_csv, output = work / "forecast-test.csv", work / "forecast-predictions.csv"
    frame.iloc[TEST_START : TEST_END - HORIZON].to_csv(test_csv, index=False)
    predict_wall, predict_rss, _ = child(
        [*cli, "predict", str(run), "--data", str(test_csv), "--all-origins", "--output", str(output)]
    )
    _, _, timed = child([python, "-c", PREDICT_TIMER, str(run), str(test_csv)])
    predictions = read_forecast_predictions(output, columns)
    if predictions.shape != (N_ORIGINS, HORIZON, len(columns)):
        raise SystemExit(f"forecast predict: {predictions.shape}, expected {(N_ORIGINS, HORIZON, len(columns))}")
    own = json.loads((run / "metrics.json").read_text())["test"]["scaled"]["model"]
    return Result(
        system="forecast",
        predictions=predictions,  # original units: scaled by the caller
        train_s=float(history["epoch_seconds"].sum()),
        predict_s=float(timed.strip().splitlines()[-1]),
        windows=steps * UNIVARIATE_BATCH,
        steps=steps,
        rss_train_mb=train_rss,
        rss_predict_mb=predict_rss,
        one_process=False,
        walls={"train (CLI)": train_wall, "predict (CLI)": predict_wall},
        versions={name: version(name) for name in ("forecast", "tensorflow", "keras")},
        notes=[f"forecast's own metrics.json, test scaled: MSE {own['mse']:.4f}, MAE {own['mae']:.4f}"],
    )


def run_peer(name: str, args: argparse.Namespace, work: Path) -> Result | None:
    """Run one peer in its own child process; None (with the reason printed) when it cannot run."""
    from bench.procs import child

    probe = subprocess.run(
        [args.peer_python, "-c", f"import numpy, pandas, torch, {name}"], capture_output=True, text=True
    )
    if probe.returncode:
        reason = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"skipping {name}: cannot import it with {args.peer_python}: {reason}", file=sys.stderr)
        return None
    cmd = [args.peer_python, str(Path(__file__).resolve()), "--child", name, "--workdir", str(work)]
    cmd += ["--steps", str(args.steps), "--threads", str(args.threads), "--seed", str(args.seed)]
    cmd += ["--peer-head", args.peer_head]
    try:
        wall, rss, _ = child(cmd)
    except SystemExit as failure:
        print(f"skipping {name}: its child failed: {failure}", file=sys.stderr)
        return None
    report = json.loads((work / f"{name}.json").read_text())
    return Result(
        system=name,
        predictions=np.load(work / f"{name}-predictions.npy"),
        train_s=report["train_seconds"],
        predict_s=report["predict_seconds"],
        windows=report["windows_done"],
        steps=report["steps_done"],
        rss_train_mb=rss,
        rss_predict_mb=rss,
        one_process=True,
        walls={"train + predict": wall},
        versions=report["versions"],
        notes=report["notes"],
    )


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def report(results: list[Result], targets: np.ndarray, naive: np.ndarray, args: argparse.Namespace) -> None:
    heads = "the same head" if args.peer_head == "last" else "their stock per-step Linear(64, 1) heads"
    print(
        f"ETTh1, lookback {LOOKBACK}, horizon {HORIZON}: {N_ORIGINS} test windows x {targets.shape[2]} channels; "
        f"2 x LSTM(64), last state -> Linear(96), per channel (peers: {heads}); "
        f"{UNIVARIATE_BATCH} univariate windows per step, {args.steps} steps, {args.threads} threads, seed {args.seed}"
    )
    print()
    print(
        "| system | univariate windows/s | train s | predict s | peak RSS MB train | peak RSS MB predict "
        "| test MSE | test MAE |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        mse, mae = score(r.predictions, targets)
        predict_rss = f"{r.rss_predict_mb:.0f} (same process)" if r.one_process else f"{r.rss_predict_mb:.0f}"
        print(
            f"| {r.system} | {r.windows / r.train_s:,.0f} | {r.train_s:.1f} | {r.predict_s:.1f} "
            f"| {r.rss_train_mb:.0f} | {predict_rss} | {mse:.4f} | {mae:.4f} |"
        )
    mse, mae = score(naive, targets)
    print(f"| repeat the last value (scorer check) | | | | | | {mse:.4f} | {mae:.4f} |")
    print()
    ours = next((r for r in results if r.system == "forecast"), None)
    for peer in (r for r in results if r.system != "forecast"):
        if ours is not None:
            speed = (ours.windows / ours.train_s) / (peer.windows / peer.train_s)
            train_rss, predict_rss = ours.rss_train_mb / peer.rss_train_mb, ours.rss_predict_mb / peer.rss_predict_mb
            print(
                f"forecast / {peer.system}: windows/s {speed:.2f}x, "
                f"peak RSS train {train_rss:.2f}x, peak RSS predict {predict_rss:.2f}x"
            )
    print()
    for r in results:
        walls = ", ".join(f"{k} {v:.1f} s" for k, v in r.walls.items())
        print(f"{r.system}: {r.steps} optimizer steps, {r.windows:,} univariate windows; child wall: {walls}")
        for note in r.notes:
            print(f"  {note}")
    print()
    versions = {"python": platform.python_version()}
    for r in results:
        versions |= r.versions
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"cpu: {cpu_model()} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
    print(f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")


def parent(args: argparse.Namespace) -> None:
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        raise SystemExit(f"--systems: unknown {', '.join(unknown)} (choose from {', '.join(SYSTEMS)})")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "FORECAST_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = str(args.threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    work = Path(args.workdir or tempfile.mkdtemp(prefix="forecast-peers-"))
    work.mkdir(parents=True, exist_ok=True)
    frame, columns, mean, std = load()
    scaled = (frame[columns].to_numpy(np.float64) - mean) / std
    np.save(work / "train.npy", scaled[:TRAIN_END].astype(np.float32))
    np.save(work / "test.npy", scaled[TEST_START:TEST_END].astype(np.float32))
    targets = test_targets(scaled)
    naive = np.repeat(scaled[VAL_END - 1 : TEST_END - HORIZON, None, :], HORIZON, axis=1)

    results: list[Result] = []
    for system in systems:
        print(f"running {system} ({args.steps} steps) ...", file=sys.stderr, flush=True)
        if system == "forecast":
            result = run_forecast(args, work, frame, columns)
            result.predictions = (result.predictions - mean) / std
        else:
            result = run_peer(system, args, work)
        if result is not None:
            results.append(result)
    print(f"(work files in {work})", file=sys.stderr)
    report(results, targets, naive, args)


# ---------------------------------------------------------------------------------------- child


def child_main(args: argparse.Namespace) -> None:
    """In the peers' virtualenv: train, predict every test window, save predictions and timings."""
    import torch

    work = Path(args.workdir)
    os.chdir(work)  # anything a library writes lands here
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    train, test = np.load(work / "train.npy"), np.load(work / "test.npy")
    run = {"darts": run_darts, "neuralforecast": run_neuralforecast}[args.child]
    out = run(train, test, args)
    predictions = out.pop("predictions")
    if predictions.shape != (N_ORIGINS, HORIZON, train.shape[1]):
        raise SystemExit(f"{args.child}: predictions {predictions.shape}")
    np.save(work / f"{args.child}-predictions.npy", predictions.astype(np.float32))
    out["versions"] |= {"torch": torch.__version__, "peers python": platform.python_version()}
    (work / f"{args.child}.json").write_text(json.dumps(out, indent=2))


def step_counter() -> Any:
    """A Lightning callback that records how many optimizer steps the trainer took."""
    import pytorch_lightning as pl

    class StepCounter(pl.Callback):
        steps = 0

        def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            self.steps = trainer.global_step

    return StepCounter()


def trainer_kwargs(counter: Any | None) -> dict[str, Any]:
    """Lightning Trainer settings both peers get (max_steps goes where each library takes it)."""
    return {
        "accelerator": "cpu",
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "logger": False,
        "enable_checkpointing": False,
        "callbacks": [counter] if counter is not None else [],
    }


def run_darts(train: np.ndarray, test: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    import darts
    import pytorch_lightning as pl
    import torch
    from darts import TimeSeries
    from darts.models import BlockRNNModel
    from darts.models.forecasting.block_rnn_model import CustomBlockRNNModule
    from darts.models.forecasting.pl_forecasting_module import io_processor
    from darts.utils.data.torch_datasets.utils import PLModuleInput, PLModuleOutput

    class LastStateLSTM(CustomBlockRNNModule):
        """Stacked LSTM; its last hidden state -> Linear(hidden, output_chunk_length)."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.rnn = torch.nn.LSTM(
                self.input_size, self.hidden_dim, self.num_layers, batch_first=True, dropout=self.dropout
            )
            self.head = torch.nn.Linear(self.hidden_dim, self.output_chunk_length * self.target_size * self.nr_params)

        @io_processor
        def forward(self, x_in: PLModuleInput) -> PLModuleOutput:
            x = x_in.concatenate_past_features()
            out, _ = self.rnn(x)
            y = self.head(out[:, -1])
            return PLModuleOutput(
                prediction=y.view(x.shape[0], self.output_chunk_length, self.target_size, self.nr_params)
            )

    counter = step_counter()
    model = BlockRNNModel(
        model=LastStateLSTM if args.peer_head == "last" else "LSTM",
        input_chunk_length=LOOKBACK,
        output_chunk_length=HORIZON,
        hidden_dim=64,
        n_rnn_layers=2,
        hidden_fc_sizes=None,  # no hidden layer: the head is one Linear
        dropout=0.0,
        batch_size=UNIVARIATE_BATCH,
        n_epochs=10**6,  # max_steps stops it
        optimizer_cls=torch.optim.Adam,
        optimizer_kwargs={"lr": 1e-3, "eps": ADAM_EPSILON},
        lr_scheduler_cls=None,
        loss_fn=torch.nn.MSELoss(),
        use_reversible_instance_norm=False,
        random_state=args.seed,
        pl_trainer_kwargs={**trainer_kwargs(counter), "max_steps": args.steps},  # ends fit before n_epochs
        save_checkpoints=False,
        log_tensorboard=False,
        work_dir=str(Path.cwd()),
    )
    series = [TimeSeries.from_values(train[:, [c]]) for c in range(train.shape[1])]
    start = time.perf_counter()
    model.fit(series, dataloader_kwargs={"drop_last": True}, verbose=False)
    train_seconds = time.perf_counter() - start
    batches_per_epoch = model.trainer.num_training_batches if model.trainer is not None else None

    test_series = [TimeSeries.from_values(test[:, [c]]) for c in range(test.shape[1])]
    start = time.perf_counter()
    forecasts = model.historical_forecasts(
        test_series,
        start=LOOKBACK,
        start_format="position",
        forecast_horizon=HORIZON,
        stride=1,
        retrain=False,
        overlap_end=False,
        last_points_only=False,
        verbose=False,
        show_warnings=False,
        predict_kwargs={"batch_size": PREDICT_BATCH},
    )
    predict_seconds = time.perf_counter() - start
    # forecasts[channel][origin]: a TimeSeries of HORIZON rows, 1 component
    predictions = np.stack([np.stack([f.values()[:, 0] for f in per]) for per in forecasts], axis=-1)
    parameters = sum(p.numel() for p in model.model.parameters())
    return {
        "predictions": predictions,
        "train_seconds": train_seconds,
        "predict_seconds": predict_seconds,
        "steps_done": counter.steps,
        "windows_done": counter.steps * UNIVARIATE_BATCH,  # drop_last: every batch is full
        "versions": {"darts": darts.__version__, "pytorch-lightning": pl.__version__},
        "notes": [
            f"{parameters:,} parameters; {batches_per_epoch} full batches per pass over the training windows "
            f"({7 * (TRAIN_END - LOOKBACK - HORIZON + 1):,} univariate windows // {UNIVARIATE_BATCH})"
        ],
    }


def run_neuralforecast(train: np.ndarray, test: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    import neuralforecast
    import pytorch_lightning as pl
    import torch
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MSE
    from neuralforecast.models import LSTM

    last_state = args.peer_head == "last"

    class CountingLSTM(LSTM):
        """NF's LSTM, counting the training windows it sees; with `last_state`, its head replaced by
        the last hidden state -> Linear(hidden, h)."""

        windows_seen = 0

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if last_state:
                self.mlp_decoder = torch.nn.Linear(self.encoder_hidden_size, self.h)

        def forward(self, windows_batch: dict[str, Any]) -> torch.Tensor:
            if self.training:
                self.windows_seen += windows_batch["insample_y"].shape[0]
            if not last_state:
                return super().forward(windows_batch)
            hidden, _ = self.hist_encoder(windows_batch["insample_y"], None)  # [B, L, hidden]
            return self.mlp_decoder(hidden[:, -1]).unsqueeze(-1)  # [B, h, 1]

    model = CountingLSTM(
        h=HORIZON,
        input_size=LOOKBACK,
        encoder_n_layers=2,
        encoder_hidden_size=64,
        encoder_dropout=0.0,
        decoder_layers=1,  # the stock head is then one Linear(hidden, 1) per step, no activation
        decoder_hidden_size=64,  # unused with decoder_layers=1
        recurrent=False,  # direct: all 96 steps from one pass
        loss=MSE(),
        max_steps=args.steps,
        learning_rate=1e-3,
        num_lr_decays=-1,  # no StepLR decay
        optimizer=torch.optim.Adam,
        optimizer_kwargs={"eps": ADAM_EPSILON},
        batch_size=7,  # every series in every step ...
        windows_batch_size=UNIVARIATE_BATCH,  # ... and 126 windows drawn from them
        valid_batch_size=7,
        inference_windows_batch_size=PREDICT_BATCH,
        training_data_availability_threshold=[0.0, 1.0],  # only windows with all 96 targets
        start_padding_enabled=False,
        scaler_type="identity",
        random_seed=args.seed,
        val_check_steps=args.steps,
        early_stop_patience_steps=-1,
        alias="nf",
        **trainer_kwargs(None),
    )
    channels = train.shape[1]

    def long(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "unique_id": np.repeat([f"c{c}" for c in range(channels)], len(values)),
                "ds": np.tile(np.arange(len(values)), channels),
                "y": values.T.reshape(-1),
            }
        )

    nf = NeuralForecast(models=[model], freq=1)
    start = time.perf_counter()
    nf.fit(df=long(train), val_size=0)
    train_seconds = time.perf_counter() - start

    start = time.perf_counter()
    cv = nf.cross_validation(
        df=long(test), n_windows=None, test_size=len(test) - LOOKBACK, step_size=1, refit=False, use_fitted=True
    )
    predict_seconds = time.perf_counter() - start
    cv = cv.sort_values(["unique_id", "cutoff", "ds"])
    predictions = (
        cv["nf"].to_numpy(np.float32).reshape(channels, -1, HORIZON).transpose(1, 2, 0)
    )  # (channel, origin, step) -> (origin, step, channel); unique_id c0..c6 sorts as the channels
    fitted = nf.models[0]  # NeuralForecast fits a copy of the model it was given
    steps = len(fitted.train_trajectories)  # NF's own record: one (global step, loss) per step
    parameters = sum(p.numel() for p in fitted.parameters())
    return {
        "predictions": predictions,
        "train_seconds": train_seconds,
        "predict_seconds": predict_seconds,
        "steps_done": steps,
        "windows_done": int(fitted.windows_seen),
        "versions": {"neuralforecast": neuralforecast.__version__, "pytorch-lightning": pl.__version__},
        "notes": [f"{parameters:,} parameters; {fitted.windows_seen / max(steps, 1):.1f} windows per step on average"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000, help="optimizer steps for every system")
    parser.add_argument("--threads", type=int, default=2, help="threads per process")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated, from: " + ", ".join(SYSTEMS))
    parser.add_argument("--peer-python", default=sys.executable, help="the peers' virtualenv's python")
    parser.add_argument(
        "--peer-head",
        choices=["last", "stock"],
        default="last",
        help="last: the peers get forecast's head (last state -> Linear(96)); stock: the libraries' own",
    )
    parser.add_argument("--workdir", default=None, help="where the arrays, runs and predictions go (default: temp)")
    parser.add_argument("--child", choices=PEERS, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
    else:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        parent(args)


if __name__ == "__main__":
    main()
