#!/usr/bin/env bash
# GPU benchmark for a session with a lent GPU machine (torch and JAX there, no TensorFlow,
# no network). Here, first: bash bench/gpu_wheels.sh  (fetches the wheels that machine lacks
# into .whl/). Then, through the device tool, with carry [".whl"]:  bash bench/gpu.sh
# Installs nothing from the network: only the carried wheels, into /tmp/site.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
else
  export PYTHONPATH="$PWD"
fi
export PYTHONUNBUFFERED=1 FORECAST_BENCH_TMP=/tmp/forecast-gpu
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
python3 -c "import keras, torch; print('keras', keras.__version__, 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"
for backend in torch jax; do
  KERAS_BACKEND=$backend python3 bench/gpu.py "$@" || echo "backend $backend failed"
done
