"""Where a CPU training step of the matched network goes: one step's milliseconds per candidate.

The network is issue 21's: 126 univariate windows of 96 steps per optimizer step, 2 x LSTM(64),
the last state into Dense(96), Adam, MSE, on random data (the step's cost does not depend on the
values). Candidates of one backend and thread setting share a process and are timed in
alternating rounds, so a noisy neighbour slows them alike; the figure is the fastest round's mean
step (as timeit reports), with the median beside it. A bare torch loop of the same network runs
when torch is importable (`--torch-python` points at an interpreter that has it).

  stock            keras.layers.LSTM (on TensorFlow: a tf.while_loop over Keras's LSTMCell)
  unroll           the same with unroll=True (no loop: 96 copies of the step in the graph)
  implementation1  LSTMCell(implementation=1): one small matmul per gate
  projected        the input projection of all steps as one matmul before the loop; the loop does h @ U
  scan             the same recurrence written with keras.ops.scan
  jit              stock, compiled with jit_compile=True (XLA)
  spe8             stock, steps_per_execution=8 (8 steps per call into the graph)
  block_lstm       TensorFlow's fused BlockLSTMV2 kernel (TensorFlow only, not keras.ops)
  bf16             stock under Keras's mixed_bfloat16 policy (float32 weights, bfloat16 arithmetic:
                   not the same numbers, so at best an opt-in, never a silent default)

Usage: python bench/recurrence.py [--rounds 4] [--steps 20] [--candidates stock,projected,...]
       [--threads INTRA,INTER] [--torch-python PATH]
Run it with KERAS_BACKEND=jax (or torch) to time that backend's candidates.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH, STEPS_IN, UNITS, HORIZON = 126, 96, 64, 96
ALL = ["stock", "unroll", "implementation1", "projected", "scan", "jit", "spe8", "block_lstm", "bf16"]


def build(kind: str):
    import keras
    from keras import ops

    class RecurrentOnly(keras.layers.Layer):
        """An LSTM step on inputs already projected (x @ W + b): only h @ U is left in the loop."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units, self.state_size, self.output_size = units, [units, units], units

        def build(self, shape):
            self.recurrent_kernel = self.add_weight((self.units, 4 * self.units), "orthogonal", name="recurrent_kernel")

        def call(self, z, states, training=False):
            h, c = states
            i, f, g, o = ops.split(z + ops.matmul(h, self.recurrent_kernel), 4, axis=-1)
            c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
            h = ops.sigmoid(o) * ops.tanh(c)
            return h, [h, c]

    class Projected(keras.layers.Layer):
        def __init__(self, units, sequences, scan=False, **kwargs):
            super().__init__(**kwargs)
            self.units, self.sequences, self.scan = units, sequences, scan
            self.rnn = keras.layers.RNN(RecurrentOnly(units), return_sequences=sequences)

        def build(self, shape):
            self.kernel = self.add_weight((shape[-1], 4 * self.units), "glorot_uniform", name="kernel")
            self.bias = self.add_weight((4 * self.units,), "zeros", name="bias")
            self.rnn.build((shape[0], shape[1], 4 * self.units))

        def call(self, x):
            z = ops.matmul(x, self.kernel) + self.bias
            if not self.scan:
                return self.rnn(z)
            cell, u = self.rnn.cell, self.units

            def step(hc, zt):
                h, (_, c) = cell(zt, [hc[:, :u], hc[:, u:]])
                hc = ops.concatenate([h, c], -1)
                return hc, hc  # keras.ops.scan on TensorFlow wants ys shaped like the carry

            zero = ops.zeros((ops.shape(x)[0], 2 * u))
            last, ys = ops.scan(step, zero, ops.transpose(z, (1, 0, 2)))
            return ops.transpose(ys[:, :, :u], (1, 0, 2)) if self.sequences else last[:, :u]

    class BlockLSTM(keras.layers.Layer):
        def __init__(self, units, sequences, **kwargs):
            super().__init__(**kwargs)
            self.units, self.sequences = units, sequences

        def build(self, shape):
            self.w = self.add_weight((shape[-1] + self.units, 4 * self.units), "glorot_uniform", name="w")
            self.b = self.add_weight((4 * self.units,), "zeros", name="b")

        def call(self, x):
            import tensorflow as tf

            xt = tf.transpose(x, (1, 0, 2))
            zero = tf.zeros((tf.shape(x)[0], self.units))
            peep = tf.zeros((self.units,))
            h = tf.raw_ops.BlockLSTMV2(
                seq_len_max=tf.cast(tf.shape(xt)[0], tf.int64), x=xt, cs_prev=zero, h_prev=zero, w=self.w,
                wci=peep, wcf=peep, wco=peep, b=self.b, cell_clip=-1.0, use_peephole=False,
            )[6]  # fmt: skip
            return tf.transpose(h, (1, 0, 2)) if self.sequences else h[-1]

    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("mixed_bfloat16" if kind == "bf16" else "float32")
    inputs = keras.Input((STEPS_IN, 1))
    x = inputs
    for sequences in (True, False):
        if kind in ("projected", "scan"):
            x = Projected(UNITS, sequences, scan=kind == "scan")(x)
        elif kind == "block_lstm":
            x = BlockLSTM(UNITS, sequences)(x)
        else:
            extra = {"unroll": True} if kind == "unroll" else {"implementation": 1} if kind == "implementation1" else {}
            x = keras.layers.LSTM(UNITS, return_sequences=sequences, **extra)(x)
    model = keras.Model(inputs, keras.layers.Dense(HORIZON, dtype="float32")(x))
    keras.config.set_dtype_policy("float32")
    model.compile(
        keras.optimizers.Adam(1e-3),
        "mse",
        jit_compile=True if kind == "jit" else "auto",
        steps_per_execution=8 if kind == "spe8" else 1,
    )
    return model


def time_candidates(kinds: list[str], rounds: int, steps: int) -> dict[str, list[float]]:
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * steps, STEPS_IN, 1)).astype("float32")
    y = rng.normal(size=(BATCH * steps, HORIZON)).astype("float32")
    models = {}
    for kind in kinds:
        if kind == "block_lstm" and keras.backend.backend() != "tensorflow":
            continue
        models[kind] = build(kind)
        models[kind].fit(x[: BATCH * 8], y[: BATCH * 8], batch_size=BATCH, verbose=0)  # trace
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(rounds):
        for kind, model in models.items():
            start = time.perf_counter()
            model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
            times[kind].append((time.perf_counter() - start) / steps * 1000)
    return times


TORCH = """
import sys, time, torch
torch.manual_seed(0)
rounds, steps = int(sys.argv[1]), int(sys.argv[2])
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn, self.head = torch.nn.LSTM(1, 64, 2, batch_first=True), torch.nn.Linear(64, 96)
    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])
net = Net(); opt = torch.optim.Adam(net.parameters(), 1e-3)
x, y = torch.randn(126 * steps, 96, 1), torch.randn(126 * steps, 96)
def epoch():
    for i in range(steps):
        opt.zero_grad(); b = slice(i * 126, (i + 1) * 126)
        torch.nn.functional.mse_loss(net(x[b]), y[b]).backward(); opt.step()
epoch()
for _ in range(rounds):
    start = time.perf_counter(); epoch(); print((time.perf_counter() - start) / steps * 1000)
print("torch", torch.__version__, torch.get_num_threads())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per timed round")
    parser.add_argument("--candidates", default=",".join(ALL))
    parser.add_argument("--threads", default="", help="INTRA,INTER TensorFlow threads (default: TensorFlow's)")
    parser.add_argument("--torch-python", default="", help="an interpreter with torch, for the bare torch loop")
    args = parser.parse_args()

    import keras

    if args.threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        intra, inter = (int(v) for v in args.threads.split(","))
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()  # as forecast trains
        version = f"tensorflow {tf.__version__}"
    else:
        version = keras.backend.backend()
    times = time_candidates(args.candidates.split(","), args.rounds, args.steps)
    if args.torch_python:
        out = subprocess.run(
            [args.torch_python, "-c", TORCH, str(args.rounds), str(args.steps)], capture_output=True, text=True
        )
        lines = out.stdout.split()
        if out.returncode == 0:
            times["bare torch loop"] = [float(v) for v in out.stdout.splitlines()[:-1]]
        else:
            print(f"bare torch loop skipped: {out.stderr.strip().splitlines()[-1:] or lines}")
    threads = args.threads or "default"
    print(f"\n{version}, keras {keras.__version__}, threads {threads}; ms per step (fastest round, median)")
    print("| candidate | fastest ms/step | median ms/step |\n|---|---:|---:|")
    for kind, values in times.items():
        print(f"| {kind} | {min(values):.1f} | {sorted(values)[len(values) // 2]:.1f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
