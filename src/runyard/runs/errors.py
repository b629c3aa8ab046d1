"""The run runtime's exceptions, and the HTTP status the API maps each to.

    RunError                     base of everything the runtime raises on purpose
    ├── ConflictError            409: the thread already has an active run (strategy ``reject``),
    │                            or a guarded write lost a race it cannot retry
    │   └── ThreadBusyError      raised by a store when its admission guard finds the thread busy
    ├── UnsupportedStrategyError 422: a multitask strategy runyard does not know
    └── RunNotFoundError         404: no such run (for this user)

Store failures that are not decisions (a dropped connection, a locked SQLite file) are not
wrapped: the manager's retry policy looks at the driver's own exception chain to tell transient
from permanent.
"""

from __future__ import annotations


class RunError(Exception):
    """Base class of the run runtime's deliberate errors."""


class ConflictError(RunError):
    """The thread already has an active run and the strategy forbids another."""


class ThreadBusyError(ConflictError):
    """A store's atomic admission found an active run on the thread."""

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"Thread {thread_id} already has an active run")
        self.thread_id = thread_id


class UnsupportedStrategyError(RunError, ValueError):
    """The multitask strategy is not one runyard implements."""


class RunNotFoundError(RunError, LookupError):
    """No run with that id is visible to the caller."""
