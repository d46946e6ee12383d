"""A synthetic series in the exact shape and format of the Jena climate CSV.

The real file (Max Planck Institute for Biogeochemistry, 10-minute rows 2009-2016) cannot be
downloaded here; benchmarks and tests use this stand-in: the same 15 columns and header, the
`dd.mm.yyyy HH:MM:SS` time format, daily and yearly cycles plus noise, and optionally the
file's known -9999.0 sentinels in the wind columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = [
    "p (mbar)",
    "T (degC)",
    "Tpot (K)",
    "Tdew (degC)",
    "rh (%)",
    "VPmax (mbar)",
    "VPact (mbar)",
    "VPdef (mbar)",
    "sh (g/kg)",
    "H2OC (mmol/mol)",
    "rho (g/m**3)",
    "wv (m/s)",
    "max. wv (m/s)",
    "wd (deg)",
]
TIME_FORMAT = "%d.%m.%Y %H:%M:%S"


def jena_like(rows: int, seed: int = 0, sentinels: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2009-01-01 00:10:00", periods=rows, freq="10min")
    day = 2 * np.pi * np.arange(rows) / 144
    year = 2 * np.pi * np.arange(rows) / (144 * 365.25)
    weather = np.cumsum(rng.normal(0, 0.05, rows))  # slow random drift, like passing fronts
    width = min(1441, rows)
    weather -= np.convolve(weather, np.ones(width) / width, mode="same")  # keep it bounded
    temp = 9 - 10 * np.cos(year) - 4 * np.cos(day) + 3 * weather + rng.normal(0, 0.3, rows)
    pressure = 989 + 6 * np.sin(year / 3) - 2 * weather + rng.normal(0, 0.5, rows)
    rh = np.clip(76 + 12 * np.cos(day) - 2 * weather + rng.normal(0, 3, rows), 10, 100)
    vpmax = 6.11 * np.exp(17.27 * temp / (temp + 237.3))
    vpact = vpmax * rh / 100
    wv = np.abs(2 + 1.2 * np.sin(day + 1) + rng.normal(0, 0.8, rows))
    frame = pd.DataFrame(
        {
            "Date Time": times.strftime(TIME_FORMAT),
            "p (mbar)": pressure,
            "T (degC)": temp,
            "Tpot (K)": temp + 273.15 + (1000 - pressure) * 0.0098,
            "Tdew (degC)": temp - (100 - rh) / 5,
            "rh (%)": rh,
            "VPmax (mbar)": vpmax,
            "VPact (mbar)": vpact,
            "VPdef (mbar)": vpmax - vpact,
            "sh (g/kg)": 622 * vpact / pressure,
            "H2OC (mmol/mol)": 1000 * vpact / pressure,
            "rho (g/m**3)": 1.2929e5 * pressure / 1013.25 * 273.15 / (temp + 273.15) / 100,
            "wv (m/s)": wv,
            "max. wv (m/s)": wv * 1.6 + np.abs(rng.normal(0, 0.5, rows)),
            "wd (deg)": rng.uniform(0, 360, rows),
        }
    ).round(2)
    if sentinels:
        for column in ("wv (m/s)", "max. wv (m/s)"):
            frame.loc[rng.choice(rows, sentinels, replace=False), column] = -9999.0
    return frame
