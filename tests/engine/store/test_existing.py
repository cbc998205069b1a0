"""Finding a store without creating one: ``store_exists``, ``find_stores``, ``store_location``."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from engine.bootstrap import bootstrap
from engine.errors import StoreError
from engine.settings import Settings
from engine.store.existing import find_stores, store_exists, store_location
from tests.engine.conftest import send
from tests.engine.facts import opened


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]


def test_a_store_exists_once_created_and_looking_creates_nothing(store_url: str,
                                                                 tmp_path: Path) -> None:
    before = sorted(os.listdir(tmp_path))
    assert not store_exists(store_url)
    assert sorted(os.listdir(tmp_path)) == before
    if store_url.startswith("postgresql"):
        assert _tables(store_url) == []
    engine = bootstrap(Settings(db=store_url))
    try:
        if store_url.startswith("sqlite"):
            # While the writer is open the new tables are only in the write-ahead log.
            assert (tmp_path / "dealflow.db-wal").exists()
        assert store_exists(store_url)
        send(engine, opened("D-1"))
        assert store_exists(store_url)
    finally:
        engine.close()
    assert store_exists(store_url)


def test_a_missing_sqlite_store_in_a_missing_folder_creates_no_folder(tmp_path: Path) -> None:
    assert not store_exists(f"sqlite:///{tmp_path}/nope/deeper/x.db")
    assert os.listdir(tmp_path) == []


def test_files_that_are_not_stores(tmp_path: Path) -> None:
    (tmp_path / "precious.db").write_bytes(b"precious")
    (tmp_path / "folder.db").mkdir()
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for name in ("precious.db", "folder.db", "empty.db"):
        assert not store_exists(f"sqlite:///{tmp_path / name}")
    assert (tmp_path / "precious.db").read_bytes() == b"precious"
    assert empty.read_bytes() == b""


def test_find_stores_lists_the_stores_and_leaves_them_untouched(tmp_path: Path) -> None:
    for name in ("b.db", "a.db"):
        bootstrap(Settings(db=f"sqlite:///{tmp_path / name}")).close()
    (tmp_path / "other.db").write_bytes(b"not sqlite")
    (tmp_path / "notes.txt").write_text("hello")
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert find_stores(tmp_path) == [f"sqlite:///{tmp_path / 'a.db'}",
                                     f"sqlite:///{tmp_path / 'b.db'}"]
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    assert find_stores(tmp_path / "missing") == []


@pytest.mark.parametrize(("url", "shown"), [
    ("sqlite:///dealflow.db", "./dealflow.db"),
    ("dealflow.db", "./dealflow.db"),
    ("sqlite:///data/x.db", "./data/x.db"),
    ("sqlite:///../x.db", "../x.db"),
    ("sqlite:////srv/x.db", "/srv/x.db"),
    ("postgresql://ops:secret@db.example:6432/sales", "postgresql://ops@db.example:6432/sales"),
    ("postgresql://127.0.0.1/sales", "postgresql://postgres@127.0.0.1:5432/sales"),
])
def test_store_location_is_what_a_user_typed_without_a_password(url: str, shown: str) -> None:
    assert store_location(url) == shown


def test_an_unreachable_postgresql_server_is_a_store_error() -> None:
    # Port 1 on the loopback: nothing listens there, the connection is refused at once.
    with pytest.raises(StoreError, match=r"cannot open the store at postgresql://postgres@"
                                         r"127\.0\.0\.1:1/x"):
        store_exists("postgresql://postgres@127.0.0.1:1/x")
