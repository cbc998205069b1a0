"""Whether a store exists, found without creating anything (read commands must not).

A store exists when its events table does: ``stored_events`` in the SQLite file,
``dealflow_events`` in the PostgreSQL database. Looking leaves no trace: a SQLite file is
opened read-only (as ``immutable`` when no write-ahead log lies beside it, so that not even
``-wal`` or ``-shm`` files appear), and PostgreSQL is only queried.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path, PurePath

from engine.errors import StoreError
from engine.store.app import DealflowApplication, parse_store_url

__all__ = ["find_stores", "store_exists", "store_location"]

_SQLITE_EVENTS = "stored_events"  # eventsourcing's SQLite recorder's table
_POSTGRES_EVENTS = f"{DealflowApplication.name}_events"  # eventsourcing: "<app name>_events"
_SQLITE_HEADER = b"SQLite format 3\x00"


def store_exists(url: str) -> bool:
    """Whether the store at ``url`` has been created (its events table exists).

    Raises :class:`~engine.errors.StoreError` when a PostgreSQL server cannot be asked.
    """
    env = parse_store_url(url)
    path = env.get("SQLITE_DBNAME")
    if path is None:
        return _postgres_has_events(env)
    if path == ":memory:":
        return True  # nothing on disk to find or to create
    return _sqlite_has_events(Path(path))


def find_stores(folder: Path) -> list[str]:
    """The URLs of the SQLite stores among the ``*.db`` files in ``folder``, sorted."""
    try:
        candidates = sorted(folder.glob("*.db"))
    except OSError:
        return []
    return [f"sqlite:///{path}" for path in candidates if _sqlite_has_events(path)]


def store_location(url: str) -> str:
    """The store as a user would name it: ``./dealflow.db``, ``/srv/x.db``, or the
    PostgreSQL URL without its password."""
    env = parse_store_url(url)
    path = env.get("SQLITE_DBNAME")
    if path is None:
        return _postgres_location(env)
    if path == ":memory:" or PurePath(path).is_absolute() or path.startswith(("./", "../")):
        return path
    return f"./{path}"


def _sqlite_has_events(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            if file.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
                return False
    except OSError:  # missing, a folder, unreadable
        return False
    # Without a write-ahead log beside it the file is the whole database; with one (a writer
    # is or was active) the tables may still be only in the log, so read through it.
    wal = path.with_name(f"{path.name}-wal")
    mode = "mode=ro" if wal.exists() else "immutable=1"
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True)) as conn:
            row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (_SQLITE_EVENTS,)).fetchone()
    except sqlite3.Error:
        return False
    return row is not None


def _postgres_has_events(env: dict[str, str]) -> bool:
    import psycopg  # only for a PostgreSQL store: a SQLite one never loads it
    from psycopg.conninfo import make_conninfo

    options = {"host": env["POSTGRES_HOST"], "port": env["POSTGRES_PORT"],
               "dbname": env["POSTGRES_DBNAME"], "user": env["POSTGRES_USER"],
               "connect_timeout": env["POSTGRES_CONNECT_TIMEOUT"]}
    if env["POSTGRES_PASSWORD"]:
        options["password"] = env["POSTGRES_PASSWORD"]
    try:
        with psycopg.connect(make_conninfo(**options)) as conn:
            row = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                               (f"public.{_POSTGRES_EVENTS}",)).fetchone()
    except psycopg.Error as exc:
        raise StoreError(f"cannot open the store at {_postgres_location(env)}: "
                         f"{' '.join(str(exc).split())}") from exc
    return bool(row and row[0])


def _postgres_location(env: dict[str, str]) -> str:
    return (f"postgresql://{env['POSTGRES_USER']}@{env['POSTGRES_HOST']}:"
            f"{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}")
