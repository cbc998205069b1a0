"""Events that ``PlainEvents`` builds without their ``__init__`` are the events the stock
``Aggregate.trigger_event`` builds: same fields, same values, in the same order, so the
same stored bytes."""

from __future__ import annotations

from typing import Any

from engine.bootstrap import Engine
from engine.demo import generate
from engine.domain.deal import Deal
from engine.domain.facts import _plain_fields
from engine.ingest.batch import RawInput


def test_plain_events_equal_their_dataclass_construction(engine: Engine) -> None:
    app = engine.app
    appended: list[Any] = []
    append = app.append

    def recording(events: Any, **rows: Any) -> list[int]:
        appended.extend(events)
        return append(events, **rows)

    app.append = recording  # type: ignore[method-assign]
    lines = list(generate(7, deals=30))
    engine.ingestor.ingest([RawInput(line, f"demo:{i}") for i, line in enumerate(lines)])
    plain = [event for event in appended if _plain_fields(type(event)) is not None]
    assert len({type(event) for event in plain}) >= 6  # most kinds went the fast way
    for event in plain:
        rebuilt = type(event)(**vars(event))  # the dataclass __init__, as eventsourcing does
        assert list(vars(rebuilt).items()) == list(vars(event).items())
        assert rebuilt == event
        assert app.mapper.to_stored_event(rebuilt).state == app.mapper.to_stored_event(
            event).state


def test_an_aggregate_changed_by_plain_events_equals_its_replay(engine: Engine) -> None:
    lines = list(generate(7, deals=30))
    engine.ingestor.ingest([RawInput(line, f"demo:{i}") for i, line in enumerate(lines)])
    cached = [a for a in engine.ingestor._cache.values() if isinstance(a, Deal)]
    assert len(cached) >= 25
    assert any(deal.version > 3 for deal in cached)
    for deal in cached:
        replayed = engine.app.repository.get(deal.id)
        assert vars(replayed) == vars(deal)  # version, modified_on and state alike
