"""The outbound event schema, version 2 (docs/events-schema.md, docs/events-schema.v2.json).

One JSON object per domain event (the envelope is version 1's; version 2 adds types, the
escalation ladder's among them, and lets owners be null)::

    {"schema_version": 2, "event_id": "<uuid>", "type": "dealflow.deal.opened",
     "type_version": 1, "position": 42, "key": "D-1001",
     "aggregate": {"type": "deal", "id": "<uuid>", "version": 1},
     "recorded_at": "...", "occurred_at": "...",
     "fact": {"source": "crm-web", "id": "...", "actor": "rep-01"} | null,
     "extra": {...} | null, "data": {...}}

``event_id`` is a UUID derived from the aggregate id and version, so an event published
twice (at-least-once) carries the same id both times. Amounts are decimal strings, times
RFC 3339 with their offsets, dates ``YYYY-MM-DD``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

import orjson

__all__ = [
    "SCHEMA_VERSION",
    "encode_event",
    "event_id",
]

SCHEMA_VERSION = 2
_SCHEMA_HEADER = str(SCHEMA_VERSION).encode()
_EVENT_ID_NS = UUID("6f1c2b0e-8a4d-4c55-9d0e-5e7a1f0d2c10")
_EVENT_ID_NS_BYTES = _EVENT_ID_NS.bytes
_BASE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})
_FACT_FIELDS = frozenset({"source", "fact_id", "actor", "occurred_at", "extra"})
_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS
# Headers that repeat are one object each: a chunk of messages handed between processes
# then carries (and rebuilds) each of them once.
_VERSION_HEADER = ("dealflow.schema_version", _SCHEMA_HEADER)
_TYPE_HEADERS: dict[str, tuple[str, bytes]] = {}


def event_id(originator_id: UUID, originator_version: int) -> UUID:
    """The event's stable id: the same for every publication of the same event."""
    return uuid5(_EVENT_ID_NS, f"{originator_id}:{originator_version}")


def _event_id_text(originator_text: str, originator_version: int) -> str:
    # ``str(event_id(...))`` without building two UUID objects per event (the relay's hot
    # path): the same SHA-1 name-based UUID (RFC 4122 version 5), formatted as ``str`` does.
    digest = bytearray(hashlib.sha1(
        _EVENT_ID_NS_BYTES + f"{originator_text}:{originator_version}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _aggregate_type(event: Any) -> str:
    # Events are nested in their aggregate class: Deal.Opened -> "deal".
    return type(event).__qualname__.split(".")[0].lower()


def encode_event(
    event: Any, *, topic: str, position: int, key: str, originator_text: str | None = None,
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The JSON value (schema version 2) and the Kafka headers of one decoded domain event
    (``originator_text``: ``str(event.originator_id)`` when the caller has it)."""
    state: dict[str, Any] = event.__dict__  # only read
    the_id = _event_id_text(originator_text or str(event.originator_id),
                            event.originator_version)
    fact = None
    extra = None
    occurred_at: datetime | None = state.get("occurred_at")
    if "fact_id" in state and "source" in state:
        fact = {"source": state["source"], "id": state["fact_id"], "actor": state.get("actor")}
        extra = state.get("extra")
        data = {k: v for k, v in state.items() if k not in _BASE_FIELDS and k not in _FACT_FIELDS}
    else:
        data = {k: v for k, v in state.items() if k not in _BASE_FIELDS and k != "occurred_at"}
    payload = {
        "schema_version": SCHEMA_VERSION,
        "event_id": the_id,
        "type": topic,
        "type_version": getattr(type(event), "class_version", 1),
        "position": position,
        "key": key,
        "aggregate": {"type": _aggregate_type(event), "id": event.originator_id,
                      "version": event.originator_version},
        "recorded_at": state["timestamp"],
        "occurred_at": occurred_at,
        "fact": fact,
        "extra": extra,
        "data": data,
    }
    type_header = _TYPE_HEADERS.get(topic)
    if type_header is None:
        type_header = _TYPE_HEADERS[topic] = ("dealflow.type", topic.encode())
    headers = [
        ("dealflow.event_id", the_id.encode()),
        type_header,
        ("dealflow.position", str(position).encode()),
        _VERSION_HEADER,
    ]
    return orjson.dumps(payload, default=_default, option=_OPTIONS), headers
