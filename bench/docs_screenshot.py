"""Does the built documentation site render? Screenshots of its pages in headless Chromium.

`mkdocs build --strict` proves every link and anchor resolves, not that a browser shows the pages:
a theme asset that fails to load or a page that renders blank passes it. This serves site/ on
127.0.0.1 (a free port, as a web server would; file:// URLs behave differently) and has headless
Chromium screenshot the home page and one tutorial, for a person to look at.

Usage: make docs && python bench/docs_screenshot.py [--site site] [--out screenshots] [PAGE ...]
PAGE is a path under the site (default: the index and tutorials/panel/). Needs the `chromium`
command (Debian: `apt-get install chromium`); without it, or without the site, exit 2.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["", "tutorials/panel/"]
# headless, and nothing that reaches outside this machine or writes into the user's profile
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1280,900",
]


def serve(site: Path) -> http.server.ThreadingHTTPServer:
    """site/ over HTTP on 127.0.0.1 at a free port, in a daemon thread; quiet about each request."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def screenshot(browser: str, url: str, png: Path) -> None:
    """One page at 1280 x 900, after its scripts have had a (virtual) second and a half to run."""
    with tempfile.TemporaryDirectory() as profile:
        flags = [*FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", "--virtual-time-budget=1500"]
        subprocess.run([browser, *flags, url], capture_output=True, timeout=120, check=False)
    if not png.exists() or png.stat().st_size == 0:
        raise SystemExit(f"docs_screenshot.py: chromium wrote no screenshot of {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", default=PAGES, help="paths under the site (default: index, a tutorial)")
    parser.add_argument("--site", type=Path, default=ROOT / "site", help="the built site (make docs)")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="folder for the PNGs")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("docs_screenshot.py: no chromium command (Debian: apt-get install chromium)", file=sys.stderr)
        sys.exit(2)
    if not (args.site / "index.html").is_file():
        print(f"docs_screenshot.py: no {args.site}/index.html: build the site first (make docs)", file=sys.stderr)
        sys.exit(2)
    args.out.mkdir(parents=True, exist_ok=True)
    server = serve(args.site)
    try:
        for page in args.pages:
            url = f"http://127.0.0.1:{server.server_port}/{page}"
            with urllib.request.urlopen(url, timeout=10) as answer:  # a 404 raises: no screenshot of an error page
                answer.read()
            png = args.out / ((page.strip("/").replace("/", "-") or "index") + ".png")
            png.unlink(missing_ok=True)
            screenshot(browser, url, png)
            print(f"{url} -> {png}")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
