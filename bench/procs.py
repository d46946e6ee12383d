"""Child processes for benchmarks: each command's own wall time and peak RSS."""

from __future__ import annotations

import subprocess
import time


def child(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of `cmd`, run under GNU time (its own max RSS, not this
    process's or an earlier child's)."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return seconds, float(done.stderr.strip().splitlines()[-1]) / 1024, done.stdout
