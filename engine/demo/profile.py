"""Who and what a demo deal is: the shared generation context and each deal's profile."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from engine.demo.clock import Quarter, local_date
from engine.demo.facts import FactMint, cents_text
from engine.demo.roster import Rep
from engine.demo.vocab import PARTNERS, SPLIT_SHARES

__all__ = ["WORKFLOWS", "DealProfile", "DemoContext", "draw_profile", "round_cents"]

# The shipped workflows' open stages, in order (names are part of the contract).
WORKFLOWS: dict[str, tuple[str, ...]] = {
    "standard": ("lead", "contact", "needs_analysis", "proposal", "quote", "negotiation"),
    "channel": ("registered", "approved", "joint_call", "proposal", "quote", "negotiation"),
}
_SEGMENTS = (("high_value", 0.15, 800_000), ("potential", 0.35, 180_000), ("ordinary", 0.5, 60_000))
_USD_RATE = 7


@dataclass(slots=True)
class DemoContext:
    """What every script of one generation run shares: the one RNG, ids, quarter, team."""

    rng: random.Random
    mint: FactMint
    quarter: Quarter
    reps: tuple[Rep, ...]
    accounts: int
    tail_end: int
    produced: set[str] = field(default_factory=set)  # bad classes delivered so far

    def teammate(self, rep: Rep) -> Rep:
        """Another rep of ``rep``'s team (any other rep if the team has one member)."""
        mates = [r for r in self.reps if r.team == rep.team and r != rep]
        return self.rng.choice(mates or [r for r in self.reps if r != rep])


@dataclass(slots=True)
class DealProfile:
    """A deal's fixed facts at opening; ``owner`` and ``amount`` change as it goes."""

    subject: str
    workflow: str
    account: str
    owner: Rep
    cents: int
    currency: str
    segment: str
    partner: str | None
    splits: list[dict[str, str]] | None
    expected_close: str
    territory: str = "north"
    routed: bool = False  # opened without owner: the engine chooses (contract 1.1)

    @property
    def stages(self) -> tuple[str, ...]:
        """The open stages of the deal's workflow, in order."""
        return WORKFLOWS[self.workflow]

    def opened_data(self) -> dict[str, Any]:
        """The ``data`` of the deal's ``deal.opened``."""
        data: dict[str, Any] = {
            "workflow": self.workflow,
            "account": self.account,
            "amount": cents_text(self.cents),
            "currency": self.currency,
            "expected_close": self.expected_close,
            "segment": self.segment,
            "territory": self.territory,
        }
        if not self.routed:
            data["owner"] = self.owner.id
        if self.partner is not None:
            data["partner"] = self.partner
        if self.splits is not None:
            data["splits"] = self.splits
        return data


def round_cents(rng: random.Random, value: float) -> int:
    """A plausible amount in cents: mostly whole hundreds, some whole units, a few with cents."""
    roll = rng.random()
    if roll < 0.7:
        return max(1, round(value / 100)) * 100_00
    if roll < 0.92:
        return max(1, round(value)) * 100
    return max(1, round(value * 100))


def split_between(ctx: DemoContext, owner: Rep) -> list[dict[str, str]]:
    """Credit shared between ``owner`` and a teammate, shares summing to exactly 1."""
    first, second = ctx.rng.choice(SPLIT_SHARES)
    return [{"rep": owner.id, "share": first}, {"rep": ctx.teammate(owner).id, "share": second}]


def draw_profile(ctx: DemoContext, number: int, opened_at: int) -> DealProfile:
    """Draw deal ``number``: ~80 % standard, ~10 % USD, ~10 % split between two reps."""
    rng = ctx.rng
    workflow = "channel" if rng.random() < 0.2 else "standard"
    roll, segment, median = rng.random(), "ordinary", 60_000
    for name, weight, middle in _SEGMENTS:
        if roll < weight:
            segment, median = name, middle
            break
        roll -= weight
    value = rng.lognormvariate(0, 0.5) * median
    currency = "CNY"
    if rng.random() < 0.1:
        currency, value = "USD", value / _USD_RATE
    owner = rng.choice(ctx.reps)
    close = local_date(opened_at) + timedelta(days=rng.randint(30, 100))
    # Drawn in the order the fields were always drawn: the same seed, the same deals.
    account = rng.randrange(ctx.accounts)
    cents = round_cents(rng, value)
    partner = rng.choice(PARTNERS) if workflow == "channel" else None
    splits = split_between(ctx, owner) if rng.random() < 0.1 else None
    return DealProfile(
        subject=f"deal-{ctx.mint.tag}-{number:06d}",
        workflow=workflow,
        account=f"acct-{account:05d}",
        owner=owner,
        cents=cents,
        currency=currency,
        segment=segment,
        partner=partner,
        splits=splits,
        expected_close=close.isoformat(),
        territory=("north", "south")[account % 2],
        # Most deals come in without owner and are routed; split deals name theirs.
        routed=splits is None and number % 5 != 0,
    )
