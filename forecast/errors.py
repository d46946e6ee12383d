"""The two kinds of failure the CLI tells apart: the user's input (exit 2) and the rest (exit 1)."""


class ForecastError(Exception):
    """Bad config, bad data or a bad path: the message names what to fix; the CLI exits 2."""

    exit_code = 2
