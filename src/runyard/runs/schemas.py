"""The vocabulary of a run's life: statuses, disconnect modes and multitask strategies.

Kept apart from the manager so that stores, the API and the executor can share the words without
importing the registry.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a run is in its life. ``pending`` and ``running`` are the active statuses."""

    pending = "pending"
    running = "running"
    success = "success"
    error = "error"
    timeout = "timeout"
    interrupted = "interrupted"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES

    @property
    def is_terminal(self) -> bool:
        return self not in ACTIVE_STATUSES


ACTIVE_STATUSES: frozenset[RunStatus] = frozenset({RunStatus.pending, RunStatus.running})
TERMINAL_STATUSES: frozenset[RunStatus] = frozenset(set(RunStatus) - ACTIVE_STATUSES)


class DisconnectMode(StrEnum):
    """What happens to a run when the client that streams it goes away."""

    cancel = "cancel"
    continue_ = "continue"


class MultitaskStrategy(StrEnum):
    """What admission does when the thread already has an active run.

    ``enqueue`` is the Agent Server's default: the new run waits as pending behind the active one.
    """

    reject = "reject"
    interrupt = "interrupt"
    rollback = "rollback"
    enqueue = "enqueue"


SUPPORTED_STRATEGIES: tuple[str, ...] = tuple(s.value for s in MultitaskStrategy)


def is_transition_allowed(current: RunStatus, new: RunStatus) -> bool:
    """Return whether a status write from ``current`` to ``new`` may land.

    The rules every store and the in-memory registry share: an active run may move anywhere; a
    terminal status is final, so a stale write can neither revive a finished run nor replace one
    terminal status with another. Writing the status a run already has is an idempotent no-op.
    """
    if current == new:
        return True
    return current in ACTIVE_STATUSES
