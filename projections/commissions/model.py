"""The facts the commission view keeps, as plain values: what statements are computed from.

Every row keeps both times (``occurred_at``: the fact's ``time``; ``recorded_at``: when
dealflow recorded it) and its provenance (:class:`FactRef`: source, fact id, log position).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

__all__ = [
    "Cancellation",
    "CommissionFacts",
    "DealLabel",
    "FactRef",
    "Payment",
    "PlanAssignment",
    "QuotaFact",
    "Signing",
    "Split",
    "TimedFact",
]


@dataclass(frozen=True, slots=True, order=True)
class FactRef:
    """Where a fact came from: (``source``, ``fact_id``) and its position in the log."""

    source: str
    fact_id: str
    position: int


@dataclass(frozen=True, slots=True)
class TimedFact:
    """A fact with its provenance and both times."""

    ref: FactRef
    occurred_at: datetime
    recorded_at: datetime

    @property
    def order_key(self) -> tuple[datetime, str, str]:
        """Event-time order: by ``time``, ties broken by ``source`` then ``id``."""
        return (self.occurred_at, self.ref.source, self.ref.fact_id)


@dataclass(frozen=True, slots=True)
class Split:
    """One rep's share of a deal's credit, as recorded at signing."""

    rep: str
    share: Decimal


@dataclass(frozen=True, slots=True)
class Signing(TimedFact):
    """``contract.signed``: the deal, amount, owner and splits at signing."""

    deal: str
    amount: Decimal
    currency: str
    owner: str | None  # None: signed while unassigned; only its splits' reps earn lines
    splits: tuple[Split, ...] | None


@dataclass(frozen=True, slots=True)
class Payment(TimedFact):
    """``payment.received`` on a won deal."""

    deal: str
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Cancellation(TimedFact):
    """``contract.cancelled``."""

    deal: str
    reason: str
    refund_amount: Decimal | None


@dataclass(frozen=True, slots=True)
class QuotaFact(TimedFact):
    """``rep.quota_set``: a rep's quota for a period (``2026-Q1`` or ``2026-03``)."""

    rep: str
    period: str
    amount: Decimal
    currency: str
    team: str | None


@dataclass(frozen=True, slots=True)
class PlanAssignment(TimedFact):
    """``rep.plan_assigned``: ``plan`` applies to ``rep`` from ``effective_from``."""

    rep: str
    plan: str
    effective_from: datetime


@dataclass(frozen=True, slots=True)
class DealLabel:
    """How a deal is named in statements: its contract subject when the log has it, and
    its account."""

    deal: str
    subject: str | None
    account: str

    @property
    def text(self) -> str:
        """``D-1`` or, without a subject, ``acct-7 (2428de3c)``."""
        return self.subject or f"{self.account} ({self.deal[:8]})"


@dataclass(frozen=True, slots=True)
class CommissionFacts:
    """Every fact a statement may use (filter with ``ReportParams`` before rating)."""

    signings: tuple[Signing, ...] = ()
    payments: tuple[Payment, ...] = ()
    cancellations: tuple[Cancellation, ...] = ()
    quotas: tuple[QuotaFact, ...] = ()
    assignments: tuple[PlanAssignment, ...] = ()
    deals: dict[str, DealLabel] = field(default_factory=dict)
