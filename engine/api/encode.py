"""Domain objects to JSON: decimals as strings, times as RFC 3339, ids as strings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

__all__ = ["event_fields", "jsonable"]

#: Event attributes reported separately (envelope), not among an event's ``fields``.
_ENVELOPE = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp",
                       "source", "fact_id", "occurred_at", "actor"})


def jsonable(value: Any) -> Any:
    """``value`` with every Decimal, datetime, date, UUID, set and tuple made JSON-ready."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def event_fields(event: Any) -> dict[str, Any]:
    """A domain event's own fields (the envelope attributes left out)."""
    return {k: jsonable(v) for k, v in vars(event).items()
            if k not in _ENVELOPE and not k.startswith("_")}
