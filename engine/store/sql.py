"""The SQLAlchemy engine on the store's own database (views, positions, side tables).

The event store itself is written through eventsourcing's recorders; everything dealflow
keeps beside the log (view rows, follower positions, the audit chain, tokens) lives in the
same SQLite file or PostgreSQL database and is reached through one engine built here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

from engine.store.app import store_env

__all__ = ["sql_engine"]


def sql_engine(store_url: str) -> Engine:
    """A SQLAlchemy engine on the database of the store at ``store_url``."""
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
