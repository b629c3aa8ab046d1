"""The assistant store's exceptions, and the HTTP status the API maps each to.

    AssistantError                   base of everything the assistant store raises on purpose
    ├── AssistantExistsError         409: ``create`` (``if_exists="raise"``) found the id taken
    ├── AssistantVersionNotFoundError 404: ``set_latest`` to a version the assistant never had
    └── InvalidAssistantInputError   422: an unknown sort field, sort order, select field or
                                     ``if_exists`` mode, a non-object JSON value, a bad page
                                     (also a ``ValueError``); the message names what is accepted

A missing assistant is not an exception: reads return None, writes None or False, so the API
answers 404 with its own message.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class of the assistant store's deliberate errors."""


class AssistantExistsError(AssistantError):
    """An assistant with this id already exists."""

    def __init__(self, assistant_id: str) -> None:
        super().__init__(f"Assistant {assistant_id} already exists")
        self.assistant_id = assistant_id


class AssistantVersionNotFoundError(AssistantError):
    """The assistant exists but has no such version."""

    def __init__(self, assistant_id: str, version: int) -> None:
        super().__init__(f"Version {version} not found for assistant {assistant_id}")
        self.assistant_id = assistant_id
        self.version = version


class InvalidAssistantInputError(AssistantError, ValueError):
    """A value the assistant store does not accept; the message names the accepted ones."""
