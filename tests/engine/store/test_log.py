"""LogReader: the events eventsourcing's recorder and mapper give, in batches, bounded by
``upto`` and filtered by topic; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from engine.bootstrap import Engine
from engine.demo import generate
from engine.ingest.batch import RawInput
from engine.store.log import LoggedEvent


def _ingest(engine: Engine) -> None:
    lines = list(generate(3, deals=40))
    for start in range(0, len(lines), 300):
        engine.ingestor.ingest([RawInput(raw, f"log:{start + i}")
                                for i, raw in enumerate(lines[start : start + 300])])


def _stock(engine: Engine) -> list[tuple[Any, ...]]:
    """Every event as eventsourcing's recorder and mapper read it."""
    app = engine.app
    return [(n.id, n.originator_id, n.originator_version, n.topic,
             app.mapper.to_domain_event(n).__dict__, n.state)
            for n in app.recorder.select_notifications(start=1, limit=10**6)]


def _ours(events: list[LoggedEvent]) -> list[tuple[Any, ...]]:
    return [(e.position, e.originator_id, e.version, e.topic, e.event.__dict__, e.state)
            for e in events]


def test_batches_are_the_stored_events_decoded(engine: Engine) -> None:
    _ingest(engine)
    stock = _stock(engine)
    read: list[LoggedEvent] = []
    while batch := engine.reader.read(read[-1].position if read else 0, 97):
        assert len(batch) <= 97
        read += batch
    assert _ours(read) == stock
    assert all(e.originator_text == str(e.originator_id) for e in read)
    assert [type(e.event) for e in read] == [
        type(engine.app.mapper.to_domain_event(n))
        for n in engine.app.recorder.select_notifications(start=1, limit=10**6)]


def test_upto_and_topics_bound_what_is_read(engine: Engine) -> None:
    _ingest(engine)
    stock = _stock(engine)
    head = engine.reader.head()
    assert head == stock[-1][0]
    middle = head // 2
    assert _ours(engine.reader.read(0, 10**6, upto=middle)) == [
        s for s in stock if s[0] <= middle]
    topics = {"dealflow.deal.opened", "dealflow.deal.stage_changed"}
    assert _ours(engine.reader.read(10, 50, topics=topics)) == [
        s for s in stock if s[0] > 10 and s[3] in topics][:50]
    assert engine.reader.read(head, 10) == []
