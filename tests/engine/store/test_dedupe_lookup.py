"""The dedupe lookup (``known_digests``) finds exactly the stored (source, id) keys, whatever
characters they hold, on both stores (PostgreSQL sends the keys as one JSON text)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.bootstrap import Engine, bootstrap
from engine.settings import Settings
from engine.store.rows import AcceptedFactRow

#: Keys JSON must escape or that look like its escapes, SQL quoting, non-ASCII text.
AWKWARD = [
    ("crm-web", 'quote " and \\ backslash'),
    ("crm-web", "\\u0000 as six characters"),
    ("it's", "[1, 2]"),
    ("z\u00fcrich \u2603 \U0001f600", "tab\tnew\nline"),
    ("crm-web", "plain-1"),
    ("crm-web", ""),
]


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = bootstrap(Settings(db=store_url))
    yield engine
    engine.close()


def _store(engine: Engine, keys: list[tuple[str, str]]) -> None:
    engine.app.append([], accepted=[
        AcceptedFactRow(source, fact_id, f"digest {n}", "deal.opened", "D-1", "2026-01-01")
        for n, (source, fact_id) in enumerate(keys)])


def test_stored_keys_are_found_with_their_digests_and_others_are_not(engine: Engine) -> None:
    _store(engine, AWKWARD)
    asked = [*AWKWARD, ("crm-web", "plain-2"), ("crm-web2", "plain-1"), AWKWARD[0]]
    assert engine.app.store.known_digests(asked) == {
        key: f"digest {n}" for n, key in enumerate(AWKWARD)}


def test_a_key_with_a_nul_is_never_stored_so_never_found(engine: Engine) -> None:
    _store(engine, [("crm-web", "a")])
    store = engine.app.store
    assert store.known_digests([("crm-web", "a\x00"), ("crm\x00", "a")]) == {}
    assert store.known_digests([("crm-web", "a\x00"), ("crm-web", "a")]) == {
        ("crm-web", "a"): "digest 0"}
    assert store.known_digests([]) == {}


def test_many_keys_in_one_lookup(engine: Engine) -> None:
    keys = [("crm-web", f"f-{n}") for n in range(1200)]
    _store(engine, keys[::2])
    found = engine.app.store.known_digests(keys)
    assert sorted(found) == sorted(keys[::2])
