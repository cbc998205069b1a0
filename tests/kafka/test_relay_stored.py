"""The relay's messages encoded from the stored rows (``RelayLog``, ``encode_stored``): the
same bytes as encoding the decoded events, and the decoded path wherever the stored state
alone cannot give them (an older class version to upcast, a float, an unknown wrapper)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
import pytest

from engine.bootstrap import Engine, bootstrap
from engine.demo import generate
from engine.domain.deal import Deal
from engine.domain.escalation import Escalation
from engine.kafka.keys import EventKeys
from engine.kafka.messages import Partitions, Prepared, RelayLog, prepare
from engine.kafka.schema import encode_event, encode_stored
from engine.settings import Settings
from tests.kafka.test_relay import head, ingest

PARTITIONS = [0, 1, 2]


@pytest.fixture
def store(tmp_path: Path) -> Any:
    """A SQLite store with a small quarter of facts and an SLA escalation's events."""
    engine = bootstrap(Settings(db=f"sqlite:///{tmp_path}/store.db"))
    ingest(engine, list(generate(5, deals=30)))
    at = datetime(2026, 1, 9, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-3)))
    breach = Escalation.breach(deal="D-SLA", workflow="standard", workflow_version=1,
                               rule="first_contact", instance="0", started_at=at, due_at=at,
                               occurred_at=at)
    breach.correct(outcome="met", started_at=at, due_at=at, ended_at=at, occurred_at=at)
    engine.app.save(breach)
    yield engine
    engine.close()


def decoded_messages(engine: Engine, batch: int) -> list[Prepared]:
    """Every message as the relay prepared them before: each event decoded, then encoded."""
    log = RelayLog(engine.app)
    keys = EventKeys(engine.app, engine.sql)
    partitions = Partitions(PARTITIONS)
    out: list[Prepared] = []
    after = 0
    while logged := log.reader.read(after, batch):
        found = keys.keys([item.event for item in logged])
        for item, key in zip(logged, found, strict=True):
            value, headers = encode_event(item.event, topic=item.topic,
                                          position=item.position, key=key)
            out.append((item.position, partitions.of(key.encode()), key.encode(), value,
                        headers))
        after = logged[-1].position
    return out


def stored_messages(engine: Engine, batch: int, keys: EventKeys | None = None
                    ) -> list[Prepared]:
    """Every message as ``prepare`` makes them now, ``batch`` events at a time."""
    log = RelayLog(engine.app)
    assert log.stored  # a SQLite store: the messages come from the stored rows
    keys = keys if keys is not None else EventKeys(engine.app, engine.sql)
    partitions = Partitions(PARTITIONS)
    out: list[Prepared] = []
    after = 0
    while chunk := prepare(log, keys, partitions, after, batch):
        out.extend(chunk)
        after = chunk[-1][0]
    return out


@pytest.mark.parametrize("batch", [1, 7, 500])
def test_messages_from_the_stored_rows_are_the_decoded_events_messages(
        store: Engine, batch: int) -> None:
    expected = decoded_messages(store, 500)
    assert [m[0] for m in expected] == list(range(1, head(store) + 1))
    assert stored_messages(store, batch) == expected
    # With every key known beforehand (no event decoded for its key) as well.
    keys = EventKeys(store.app, store.sql)
    stored_messages(store, 500, keys)
    assert stored_messages(store, batch, keys) == expected
    # Every event of the demo is encoded from its stored row, none decoded for it.
    log = RelayLog(store.app)
    for position, originator, text, version, topic, state in log.rows(0, 100_000):
        assert encode_stored(state, log.event_class(topic), topic=topic, position=position,
                             key="k", originator_id=originator, originator_text=text,
                             originator_version=version) is not None


def stored_state(engine: Engine, state: dict[str, Any]) -> bytes:
    """``state`` as the store's transcoder writes it."""
    encoded: bytes = engine.app.mapper.transcoder.encode(state)
    return encoded


def both(engine: Engine, topic: str, state: bytes) -> tuple[Any, tuple[bytes, Any]]:
    """``encode_stored``'s answer and the decoded event's message for one stored state."""
    from eventsourcing.persistence import StoredEvent

    originator = uuid4()
    event = engine.app.mapper.to_domain_event(StoredEvent(
        originator_id=originator, originator_version=3, topic=topic, state=state))
    expected = encode_event(event, topic=topic, position=9, key="deal-1")
    got = encode_stored(state, type(event), topic=topic, position=9, key="deal-1",
                        originator_id=originator, originator_text=str(originator),
                        originator_version=3)
    return got, expected


def note_state(**data: Any) -> dict[str, Any]:
    """A ``deal.noted`` state (a fact event) with ``data`` as its fields."""
    return {"timestamp": datetime(2026, 12, 7, 3, 4, 5, 6789, tzinfo=UTC),
            "source": "crm-web", "fact_id": "f-1", "actor": "rep-01",
            "occurred_at": datetime(2026, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=8))),
            "extra": {"at": date(2026, 2, 3), "n": [Decimal("1E+3"), {"d": Decimal("-0.50")}]},
            **data}


@pytest.mark.parametrize("data", [
    {"text": "plain"},
    {"text": "amounts", "amount": Decimal("12.5E-3"), "big": Decimal("123456789012345678.90")},
    {"text": "times", "when": datetime(2026, 3, 4, 5, 6, 7), "on": date(1, 1, 1),
     "late": datetime(2026, 3, 4, 5, 6, 7, 1, tzinfo=timezone(timedelta(hours=5, minutes=30)))},
    {"text": "nested", "rows": [{"amount": Decimal("1"), "at": [date(2026, 1, 2)]}], "n": None,
     "flag": True, "count": 3},
])
def test_a_stored_state_gives_the_decoded_events_bytes(store: Engine, data: dict[str, Any]
                                                        ) -> None:
    got, expected = both(store, Deal.Noted.TOPIC, stored_state(store, note_state(**data)))
    assert got is not None
    assert got == expected


def test_a_float_or_an_unknown_wrapper_is_left_to_the_decoded_path(store: Engine) -> None:
    with_float = stored_state(store, note_state(text="x", ratio=0.1))
    got, _ = both(store, Deal.Noted.TOPIC, with_float)
    assert got is None
    wrapped = orjson.loads(stored_state(store, note_state(text="x")))
    wrapped["id"] = {"_type_": "uuid_hex", "_data_": uuid4().hex}
    got, _ = both(store, Deal.Noted.TOPIC, orjson.dumps(wrapped))
    assert got is None


def test_an_older_class_version_is_upcast_through_the_decoded_event(store: Engine) -> None:
    assert Deal.Opened.class_version > 1
    opened = next(row for row in RelayLog(store.app).rows(0, 10_000)
                  if row[4] == Deal.Opened.TOPIC)
    state = orjson.loads(opened[5])
    state.pop("class_version")  # as version 1 stored it
    state.pop("subject")
    state.pop("territory")
    old = orjson.dumps(state)
    got, expected = both(store, Deal.Opened.TOPIC, old)
    assert got is None
    payload = orjson.loads(expected[0])
    assert payload["type_version"] == Deal.Opened.class_version
    assert payload["data"]["subject"] is None and payload["data"]["territory"] is None
    # In the log, prepare gives the upcast event's message.
    recorder: Any = store.app.recorder
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(f"UPDATE {recorder.events_table_name} SET state = ? WHERE rowid = ?",
                       (old, opened[0]))
    message = next(m for m in stored_messages(store, 100) if m[0] == opened[0])
    decoded = next(m for m in decoded_messages(store, 100) if m[0] == opened[0])
    assert message == decoded
    assert orjson.loads(message[3])["data"]["territory"] is None
