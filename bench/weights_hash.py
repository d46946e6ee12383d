"""A fingerprint of the untrained model a config builds: every weight's path and bytes, hashed.

Two commits that print the same fingerprint for a config build the same network with the same
initial weights; training being deterministic (op determinism, the seeded batch order), they train
the same model. Used to show that a change leaves configs it should not touch alone (issue 33: the
zero-initialised head under a base leaves every `base: none` config as it was).

Usage: python bench/weights_hash.py CONFIG [CONFIG ...]   (run from each commit's tree)
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np

import forecast
from forecast import backend


def fingerprint(config_file: str) -> tuple[int, str]:
    """(weights, the first 16 hex digits of their sha256), the backend seeded with the config's seed."""
    config = forecast.load_config(config_file)
    backend.configure(config.seed)
    model = forecast.build_model(config)
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(weight.path.encode())
        digest.update(np.asarray(weight).tobytes())
    return len(model.weights), digest.hexdigest()[:16]


if __name__ == "__main__":
    for path in sys.argv[1:]:
        count, digest = fingerprint(path)
        print(f"{path}: {count} weights, {digest}")
