"""The stored chain: its state row, its entries, and the signed checkpoints.

Every write happens in the caller's transaction; :meth:`ChainStore.advance` is a
compare-and-set on the chain's size, so two followers can never both extend the chain.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.audit.checkpoint import Checkpoint
from engine.audit.merkle import Frontier
from engine.audit.record import GENESIS
from engine.audit.tables import AUDIT_METADATA, CHAIN, CHECKPOINTS, STATE
from engine.store.chunks import lookup_chunks

__all__ = ["ChainRow", "ChainState", "ChainStore"]

_NAME = "chain"
ChainRow = tuple[int, int, str, int, bytes]
"""(position, seq, originator id as 32 hex, originator version, entry)."""


@dataclass(frozen=True, slots=True)
class ChainState:
    """How far the chain reaches: ``size`` entries, the last at ``position``."""

    log: str
    size: int = 0
    position: int = 0
    head: bytes = GENESIS
    frontier: Frontier = field(default_factory=Frontier)

    @property
    def root(self) -> bytes:
        """The Merkle root of the chain's entries."""
        return self.frontier.root()

    def unsigned_checkpoint(self, time: datetime) -> Checkpoint:
        """A checkpoint of this state at ``time`` (timezone-aware), not signed yet."""
        return Checkpoint(log=self.log, size=self.size, position=self.position,
                          head=self.head, root=self.root, time=time)


class ChainStore:
    """Reads and writes the audit tables (see :mod:`engine.audit.tables`)."""

    def __init__(self, engine: Engine) -> None:
        """Create the tables if they are missing."""
        self.engine = engine
        AUDIT_METADATA.create_all(engine, checkfirst=True)

    # ------------------------------------------------------------------ state
    def state(self, conn: Connection) -> ChainState | None:
        """The chain's state, or ``None`` before the chain has started."""
        row = conn.execute(select(STATE).where(STATE.c.name == _NAME)).first()
        if row is None:
            return None
        return ChainState(log=row.log, size=int(row.size), position=int(row.position),
                          head=bytes(row.head),
                          frontier=Frontier.from_bytes(int(row.size), bytes(row.frontier)))

    def start(self, conn: Connection) -> ChainState:
        """The chain's state, creating it (empty, with a fresh log id) if needed."""
        found = self.state(conn)
        if found is not None:
            return found
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(dialect_insert(STATE).values(
            name=_NAME, log=str(uuid.uuid4()), size=0, position=0, head=GENESIS,
            frontier=b"").on_conflict_do_nothing(index_elements=["name"]))
        conn.commit()
        started = self.state(conn)
        assert started is not None
        return started

    def advance(self, conn: Connection, old: ChainState, rows: Sequence[ChainRow],
                new: ChainState) -> bool:
        """Add ``rows`` and move the state from ``old`` to ``new``; False if the chain
        moved meanwhile (nothing is written then; the caller rolls back)."""
        moved = conn.execute(
            update(STATE).where(STATE.c.name == _NAME, STATE.c.size == old.size)
            .values(size=new.size, position=new.position, head=new.head,
                    frontier=new.frontier.to_bytes()))
        if moved.rowcount != 1:
            return False
        mark = "?" if conn.dialect.name == "sqlite" else "%s"
        cursor = conn.connection.cursor()
        try:  # a plain executemany: the follower writes every event of the log once
            cursor.executemany(
                f"INSERT INTO {CHAIN.name} (position, seq, originator_id, originator_version, "
                f"entry) VALUES ({mark}, {mark}, {mark}, {mark}, {mark})", rows)
        finally:
            cursor.close()
        return True

    # ---------------------------------------------------------------- entries
    def row_at(self, conn: Connection, position: int) -> ChainRow | None:
        """The chain row of the event at ``position``, if chained."""
        rows = self.rows_between(conn, position - 1, position)
        return rows[0] if rows else None

    def rows_between(self, conn: Connection, after: int, upto: int) -> list[ChainRow]:
        """Chain rows in positions ``(after, upto]``, in order."""
        query = (select(CHAIN.c.position, CHAIN.c.seq, CHAIN.c.originator_id,
                        CHAIN.c.originator_version, CHAIN.c.entry)
                 .where(CHAIN.c.position > after, CHAIN.c.position <= upto)
                 .order_by(CHAIN.c.position))
        return [(int(r[0]), int(r[1]), str(r[2]), int(r[3]), bytes(r[4]))
                for r in conn.execute(query)]

    def entries_between(self, conn: Connection, after: int, upto: int) -> list[bytes]:
        """The entries of the chain rows in positions ``(after, upto]``, in order."""
        cursor = conn.connection.cursor()
        mark = "?" if conn.dialect.name == "sqlite" else "%s"
        try:
            cursor.execute(f"SELECT entry FROM {CHAIN.name} WHERE position > {mark} "
                           f"AND position <= {mark} ORDER BY position", (after, upto))
            return [entry for (entry,) in cursor.fetchall()]
        finally:
            cursor.close()

    def entry_before(self, conn: Connection, position: int) -> bytes:
        """The chain entry before the one at ``position`` (the genesis value for the first)."""
        found = conn.execute(select(CHAIN.c.entry).where(CHAIN.c.position < position)
                             .order_by(CHAIN.c.position.desc()).limit(1)).first()
        return bytes(found[0]) if found else GENESIS

    def position_of(self, conn: Connection, originator_hex: str, version: int) -> int | None:
        """Where the chain recorded event (aggregate, version), if it did."""
        found = conn.execute(select(CHAIN.c.position).where(
            CHAIN.c.originator_id == originator_hex,
            CHAIN.c.originator_version == version)).first()
        return int(found[0]) if found else None

    def positions_of(self, conn: Connection, positions: Sequence[int]) -> dict[int, int]:
        """Each chained position's index in the chain (``seq``)."""
        found: dict[int, int] = {}
        for chunk in lookup_chunks(positions):
            query = select(CHAIN.c.position, CHAIN.c.seq).where(CHAIN.c.position.in_(chunk))
            found.update({int(p): int(s) for p, s in conn.execute(query)})
        return found

    def entries(self, conn: Connection, size: int) -> bytes:
        """The first ``size`` entries, concatenated in chain order."""
        query = (select(CHAIN.c.entry).where(CHAIN.c.seq < size).order_by(CHAIN.c.position))
        data = b"".join(bytes(r[0]) for r in conn.execute(query))
        if len(data) != 32 * size:
            raise LookupError(f"the chain holds {len(data) // 32} entries, not {size}")
        return data

    def last_position(self, conn: Connection) -> int:
        """The last chained position (0 when empty)."""
        return int(conn.execute(select(func.max(CHAIN.c.position))).scalar() or 0)

    # ------------------------------------------------------------ checkpoints
    def save_checkpoint(self, conn: Connection, checkpoint: Checkpoint) -> None:
        """Keep a signed checkpoint (a second one of the same size is ignored)."""
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(dialect_insert(CHECKPOINTS).values(
            size=checkpoint.size, position=checkpoint.position, document=checkpoint.dumps(),
        ).on_conflict_do_nothing(index_elements=["size"]))

    def documents(self, conn: Connection) -> list[tuple[int, str]]:
        """Every stored checkpoint document (unparsed), by size."""
        query = select(CHECKPOINTS.c.size, CHECKPOINTS.c.document).order_by(CHECKPOINTS.c.size)
        return [(int(size), str(doc)) for size, doc in conn.execute(query)]

    def checkpoints(self, conn: Connection) -> list[Checkpoint]:
        """Every stored checkpoint, by size."""
        return [Checkpoint.loads(doc, f"stored checkpoint {size}")
                for size, doc in self.documents(conn)]

    def last_checkpoint(self, conn: Connection) -> Checkpoint | None:
        """The largest stored checkpoint."""
        row = conn.execute(select(CHECKPOINTS.c.size, CHECKPOINTS.c.document)
                           .order_by(CHECKPOINTS.c.size.desc()).limit(1)).first()
        return Checkpoint.loads(row[1], f"stored checkpoint {row[0]}") if row else None
