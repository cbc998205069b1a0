"""Counting KPI facts per (rep, quarter). Who gets credit (see docs/views.md):

- revenue won: each rep in the deal's splits at signing, by share (no split: the owner);
- deals won and new customers: the owner at signing; lost deals: the owner at the loss;
- stage entries, activities and surveys: the deal's owner at the fact's time;
- first response: the owner when the deal was opened, in the quarter it was opened.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from projections.kpi.facts import Facts
from projections.pipeline.stats import micros

__all__ = ["Tally", "tally"]

StageKey = tuple[str, int, str]  # workflow, ordinal, stage
_FORWARD = ("advanced", "won")
_ENTRY = ("opened", "advanced", "reopened")


def _money() -> defaultdict[str, Decimal]:
    return defaultdict(lambda: Decimal("0.00"))


@dataclass(slots=True)
class Tally:
    """What one rep (or team) did in one quarter."""

    revenue: defaultdict[str, Decimal] = field(default_factory=_money)
    deals_won: set[str] = field(default_factory=set)
    deals_lost: set[str] = field(default_factory=set)
    deals_cancelled: set[str] = field(default_factory=set)
    revenue_cancelled: defaultdict[str, Decimal] = field(default_factory=_money)
    entered: defaultdict[StageKey, set[str]] = field(default_factory=lambda: defaultdict(set))
    advanced: defaultdict[StageKey, set[str]] = field(
        default_factory=lambda: defaultdict(set))
    activities: Counter[str] = field(default_factory=Counter)
    responses: list[int] = field(default_factory=list)  # microseconds
    scores: list[int] = field(default_factory=list)
    new_customers: set[str] = field(default_factory=set)

    def merge(self, other: Tally) -> None:
        """Add ``other`` (a team member's tally) into this one."""
        for cur, amount in other.revenue.items():
            self.revenue[cur] += amount
        for cur, amount in other.revenue_cancelled.items():
            self.revenue_cancelled[cur] += amount
        self.deals_won |= other.deals_won
        self.deals_lost |= other.deals_lost
        self.deals_cancelled |= other.deals_cancelled
        for key, deals in other.entered.items():
            self.entered[key] |= deals
        for key, deals in other.advanced.items():
            self.advanced[key] |= deals
        self.activities.update(other.activities)
        self.responses += other.responses
        self.scores += other.scores
        self.new_customers |= other.new_customers


def tally(facts: Facts) -> dict[tuple[str, str], Tally]:
    """Every visible fact counted for its rep and quarter."""
    out: defaultdict[tuple[str, str], Tally] = defaultdict(Tally)
    owner_at = facts.owners.owner_at
    _stages(facts, out)
    known = facts.deals
    credits: defaultdict[int, list[Any]] = defaultdict(list)
    for c in facts.credits:
        if c.deal_id in known:
            credits[c.position].append(c)
            out[(c.rep, c.quarter)].revenue[c.currency] += c.amount
    signings = [s for s in facts.signings if s.deal_id in known]
    signed_by_deal = {s.deal_id: s for s in signings}
    first_won: dict[str, Any] = {}
    for s in sorted(signings, key=lambda s: (s.occurred_at, s.position)):
        first_won.setdefault(known[s.deal_id].account, s)
        if s.owner:  # "": signed while unassigned, no owner to count it for
            out[(s.owner, s.quarter)].deals_won.add(s.deal_id)
    for account, s in first_won.items():
        if s.owner:
            out[(s.owner, s.quarter)].new_customers.add(account)
    for c in facts.cancellations:
        signed = signed_by_deal.get(c.deal_id)
        if signed is None:
            continue
        if signed.owner:
            out[(signed.owner, c.quarter)].deals_cancelled.add(c.deal_id)
        for credit in credits[signed.position]:
            out[(credit.rep, c.quarter)].revenue_cancelled[credit.currency] += credit.amount
    first: dict[str, Any] = {}
    for a in facts.activities:
        owner = owner_at(a.deal_id, a.occurred_at)
        if owner is None:
            continue
        out[(owner, a.quarter)].activities[a.kind] += 1
        if a.deal_id not in first or a.occurred_at < first[a.deal_id]:
            first[a.deal_id] = a.occurred_at
    for deal_id, at in first.items():
        deal = facts.deals[deal_id]
        opener = owner_at(deal_id, deal.opened_at)
        if opener is not None:
            out[(opener, deal.quarter)].responses.append(max(0, micros(at - deal.opened_at)))
    for s in facts.surveys:
        owner = owner_at(s.deal_id, s.occurred_at)
        if owner is not None:
            out[(owner, s.quarter)].scores.append(s.score)
    return dict(out)


def _stages(facts: Facts, out: defaultdict[tuple[str, str], Tally]) -> None:
    """Stage entries and forward exits (conversion), and deals lost as of the report."""
    forward: set[tuple[str, str]] = set()
    last: dict[str, Any] = {}
    for row in facts.stages:
        if row.deal_id not in facts.deals:
            continue
        last[row.deal_id] = row
        if row.kind in _FORWARD and row.from_stage is not None:
            forward.add((row.deal_id, row.from_stage))
    owner_at = facts.owners.owner_at
    for row in facts.stages:
        if row.kind not in _ENTRY or row.deal_id not in facts.deals:
            continue
        owner = owner_at(row.deal_id, row.occurred_at)
        if owner is None:  # an unassigned deal (1.1): no rep to count it for
            continue
        key = (row.workflow, row.ordinal, row.stage)
        t = out[(owner, row.quarter)]
        t.entered[key].add(row.deal_id)
        if (row.deal_id, row.stage) in forward:
            t.advanced[key].add(row.deal_id)
    for deal_id, row in last.items():
        if row.kind == "lost":
            owner = owner_at(deal_id, row.occurred_at)
            if owner is not None:
                out[(owner, row.quarter)].deals_lost.add(deal_id)
