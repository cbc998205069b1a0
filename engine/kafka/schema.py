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
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

import orjson

__all__ = [
    "SCHEMA_VERSION",
    "encode_event",
    "encode_stored",
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


# The variant nibble of an RFC 4122 UUID (0b10xx) for each hex digit of the hash there.
_VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}


def _event_id_text(originator_text: str, originator_version: int) -> str:
    # ``str(event_id(...))`` without building two UUID objects per event (the relay's hot
    # path): the same SHA-1 name-based UUID (RFC 4122 version 5), formatted as ``str`` does,
    # the version and variant set in the hex text.
    h = hashlib.sha1(
        _EVENT_ID_NS_BYTES + f"{originator_text}:{originator_version}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode_event(
    event: Any, *, topic: str, position: int, key: str, originator_text: str | None = None,
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The JSON value (schema version 2) and the Kafka headers of one decoded domain event
    (``originator_text``: ``str(event.originator_id)`` when the caller has it)."""
    state: dict[str, Any] = event.__dict__  # only read
    the_id = _event_id_text(originator_text or str(event.originator_id),
                            event.originator_version)
    aggregate = {"type": _aggregate_type_of(type(event)), "id": event.originator_id,
                 "version": event.originator_version}
    return _message(state, _DECODED_NOT_DATA, the_id=the_id, topic=topic,
                    type_version=getattr(type(event), "class_version", 1),
                    position=position, key=key, aggregate=aggregate, default=_default)


#: The fields of an event's state that are not its ``data``: for a fact's event, and for
#: any other (decoded events; stored states also hold their ``class_version``).
_DECODED_NOT_DATA = (_BASE_FIELDS | _FACT_FIELDS, _BASE_FIELDS | {"occurred_at"})


def _message(state: dict[str, Any], not_data: tuple[frozenset[str], frozenset[str]], *,
             the_id: str, topic: str, type_version: int, position: int, key: str,
             aggregate: dict[str, Any], default: Any) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The JSON value and headers of an event whose state (decoded, or as stored with its
    typed values already as sent) is ``state``: the one place the outbound schema is laid
    out, for :func:`encode_event` and :func:`encode_stored`."""
    fact: dict[str, Any] | None = None
    extra = None
    if "fact_id" in state and "source" in state:
        fact = {"source": state["source"], "id": state["fact_id"], "actor": state.get("actor")}
        extra = state.get("extra")
        data = {k: v for k, v in state.items() if k not in not_data[0]}
    else:
        data = {k: v for k, v in state.items() if k not in not_data[1]}
    payload = {
        "schema_version": SCHEMA_VERSION,
        "event_id": the_id,
        "type": topic,
        "type_version": type_version,
        "position": position,
        "key": key,
        "aggregate": aggregate,
        "recorded_at": state["timestamp"],
        "occurred_at": state.get("occurred_at"),
        "fact": fact,
        "extra": extra,
        "data": data,
    }
    value = (orjson.dumps(payload, option=_OPTIONS) if default is None
             else orjson.dumps(payload, default=default, option=_OPTIONS))
    return value, _headers(the_id, topic, position)


def _headers(the_id: str, topic: str, position: int) -> list[tuple[str, bytes]]:
    type_header = _TYPE_HEADERS.get(topic)
    if type_header is None:
        type_header = _TYPE_HEADERS[topic] = ("dealflow.type", topic.encode())
    return [
        ("dealflow.event_id", the_id.encode()),
        type_header,
        ("dealflow.position", str(position).encode()),
        _VERSION_HEADER,
    ]


# ---------------------------------------------------------------- from the stored bytes
# A stored state is eventsourcing's JSON (engine/store/transcoder.py): datetimes, dates and
# decimals are ``{"_type_": name, "_data_": text}`` wrappers. Decoding revives them as
# objects and encoding writes them as text again; :func:`encode_stored` turns each wrapper
# into the value :func:`encode_event` would have written for the revived object, without
# building the event; anything it cannot vouch for is left to the decoded path.
_STORED_SKIPPED = _BASE_FIELDS | {"class_version"}
_STORED_NOT_DATA = (_STORED_SKIPPED | _FACT_FIELDS, _STORED_SKIPPED | {"occurred_at"})
#: class -> its class version and aggregate type, as encode_event finds them.
_CLASSES: dict[type, tuple[int, str]] = {}


class _Undecided(Exception):
    """Only the decoded event gives the same bytes (a float, an unknown wrapper)."""


def _as_sent(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        for name, item in value.items():  # replacing a value keeps the size: allowed
            kind = type(item)
            if kind is dict or kind is list:
                value[name] = _as_sent(item)
            elif kind is float:
                raise _Undecided
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return _unwrap(value["_type_"], value["_data_"])
        return value
    if kind is list:
        for i, item in enumerate(value):
            kind = type(item)
            if kind is dict or kind is list:
                value[i] = _as_sent(item)
            elif kind is float:
                raise _Undecided
        return value
    if kind is float:
        raise _Undecided
    return value


def _unwrap(name: Any, data: Any) -> Any:
    # Revived as the stock transcodings revive them (which ``RelayLog`` checks the store
    # uses), so orjson writes the same text; a decimal straight as ``_default`` writes it.
    if type(data) is str:
        if name == "datetime_iso":
            return datetime.fromisoformat(data)
        if name == "decimal_str":
            return format(Decimal(data), "f")
        if name == "date_iso":
            return date.fromisoformat(data)
    raise _Undecided


def encode_stored(
    state: bytes, event_class: type, *, topic: str, position: int, key: str,
    originator_id: UUID, originator_text: str, originator_version: int,
) -> tuple[bytes, list[tuple[str, bytes]]] | None:
    """What :func:`encode_event` gives for the event stored as ``state`` (eventsourcing's
    JSON, neither compressed nor encrypted) of ``event_class``, or None when only the
    decoded event can tell (an older class version to upcast, a float, a wrapper other than
    a datetime, date or decimal, anything unexpected)."""
    known = _CLASSES.get(event_class)
    if known is None:
        known = _CLASSES[event_class] = (getattr(event_class, "class_version", 1),
                                         _aggregate_type_of(event_class))
    class_version, aggregate_type = known
    try:
        stored = orjson.loads(state)
        if type(stored) is not dict or stored.get("class_version", 1) != class_version:
            return None
        stored = _as_sent(stored)
    except (_Undecided, orjson.JSONDecodeError, ArithmeticError, ValueError):
        return None
    if type(stored) is not dict or "timestamp" not in stored:
        return None
    aggregate = {"type": aggregate_type, "id": originator_id, "version": originator_version}
    return _message(stored, _STORED_NOT_DATA,
                    the_id=_event_id_text(originator_text, originator_version), topic=topic,
                    type_version=class_version, position=position, key=key,
                    aggregate=aggregate, default=None)


def _aggregate_type_of(event_class: type) -> str:
    # Events are nested in their aggregate class: Deal.Opened -> "deal".
    return event_class.__qualname__.split(".")[0].lower()
