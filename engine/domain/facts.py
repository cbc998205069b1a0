"""What every domain event keeps of the fact that caused it (bitemporal provenance)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import (
    Aggregate,
    CanMutateAggregate,
    DomainEvent,
    ProgrammingError,
    _check_explicit_topic_is_registered,
)

__all__ = ["FactEvent", "FactMeta", "PlainEvents"]


class FactMeta(NamedTuple):
    """Provenance of a fact: where it came from and when it happened (business time).

    A named tuple: one is made per fact on the ingest hot path (see :class:`PlainEvents`
    for what a frozen dataclass's ``__init__`` costs)."""

    source: str
    fact_id: str
    occurred_at: datetime
    actor: str | None
    extra: dict[str, Any]

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


_HEAD = ("originator_id", "originator_version", "timestamp")
#: event class -> its field names in order, or None if it must be built by its ``__init__``
_PLAIN_FIELDS: dict[type[Any], tuple[str, ...] | None] = {}


def _plain_fields(event_class: type[Any]) -> tuple[str, ...] | None:
    """The field names of ``event_class`` in the order its ``__init__`` sets them, if that
    ``__init__`` does nothing but set them (no defaults, no ``__post_init__`` beyond the
    originator id check) and its ``mutate`` is the stock one; else None."""
    try:
        return _PLAIN_FIELDS[event_class]
    except KeyError:
        pass
    fields = dataclasses.fields(event_class)
    names: tuple[str, ...] | None = tuple(f.name for f in fields)
    if (names is None or names[:3] != _HEAD
            or event_class.__post_init__ is not DomainEvent.__post_init__
            or event_class.mutate is not CanMutateAggregate.mutate
            or any(not f.init or f.default is not dataclasses.MISSING
                   or f.default_factory is not dataclasses.MISSING for f in fields)):
        names = None
    _PLAIN_FIELDS[event_class] = names
    return names


class PlainEvents(Aggregate):
    """Triggers events without their dataclass ``__init__`` (the ingest hot path).

    An event is a frozen dataclass: its generated ``__init__`` sets each field through
    ``object.__setattr__`` and takes every field by keyword, ~2 us per event. Here the
    event's ``__dict__`` is built directly, in the same field order (its stored JSON keeps
    that order), then the event mutates the aggregate and joins the pending events exactly
    as in ``Aggregate.trigger_event``, which still builds any event whose class has field
    defaults or its own ``__post_init__``, or when the call does not name every field."""

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        names = _plain_fields(event_class)
        if (names is None or len(kwargs) != len(names) - 3 or "timestamp" in kwargs
                or type(self.id) is not UUID):
            super().trigger_event(event_class, **kwargs)
            return
        _check_topic(type(self), event_class)
        event = object.__new__(event_class)
        state = event.__dict__
        state["originator_id"] = self._id
        state["originator_version"] = version = self._version + 1
        state["timestamp"] = timestamp = event_class.create_timestamp()
        try:
            for name in names[3:]:
                state[name] = kwargs[name]
        except KeyError:  # a field not named (and another named twice over): the slow way
            super().trigger_event(event_class, **kwargs)
            return
        # ``event.mutate(self)``, the stock one (see ``_plain_fields``), without its checks
        # that the event is this aggregate's next one, true here by construction.
        event.apply(self)
        self._version = version
        self._modified_on = timestamp
        self._pending_events.append(event)


_TOPICS_CHECKED: set[tuple[type[Any], type[Any]]] = set()


def _check_topic(aggregate_class: type[Any], event_class: type[Any]) -> None:
    """``Aggregate.trigger_event``'s check that an aggregate with an explicit ``TOPIC``
    triggers only events with a registered one (once per pair: topics are fixed at import)."""
    if (aggregate_class, event_class) in _TOPICS_CHECKED:
        return
    if getattr(aggregate_class, "TOPIC", None):
        if event_class.__name__ == "Event":
            raise ProgrammingError("Triggering base 'Event' class is prohibited.")
        _check_explicit_topic_is_registered(event_class)
    _TOPICS_CHECKED.add((aggregate_class, event_class))
