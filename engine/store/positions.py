"""Where each follower of the log stands: one row per name, moved by compare-and-set.

``view_catalog`` holds, per follower (each view, the audit chain), the log position it has
applied and, for views, the active table generation. A follower writes its rows and its new
position in ONE transaction, and the position update is a compare-and-set on the old value:
even if two followers ever overlapped (the singleton lock is the first guard), a batch can
never be applied twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError

from engine.errors import PositionConflictError

__all__ = ["CATALOG", "LEGACY", "PositionRow", "advance", "advance_all", "ensure", "move", "rows",
           "set_layout"]

_meta = MetaData()
CATALOG = Table(
    "view_catalog",
    _meta,
    Column("name", String(64), primary_key=True),
    Column("generation", String(1), nullable=False),
    Column("position", BigInteger, nullable=False),
    # A view's table layout (Projection.layout_id) when its live generation was built; a
    # layout that changed since (an upgrade) means the view must be rebuilt.
    Column("layout", String(64), nullable=True),
)
PositionRow = dict[str, Any]
#: The layout of views built before layouts were kept: unknown, so they are rebuilt.
LEGACY = "legacy"


def ensure(engine: Engine, names: Iterable[str]) -> None:
    """Create the table and a row (generation ``a``, position 0) per name if missing."""
    _meta.create_all(engine, checkfirst=True)
    if "layout" not in {c["name"] for c in inspect(engine).get_columns(CATALOG.name)}:
        # A store from before layouts were kept; another process may add it at the same time.
        exists = " IF NOT EXISTS" if engine.dialect.name == "postgresql" else ""
        # Its views were built by a release that kept no layout: whether their tables match
        # today's is unknown, so they are marked for a rebuild (``LEGACY`` never matches).
        try:
            with engine.begin() as conn:
                conn.execute(text(
                    f"ALTER TABLE {CATALOG.name} ADD COLUMN{exists} layout VARCHAR(64)"))
                conn.execute(update(CATALOG).where(CATALOG.c.layout.is_(None))
                             .values(layout=LEGACY))
        except OperationalError as exc:  # SQLite: "duplicate column name"
            if "duplicate column" not in str(exc):
                raise
    with engine.begin() as conn:
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        for name in names:
            conn.execute(insert(CATALOG).values(name=name, generation="a", position=0)
                         .on_conflict_do_nothing(index_elements=["name"]))


def rows(conn: Connection) -> dict[str, PositionRow]:
    """Every row by name."""
    return {row.name: dict(row._mapping) for row in conn.execute(select(CATALOG))}


def advance(conn: Connection, name: str, old: int, new: int) -> None:
    """Move ``name`` from ``old`` to ``new`` in the caller's transaction.

    Raises :class:`PositionConflictError` (the caller's transaction must then roll back)
    when the stored position is no longer ``old``.
    """
    result = conn.execute(
        update(CATALOG).where(CATALOG.c.name == name, CATALOG.c.position == old)
        .values(position=new)
    )
    if result.rowcount != 1:
        raise PositionConflictError(f"{name!r} moved past {old} meanwhile")


def advance_all(conn: Connection, moves: dict[str, tuple[int, int]]) -> None:
    """Move several names at once (``name -> (old, new)``): one statement, all or none.

    Raises :class:`PositionConflictError` when any stored position is no longer its ``old``.
    """
    if not moves:
        return
    params: dict[str, Any] = {}
    cases, guards = [], []
    for i, (name, (old, new)) in enumerate(sorted(moves.items())):
        params.update({f"n{i}": name, f"o{i}": old, f"v{i}": new})
        cases.append(f"WHEN :n{i} THEN :v{i}")
        guards.append(f"(name = :n{i} AND position = :o{i})")
    result = conn.execute(text(
        f"UPDATE {CATALOG.name} SET position = CASE name {' '.join(cases)} END "
        f"WHERE {' OR '.join(guards)}"), params)
    if result.rowcount != len(moves):
        raise PositionConflictError(
            f"{', '.join(sorted(moves))}: a position moved meanwhile (batch rolled back)")


def move(conn: Connection, name: str, *, generation: str, position: int,
         layout: str | None = None) -> None:
    """Set ``name``'s generation and position outright (a rebuilt view is swapped in)."""
    conn.execute(update(CATALOG).where(CATALOG.c.name == name)
                 .values(generation=generation, position=position, layout=layout))


def set_layout(conn: Connection, name: str, layout: str) -> None:
    """Record the table layout of ``name``'s live generation."""
    conn.execute(update(CATALOG).where(CATALOG.c.name == name).values(layout=layout))
