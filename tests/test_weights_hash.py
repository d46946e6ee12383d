"""bench/weights_hash.py: the fingerprint of a config's untrained model, which BENCHMARKS.md uses to
show that a change leaves a config's network as it was."""

from __future__ import annotations

import pytest
from conftest import tiny_config

from bench.weights_hash import fingerprint


@pytest.mark.slow  # builds Keras models
def test_the_fingerprint_follows_the_seed_and_the_network(write_config):
    same = [fingerprint(str(write_config(tiny_config(), f"c{k}.yaml"))) for k in range(2)]
    assert same[0] == same[1] and same[0][0] > 0
    assert fingerprint(str(write_config(tiny_config(seed=8), "seed.yaml"))) != same[0]
    # the default base (auto: a linear part) has weights a model without one lacks
    assert fingerprint(str(write_config(tiny_config(model={"base": "none"}), "none.yaml")))[0] < same[0][0]
