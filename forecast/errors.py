"""How a run can end badly. Every error forecast raises on purpose derives from `Error` and carries
its exit code, so the CLI (and any orchestrator calling the Python API) can tell bad input (2) from a
runtime failure (1) and a signal (128 + n) without parsing messages.
"""

import errno
import os
import re

# An OSError's errno decides its exit code: a path the user gave that cannot be used is bad input
# (2); anything else, above all a resource that ran out (a full disk, `ulimit -f`, an I/O error),
# is a runtime failure (1): the same command may work once there is room.
USER_PATH_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP}
)


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


def path_error(exc: OSError, path: object = None) -> Error:
    """`exc` as one of ours: one line naming the file (`path`, else the one the OSError names) and the
    cause, exit 2 for a path that cannot be used (permissions, read-only, missing), else 1."""
    name = path if path is not None else exc.filename
    number = exc.errno
    if number is None:  # some libraries' OSErrors name the C library's errno in their message only
        found = re.search(r"errno = (\d+)", str(exc))
        number = int(found.group(1)) if found else None
    # the C library's words, not h5py's paragraph around them
    cause = os.strerror(number) if number else str(exc) or type(exc).__name__
    kind = ForecastError if number in USER_PATH_ERRNOS else Error
    return kind(f"{name}: {cause}" if name is not None else cause)
