"""Random valid commission scenarios for Hypothesis, rendered as contract facts.

A scenario is abstract (reps, deals, quotas, plan assignments); :func:`render` turns it into
facts whose subjects, rep ids and fact ids carry a prefix, so several renderings can share
one store, and returns them in time order with the facts that may arrive late marked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from engine.domain.ids import deal_id
from projections.commissions import PlanRegistry, plan_from_yaml
from tests.projections.commissions.facts import Fact, cancel, payment, plan, quota, won_deal

__all__ = ["Scenario", "late_order", "normalize", "plans_with_cash", "render", "scenarios"]

REPS = ("r1", "r2")
BASE = datetime.fromisoformat("2026-01-01T00:00:00+08:00")
CASH_PLAN = """
id: cash-test
version: 1
basis: cash
period: {unit: month, timezone: UTC}
tiers:
  - {from_attainment: "0", rate: "0.04"}
  - {from_attainment: "1", rate: "0.06"}
  - {from_attainment: "1.5", rate: "0.1"}
bonuses: [{at_attainment: "1", amount: "500.00"}]
clawback: {window_hours: 720}
"""


def plans_with_cash() -> PlanRegistry:
    """The shipped plans plus a cash-basis, monthly plan with three tiers."""
    plans = PlanRegistry.shipped()
    plans.add(plan_from_yaml(CASH_PLAN))
    return plans


@dataclass(frozen=True)
class DealSpec:
    """A won deal: who, how much, when signed; payments and a cancellation after it."""

    owner: str
    other: str
    shares: tuple[str, str] | None
    cents: int
    currency: str
    signed: datetime
    source: str
    payments: tuple[tuple[int, int], ...]  # (hours after signing, cents)
    cancel_after: int | None  # hours after signing


@dataclass(frozen=True)
class Scenario:
    """Deals, quotas (rep, period, cents, currency, time, source) and plan assignments
    (rep, plan, effective_from, time)."""

    deals: tuple[DealSpec, ...]
    quotas: tuple[tuple[str, str, int, str, datetime, str], ...]
    assignments: tuple[tuple[str, str, datetime, datetime], ...]


_times = st.builds(lambda day, hour: BASE + timedelta(days=day, hours=hour),
                   st.sampled_from([3, 20, 40, 60, 88, 89, 90, 120]), st.sampled_from([10, 23]))
_deals = st.builds(
    DealSpec,
    owner=st.sampled_from(REPS), other=st.sampled_from(REPS),
    shares=st.none() | st.sampled_from([("0.5", "0.5"), ("0.3333", "0.6667"),
                                        ("0.25", "0.75")]),
    cents=st.sampled_from([2_000_000, 3_000_000, 4_500_001]) | st.integers(1, 9_000_000),
    currency=st.sampled_from(["CNY", "CNY", "CNY", "USD"]),
    signed=_times, source=st.sampled_from(["esign", "crm-web"]),
    payments=st.lists(st.tuples(st.sampled_from([0, 24, 700, 2000]),
                                st.integers(1, 5_000_000)), max_size=2).map(tuple),
    cancel_after=st.none() | st.sampled_from([0, 719, 720, 721, 2159, 2160, 2161, 3000]),
)
_amounts = st.sampled_from([3_000_000, 5_000_000, 8_000_000, 12_345_678, 0])
_quotas = st.tuples(
    st.sampled_from(REPS),
    st.sampled_from(["2026-Q1", "2026-Q1", "2026-Q2", "2026-01", "2026-02", "2026-04"]),
    _amounts, st.sampled_from(["CNY", "CNY", "CNY", "USD"]), _times,
    st.sampled_from(["crm-web", "hr"]),
)
#: Most reps get a CNY quota for Q1 (the quarter most signings fall in).
_q1_quota = st.builds(lambda rep, cents, at: (rep, "2026-Q1", cents, "CNY", at, "hr"),
                      st.sampled_from(REPS), _amounts, _times)
_assignments = st.tuples(st.sampled_from(REPS), st.sampled_from(["standard-2026", "cash-test"]),
                         _times, _times)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A small random scenario."""
    return Scenario(
        deals=tuple(draw(st.lists(_deals, min_size=2, max_size=5))),
        quotas=tuple(draw(st.lists(_q1_quota, min_size=1, max_size=2))
                     + draw(st.lists(_quotas, max_size=3))),
        assignments=tuple(draw(st.lists(_assignments, max_size=2))),
    )


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass(frozen=True)
class Rendered:
    """Facts in time order; ``late`` are the indexes of facts that may arrive late."""

    facts: list[Fact]
    late: frozenset[int]
    deals: dict[str, str]  # deal uuid -> subject without the prefix


def render(scenario: Scenario, prefix: str) -> Rendered:
    """Contract facts for ``scenario``; every name and id starts with ``prefix``."""
    timed: list[tuple[datetime, int, Fact, bool]] = []

    def add(at: datetime, f: Fact, late: bool) -> None:
        timed.append((at, len(timed), f, late))

    for i, spec in enumerate(scenario.deals):
        subject, owner = f"{prefix}D{i}", prefix + spec.owner
        splits = None
        if spec.shares is not None and spec.other != spec.owner:
            splits = [(owner, spec.shares[0]), (prefix + spec.other, spec.shares[1])]
        walk = won_deal(subject, owner=owner, amount=_money(spec.cents),
                        currency=spec.currency, signed_at=spec.signed.isoformat(),
                        opened_at=(spec.signed - timedelta(days=2)).isoformat(),
                        splits=splits, source=spec.source)
        for f in walk[:-1]:
            add(spec.signed - timedelta(days=2), f, False)
        add(spec.signed, walk[-1], False)
        for j, (hours, cents) in enumerate(spec.payments):
            at = spec.signed + timedelta(hours=hours)
            add(at, payment(subject, _money(cents), time=at.isoformat(),
                            id_=f"{subject}-pay{j}"), True)
        if spec.cancel_after is not None:
            at = spec.signed + timedelta(hours=spec.cancel_after)
            add(at, cancel(subject, time=at.isoformat(), id_=f"{subject}-cancel"), True)
    for i, (rep, period, cents, currency, at, source) in enumerate(scenario.quotas):
        add(at, quota(prefix + rep, period, _money(cents), time=at.isoformat(),
                      currency=currency, source=source, id_=f"{prefix}q{i}"), True)
    for i, (rep, plan_id, effective, at) in enumerate(scenario.assignments):
        add(at, plan(prefix + rep, plan_id, time=at.isoformat(),
                     effective_from=effective.isoformat(), id_=f"{prefix}p{i}"), True)
    timed.sort(key=lambda item: (item[0], item[1]))
    deals = {str(deal_id(f"{prefix}D{i}")): f"D{i}" for i in range(len(scenario.deals))}
    return Rendered([f for _, _, f, _ in timed],
                    frozenset(n for n, item in enumerate(timed) if item[3]), deals)


def late_order(rendered: Rendered, chosen: set[int], seed: int) -> list[Fact]:
    """The same facts delivered out of time order, as separate producers would: deals
    interleaved at random (each deal's own facts keep their order, so its workflow stays
    valid), and the ``chosen`` late-capable facts (payments, cancellations, quotas, plan
    assignments) delivered last, shuffled, after facts timed later than them."""
    rng = random.Random(seed)
    late = sorted(chosen & rendered.late)
    queues: dict[str, list[Fact]] = {}
    for n, f in enumerate(rendered.facts):
        if n not in late:
            key = f["subject"] if f["type"].split(".")[0] != "rep" else f"rep:{n}"
            queues.setdefault(key, []).append(f)
    order: list[Fact] = []
    while queues:
        key = rng.choice(sorted(queues))
        order.append(queues[key].pop(0))
        if not queues[key]:
            del queues[key]
    rng.shuffle(late)
    return order + [rendered.facts[n] for n in late]


def normalize(value: Any, prefix: str, deals: dict[str, str]) -> Any:
    """A report's JSON without log positions, deal ids as subjects and names unprefixed:
    what must not depend on the order facts arrived in."""
    if isinstance(value, dict):
        return {k: normalize(v, prefix, deals) for k, v in value.items() if k != "position"}
    if isinstance(value, list):
        return [normalize(v, prefix, deals) for v in value]
    if isinstance(value, str):
        return deals.get(value, value).replace(prefix, "")
    return value
