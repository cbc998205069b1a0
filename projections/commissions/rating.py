"""Rating one rep's credits in one period: marginal tiers against the quota, and bonuses.

Credits are taken in event-time order (``time``, then ``source``, then ``id``), whatever
order they arrived in. Only credits in the quota's currency count toward attainment; the
others, and every credit when there is no quota, are paid at the plan's base rate. A credit
that crosses a tier boundary yields one line per tier. A zero quota puts all credit in the
top tier and earns no bonus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from projections.commissions.credits import Credit
from projections.commissions.lines import Line, QuotaUsed

__all__ = ["RatedPeriod", "rate_period"]

_RANK_RATE, _RANK_BONUS = 0, 1


@dataclass(frozen=True, slots=True)
class RatedPeriod:
    """The rate and bonus lines of one rep's period, and the credit counted toward quota."""

    lines: tuple[Line, ...]
    attainment_credit: Decimal


def _rate_line(credit: Credit, part: Decimal, rate: Decimal, seq: int,
               quota: QuotaUsed | None) -> Line:
    facts = credit.facts + (quota.facts if quota is not None else ())
    return Line(
        rep=credit.rep, period=credit.period, kind="rate", deal=credit.deal, time=credit.time,
        credit=part, rate=rate, amount=credit.plan.rounding.apply(part * rate),
        currency=credit.currency, plan=credit.plan.label, facts=facts,
        order=(*credit.order, credit.deal, _RANK_RATE, seq),
    )


def _tier_parts(credit: Credit, before: Decimal, quota: Decimal) -> list[tuple[Decimal, int]]:
    """Split credit over the tiers, given the credit already counted: (part, tier index)."""
    after = before + credit.credit
    tiers = credit.plan.tiers
    parts: list[tuple[Decimal, int]] = []
    for index, tier in enumerate(tiers):
        low = tier.from_attainment * quota
        high = tiers[index + 1].from_attainment * quota if index + 1 < len(tiers) else None
        top = after if high is None else min(after, high)
        part = top - max(before, low)
        if part > 0:
            parts.append((part, index))
    return parts


def rate_period(credits: Sequence[Credit], quota: QuotaUsed | None) -> RatedPeriod:
    """Rate one rep's credits of one period (see the module docstring)."""
    lines: list[Line] = []
    counted = Decimal(0)
    paid: set[Decimal] = set()
    for credit in sorted(credits, key=lambda c: (c.order, c.deal)):
        if credit.credit == 0:
            continue
        plan = credit.plan
        if quota is None or credit.currency != quota.currency:
            lines.append(_rate_line(credit, credit.credit, plan.base_rate, 0, None))
            continue
        for part, index in _tier_parts(credit, counted, quota.amount):
            lines.append(_rate_line(credit, part, plan.tiers[index].rate, index, quota))
        counted += credit.credit
        if quota.amount <= 0:
            continue
        for seq, bonus in enumerate(plan.bonuses):
            if bonus.at_attainment not in paid and counted >= bonus.at_attainment * quota.amount:
                paid.add(bonus.at_attainment)
                lines.append(Line(
                    rep=credit.rep, period=credit.period, kind="bonus", deal=None,
                    time=credit.time, credit=None, rate=None,
                    amount=plan.rounding.apply(bonus.amount), currency=quota.currency,
                    plan=plan.label, facts=credit.facts + quota.facts,
                    order=(*credit.order, credit.deal, _RANK_BONUS, seq),
                ))
    return RatedPeriod(tuple(lines), counted)
