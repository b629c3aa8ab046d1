"""The run runtime: a registry of runs on a durable run store."""

from .errors import ConflictError, RunError, RunNotFoundError, ThreadBusyError, UnsupportedStrategyError
from .manager import PersistenceRetryPolicy, RunManager
from .record import RunRecord
from .schemas import DisconnectMode, MultitaskStrategy, RunStatus

__all__ = [
    "ConflictError",
    "DisconnectMode",
    "MultitaskStrategy",
    "PersistenceRetryPolicy",
    "RunError",
    "RunManager",
    "RunNotFoundError",
    "RunRecord",
    "RunStatus",
    "ThreadBusyError",
    "UnsupportedStrategyError",
]
