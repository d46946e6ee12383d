"""How a run can end badly. Every error forecast raises on purpose derives from `Error` and carries
its exit code, so the CLI (and any orchestrator calling the Python API) can tell bad input (2) from a
runtime failure (1) and a signal (128 + n) without parsing messages.
"""


class Error(Exception):
    """Base of forecast's own errors; the message is written for the user, the code for the shell."""

    exit_code = 1


class ForecastError(Error):
    """Bad config, bad data or a bad path: the message names what to fix."""

    exit_code = 2


class Diverged(Error):
    """The loss became NaN or infinite; the last good weights and the history are kept."""

    exit_code = 1


class GateFailed(Error):
    """A requirement (`evaluate --require`) that the metrics do not meet: exit 1, like any failed CI check."""

    exit_code = 1


class Pruned(Error):
    """A tuning trial stopped by Optuna's pruner at an epoch end: its validation loss was not promising."""

    def __init__(self, epoch: int, value: float) -> None:
        super().__init__(f"pruned at epoch {epoch} (val_loss {value:.4g})")
        self.epoch = epoch
        self.value = value


class Interrupted(Error):
    """SIGINT or SIGTERM during training; the run can be resumed from its last completed epoch."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
