"""Lookups by many keys run with a few statement texts, not one per count of keys (each text
stays prepared in its connection's statement cache), and find exactly what unpadded lookups
find."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.bootstrap import Engine, bootstrap
from engine.settings import Settings
from engine.store.chunks import CHUNK, SIZES, lookup_chunks
from engine.store.rows import AcceptedFactRow
from tests.engine.conftest import send
from tests.engine.facts import opened


@given(st.lists(st.integers(0, 40), max_size=1200))
def test_chunks_hold_each_value_once_in_order_padded_to_a_listed_size(values: list[int]) -> None:
    chunks = list(lookup_chunks(values))
    unique = list(dict.fromkeys(values))
    seen: list[int] = []
    for chunk in chunks:
        assert len(chunk) in SIZES
        distinct = list(dict.fromkeys(chunk))
        # Padding repeats the chunk's last value only.
        assert chunk[len(distinct):] == [distinct[-1]] * (len(chunk) - len(distinct))
        seen += distinct
    assert seen == unique
    assert len(chunks) == -(-len(unique) // CHUNK)


@pytest.fixture
def engine(tmp_path: Any) -> Iterator[Engine]:
    engine = bootstrap(Settings(db=f"sqlite:///{tmp_path / 'store.db'}"))
    yield engine
    engine.close()


def test_sqlite_lookups_of_every_count_use_a_few_statements_and_find_the_same(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    store: Any = engine.app.store
    keys = [("crm-web", f"f-{n}") for n in range(700)]
    engine.app.append([], accepted=[
        AcceptedFactRow(s, i, f"digest {i}", "deal.opened", "D-1", "2026-01-01")
        for s, i in keys[::3]])
    texts: set[str] = set()
    fetch = store._fetch

    def recording(statement: str, params: Any = ()) -> Any:
        texts.add(statement)
        return fetch(statement, params)

    monkeypatch.setattr(store, "_fetch", recording)
    ids = [uuid5(NAMESPACE_URL, str(n)) for n in range(700)]
    for count in range(1, 700, 7):
        asked = keys[:count]
        assert store.known_digests(asked) == {
            (s, i): f"digest {i}" for s, i in asked[::3]}
        assert store.select_events_of(ids[:count]) == []
        assert store.last_versions(ids[:count]) == {}
    # Three lookups, each with at most one text per size (before: one per count, 100 each).
    assert len(texts) <= 3 * len(SIZES)


def test_padded_lookups_return_each_event_and_version_once(engine: Engine) -> None:
    send(engine, *(opened(f"D-{n}") for n in range(5)))
    store: Any = engine.app.store
    rows = store.select_events_of([uuid5(NAMESPACE_URL, "none")])
    assert rows == []
    deal_ids = list(engine.app.store.last_versions(_every_aggregate(engine)))
    assert len(deal_ids) >= 5
    # Three ids pad to a statement of 8: each aggregate's events come once, in order.
    events = store.select_events_of(deal_ids[:3])
    assert [(e.originator_id, e.originator_version) for e in events] == sorted(
        (e.originator_id, e.originator_version) for e in events)
    assert len(events) == len({(e.originator_id, e.originator_version) for e in events})
    assert {e.originator_id for e in events} == set(deal_ids[:3])
    versions = store.last_versions(deal_ids[:3])
    assert set(versions) == set(deal_ids[:3])
    assert all(versions[i] == max(e.originator_version for e in events if e.originator_id == i)
               for i in versions)


def _every_aggregate(engine: Engine) -> list[UUID]:
    recorder: Any = engine.app.recorder
    with recorder.datastore.transaction(commit=False) as c:
        c.execute("SELECT DISTINCT originator_id FROM stored_events")
        return [UUID(str(r[0])) for r in c.fetchall()]
