"""A PostgreSQL store that cannot be reached (a closed port, a missing database): a one-shot
command stops at once with exit 3 and one line naming the cause, never a traceback after
eventsourcing's pool has waited and retried (``POSTGRES_CONNECT_TIMEOUT``). Runs the
installed ``dealflow`` console script."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import psycopg
import pytest

from engine.store.existing import store_location
from tests.cli.helpers import dealflow, snapshot
from tests.engine.facts import opened, raw
from tests.infra import free_loopback_port, with_database

ONE_SHOT = [
    ["report", "pipeline"], ["views"], ["rejects"], ["rebuild"], ["ingest", "facts.jsonl"],
    ["audit", "history", "D-1"], ["audit", "verify"], ["token", "list"],
    ["token", "create", "--role", "admin", "--name", "ops"],
]

#: "At once": over a loaded machine's start-up time (1-4 s), under the pool's 10 s wait.
_AT_ONCE = 8.0


def run(folder: Path, command: list[str], db: str) -> tuple[int, list[str], str, float]:
    (folder / "facts.jsonl").write_bytes(raw(opened("D-1")) + b"\n")
    started = time.monotonic()
    done = dealflow(folder, *command, "--db", db)
    return done.returncode, done.stdout.splitlines(), done.stderr, time.monotonic() - started


@pytest.mark.parametrize("command", ONE_SHOT, ids=" ".join)
def test_a_closed_port_is_connection_refused(tmp_path: Path, command: list[str]) -> None:
    port = free_loopback_port()  # nothing listens there once the probe socket is closed
    code, lines, stderr, seconds = run(tmp_path, command,
                                       f"postgresql://postgres@127.0.0.1:{port}/sales")
    assert (code, stderr) == (3, ""), lines
    assert lines == [f"error: cannot reach the store at postgresql://postgres@127.0.0.1:{port}"
                     f"/sales: connection refused at 127.0.0.1:{port} (is PostgreSQL running "
                     "there?)"]
    assert seconds < _AT_ONCE
    assert {name for name in snapshot(tmp_path)} == {"facts.jsonl"}


@pytest.mark.postgres
@pytest.mark.parametrize("command", ONE_SHOT, ids=" ".join)
def test_a_missing_database_is_named(postgres_url: str, tmp_path: Path,
                                     command: list[str]) -> None:
    name = f"nope_{secrets.token_hex(4)}"
    url = with_database(postgres_url, name)
    code, lines, stderr, seconds = run(tmp_path, command, url)
    assert (code, stderr) == (3, ""), lines
    [line] = lines
    assert line.startswith(f"error: cannot reach the store at {store_location(url)}: "
                           f'database "{name}" does not exist (create it first: createdb ')
    assert seconds < _AT_ONCE
    with psycopg.connect(postgres_url) as conn:  # not even a write command created it
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (name,)).fetchone() is None
