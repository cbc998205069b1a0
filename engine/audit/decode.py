"""Decoding stored events outside a running store (bundles, histories), with the store's
own mapper, so that decoding follows exactly the same stored names and upcasters."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

import engine.domain  # noqa: F401  (registers the events' fixed stored names)
from engine.audit.log import LogRow
from engine.store.app import DealflowApplication
from engine.store.log import LoggedEvent

__all__ = ["logged_events", "offline_mapper"]


@contextmanager
def offline_mapper() -> Iterator[Mapper[UUID]]:
    """The store's mapper, from an application on an in-memory database."""
    app = DealflowApplication("sqlite:///:memory:")
    try:
        yield app.mapper
    finally:
        app.close()


def logged_events(mapper: Mapper[UUID], rows: Iterable[LogRow]) -> list[LoggedEvent]:
    """Decode stored rows into the projections' :class:`LoggedEvent`, keeping positions."""
    events: list[LoggedEvent] = []
    for row in rows:
        originator = UUID(row.originator_id)
        stored = StoredEvent(originator_id=originator, originator_version=row.originator_version,
                             topic=row.topic, state=row.state)
        events.append(LoggedEvent(row.position, originator, row.originator_version, row.topic,
                                  mapper.to_domain_event(stored), row.state))
    return events
