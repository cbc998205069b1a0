"""What one chain entry commits to: an event's position, identity, topic and stored bytes.

The canonical *record* of an event is the header
``"<position>:<originator id, 32 lowercase hex>:<version>:<byte length of topic>:<topic>:"``
(UTF-8) followed by the event's stored bytes, untouched. Every field before the topic is
digits or hex and the topic is length-prefixed, so the encoding is unambiguous; it is also
simple enough that SQLite and PostgreSQL build whole records themselves (:func:`record_sql`),
which keeps the verifier's per-event Python work to two hashes.

Chain entry ``i`` (``0``-based) is the RFC 6962 leaf hash of the previous entry followed by
the record: ``entry_i = SHA-256(0x00 || entry_{i-1} || record_i)``, with 32 zero bytes
before the first. The entries are at once the hash chain (each covers its predecessor) and
the leaves of the Merkle tree (:mod:`engine.audit.merkle`); the chain head is the last entry.
"""

from __future__ import annotations

from hashlib import sha256
from uuid import UUID

__all__ = ["GENESIS", "entry_hash", "normalise_originator", "record_header", "record_sql"]

#: The "previous entry" of the first event.
GENESIS = bytes(32)
_LEAF = b"\x00"


def normalise_originator(originator_id: UUID | str) -> str:
    """An aggregate id as 32 lowercase hex digits (how SQLite stores it)."""
    if isinstance(originator_id, UUID):
        return originator_id.hex
    return UUID(originator_id).hex


def record_header(position: int, originator_id: UUID | str, version: int, topic: str) -> bytes:
    """The header that precedes an event's stored bytes in its record."""
    topic_bytes = topic.encode()
    return b"%d:%s:%d:%d:%s:" % (position, normalise_originator(originator_id).encode(),
                                  version, len(topic_bytes), topic_bytes)


def entry_hash(previous: bytes, header: bytes, state: bytes = b"") -> bytes:
    """The chain entry (and Merkle leaf) of a record (``header`` then ``state``, or the
    whole record as ``header``), given the previous entry."""
    return sha256(_LEAF + previous + header + state).digest()


def record_sql(dialect: str, position: str) -> str:
    """An SQL expression for the whole record (header, then the stored bytes), as bytes,
    on the events table; ``position`` is the column holding the log position (``rowid``
    on SQLite, ``notification_id`` on PostgreSQL)."""
    if dialect == "sqlite":
        # CAST to BLOB last: concatenation passes bytes through untouched (NUL included).
        return (f"CAST({position} || ':' || lower(replace(originator_id, '-', '')) || ':' || "
                "originator_version || ':' || length(CAST(topic AS BLOB)) || ':' || topic || "
                "':' || state AS BLOB)")
    return (f"convert_to({position}::text || ':' || replace(originator_id::text, '-', '') || "
            "':' || originator_version::text || ':' || octet_length(topic)::text || ':' || "
            "topic || ':', 'UTF8') || state")
