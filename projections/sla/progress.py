"""Where the SLA timer stands: the instant it last judged, and the view position it read.

One row per SLA view name, in a table of its own (``sla_timer``, not a view table: it
records what the timer did, not a function of the log, and it survives a rebuild, which
changes no log position). The next tick judges only what may have changed since: clocks
whose ``judge_at`` falls after ``judged_at``, and deals with facts after ``position``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Column, Connection, Engine, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from projections.sla.columns import UtcInstant

__all__ = ["PROGRESS", "TimerProgress", "ensure", "read", "write"]

_meta = MetaData()
PROGRESS = Table(
    "sla_timer",
    _meta,
    Column("name", String(64), primary_key=True),
    Column("judged_at", UtcInstant, nullable=False),
    Column("position", BigInteger, nullable=False),
)


@dataclass(frozen=True, slots=True)
class TimerProgress:
    """Every clock was judged as of ``judged_at`` with the view's facts up to ``position``."""

    judged_at: datetime
    position: int


def ensure(engine: Engine) -> None:
    """Create the table if missing."""
    _meta.create_all(engine, checkfirst=True)


def read(conn: Connection, name: str) -> TimerProgress | None:
    """The progress of the timer of view ``name`` (None: it never judged)."""
    row = conn.execute(select(PROGRESS).where(PROGRESS.c.name == name)).first()
    return None if row is None else TimerProgress(row.judged_at, int(row.position))


def write(conn: Connection, name: str, progress: TimerProgress) -> None:
    """Record ``progress`` for view ``name`` in the caller's transaction."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    values = {"judged_at": progress.judged_at, "position": progress.position}
    conn.execute(insert(PROGRESS).values(name=name, **values)
                 .on_conflict_do_update(index_elements=["name"], set_=values))
