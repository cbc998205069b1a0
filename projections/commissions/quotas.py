"""Which quota applies to a rep's period: ``rep.quota_set`` for the period, the latest by
``time`` (ties: ``source`` then ``id``); a quarter without one sums its months' quotas."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from projections.commissions.lines import QuotaUsed
from projections.commissions.model import QuotaFact

__all__ = ["QuotaBook"]


def _months(quarter: str) -> list[str]:
    year, q = quarter.split("-Q")
    first = (int(q) - 1) * 3 + 1
    return [f"{year}-{month:02d}" for month in range(first, first + 3)]


class QuotaBook:
    """The latest quota fact per (rep, period), from the visible quota facts."""

    def __init__(self, quotas: Iterable[QuotaFact]) -> None:
        """Keep the latest fact by event time per (rep, period)."""
        self._latest: dict[tuple[str, str], QuotaFact] = {}
        for quota in quotas:
            key = (quota.rep, quota.period)
            held = self._latest.get(key)
            if held is None or quota.order_key > held.order_key:
                self._latest[key] = quota
        self.warnings: list[str] = []
        self._resolved: dict[tuple[str, str], QuotaUsed | None] = {}

    def quota(self, rep: str, period: str) -> QuotaUsed | None:
        """The quota for ``rep`` in ``period`` (``2026-Q1`` or ``2026-03``), if any."""
        key = (rep, period)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(rep, period)
        return self._resolved[key]

    def _resolve(self, rep: str, period: str) -> QuotaUsed | None:
        own = self._latest.get((rep, period))
        if own is not None:
            return QuotaUsed(own.amount, own.currency, "period", (own.ref,))
        if "-Q" not in period:
            return None
        months = [q for m in _months(period) if (q := self._latest.get((rep, m))) is not None]
        if not months:
            return None
        currencies = sorted({q.currency for q in months})
        if len(currencies) > 1:
            self.warnings.append(
                f"rep {rep} {period}: monthly quotas in {', '.join(currencies)} cannot be "
                "summed; the period is rated as without a quota"
            )
            return None
        total = sum((q.amount for q in months), Decimal(0))
        return QuotaUsed(total, currencies[0], "months", tuple(q.ref for q in months))
