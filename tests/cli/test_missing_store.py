"""Read commands on a store that does not exist: exit 2, say so, name the stores found, and
create nothing. Runs the installed ``dealflow`` console script in a scratch folder."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from engine.store.existing import store_location
from tests.cli.helpers import dealflow, snapshot
from tests.engine.facts import opened, raw

READS = [
    ["report", "pipeline"], ["views"], ["rejects"], ["rebuild"], ["audit", "verify"],
    ["audit", "history", "D-1"], ["audit", "export", "--period", "2026-Q1", "--out", "bundle"],
    ["audit", "checkpoint"], ["audit", "prove", "1"], ["token", "list"],
    ["token", "revoke", "ops"],
]
NO_STORE_HERE = ("(and no other store here): create one with `dealflow ingest FILE` (or try "
                 "`dealflow demo`), or name one with --db URL or $DEALFLOW_DB")


def facts_file(folder: Path) -> Path:
    path = folder / "facts.jsonl"
    path.write_bytes(raw(opened("D-1")) + b"\n" + raw(opened("D-2")) + b"\n")
    return path


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_a_read_without_a_store_exits_2_and_creates_nothing(tmp_path: Path,
                                                            command: list[str]) -> None:
    result = dealflow(tmp_path, *command)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"error: no store at ./dealflow.db {NO_STORE_HERE}"]
    assert snapshot(tmp_path) == {}


@pytest.mark.parametrize(("command", "db"), [
    (["views"], "foo.db"), (["report", "sla"], "sqlite:///foo.db"),
    (["token", "list"], "sqlite:///sub/dir/foo.db"),
])
def test_a_named_store_that_does_not_exist(tmp_path: Path, command: list[str], db: str) -> None:
    result = dealflow(tmp_path, *command, "--db", db)
    assert result.returncode == 2, result.stdout + result.stderr
    shown = "./sub/dir/foo.db" if "sub" in db else "./foo.db"
    assert result.stdout.splitlines() == [f"error: no store at {shown} {NO_STORE_HERE}"]
    assert snapshot(tmp_path) == {}  # no file, no -wal/-shm, no lock, no folder


def test_the_store_named_in_the_environment(tmp_path: Path) -> None:
    result = dealflow(tmp_path, "views", DEALFLOW_DB="sqlite:///elsewhere.db")
    assert result.returncode == 2
    assert result.stdout.startswith("error: no store at ./elsewhere.db ")
    assert snapshot(tmp_path) == {}


@pytest.fixture(scope="module")
def with_demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one store, dealflow-demo.db, another .db file and a facts file."""
    folder = tmp_path_factory.mktemp("stores")
    facts = facts_file(folder)
    made = dealflow(folder, "ingest", str(facts), "--db", "sqlite:///dealflow-demo.db", "-q")
    assert made.returncode == 0, made.stdout + made.stderr
    (folder / "notes.db").write_bytes(b"not a store")
    return folder


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_the_stores_found_here_are_named(with_demo_store: Path, command: list[str]) -> None:
    before = snapshot(with_demo_store)
    result = dealflow(with_demo_store, *command)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "error: no store at ./dealflow.db; stores found: ./dealflow-demo.db (choose with --db "
        "sqlite:///dealflow-demo.db or $DEALFLOW_DB)"]
    assert snapshot(with_demo_store) == before  # the found store was only looked at


def test_stores_beside_the_named_one_are_named_too(tmp_path: Path) -> None:
    facts = facts_file(tmp_path)
    made = dealflow(tmp_path, "ingest", str(facts), "--db", "sqlite:///data/q1.db", "-q")
    assert made.returncode == 0, made.stdout + made.stderr
    before = snapshot(tmp_path)
    result = dealflow(tmp_path, "rejects", "--db", "sqlite:///data/q2.db")
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        "error: no store at ./data/q2.db; stores found: ./data/q1.db (choose with --db "
        "sqlite:///data/q1.db or $DEALFLOW_DB)"]
    assert snapshot(tmp_path) == before


def test_writes_still_create_the_store_and_reads_then_find_it(tmp_path: Path) -> None:
    facts = facts_file(tmp_path)
    assert dealflow(tmp_path, "ingest", str(facts), "-q").returncode == 0
    assert (tmp_path / "dealflow.db").is_file()
    for command in (["report", "pipeline"], ["views"], ["rejects"]):
        result = dealflow(tmp_path, *command)
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_first_token_creates_the_store_that_token_list_then_finds(tmp_path: Path) -> None:
    created = dealflow(tmp_path, "token", "create", "--role", "admin", "--name", "ops")
    assert created.returncode == 0, created.stdout + created.stderr
    listed = dealflow(tmp_path, "token", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "ops" in listed.stdout and "admin" in listed.stdout


@pytest.mark.postgres
def test_a_postgresql_database_without_dealflow_tables_is_no_store(pg_database_url: str,
                                                                   tmp_path: Path) -> None:
    def tables() -> list[str]:
        with psycopg.connect(pg_database_url) as conn:
            return [row[0] for row in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public'")]

    shown = store_location(pg_database_url)  # postgresql://USER@HOST:PORT/DB
    for command in (["views"], ["report", "kpis"], ["audit", "verify"], ["token", "list"]):
        result = dealflow(tmp_path, *command, "--db", pg_database_url)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stdout.splitlines() == [f"error: no store at {shown} {NO_STORE_HERE}"]
    assert tables() == []
    assert snapshot(tmp_path) == {}
    made = dealflow(tmp_path, "ingest", str(facts_file(tmp_path)), "--db", pg_database_url, "-q")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "dealflow_events" in tables()
    assert dealflow(tmp_path, "views", "--db", pg_database_url).returncode == 0
