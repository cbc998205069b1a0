"""What a statement is made of: lines, the quota used, and one statement per rep and period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from projections.commissions.model import FactRef

__all__ = ["Line", "LineKind", "QuotaUsed", "Statement", "Statements"]

LineKind = Literal["rate", "bonus", "clawback"]


@dataclass(frozen=True, slots=True)
class QuotaUsed:
    """The quota a period was rated against, and the facts that set it."""

    amount: Decimal
    currency: str
    basis: Literal["period", "months"]
    facts: tuple[FactRef, ...]


@dataclass(frozen=True, slots=True)
class Line:
    """One statement line; ``facts`` are the facts that caused it (for a rate line: the
    credit's fact, and the quota's facts when the quota set its rate).

    ``credit`` is the part of credit rated (unrounded; negative on a clawback; ``None`` on
    a bonus), ``amount`` is rounded per line, in ``currency``.
    """

    rep: str
    period: str
    kind: LineKind
    deal: str | None
    time: datetime
    credit: Decimal | None
    rate: Decimal | None
    amount: Decimal
    currency: str
    plan: str
    facts: tuple[FactRef, ...]
    order: tuple[datetime, str, str, str, int, int]


@dataclass(frozen=True, slots=True)
class Statement:
    """One rep's commission statement for one period."""

    rep: str
    period: str
    quota: QuotaUsed | None
    attainment_credit: Decimal
    lines: tuple[Line, ...]

    @property
    def attainment(self) -> Decimal | None:
        """Credit toward quota over quota (``None`` without a positive quota)."""
        if self.quota is None or self.quota.amount <= 0:
            return None
        return self.attainment_credit / self.quota.amount

    def totals(self) -> dict[str, Decimal]:
        """Sum of line amounts per currency, currencies sorted."""
        sums: dict[str, Decimal] = {}
        for line in self.lines:
            sums[line.currency] = sums.get(line.currency, Decimal(0)) + line.amount
        return dict(sorted(sums.items()))

    def total(self, kind: LineKind) -> dict[str, Decimal]:
        """Sum of the ``kind`` lines per currency."""
        sums: dict[str, Decimal] = {}
        for line in self.lines:
            if line.kind == kind:
                sums[line.currency] = sums.get(line.currency, Decimal(0)) + line.amount
        return dict(sorted(sums.items()))


@dataclass(frozen=True, slots=True)
class Statements:
    """Statements by rep then period, and warnings (e.g. a rep assigned an unknown plan)."""

    statements: tuple[Statement, ...]
    warnings: tuple[str, ...] = ()
