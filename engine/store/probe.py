"""Whether a store's server answers, asked once and quickly, before anything waits on it.

eventsourcing's PostgreSQL pool waits ``POSTGRES_CONNECT_TIMEOUT`` with retries for a server
that is down or a database that is missing, then fails with "couldn't get a connection".
A one-shot command asks first, with one direct connection and a short timeout, and stops
with the cause in one line: ``database "x" does not exist``, ``connection refused at
127.0.0.1:5433``. Services (serve, consume, relay) do not ask: they keep retrying.
"""

from __future__ import annotations

import re

from engine.errors import StoreError
from engine.store.app import parse_store_url
from engine.store.existing import store_location

__all__ = ["PROBE_TIMEOUT", "probe_store"]

#: Seconds a probe waits for a server (libpq's smallest connect timeout is 2).
PROBE_TIMEOUT = 2

_FATAL = re.compile(r"FATAL:\s+(.*)", re.DOTALL)


def probe_store(url: str, *, timeout: int = PROBE_TIMEOUT) -> None:
    """Raise :class:`~engine.errors.StoreError` naming the cause if the store's server
    cannot be reached within ``timeout`` seconds (a SQLite store is a file: nothing to ask).

    The message is one line: where, and why (the database does not exist, the connection
    was refused, no answer, an unknown host, a refused login)."""
    env = parse_store_url(url)
    if "SQLITE_DBNAME" in env:
        return
    import psycopg  # only for a PostgreSQL store: a SQLite one never loads it
    from psycopg.conninfo import make_conninfo

    options = {"host": env["POSTGRES_HOST"], "port": env["POSTGRES_PORT"],
               "dbname": env["POSTGRES_DBNAME"], "user": env["POSTGRES_USER"],
               "connect_timeout": str(max(timeout, 2))}
    if env["POSTGRES_PASSWORD"]:
        options["password"] = env["POSTGRES_PASSWORD"]
    try:
        psycopg.connect(make_conninfo(**options)).close()
    except psycopg.Error as exc:
        raise StoreError(f"cannot reach the store at {store_location(url)}: "
                         f"{_cause(str(exc), env, timeout)}") from None


def _cause(message: str, env: dict[str, str], timeout: int) -> str:
    """psycopg's (multi-line, per-address) message as one short cause."""
    where = f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}"
    fatal = _FATAL.search(message)
    if fatal is not None:
        cause = " ".join(fatal.group(1).split())
        if re.fullmatch(r'database ".*" does not exist', cause):
            return (f"{cause} (create it first: createdb -h {env['POSTGRES_HOST']} -p "
                    f"{env['POSTGRES_PORT']} -U {env['POSTGRES_USER']} "
                    f"{env['POSTGRES_DBNAME']})")
        return cause
    lowered = message.lower()
    if "connection refused" in lowered:
        return f"connection refused at {where} (is PostgreSQL running there?)"
    if "timeout expired" in lowered or "timed out" in lowered:
        return f"no answer from {where} within {timeout} s"
    if "resolve host" in lowered or "translate host name" in lowered:
        return f"unknown host {env['POSTGRES_HOST']!r}"
    lines = message.strip().splitlines()
    return " ".join(lines[0].split(" failed: ")[-1].split()) if lines else "no reason given"
