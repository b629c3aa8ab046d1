"""``embed``: a deterministic, offline embedding function for the store's semantic search.

Each text becomes a bag of hashed words: every lower-cased word adds 1 to one of ``DIMS``
buckets (chosen by a stable hash), and the vector is scaled to unit length. Texts that share
words point the same way, so cosine similarity ranks them first. No model, no network, no key:
for examples and tests. A real project names a model instead, e.g. ``"openai:text-embedding-3-small"``.

Configure it in ``langgraph.json``::

    "store": {"index": {"embed": "./embeddings.py:embed", "dims": 64, "fields": ["text"]}}
"""

from __future__ import annotations

import hashlib
import math
import re

DIMS = 64
_WORD = re.compile(r"[a-z0-9]+")


def _bucket(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big") % DIMS


def embed_one(text: str) -> list[float]:
    """The unit vector of ``text``'s hashed words (all zeros but one for a text without words)."""
    vector = [0.0] * DIMS
    for word in _WORD.findall(text.lower()):
        vector[_bucket(word)] += 1.0
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        vector[0] = 1.0
        return vector
    return [x / norm for x in vector]


def embed(texts: list[str]) -> list[list[float]]:
    """LangGraph's ``EmbeddingsFunc``: one vector per text."""
    return [embed_one(text) for text in texts]
