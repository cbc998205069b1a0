"""Rows written by binary COPY are eventsourcing's stored format: the stock PostgreSQL
recorder and the stock mapper read them back as they read their own."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    IntegrityError,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

from engine.bootstrap import Engine, bootstrap
from engine.ingest.batch import RawInput
from engine.settings import Settings
from engine.store.app import DateAsISO, parse_store_url
from tests.engine.facts import STANDARD_PATH, fact, opened, raw

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_database_url: str) -> Iterator[Engine]:
    engine = bootstrap(Settings(db=pg_database_url))
    yield engine
    engine.close()


@pytest.fixture
def stock(pg_database_url: str, engine: Engine) -> Iterator[PostgresApplicationRecorder]:
    """eventsourcing's own recorder on the same events table."""
    env = parse_store_url(pg_database_url)
    datastore = PostgresDatastore(env["POSTGRES_DBNAME"], env["POSTGRES_HOST"],
                                  env["POSTGRES_PORT"], env["POSTGRES_USER"],
                                  env["POSTGRES_PASSWORD"])
    yield PostgresApplicationRecorder(
        datastore, events_table_name=engine.app.store.events_table_name)
    datastore.close()


def _stock_mapper() -> Mapper[UUID]:
    """The stock JSON transcoder with the stock transcodings (and dates, as the app)."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def _ingest(engine: Engine, *objs: dict[str, object] | bytes) -> list[str]:
    inputs = [RawInput(o if isinstance(o, bytes) else raw(o), f"copy:{i}")
              for i, o in enumerate(objs)]
    return [o.status for o in engine.ingestor.ingest(inputs).outcomes]


def test_copied_events_are_read_back_by_the_stock_recorder_and_mapper(
        engine: Engine, stock: PostgresApplicationRecorder) -> None:
    facts = [opened("D-1", amount="1234.56"), opened("D-2"),
             *[fact(kind, "D-1", data) for kind, data in STANDARD_PATH[:4]]]
    assert set(_ingest(engine, *facts)) == {"accepted"}
    _ingest(engine, fact("activity.logged", "D-2", {"kind": "visit"}))

    notifications = stock.select_notifications(start=None, limit=1000)
    head = engine.app.recorder.max_notification_id()
    assert [n.id for n in notifications] == list(range(1, (head or 0) + 1))
    mapper = _stock_mapper()
    for notification in notifications:
        ours = engine.app.mapper.to_domain_event(notification)
        assert mapper.to_domain_event(notification) == ours
    # The same stored bytes the stock recorder reads per aggregate.
    for notification in notifications:
        stored = stock.select_events(notification.originator_id,
                                     gt=notification.originator_version - 1,
                                     lte=notification.originator_version)
        assert [(s.topic, s.state) for s in stored] == [(notification.topic,
                                                          notification.state)]


def test_copied_dedupe_rows_and_rejections_are_read_back(engine: Engine) -> None:
    first = opened("D-9")
    statuses = _ingest(engine, first, b"not json", fact("deal.stage_changed", "D-404",
                                                        {"to": "contact"}))
    assert statuses == ["accepted", "rejected", "rejected"]
    assert _ingest(engine, first) == ["duplicate"]
    assert set(engine.app.store.known_digests([("crm-web", str(first["id"]))])) == {
        ("crm-web", str(first["id"]))}
    rows = engine.app.store.select_rejections()
    assert [r.raw for r in rows][:1] == [b"not json"]
    assert [r.subject for r in rows] == [None, "D-404"]
    assert engine.app.store.counters() == {"accepted": 1, "duplicates": 1, "rejected": 2}


def test_positions_returned_are_the_stored_ids_after_a_failed_copy(engine: Engine) -> None:
    _ingest(engine, opened("D-a"))
    existing = engine.app.recorder.select_notifications(start=1, limit=1)[0]
    clash = StoredEvent(originator_id=existing.originator_id,
                        originator_version=existing.originator_version,
                        topic=existing.topic, state=existing.state)
    fresh = StoredEvent(originator_id=uuid4(), originator_version=1, topic=existing.topic,
                        state=existing.state)
    with pytest.raises(IntegrityError):
        engine.app.recorder.insert_events([fresh, clash])  # fails mid-COPY: nothing kept
    assert engine.app.recorder.select_events(fresh.originator_id) == []
    # The failed COPY drew sequence values (as a failed INSERT does); the next batch's
    # positions are still exactly the ids its events were stored under.
    result = engine.ingestor.ingest([RawInput(raw(opened(f"D-{n}")), f"copy:{n}")
                                     for n in range(3)])
    stored = [n.id for n in engine.app.recorder.select_notifications(start=None, limit=100)]
    last = result.last_position or 0
    assert stored[-result.events:] == list(range(last - result.events + 1, last + 1))
    assert stored[-result.events] > stored[-result.events - 1] + 1  # the failed COPY's gap
