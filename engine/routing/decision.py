"""The routing decision for a deal opened without an owner (contract 1.1, precise rules 1-4).

Pure: it reads the routing book (profiles received so far, open loads, cursors) and the
routing definition, and says who owns the deal and why. The handler records the answer as
``Deal.Routed`` and moves the book (load, cursor); nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.domain.routing_book import Profile, RoutingBook
from engine.routing.model import DealToRoute, RoutingDefinition

__all__ = ["Decision", "decide", "is_eligible"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The owner chosen (None: unassigned), the rule that chose and why.

    ``cursor_key`` is set when a round-robin rule chose: its cursor moves to ``owner``.
    """

    owner: str | None
    rule: str | None
    reason: dict[str, Any]
    cursor_key: str | None = None


def is_eligible(profile: Profile, deal: DealToRoute, load: int) -> bool:
    """Active, segment and territory accepted (absent list: any; a deal without the field
    only for an absent list), and open load below capacity (absent: no limit)."""
    if not profile.active:
        return False
    if profile.segments is not None and deal.segment not in profile.segments:
        return False
    if profile.territories is not None and deal.territory not in profile.territories:
        return False
    return profile.capacity is None or load < profile.capacity


def decide(routing: RoutingDefinition, book: RoutingBook, deal: DealToRoute,
           at: datetime) -> Decision:
    """Try the rules in order; the first that matches and has an eligible rep chooses."""
    in_force = book.profiles_at(at)
    tried: list[dict[str, Any]] = []
    for rule in routing.rules:
        if not rule.matches(deal):
            tried.append({"rule": rule.name, "matched": False})
            continue
        eligible = sorted(  # code-point order, as rule 3 says
            rep for rep, profile in in_force.items()
            if (rule.team is None or profile.team == rule.team)
            and is_eligible(profile, deal, book.load(rep)))
        if not eligible:
            tried.append({"rule": rule.name, "matched": True, "eligible": []})
            continue
        loads = {rep: book.load(rep) for rep in eligible}
        reason: dict[str, Any] = {"tried": tried, "strategy": rule.strategy,
                                  "eligible": eligible, "loads": loads}
        if rule.strategy == "round_robin":
            key = routing.cursor_key(rule.name)
            cursor = book.cursor(key)
            owner = next((rep for rep in eligible if cursor is None or rep > cursor),
                         eligible[0])
            reason["cursor"] = cursor
            return Decision(owner, rule.name, reason, cursor_key=key)
        owner = min(eligible, key=lambda rep: (loads[rep], rep))
        return Decision(owner, rule.name, reason)
    return Decision(None, None, {"tried": tried, "eligible": [], "loads": {}})
