"""The segments report: per account and currency, what it signed in the 365 days up to
the time asked, and its tier (``dealflow report segments --as-of T``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from rich.table import Table
from sqlalchemy import Connection, select

from projections.formatting import NONE, ReportTable, count, moment, money, percent
from projections.pipeline.columns import visible
from projections.report import ReportParams
from projections.segments.projection import SegmentsProjection
from projections.segments.tiers import TIERS, rank

__all__ = ["WINDOW", "AccountSegment", "SegmentsReport", "build_report"]

#: The window of signings that count: (T - 365 days, T].
WINDOW = timedelta(days=365)
_ZONE = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class AccountSegment:
    """One account in one currency as of the report: ``credit`` the signed amounts of its
    contracts signed in the window and not cancelled by then, ``deals`` how many, the
    ``last_signed_at`` signing at or before the report's time (any, window or not,
    cancelled or not), its ``rank`` and ``tier`` within the currency, and ``share_before``
    the part of the currency's total held by the accounts ranked before it."""

    account: str
    currency: str
    credit: Decimal
    deals: int
    last_signed_at: datetime
    rank: int
    tier: str
    share_before: Decimal


@dataclass(frozen=True)
class SegmentsReport:
    """Account segments as of ``params`` (see :class:`projections.report.Report`)."""

    params: ReportParams
    accounts: tuple[AccountSegment, ...]
    title: str = field(default="Account segments")

    @property
    def currencies(self) -> list[str]:
        """The currencies the accounts signed in, sorted."""
        return sorted({a.currency for a in self.accounts})

    def total(self, currency: str) -> Decimal:
        """The credit of every account in ``currency``."""
        return sum((a.credit for a in self.accounts if a.currency == currency and a.credit > 0),
                   Decimal(0))

    def to_json(self) -> dict[str, Any]:
        """``as_of``, ``known_at``, the window, and per currency its total, the accounts per
        tier and every account in rank order."""
        return {
            "report": "segments",
            "as_of": self.params.as_of.isoformat(),
            "known_at": None if self.params.known_at is None else self.params.known_at.isoformat(),
            "window": {"days": WINDOW.days, "from_exclusive": self._start().isoformat(),
                       "to": self.params.as_of.isoformat()},
            "currencies": [{
                "currency": currency, "total": f"{self.total(currency):f}",
                "tiers": {tier: sum(1 for a in self.accounts
                                    if a.currency == currency and a.tier == tier)
                          for tier in TIERS},
                "accounts": [{
                    "account": a.account, "rank": a.rank, "tier": a.tier,
                    "credit": f"{a.credit:f}", "deals": a.deals,
                    "last_signed_at": a.last_signed_at.isoformat(),
                    "share_before": f"{a.share_before:f}",
                } for a in self.accounts if a.currency == currency],
            } for currency in self.currencies],
        }

    def _start(self) -> datetime:
        return self.params.as_of - WINDOW

    def tables(self) -> list[Table]:
        """One table per currency, accounts in rank order (times in Asia/Shanghai)."""
        known = "" if self.params.known_at is None else (
            f", as known at {moment(self.params.known_at, _ZONE)}")
        heading = (f"{self.title} as of {moment(self.params.as_of, _ZONE)}{known}: contracts "
                   f"signed after {moment(self._start(), _ZONE)}, not cancelled "
                   f"(times in {_ZONE})")
        if not self.accounts:
            empty = ReportTable(heading, "currency", "accounts")
            empty.add_cells(NONE, "0")
            return [empty]
        tables: list[Table] = []
        for n, currency in enumerate(self.currencies):
            title = heading if n == 0 else f"{self.title} in {currency}"
            table = ReportTable(f"{title}\ntotal {money(self.total(currency), currency)}",
                                "rank", "account", "tier", "credit", "deals",
                                "before it", "last signing",
                                numbers=("rank", "credit", "deals", "before it"))
            for a in self.accounts:
                if a.currency == currency:
                    table.add_cells(count(a.rank), a.account, a.tier, money(a.credit, currency),
                                    count(a.deals), percent(a.share_before),
                                    moment(a.last_signed_at, _ZONE))
            tables.append(table)
        return tables


def build_report(conn: Connection, view: SegmentsProjection,
                 params: ReportParams) -> SegmentsReport:
    """The segments as of ``params`` from the view's rows (no wall clock)."""
    s, d, c = view.signings, view.deals, view.cancellations
    cancelled = set(conn.execute(select(c.c.deal).where(
        visible(c.c.cancelled_at, c.c.recorded_at, params))).scalars())
    start = params.as_of - WINDOW
    credit: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    deals: dict[tuple[str, str], set[str]] = defaultdict(set)
    last: dict[tuple[str, str], datetime] = {}
    query = (select(d.c.account, s.c.deal, s.c.signed_at, s.c.amount, s.c.currency)
             .join(d, d.c.deal == s.c.deal)
             .where(visible(s.c.signed_at, s.c.recorded_at, params)))
    for row in conn.execute(query):
        key = (row.currency, row.account)
        if key not in last or row.signed_at > last[key]:
            last[key] = row.signed_at
        if row.signed_at > start and row.deal not in cancelled:
            credit[key] += row.amount
            deals[key].add(row.deal)
    found: list[AccountSegment] = []
    for currency in sorted({cur for cur, _ in last}):
        ranked = rank({account: credit[(cur, account)] for cur, account in last
                       if cur == currency})
        for number, (account, tier, share) in enumerate(ranked, start=1):
            key = (currency, account)
            found.append(AccountSegment(account, currency, credit[key], len(deals[key]),
                                        last[key], number, tier, share))
    return SegmentsReport(params=params, accounts=tuple(found))
