"""What every domain event keeps of the fact that caused it (bitemporal provenance)."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import datetime
from typing import Any, NamedTuple, Self
from uuid import UUID

from eventsourcing.domain import (
    Aggregate,
    BaseAggregate,
    CanInitAggregate,
    CanMutateAggregate,
    DomainEvent,
    ProgrammingError,
    _check_explicit_topic_is_registered,
    _init_mentions_id,
)
from eventsourcing.utils import get_topic, resolve_topic

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
#: A FactEvent's own fields, in order, right after the head (``FactMeta.event_fields``).
_FACT_FIELDS = ("source", "fact_id", "occurred_at", "actor", "extra")
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


#: (aggregate class, created event class) -> the event's field names in order, or None
_PLAIN_CREATED: dict[tuple[type[Any], type[Any]], tuple[str, ...] | None] = {}


def _plain_created_fields(aggregate_class: type[Any], event_class: type[Any]
                          ) -> tuple[str, ...] | None:
    """The field names of the created event ``event_class`` in its ``__init__``'s order,
    if ``Aggregate._create`` would do nothing but build it and let it make the aggregate
    by the stock steps: no field defaults, the stock ``__post_init__`` and ``mutate``
    (``CanInitAggregate``'s), and an aggregate whose ``__init__`` takes no arguments, with
    the stock ``__base_init__``; else None."""
    key = (aggregate_class, event_class)
    try:
        return _PLAIN_CREATED[key]
    except KeyError:
        pass
    fields = dataclasses.fields(event_class)
    names: tuple[str, ...] | None = tuple(f.name for f in fields)
    init = inspect.signature(aggregate_class.__init__).parameters
    if (names is None or names[:3] != _HEAD or "originator_topic" not in names
            or event_class.__post_init__ is not DomainEvent.__post_init__
            or event_class.mutate is not CanInitAggregate.mutate
            or aggregate_class.__base_init__ is not BaseAggregate.__base_init__
            or aggregate_class in _init_mentions_id or list(init) != ["self"]
            or any(not f.init or f.default is not dataclasses.MISSING
                   or f.default_factory is not dataclasses.MISSING for f in fields)):
        names = None
    _PLAIN_CREATED[key] = names
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
                or type(self._id) is not UUID):
            super().trigger_event(event_class, **kwargs)
            return
        event, state = self._next_event(event_class)
        try:
            for name in names[3:]:
                state[name] = kwargs[name]
        except KeyError:  # a field not named (and another named twice over): the slow way
            super().trigger_event(event_class, **kwargs)
            return
        self._take(event)

    def _next_event(self, event_class: type[Any]) -> tuple[Any, dict[str, Any]]:
        """A new ``event_class`` event for this aggregate's next version, its instance
        dict holding the id, version and timestamp (the other fields are the caller's)."""
        _check_topic(type(self), event_class)
        event = object.__new__(event_class)
        state = event.__dict__
        state["originator_id"] = self._id
        state["originator_version"] = self._version + 1
        state["timestamp"] = event_class.create_timestamp()
        return event, state

    def _take(self, event: Any) -> None:
        """``event.mutate(self)``, the stock one (see ``_plain_fields``), without its checks
        that the event is this aggregate's next one, true here by construction."""
        event.apply(self)
        self._version = event.originator_version
        self._modified_on = event.timestamp
        self._pending_events.append(event)


    def trigger_fact(self, event_class: type[Any], meta: FactMeta, **kwargs: Any) -> None:
        """``trigger_event(event_class, **kwargs, **meta.event_fields())`` for a
        :class:`FactEvent`: the provenance fields are read from ``meta`` into the event
        directly, without a dict of them merged into the keywords (~1 us an event)."""
        names = _plain_fields(event_class)
        if (names is None or names[3:8] != _FACT_FIELDS or len(kwargs) != len(names) - 8
                or "timestamp" in kwargs or type(self._id) is not UUID):
            self.trigger_event(event_class, **kwargs, **meta.event_fields())
            return
        event, state = self._next_event(event_class)
        state["source"], state["fact_id"], state["occurred_at"], state["actor"], extra = meta
        state["extra"] = extra or None
        try:
            for name in names[8:]:
                state[name] = kwargs[name]
        except KeyError:  # a field not named (and another named twice over): the slow way
            self.trigger_event(event_class, **kwargs, **meta.event_fields())
            return
        self._take(event)

    @classmethod
    def _create(cls, event_class: type[Any], *, id: Any = None,
                **kwargs: Any) -> Self:
        """``Aggregate._create`` with the created event built as :meth:`trigger_event`
        builds events (a deal's ``Opened`` has 22 fields, ~3 us by its ``__init__``), and
        the aggregate made from it by the steps of ``CanInitAggregate.mutate``: its
        ``__base_init__`` with the event's id, version and timestamp, its ``__init__``
        (no arguments), then the event's ``apply``. Anything else goes the stock way."""
        names = _plain_created_fields(cls, event_class)
        if (names is None or type(id) is not UUID or len(kwargs) != len(names) - 4
                or "timestamp" in kwargs):
            created: Self = super()._create(event_class, id=id, **kwargs)
            return created
        _check_topic(cls, event_class)
        topic = get_topic(cls)
        timestamp = event_class.create_timestamp()
        version = cls.INITIAL_VERSION
        values = {**kwargs, "originator_topic": topic, "originator_id": id,
                  "originator_version": version, "timestamp": timestamp}
        event = object.__new__(event_class)
        try:
            event.__dict__.update((name, values[name]) for name in names)
        except KeyError:  # a field not named (and another named twice over): the slow way
            created = super()._create(event_class, id=id, **kwargs)
            return created
        aggregate_class: type[Self] = resolve_topic(topic)
        aggregate = aggregate_class.__new__(aggregate_class)
        aggregate.__base_init__(id, version, timestamp)
        aggregate.__init__()  # type: ignore[misc]
        event.apply(aggregate)
        aggregate._pending_events.append(event)
        return aggregate


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
