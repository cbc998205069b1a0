"""What every domain event keeps of the fact that caused it (bitemporal provenance)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

__all__ = ["FactEvent", "FactMeta"]


@dataclass(frozen=True, slots=True)
class FactMeta:
    """Provenance of a fact: where it came from and when it happened (business time)."""

    source: str
    fact_id: str
    occurred_at: datetime
    actor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def event_fields(self) -> dict[str, Any]:
        """The fields every :class:`FactEvent` carries."""
        return {
            "source": self.source,
            "fact_id": self.fact_id,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "extra": self.extra or None,
        }


class FactEvent(Aggregate.Event):
    """An event caused by an external fact.

    ``occurred_at`` is when it happened (the fact's ``time``); the inherited ``timestamp``
    is when dealflow recorded it. ``extra`` keeps unknown fields as received.
    """

    source: str
    fact_id: str
    occurred_at: datetime
    actor: str | None
    extra: dict[str, Any] | None
