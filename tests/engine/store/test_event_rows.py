"""Events appended as rows (``DealflowApplication.append``, no ``StoredEvent`` objects) are
stored with exactly the bytes eventsourcing's mapper gives them, on both stores, and the
stock recorder reads them back in log order."""

from __future__ import annotations

from typing import Any

from engine.bootstrap import Engine
from engine.demo import generate
from engine.ingest.batch import RawInput


def test_appended_rows_are_what_the_mapper_would_store(engine: Engine) -> None:
    app = engine.app
    appended: list[tuple[Any, int]] = []
    append = app.append

    def recording(events: Any, **rows: Any) -> list[int]:
        positions = append(events, **rows)
        appended.extend(zip(events, positions, strict=True))
        return positions

    app.append = recording  # type: ignore[method-assign]
    lines = list(generate(5, deals=40))
    for start in range(0, len(lines), 200):
        engine.ingestor.ingest([RawInput(line, f"demo:{start + i}")
                                for i, line in enumerate(lines[start : start + 200])])
    stored = {n.id: n for n in app.recorder.select_notifications(start=1, limit=10**6)}
    assert len(appended) > 300 and sorted(stored) == list(range(1, len(appended) + 1))
    assert len({type(event) for event, _ in appended}) >= 8  # most kinds of event
    for event, position in appended:
        expected = app.mapper.to_stored_event(event)
        found = stored[position]
        assert (found.originator_id, found.originator_version, found.topic, found.state) == (
            expected.originator_id, expected.originator_version, expected.topic,
            expected.state)
