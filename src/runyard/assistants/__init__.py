"""Durable assistants: the ``AssistantStore`` contract, its memory implementation, and its errors.

``SqlAssistantStore`` lives in ``runyard.assistants.sql`` and is imported only when a SQL
database is chosen. The package sits beside ``threads/`` above ``persistence/``: it imports only
``runyard.persistence``, ``runyard.runs.clock`` and the thread store's JSON containment helpers.
"""

from .base import ASSISTANT_FIELDS, SORT_FIELDS, SYSTEM_METADATA, VERSION_FIELDS, AssistantStore, is_system
from .errors import (
    AssistantError,
    AssistantExistsError,
    AssistantVersionNotFoundError,
    InvalidAssistantInputError,
)
from .memory import MemoryAssistantStore

__all__ = [
    "ASSISTANT_FIELDS",
    "SORT_FIELDS",
    "SYSTEM_METADATA",
    "VERSION_FIELDS",
    "AssistantError",
    "AssistantExistsError",
    "AssistantStore",
    "AssistantVersionNotFoundError",
    "InvalidAssistantInputError",
    "MemoryAssistantStore",
    "is_system",
]
