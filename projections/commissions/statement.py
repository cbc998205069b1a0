"""Statements: a pure function of the view's facts, explicit report times and the plans.

Steps: keep the facts visible under the :class:`ReportParams` (happened by ``as_of``,
recorded by ``known_at``); credit each rep under the plan in effect at signing; rate each
rep's period in event-time order; then claw back: a deal cancelled within its plan's window
after signing gets, in the cancellation's period, one negative line per rate line it
earned. Bonuses are never reversed and attainment is not recomputed. Nothing here reads
the clock or the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from typing import TypeVar

from projections.commissions.credits import Credit, PlanBook, credits_of, first_cancellations
from projections.commissions.lines import Line, Statement, Statements
from projections.commissions.model import Cancellation, CommissionFacts, Signing, TimedFact
from projections.commissions.quotas import QuotaBook
from projections.commissions.rating import RatedPeriod, rate_period
from projections.commissions.registry import PlanRegistry
from projections.report import ReportParams

__all__ = ["compute_statements", "visible_facts"]

_RANK_CLAWBACK = 2
_T = TypeVar("_T", bound=TimedFact)


def visible_facts(facts: CommissionFacts, params: ReportParams) -> CommissionFacts:
    """Only the facts that count under ``params``."""

    def keep(items: Iterable[_T]) -> tuple[_T, ...]:
        return tuple(f for f in items if params.visible(f.occurred_at, f.recorded_at))

    return CommissionFacts(
        signings=keep(facts.signings), payments=keep(facts.payments),
        cancellations=keep(facts.cancellations), quotas=keep(facts.quotas),
        assignments=keep(facts.assignments), deals=facts.deals,
    )


def _clawbacks(lines: Iterable[Line], credits: Iterable[Credit],
               signings: dict[str, Signing], cancels: dict[str, Cancellation]) -> list[Line]:
    """Negative copies of the rate lines of deals cancelled within their window."""
    plans = {(c.rep, c.deal): c.plan for c in credits}
    result: list[Line] = []
    for seq, line in enumerate(lines):
        if line.kind != "rate" or line.deal is None or line.deal not in cancels:
            continue
        cancel, signing = cancels[line.deal], signings[line.deal]
        plan = plans[(line.rep, line.deal)]
        if plan.clawback is None or cancel.occurred_at - signing.occurred_at > plan.clawback.window:
            continue
        assert line.credit is not None
        result.append(replace(
            line, kind="clawback", period=plan.period.label(cancel.occurred_at),
            time=plan.period.local(cancel.occurred_at), credit=-line.credit, amount=-line.amount,
            facts=(cancel.ref, *line.facts),
            order=(*cancel.order_key, line.deal, _RANK_CLAWBACK, seq),
        ))
    return result


def compute_statements(facts: CommissionFacts, params: ReportParams,
                       plans: PlanRegistry) -> Statements:
    """Every rep's statement for every period with lines, under ``params``."""
    facts = visible_facts(facts, params)
    book = PlanBook(facts.assignments, plans)
    quotas = QuotaBook(facts.quotas)
    credits = credits_of(facts, book)
    grouped: dict[tuple[str, str], list[Credit]] = defaultdict(list)
    for credit in credits:
        grouped[(credit.rep, credit.period)].append(credit)
    rated: dict[tuple[str, str], RatedPeriod] = {
        key: rate_period(grouped[key], quotas.quota(*key)) for key in sorted(grouped)
    }
    earned = [line for period in rated.values() for line in period.lines]
    signings = {s.deal: s for s in sorted(facts.signings, key=lambda s: s.order_key)}
    clawed = _clawbacks(earned, credits, signings, first_cancellations(facts.cancellations))
    by_period: dict[tuple[str, str], list[Line]] = defaultdict(list)
    for line in earned + clawed:
        by_period[(line.rep, line.period)].append(line)
    statements = tuple(
        Statement(
            rep=rep, period=period, quota=quotas.quota(rep, period),
            attainment_credit=rated[(rep, period)].attainment_credit
            if (rep, period) in rated else Decimal(0),
            lines=tuple(sorted(lines, key=lambda line: line.order)),
        )
        for (rep, period), lines in sorted(by_period.items(), key=lambda item: item[0])
    )
    warnings = tuple(sorted(set(book.warnings) | set(quotas.warnings)))
    return Statements(statements, warnings)
