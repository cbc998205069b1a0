"""Rows that commit in the same transaction as the events a batch caused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["AcceptedFactRow", "RejectionRow"]


class AcceptedFactRow(NamedTuple):
    """The dedupe record of an accepted fact: (source, id) and its content digest.

    A named tuple in the table's column order: one is made per accepted fact, and a tuple
    is made in a fraction of a frozen dataclass's time (whose ``__init__`` sets each field
    through ``object.__setattr__``) and goes to the driver as it is."""

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
