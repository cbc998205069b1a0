"""The SQLAlchemy engine on the store's own database (views, positions, side tables).

The event store itself is written through eventsourcing's recorders; everything dealflow
keeps beside the log (view rows, follower positions, the audit chain, tokens) lives in the
same SQLite file or PostgreSQL database and is reached through one engine built here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

from engine.store.app import store_env

__all__ = ["sql_engine", "sqlite_engine"]


def sqlite_engine(path: str, *pragmas: str, timeout: float = 30) -> Engine:
    """A SQLAlchemy engine on the SQLite file ``path``, running ``pragmas`` (e.g.
    ``journal_mode=WAL``) on every new connection."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": timeout})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return engine


def sql_engine(store_url: str, *, busy_timeout: int = 30) -> Engine:
    """A SQLAlchemy engine on the database of the store at ``store_url`` (a SQLite write
    waits ``busy_timeout`` seconds for another writer's lock)."""
    env = store_env(store_url)
    if env["PERSISTENCE_MODULE"].endswith("sqlite"):
        return sqlite_engine(env["SQLITE_DBNAME"], "journal_mode=WAL", "synchronous=NORMAL",
                             timeout=busy_timeout)
    password = f":{env['POSTGRES_PASSWORD']}" if env["POSTGRES_PASSWORD"] else ""
    url = (f"postgresql+psycopg://{env['POSTGRES_USER']}{password}@{env['POSTGRES_HOST']}:"
           f"{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}")
    return create_engine(url, pool_pre_ping=True)
