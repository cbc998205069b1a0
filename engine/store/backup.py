"""Backup and restore of a whole store: a consistent copy taken while ``serve`` writes.

- SQLite: the online backup API (``sqlite3.Connection.backup``) copies the database in one
  step under a read transaction, so the copy is the store as of one commit; with the
  store's write-ahead log, writers go on meanwhile. The backup is a SQLite file.
- PostgreSQL: ``pg_dump`` of the server's major version (``/usr/lib/postgresql/N/bin`` or
  on ``PATH``) in its custom format, one snapshot of the database; without one of that
  version the backup is refused naming the version (an older ``pg_dump`` cannot dump a
  newer server, and a newer one is not what the server's users will restore with).

A restore never overwrites: it refuses a target that exists (a SQLite file, or a PostgreSQL
database holding any table), and restores a PostgreSQL dump into an empty or new database
with ``pg_restore`` of the target server's major version. The audit trail's signing key is
a file named by the ``audit_key`` setting, never stored in the database, so never in a
backup; the restored log keeps its id, chain and checkpoints, so ``audit verify`` against a
checkpoint taken before the backup holds on the restored store.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from engine.errors import BackupError, StoreError
from engine.store.app import parse_store_url
from engine.store.existing import store_exists, store_location

__all__ = ["BackupInfo", "backup", "find_pg_tool", "restore"]

_SQLITE_HEADER = b"SQLite format 3\x00"
_PGDUMP_HEADER = b"PGDMP"
_VERSION = re.compile(r"(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """What a backup or restore did: the kind of store, the file, its size, the tool."""

    kind: str
    path: Path
    size: int
    tool: str


def backup(url: str, out: Path, *, pg_bin: Path | None = None) -> BackupInfo:
    """Copy the store at ``url`` to ``out`` (which must not exist), consistently;
    ``pg_bin``: a folder to look for ``pg_dump`` in first."""
    if out.exists():
        raise BackupError(f"{out} exists; a backup never overwrites a file (choose another "
                          "--out)")
    if not store_exists(url):
        raise BackupError(f"no store at {store_location(url)}: nothing to back up")
    env = parse_store_url(url)
    partial = out.with_name(f".{out.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        if "SQLITE_DBNAME" in env:
            _sqlite_copy(Path(env["SQLITE_DBNAME"]), partial)
            kind, tool = "sqlite", f"sqlite3 online backup (SQLite {sqlite3.sqlite_version})"
        else:
            major = server_major(env)
            pg_dump = find_pg_tool("pg_dump", major, pg_bin)
            _run([str(pg_dump), "--format=custom", "--no-owner", "--no-privileges",
                  f"--file={partial}", "--dbname", _conninfo(env)], env, "pg_dump")
            kind, tool = "postgresql", f"{pg_dump} (PostgreSQL {major})"
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return BackupInfo(kind, out, out.stat().st_size, tool)


def restore(path: Path, url: str, *, pg_bin: Path | None = None) -> BackupInfo:
    """Restore the backup ``path`` into a new store at ``url`` (refused if one is there);
    ``pg_bin``: a folder to look for ``pg_restore`` in first."""
    try:
        with path.open("rb") as file:
            head = file.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise BackupError(f"cannot read the backup {path}: {exc.strerror}") from None
    env = parse_store_url(url)
    if head == _SQLITE_HEADER:
        if "SQLITE_DBNAME" not in env:
            raise BackupError(f"{path} is a SQLite backup; restore it to a sqlite:/// URL, "
                              f"not {store_location(url)}")
        return _sqlite_restore(path, Path(env["SQLITE_DBNAME"]))
    if head.startswith(_PGDUMP_HEADER):
        if "SQLITE_DBNAME" in env:
            raise BackupError(f"{path} is a PostgreSQL backup (pg_dump); restore it to a "
                              f"postgresql:// URL, not {store_location(url)}")
        return _postgres_restore(path, env, pg_bin)
    raise BackupError(f"{path} is not a dealflow backup (neither a SQLite file nor a "
                      "pg_dump archive)")


# ----------------------------------------------------------------------------- SQLite
def _sqlite_copy(source: Path, target: Path) -> None:
    # Read-only: the backup must not create or change anything at the source.
    uri = f"{source.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as src, \
            closing(sqlite3.connect(target)) as dst:
        src.backup(dst)  # all pages in one step: one consistent snapshot
        # A single file, whatever the source's journal mode: no -wal beside the backup.
        dst.execute("PRAGMA journal_mode=DELETE").fetchone()


def _sqlite_restore(path: Path, target: Path) -> BackupInfo:
    if str(target) == ":memory:":
        raise BackupError("cannot restore into an in-memory store; name a file")
    if target.exists() or target.with_name(f"{target.name}-wal").exists():
        raise BackupError(f"{target} exists; a restore never overwrites a store (restore "
                          "to a new file, or move the old one away yourself)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as src:
            check = src.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise BackupError(f"{path} fails SQLite's integrity check: {check}")
            with closing(sqlite3.connect(partial)) as dst:
                src.backup(dst)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupInfo("sqlite", target, target.stat().st_size, "sqlite3 backup")


# ------------------------------------------------------------------------- PostgreSQL
def _options(env: dict[str, str], dbname: str | None = None) -> dict[str, str]:
    options = {"host": env["POSTGRES_HOST"], "port": env["POSTGRES_PORT"],
               "dbname": dbname or env["POSTGRES_DBNAME"], "user": env["POSTGRES_USER"],
               "connect_timeout": "5"}
    if env["POSTGRES_PASSWORD"]:
        options["password"] = env["POSTGRES_PASSWORD"]
    return options


def _conninfo(env: dict[str, str]) -> str:
    # Without the password: the tools get it from PGPASSWORD (not on a command line).
    options = _options(env)
    options.pop("password", None)
    return make_conninfo(**options)


def server_major(env: dict[str, str], dbname: str | None = None) -> int:
    """The PostgreSQL server's major version (``server_version_num`` // 10000)."""
    try:
        with psycopg.connect(make_conninfo(**_options(env, dbname))) as conn:
            row = conn.execute("SHOW server_version_num").fetchone()
    except psycopg.Error as exc:
        raise StoreError(f"cannot reach the store at {_location(env)}: "
                         f"{' '.join(str(exc).split())}") from None
    assert row is not None
    return int(row[0]) // 10000


def find_pg_tool(name: str, major: int, pg_bin: Path | None = None) -> Path:
    """``name`` (pg_dump, pg_restore) of PostgreSQL ``major`` (looked for in ``pg_bin``,
    then ``/usr/lib/postgresql/<major>/bin``, then on ``PATH``), or ``BackupError`` naming
    the version needed and what was found."""
    found: list[str] = []
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin/{name}")]
    if pg_bin is not None:
        candidates.insert(0, pg_bin / name)
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if not candidate.is_file():
            continue
        version = _tool_major(candidate)
        if version == major:
            return candidate
        found.append(f"{candidate} is version {version}")
    seen = "; ".join(found) or "none found"
    raise BackupError(f"no {name} of PostgreSQL {major} (the server's major version): {seen}; "
                      f"install it (Debian: postgresql-client-{major})")


def _tool_major(tool: Path) -> int | None:
    try:
        done = subprocess.run([str(tool), "--version"], capture_output=True, text=True,
                              timeout=30, check=False)
    except OSError:
        return None
    match = _VERSION.search(done.stdout.rsplit(")", 1)[-1]) or _VERSION.search(done.stdout)
    return int(match.group(1)) if match else None


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    environ = dict(os.environ)
    if env["POSTGRES_PASSWORD"]:
        environ["PGPASSWORD"] = env["POSTGRES_PASSWORD"]
    done = subprocess.run(command, capture_output=True, text=True, env=environ,
                          stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        cause = " ".join(done.stderr.split())[:500] or f"exit code {done.returncode}"
        raise BackupError(f"{what} failed: {cause}")


def _location(env: dict[str, str]) -> str:
    return (f"postgresql://{env['POSTGRES_USER']}@{env['POSTGRES_HOST']}:"
            f"{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}")


def _postgres_restore(path: Path, env: dict[str, str], pg_bin: Path | None) -> BackupInfo:
    dbname = env["POSTGRES_DBNAME"]
    major = server_major(env, "postgres")
    pg_restore = find_pg_tool("pg_restore", major, pg_bin)
    with psycopg.connect(make_conninfo(**_options(env, "postgres")), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    if exists:
        with psycopg.connect(make_conninfo(**_options(env))) as conn:
            row = conn.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')").fetchone()
        if row and row[0]:
            raise BackupError(f"the database at {_location(env)} holds {row[0]} tables; a "
                              "restore never overwrites a store (restore into a new or empty "
                              "database)")
    _run([str(pg_restore), "--no-owner", "--no-privileges", "--exit-on-error",
          "--single-transaction", "--dbname", _conninfo(env), str(path)], env, "pg_restore")
    return BackupInfo("postgresql", path, path.stat().st_size, f"{pg_restore} (PostgreSQL "
                      f"{major})")
