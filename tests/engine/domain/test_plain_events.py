"""Events that ``PlainEvents`` builds without their ``__init__`` are the events the stock
``Aggregate.trigger_event`` builds: same fields, same values, in the same order, so the
same stored bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from engine.bootstrap import Engine
from engine.demo import generate
from engine.domain.deal import Deal
from engine.domain.facts import FactMeta, _plain_created_fields, _plain_fields
from engine.domain.rep import Rep
from engine.ingest.batch import RawInput
from workflows import WorkflowRegistry


def _ingest_demo(engine: Engine) -> list[Any]:
    """Ingest a small demo file; every event appended, in order."""
    app = engine.app
    appended: list[Any] = []
    append = app.append

    def recording(events: Any, **rows: Any) -> list[int]:
        appended.extend(events)
        return append(events, **rows)

    app.append = recording  # type: ignore[method-assign]
    lines = list(generate(7, deals=30))
    engine.ingestor.ingest([RawInput(line, f"demo:{i}") for i, line in enumerate(lines)])
    return appended


def _assert_as_by_dataclass(app: Any, event: Any) -> Any:
    """``event`` equals the same event built by its dataclass ``__init__`` (as eventsourcing
    builds it): fields in order, equality and stored bytes; the rebuilt event."""
    rebuilt = type(event)(**vars(event))
    assert list(vars(rebuilt).items()) == list(vars(event).items())
    assert rebuilt == event
    assert app.mapper.to_stored_event(rebuilt).state == app.mapper.to_stored_event(
        event).state
    return rebuilt


def test_plain_events_equal_their_dataclass_construction(engine: Engine) -> None:
    app, appended = engine.app, _ingest_demo(engine)
    plain = [event for event in appended if _plain_fields(type(event)) is not None]
    assert len({type(event) for event in plain}) >= 6  # most kinds went the fast way
    for event in plain:
        _assert_as_by_dataclass(app, event)


def test_an_aggregate_changed_by_plain_events_equals_its_replay(engine: Engine) -> None:
    lines = list(generate(7, deals=30))
    engine.ingestor.ingest([RawInput(line, f"demo:{i}") for i, line in enumerate(lines)])
    cached = [a for a in engine.ingestor._cache.values() if isinstance(a, Deal)]
    assert len(cached) >= 25
    assert any(deal.version > 3 for deal in cached)
    for deal in cached:
        replayed: Deal = engine.app.repository.get(deal.id)
        assert vars(replayed) == vars(deal)  # version, modified_on and state alike


def test_created_events_built_directly_equal_their_dataclass_construction(
        engine: Engine) -> None:
    app, appended = engine.app, _ingest_demo(engine)
    assert _plain_created_fields(Deal, Deal.Opened) is not None
    assert _plain_created_fields(Rep, Rep.Registered) is not None
    created = [event for event in appended if isinstance(event, Deal.Opened | Rep.Registered)]
    assert {type(event) for event in created} == {Deal.Opened, Rep.Registered}
    for event in created:
        rebuilt = _assert_as_by_dataclass(app, event)
        # The aggregate the event makes by the stock steps equals the one made directly.
        made = rebuilt.mutate(None)
        assert made is not None
        stored = engine.ingestor._cache[event.originator_id]
        assert type(made) is type(stored)
        assert made.created_on == stored.created_on == event.timestamp


@pytest.mark.parametrize("extra", [{}, {"data": {"hint": "x"}, "envelope": {"trace": "t"}}])
@pytest.mark.parametrize("actor", [None, "crm-bot"])
def test_a_fact_event_triggered_with_its_meta_equals_the_stock_trigger(
        monkeypatch: pytest.MonkeyPatch, actor: str | None, extra: dict[str, Any]) -> None:
    at = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    monkeypatch.setattr(Deal.ActivityLogged, "create_timestamp", staticmethod(lambda: at))
    wf = WorkflowRegistry.shipped().get("standard")
    meta = FactMeta("crm", "f-1", datetime(2026, 1, 5, 9, 0, tzinfo=UTC), actor, extra)
    direct, stock = (Deal.open("d-1", wf, meta, account="a", owner="r-1",
                               amount=Decimal("10.00"), currency="EUR") for _ in range(2))
    stock._created_on = stock._modified_on = direct._created_on  # opened at other instants
    stock.pending_events[0].__dict__["timestamp"] = direct.pending_events[0].timestamp
    direct.trigger_fact(Deal.ActivityLogged, meta, kind="call", purpose=None, outcome="ok")
    stock.trigger_event(Deal.ActivityLogged, kind="call", purpose=None, outcome="ok",
                        **meta.event_fields())
    made: Any = direct.pending_events[-1]
    expected: Any = stock.pending_events[-1]
    assert list(vars(made).items()) == list(vars(expected).items())  # in order: same bytes
    assert made.extra == (extra or None)
    assert vars(direct) == vars(stock)
