"""Domain errors and the exit codes they map to (the one place for both)."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1  # the cluster was changed, then something failed
    NOTHING_CHANGED = 2  # bad input, configuration, validation, unreachable cluster
    LOCKED = 3
    NOT_RESTORED = 4  # a rollout failed and its automatic rollback did not restore the cluster
    INTERRUPTED = 130
    TERMINATED = 143


class DeployctlError(Exception):
    """An expected failure: shown as one message, never as a traceback."""

    exit_status = ExitStatus.NOTHING_CHANGED


class ConfigError(DeployctlError):
    """Bad input: a file, field or flag that the user must fix."""


class ClusterError(DeployctlError):
    """The local sandbox cluster could not be built, started or stopped."""

    exit_status = ExitStatus.FAILED


class Interrupted(DeployctlError):
    """Ctrl-C (130) or SIGTERM (143): the run stopped cleanly."""

    def __init__(self, message: str, status: ExitStatus = ExitStatus.INTERRUPTED) -> None:
        super().__init__(message)
        self.exit_status = status


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so a run stops as cleanly as on Ctrl-C."""
