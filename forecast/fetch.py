"""`forecast data download`: fetch a public dataset archive, check it, unpack it atomically.

Only the Jena climate series (Max Planck Institute for Biogeochemistry, prepared by François
Chollet for Deep Learning with Python) is known today. The archive is checked by size (and by
SHA-256 when one is given), the CSV inside by its exact header, and it is unpacked under a
temporary name and renamed into place; an existing file with other content is never replaced.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from forecast.errors import ForecastError


@dataclass(frozen=True)
class Dataset:
    url: str
    size: int | None  # bytes of the archive at `url`
    member: str  # the CSV inside the zip
    header: str  # its first line, exactly


JENA = Dataset(
    url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/jena_climate_2009_2016.csv.zip",
    size=13_568_290,
    member="jena_climate_2009_2016.csv",
    header='"Date Time","p (mbar)","T (degC)","Tpot (K)","Tdew (degC)","rh (%)","VPmax (mbar)","VPact (mbar)",'
    '"VPdef (mbar)","sh (g/kg)","H2OC (mmol/mol)","rho (g/m**3)","wv (m/s)","max. wv (m/s)","wd (deg)"',
)
DATASETS = {"jena": JENA}


def make_dest(dest: Path) -> None:
    """Create the --dest folder (and its parents) of `forecast data ...`.

    Raises:
        ForecastError: `dest` is a file, or cannot be created.
    """
    if dest.exists() and not dest.is_dir():
        raise ForecastError(f"--dest: {dest} is a file, not a folder")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ForecastError(f"--dest: cannot create {dest} ({exc.strerror})") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(
    name: str, dest: Path, url: str | None = None, sha256: str | None = None, size: int | None = None
) -> tuple[Path, str]:
    """Download dataset `name` into `dest`; returns the CSV's path and what happened."""
    if name not in DATASETS:
        raise ForecastError(f"data download: unknown dataset '{name}' (known: {', '.join(DATASETS)})")
    dataset = DATASETS[name]
    expected_size = size if size is not None else (dataset.size if url is None else None)
    url = url or dataset.url
    make_dest(dest)
    target = dest / dataset.member
    with tempfile.TemporaryDirectory(dir=dest, prefix=".download-") as tmp:
        archive = Path(tmp) / "archive.zip"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, archive.open("wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RuntimeError(f"cannot download {url}: {exc}") from None
        got = archive.stat().st_size
        if expected_size is not None and got != expected_size:
            raise ForecastError(
                f"{url}: downloaded {got:,} bytes, expected {expected_size:,} (a truncated or different file)"
            )
        if sha256 is not None and _sha256(archive) != sha256.lower():
            raise ForecastError(f"{url}: SHA-256 {_sha256(archive)} does not match --sha256 {sha256}")
        try:
            with zipfile.ZipFile(archive) as zf:
                if dataset.member not in zf.namelist():
                    raise ForecastError(
                        f"{url}: the archive holds no {dataset.member} (it has {', '.join(zf.namelist()[:5])})"
                    )
                unpacked = Path(tmp) / dataset.member
                with zf.open(dataset.member) as src, unpacked.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
        except zipfile.BadZipFile:
            raise ForecastError(f"{url}: not a zip archive") from None
        with unpacked.open(encoding="utf-8", errors="replace") as f:
            header = f.readline().strip()
        if header != dataset.header:
            raise ForecastError(f"{url}: {dataset.member} does not start with the expected header ({header[:80]}...)")
        if target.exists():
            if _sha256(target) == _sha256(unpacked):
                return target, "already present, identical"
            raise ForecastError(f"{target} exists with different content; move it away or pick another --dest")
        os.replace(unpacked, target)
    return target, f"downloaded {got:,} bytes from {url}"
