"""How a run can end badly, each with its exit code: the CLI prints the message and exits with it."""


class ForecastError(Exception):
    """Bad config, bad data or a bad path: the message names what to fix."""

    exit_code = 2


class Diverged(Exception):
    """The loss became NaN or infinite; the last good weights and the history are kept."""

    exit_code = 1


class Interrupted(Exception):
    """SIGINT or SIGTERM during training; the run can be resumed from its last completed epoch."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum
