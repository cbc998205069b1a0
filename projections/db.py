"""The views' database: the same SQLite file or PostgreSQL database as the event store.

``view_catalog`` holds, per projection, the active generation and the log position it has
applied; a view's rows and its position are written in one transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.store.app import store_env

__all__ = [
    "CATALOG", "CatalogRow", "advance_position", "catalog_rows", "ensure_catalog", "view_engine",
]

_meta = MetaData()
CATALOG = Table(
    "view_catalog",
    _meta,
    Column("name", String(64), primary_key=True),
    Column("generation", String(1), nullable=False),
    Column("position", BigInteger, nullable=False),
)
CatalogRow = dict[str, Any]


def view_engine(store_url: str) -> Engine:
    """A SQLAlchemy engine on the store's database."""
    env = store_env(store_url)
    if env["PERSISTENCE_MODULE"].endswith("sqlite"):
        path = env["SQLITE_DBNAME"]
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    password = f":{env['POSTGRES_PASSWORD']}" if env["POSTGRES_PASSWORD"] else ""
    url = (f"postgresql+psycopg://{env['POSTGRES_USER']}{password}@{env['POSTGRES_HOST']}:"
           f"{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}")
    return create_engine(url, pool_pre_ping=True)


def ensure_catalog(engine: Engine, names: list[str]) -> None:
    """Create the catalog table and a row (generation ``a``, position 0) per projection."""
    _meta.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        for name in names:
            conn.execute(insert(CATALOG).values(name=name, generation="a", position=0)
                         .on_conflict_do_nothing(index_elements=["name"]))


def catalog_rows(conn: Connection) -> dict[str, CatalogRow]:
    """All catalog rows by projection name."""
    return {row.name: dict(row._mapping) for row in conn.execute(select(CATALOG))}


def advance_position(conn: Connection, name: str, old: int, new: int) -> bool:
    """Move a projection's position from ``old`` to ``new``; False if someone else moved it.

    The compare-and-set makes a double apply impossible even if two runners ever overlapped.
    """
    result = conn.execute(
        update(CATALOG).where(CATALOG.c.name == name, CATALOG.c.position == old)
        .values(position=new)
    )
    return result.rowcount == 1
