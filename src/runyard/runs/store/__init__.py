"""Durable run stores: the ``RunStore`` contract and its implementations."""

from .base import RunStore
from .memory import MemoryRunStore

__all__ = ["MemoryRunStore", "RunStore"]
