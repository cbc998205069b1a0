"""Naming the first position where the log and the stored chain part, and how.

Up to that position the two agree (entries chain, so the first differing entry is the first
differing event). What is there then tells the kind, using each side's identities
(aggregate id and version): the same event with other bytes is ``altered``; an event the
chain recorded elsewhere is ``reordered`` (or ``removed``, when the event the chain
recorded at this position is gone); an event the chain never recorded, followed by the one
it did, is ``inserted``; a chained position with no event is ``removed``, or ``truncated``
when no event follows.
"""

from __future__ import annotations

from sqlalchemy import Connection

from engine.audit.chain import ChainStore
from engine.audit.findings import Finding
from engine.audit.log import EventLog
from engine.audit.record import entry_hash

__all__ = ["Locator"]


class Locator:
    """Finds and classifies the first difference between the log and the stored chain."""

    def __init__(self, log: EventLog, chain: ChainStore, conn: Connection) -> None:
        """Query both sides through ``conn``."""
        self.log, self.chain, self.conn = log, chain, conn

    def first_difference(self, rows: list[tuple[int, bytes]], start_head: bytes,
                         start_size: int, chain_end: int, after: int) -> Finding | None:
        """The first difference within a batch of log ``rows`` (position, record) that
        follows position ``after``, where both sides agreed up to ``after``."""
        head, computed = start_head, []
        for position, record in rows:
            if position > chain_end:
                break
            head = entry_hash(head, record)
            computed.append((position, head))
        stored = self.chain.rows_between(self.conn, after, min(rows[-1][0], chain_end))
        i = j = 0
        while i < len(computed) and j < len(stored):
            (lp, lh), cp = computed[i], stored[j][0]
            if lp == cp:
                if lh == stored[j][4] and stored[j][1] == start_size + i:
                    i, j = i + 1, j + 1
                    continue
                return self.classify(lp)
            return self.inserted(lp) if lp < cp else self.missing(cp)
        if j < len(stored):
            return self.missing(stored[j][0])
        if i < len(computed):
            return self.inserted(computed[i][0])
        return None

    def classify(self, position: int) -> Finding:
        """Both sides hold an event at ``position`` and they differ."""
        row = self.log.row_at(self.conn, position)
        stored = self.chain.row_at(self.conn, position)
        assert row is not None and stored is not None
        here = (row.originator_id, row.originator_version)
        chained = (stored[2], stored[3])
        if here == chained:
            return Finding("altered", position,
                           f"the event at position {position} ({_name(here)}) was altered: its "
                           "stored bytes or topic are not what the chain recorded")
        elsewhere = self.chain.position_of(self.conn, *here)
        moved_to = self.log.position_of(self.conn, *chained)
        if elsewhere is None and moved_to is not None and moved_to > position:
            return Finding("inserted", position,
                           f"an event the chain never recorded ({_name(here)}) was inserted at "
                           f"position {position}; the event chained there is now at {moved_to}")
        if elsewhere is not None and moved_to is None:
            return Finding("removed", position,
                           f"the event chained at position {position} ({_name(chained)}) was "
                           f"removed; position {position} now holds the event chained at "
                           f"{elsewhere}")
        if elsewhere is not None and moved_to is not None:
            return Finding("reordered", position,
                           f"position {position} holds the event chained at {elsewhere} "
                           f"({_name(here)}); the event chained at {position} is now at "
                           f"{moved_to}")
        return Finding("altered", position,
                       f"the event chained at position {position} ({_name(chained)}) was "
                       f"replaced by one the chain never recorded ({_name(here)})")

    def inserted(self, position: int) -> Finding:
        """The log holds an event at a position the chain skipped."""
        row = self.log.row_at(self.conn, position)
        name = _name((row.originator_id, row.originator_version)) if row else "?"
        return Finding("inserted", position,
                       f"an event the chain never recorded ({name}) was inserted at position "
                       f"{position}, among chained events")

    def missing(self, position: int) -> Finding:
        """The chain recorded an event at ``position``; the log has none there."""
        stored = self.chain.row_at(self.conn, position)
        name = _name((stored[2], stored[3])) if stored else "?"
        if self.log.next_position(self.conn, position) is None:
            return Finding("truncated", position,
                           f"the log ends before position {position}: the event chained there "
                           f"({name}) and every later one are gone")
        return Finding("removed", position,
                       f"the event chained at position {position} ({name}) was removed")


def _name(identity: tuple[str, int]) -> str:
    return f"aggregate {identity[0]} version {identity[1]}"
