"""Message keys of domain events: the deal's subject (or the rep id), so one deal's events
always land on one partition, in log order.

Deal events do not repeat the deal's subject (the aggregate id is derived from it), so the
key is found, once per aggregate and then cached, from what the events do carry:
- events that name their deal (``subject`` on ``deal.opened`` from version 2, ``deal`` on
  SLA escalations) or their rep (``rep``);
- events caused by a fact: the subject of that accepted fact (``dealflow_facts``), checked
  against the aggregate id;
- anything else: the key of the aggregate's first event, else the aggregate id itself.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Engine

from engine.domain.ids import deal_id, rep_id
from engine.kafka.state import fact_subjects
from engine.store.app import DealflowApplication

__all__ = ["EventKeys"]


def _named(event: Any) -> str | None:
    for name in ("subject", "deal", "rep"):
        value = getattr(event, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def _fact_key(event: Any) -> tuple[str, str] | None:
    source, fact_id = getattr(event, "source", None), getattr(event, "fact_id", None)
    if isinstance(source, str) and isinstance(fact_id, str):
        return (source, fact_id)
    return None


def _owns(subject: str, originator_id: UUID) -> bool:
    return deal_id(subject) == originator_id or rep_id(subject) == originator_id


class EventKeys:
    """Resolves (and caches, LRU) the message key of each aggregate's events."""

    def __init__(self, app: DealflowApplication, engine: Engine, *,
                 cache_size: int = 20_000) -> None:
        """``engine`` is a SQLAlchemy engine on the store's database."""
        self.app = app
        self.engine = engine
        self.cache_size = cache_size
        self._cache: OrderedDict[UUID, str] = OrderedDict()

    def cached(self, originator_id: UUID) -> str | None:
        """The key of the aggregate's events when it is known already (no query)."""
        return self._cache.get(originator_id)

    def keys(self, events: Sequence[Any]) -> list[str]:
        """The key of each event, in order (one query for the facts not yet known)."""
        # Only an aggregate's first event not yet keyed is resolved (the rest hit the cache),
        # so only those need their fact looked up: a deal opened in this batch is named by
        # its opening, and its later facts cost no query.
        firsts: dict[UUID, Any] = {}
        for event in events:
            if event.originator_id not in self._cache:
                firsts.setdefault(event.originator_id, event)
        lookups = {k for e in firsts.values()
                   if _named(e) is None and (k := _fact_key(e)) is not None}
        subjects = fact_subjects(self.engine, sorted(lookups)) if lookups else {}
        keys = []
        for event in events:
            oid: UUID = event.originator_id
            key = self._cache.get(oid)
            if key is None:
                key = self._resolve(event, subjects)
                self._cache[oid] = key
                if len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            keys.append(key)
        return keys

    def _resolve(self, event: Any, subjects: dict[tuple[str, str], str], *,
                 first: bool = True) -> str:
        oid: UUID = event.originator_id
        named = _named(event)
        if named is not None:
            return named
        fact = _fact_key(event)
        if fact is not None:
            subject = subjects.get(fact)
            if subject is None:
                subject = fact_subjects(self.engine, [fact]).get(fact)
            if subject is not None and _owns(subject, oid):
                return subject
        if first and event.originator_version != 1:
            stored = self.app.recorder.select_events(oid, lte=1, limit=1)
            if stored:
                return self._resolve(self.app.mapper.to_domain_event(stored[0]), subjects,
                                     first=False)
        return str(oid)
