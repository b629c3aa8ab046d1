"""The stream bridge's exceptions.

    StreamError               base of everything a stream bridge raises on purpose
    ├── StreamClosedError     the log is gone: the bridge was closed, or the run's log was
    │                         cleaned up while a subscription still read it. An SSE response
    │                         that gets this closes *without* an ``end`` frame, so a client
    │                         asks the run's status and reconnects if the run still goes on.
    │   └── StreamUnavailableError  the server behind a cross-process bridge (Redis) cannot be
    │                         reached. Readers get it as a closed log (the API then answers from
    │                         the run store); ``publish`` raises it when an event is lost, and
    │                         the run goes on without it (the bridge logged and counted it).
    └── StreamEndedError      ``publish`` after ``publish_end`` on the same run: nothing may
                              follow the end marker, because subscribers have already stopped.

Neither maps to an HTTP status by itself: both happen after the SSE response has started.
"""

from __future__ import annotations


class StreamError(Exception):
    """Base class of the stream bridge's deliberate errors."""


class StreamClosedError(StreamError):
    """The bridge, or the run's log, was closed before the subscription reached the end."""

    def __init__(self, run_id: str | None = None) -> None:
        what = "The stream bridge is closed" if run_id is None else f"The event log of run {run_id} is closed"
        super().__init__(what)
        self.run_id = run_id


class StreamEndedError(StreamError):
    """An event was published after the run's end marker."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"The event log of run {run_id} has ended; nothing may be published after the end")
        self.run_id = run_id


class StreamUnavailableError(StreamClosedError):
    """The server behind the bridge does not answer; the message names it and the operation."""

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.run_id = None
