"""Rows that commit in the same transaction as the events a batch caused."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AcceptedFactRow", "RejectionRow"]


@dataclass(frozen=True, slots=True)
class AcceptedFactRow:
    """The dedupe record of an accepted fact: (source, id) and its content digest."""

    source: str
    fact_id: str
    digest: str
    fact_type: str
    subject: str
    recorded_at: str


@dataclass(frozen=True, slots=True)
class RejectionRow:
    """A rejected input, kept with its original bytes and the reason.

    ``seq`` is the store's sequence number once read back (0 before it is stored).
    """

    recorded_at: str
    origin: str
    reason: str
    field: str | None
    message: str
    source: str | None
    fact_id: str | None
    fact_type: str | None
    subject: str | None
    raw: bytes
    seq: int = 0
