"""The store's health as the service sees it: database failures told apart from bad input;
a SQLite store locked by another writer is found down by the probe and up again once the
lock is given back; while down, writes are 503 store_unavailable at once and /readyz says
why, and nothing is stored."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from engine.errors import InvalidFactError, StoreUnavailableError
from engine.serve.health import StoreHealth, is_store_outage
from engine.serve.tokens import Role
from tests.api.conftest import Api, start_api, stop_api
from tests.engine.facts import opened


def test_outages_are_told_apart_from_bad_input() -> None:
    assert is_store_outage(OperationalError("server closed the connection"))
    assert is_store_outage(psycopg.OperationalError("connection refused"))
    assert is_store_outage(sqlite3.OperationalError("database is locked"))
    try:
        try:
            raise sqlite3.OperationalError("database is locked")
        except sqlite3.OperationalError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert is_store_outage(outer)
    assert not is_store_outage(InvalidFactError("x", field="id"))
    assert not is_store_outage(ValueError("a bug"))


def test_a_locked_sqlite_store_is_down_until_the_lock_is_given_back(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    with closing(sqlite3.connect(path)) as setup:
        setup.execute("CREATE TABLE t (x)")
        setup.commit()
    health = StoreHealth(f"sqlite:///{path}")
    assert health.probe_once() and health.down is None
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        assert not health.probe_once()
        assert health.down is not None and "not writable" in health.down
        with pytest.raises(StoreUnavailableError, match="nothing was stored"):
            health.check()
        other.execute("ROLLBACK")
    assert health.probe_once() and health.down is None
    health.check()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_while_the_store_is_down_writes_are_refused_at_once(store_url: str) -> None:
    api = start_api(store_url, api_token_cache_seconds=60)
    try:
        _refused_while_down(api)
    finally:
        stop_api(api)


def _refused_while_down(api: Api) -> None:
    assert api.service.health is not None
    with api.client(Role.INGEST) as client:
        assert client.post("/v1/facts", json=opened("HL-0")).status_code == 201
        api.service.health.stop()  # probed by hand below, so that nothing races the check
        api.service.health.mark_down(sqlite3.OperationalError("database is locked"))
        refused = client.post("/v1/facts/batch", json=[opened("HL-1")])
        ready = client.get("/readyz")
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"] == "store_unavailable"
    assert "database is locked" in refused.json()["detail"]
    assert ready.status_code == 503 and "store unavailable" in ready.json()["detail"]
    assert api.service.health.probe_once()  # nothing holds the lock: up again
    with api.client(Role.INGEST) as client:
        assert client.post("/v1/facts", json=opened("HL-1")).status_code == 201
    assert api.metrics()['dealflow_http_refused_total{reason="store_unavailable"}'] == 1
