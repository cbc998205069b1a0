"""Lookups by many keys in few distinct statements.

A query ``... IN (?, ?, ...)`` or ``WITH k AS (VALUES (?, ?), ...)`` has one SQL text per
count of keys, and a connection keeps each text it ran as a prepared statement: SQLite's
through Python's statement cache (64 statements on the event store's connections, 128 on
the views'), PostgreSQL's once psycopg has run a text five times. A SQLite statement of 500
keys takes ~50-100 KB of SQLite's heap, so one connection's cache of lookups of every count
held ~6 MB, filling as batches of new sizes came: ``serve``'s memory grew for it while the
soak ran. :func:`lookup_chunks` pads each chunk to the next of a few sizes by repeating its
last key (an ``IN`` list or a lookup that keeps its rows in a dict counts it once), so each
lookup has at most ``len(SIZES)`` texts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["CHUNK", "SIZES", "lookup_chunks"]

T = TypeVar("T")

#: The counts of keys a lookup statement is run with.
SIZES = (8, 16, 32, 64, 128, 256, 512)
#: The most keys in one statement: well under SQLite's and psycopg's parameter limits (two
#: parameters a key), and large enough that a batch of 1,000 facts costs two queries.
CHUNK = SIZES[-1]


def lookup_chunks(values: Iterable[T]) -> Iterator[list[T]]:
    """``values`` without repeats (first occurrence kept), at most :data:`CHUNK` at a time,
    each chunk padded to the next of :data:`SIZES` with its last value repeated."""
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start:start + CHUNK]
        size = next(s for s in SIZES if s >= len(chunk))
        chunk.extend([chunk[-1]] * (size - len(chunk)))
        yield chunk
