"""bench/throughput.py's regression gate: `--require` parsing and the verdict, without the bench.

The bench itself trains for minutes; these check the pure functions it ends with, in milliseconds.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from bench.throughput import TOLERANCE, gate, parse


@pytest.mark.slow  # a subprocess
def test_importing_the_bench_loads_neither_keras_nor_forecast():
    heavy = "{'keras', 'tensorflow', 'numpy', 'forecast'}"
    code = f"import sys, bench.throughput; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_require_and_tolerance_are_parsed():
    args = parse(["--require", "forecast=2100", "--require", "ratio=0.95"])
    assert args.require == [("forecast", 2100.0), ("ratio", 0.95)] and args.tolerance == TOLERANCE == 0.15
    assert parse([]).require == []
    assert parse(["--require", "ratio=1e0", "--tolerance", "0"]).tolerance == 0.0


GATE = "expected forecast=WINDOWS_PER_S or ratio=R with a positive number"
FRACTION = "expected a fraction in [0, 1), e.g. 0.15"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--require", "forecast"], f"argument --require: 'forecast': {GATE}"),  # no figure
        (["--require", "speed=2100"], f"argument --require: 'speed=2100': {GATE}"),  # not a gate
        (["--require", "forecast=fast"], f"argument --require: 'forecast=fast': {GATE}"),
        (["--require", "forecast=-1"], f"argument --require: 'forecast=-1': {GATE}"),
        (["--require", "ratio=nan"], f"argument --require: 'ratio=nan': {GATE}"),
        (["--require", "ratio=inf"], f"argument --require: 'ratio=inf': {GATE}"),
        (["--tolerance", "1"], f"argument --tolerance: '1': {FRACTION}"),
        (["--tolerance", "-0.1"], f"argument --tolerance: '-0.1': {FRACTION}"),
        (["--tolerance", "a lot"], f"argument --tolerance: 'a lot': {FRACTION}"),
        (["--epochs", "1"], "--epochs: at least 2 (the first epoch of each block is dropped)"),
    ],
)
def test_a_bad_option_stops_before_the_bench(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        parse(argv)
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"throughput.py: error: {message}"


def test_a_figure_within_the_tolerance_passes_and_below_it_fails():
    required = [("forecast", 2000.0), ("ratio", 1.0)]
    met = gate({"forecast": 1700.0, "ratio": 0.85}, required)  # exactly 0.85 x each: noise, not a regression
    assert [ok for ok, _ in met] == [True, True]
    assert met[0][1] == "forecast's training windows/s 1700 >= 1700 required (0.85 x recorded 2000)"
    failed = gate({"forecast": 1699.0, "ratio": 0.849}, required)
    assert [ok for ok, _ in failed] == [False, False]
    assert failed[1][1] == "forecast's windows/s / hand-written's 0.849 < 0.850 required (0.85 x recorded 1)"
    assert [ok for ok, _ in gate({"forecast": 1900.0}, [("forecast", 2000.0)], tolerance=0.0)] == [False]
