"""Credits: what each rep is credited with, when, and under which plan version.

The plan of a rep for a deal is the one assigned (``rep.plan_assigned``) with the latest
``effective_from`` at or before the signing (ties: the latest by ``time``, then ``source``,
then ``id``), else :data:`DEFAULT_PLAN`; the plan's version is the one in effect at the
signing. Under a booking basis the credit is the signing; under a cash basis each payment
of the deal, except payments timed after the deal's cancellation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from projections.commissions.model import (
    Cancellation,
    CommissionFacts,
    FactRef,
    Payment,
    PlanAssignment,
    Signing,
)
from projections.commissions.plans import PlanVersion
from projections.commissions.registry import DEFAULT_PLAN, PlanRegistry

__all__ = ["Credit", "PlanBook", "credits_of", "first_cancellations"]


@dataclass(frozen=True, slots=True)
class Credit:
    """A rep's credit from one fact (a signing, or a payment on a cash basis)."""

    rep: str
    deal: str
    plan: PlanVersion
    period: str
    time: datetime
    order: tuple[datetime, str, str]
    credit: Decimal
    currency: str
    facts: tuple[FactRef, ...]


class PlanBook:
    """Answers "which plan version applies to this rep at this instant"."""

    def __init__(self, assignments: Iterable[PlanAssignment], plans: PlanRegistry) -> None:
        """Index the visible assignments by rep."""
        self._plans = plans
        self._by_rep: dict[str, list[PlanAssignment]] = defaultdict(list)
        for assignment in assignments:
            self._by_rep[assignment.rep].append(assignment)
        self.warnings: list[str] = []

    def version(self, rep: str, at: datetime, what: str) -> PlanVersion | None:
        """The plan version for ``rep`` at ``at``; ``None`` (and a warning naming ``what``)
        when the assigned plan is not defined."""
        candidates = [a for a in self._by_rep.get(rep, ()) if a.effective_from <= at]
        chosen = max(candidates, key=lambda a: (a.effective_from, *a.order_key), default=None)
        plan_id = chosen.plan if chosen is not None else DEFAULT_PLAN
        version = self._plans.version_at(plan_id, at)
        if version is None:
            how = (f"assigned by {chosen.ref.source}/{chosen.ref.fact_id}"
                   if chosen is not None else "the default plan")
            self.warnings.append(
                f"rep {rep}: plan {plan_id!r} ({how}) is not defined; {what} is not rated"
            )
        return version


def first_cancellations(cancellations: Iterable[Cancellation]) -> dict[str, Cancellation]:
    """Each deal's cancellation (the earliest by event time, should there be several)."""
    first: dict[str, Cancellation] = {}
    for c in cancellations:
        held = first.get(c.deal)
        if held is None or c.order_key < held.order_key:
            first[c.deal] = c
    return first


def _shares(signing: Signing, mode: str) -> dict[str, Decimal]:
    """Each rep's share of the signing's credit under a plan's split mode."""
    owner = {} if signing.owner is None else {signing.owner: Decimal(1)}
    split = {s.rep: s.share for s in signing.splits} if signing.splits else owner
    if mode == "owner_only":
        return owner
    if mode == "full":
        return dict.fromkeys(split, Decimal(1))
    return split


def _reps(signing: Signing) -> list[str]:
    reps = {signing.owner, *(s.rep for s in signing.splits or ())}
    return sorted(r for r in reps if r is not None)


def credits_of(facts: CommissionFacts, book: PlanBook) -> list[Credit]:
    """Every credit from the (already filtered) facts, in no particular order."""
    payments: dict[str, list[Payment]] = defaultdict(list)
    for payment in facts.payments:
        payments[payment.deal].append(payment)
    cancelled = first_cancellations(facts.cancellations)
    result: list[Credit] = []
    for signing in facts.signings:
        for rep in _reps(signing):
            plan = book.version(rep, signing.occurred_at, f"deal {signing.deal}")
            if plan is None:
                continue
            share = _shares(signing, plan.splits).get(rep)
            if share is None:
                continue
            if plan.basis == "booking":
                sources: list[Signing | Payment] = [signing]
            else:
                cancel = cancelled.get(signing.deal)
                sources = [p for p in payments[signing.deal]
                           if cancel is None or p.occurred_at <= cancel.occurred_at]
            for fact in sources:
                refs = (fact.ref,) if fact is signing else (fact.ref, signing.ref)
                result.append(Credit(
                    rep=rep, deal=signing.deal, plan=plan,
                    period=plan.period.label(fact.occurred_at),
                    time=plan.period.local(fact.occurred_at),
                    order=fact.order_key, credit=fact.amount * share,
                    currency=fact.currency, facts=refs,
                ))
    return result
