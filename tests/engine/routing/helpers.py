"""Builders for routing tests: profiles and deals opened without an owner."""

from __future__ import annotations

from typing import Any

from engine.bootstrap import Engine
from engine.domain import Deal, deal_id
from tests.engine.facts import fact, opened

T0 = "2026-01-05T09:00:00+08:00"


def profile(rep: str, time: str = "2026-01-01T09:00:00+08:00", **data: Any) -> dict[str, Any]:
    """A ``rep.profile_set`` for ``rep`` (team ``east`` unless given)."""
    return fact("rep.profile_set", rep, {"team": "east", **data}, time=time, source="hr")


def unowned(subject: str, time: str = T0, **data: Any) -> dict[str, Any]:
    """A ``deal.opened`` without ``owner``: the engine routes it."""
    obj = opened(subject, time=time, **data)
    del obj["data"]["owner"]
    return obj


def owner_of(engine: Engine, subject: str) -> str | None:
    """The deal's current owner, from the store."""
    deal: Deal = engine.app.repository.get(deal_id(subject))
    return deal.owner


def routed(engine: Engine, subject: str) -> Deal.Routed:
    """The deal's ``Deal.Routed`` event."""
    found = [e for e in engine.app.events.get(deal_id(subject)) if isinstance(e, Deal.Routed)]
    assert len(found) == 1
    return found[0]
