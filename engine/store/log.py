"""Reading the log in position order, in batches, decoded once for every reader.

Followers of the log (the views, the audit tooling, the relay) read the same thing: the
events after a position, in order, at most a batch at a time. :class:`LogReader` reads a
batch through the recorder and decodes it through the application's mapper once, so a
rebuild of several views decodes each event once, not once per view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from engine.store.app import DealflowApplication

__all__ = ["LogReader", "LoggedEvent"]


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """A decoded event with its position in the log (and its stored bytes)."""

    position: int
    originator_id: UUID
    version: int
    topic: str
    event: Any
    state: bytes = b""

    @property
    def recorded_at(self) -> datetime:
        """When dealflow recorded it."""
        value: datetime = self.event.timestamp
        return value

    @property
    def occurred_at(self) -> datetime:
        """When it happened (the fact's ``time``); recording time for derived events."""
        value: datetime = getattr(self.event, "occurred_at", None) or self.event.timestamp
        return value


class LogReader:
    """Batches of decoded events from ``app``'s log."""

    def __init__(self, app: DealflowApplication) -> None:
        """Read through ``app``'s recorder and mapper."""
        self.app = app

    def head(self) -> int:
        """The last position in the log (0 when empty)."""
        return int(self.app.recorder.max_notification_id() or 0)

    def read(self, after: int, limit: int, *, upto: int | None = None) -> list[LoggedEvent]:
        """At most ``limit`` events with positions after ``after`` (and at most ``upto``)."""
        notifications: Any = self.app.recorder.select_notifications(
            start=after + 1, limit=limit, stop=upto)
        to_domain_event = self.app.mapper.to_domain_event
        return [
            LoggedEvent(n.id, n.originator_id, n.originator_version, n.topic,
                        to_domain_event(n), n.state)
            for n in notifications
        ]
