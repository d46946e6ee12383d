#!/usr/bin/env bash
# Fetch, on this machine, the wheels the GPU machine lacks (Python 3.12, x86-64): Keras and
# its small dependencies, and pydantic for the config schema. bench/gpu.sh installs them there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
  keras namex optree pydantic pydantic-core annotated-types typing-inspection
ls .whl
