"""The store's commission view, caught up, as the audit commands read it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from engine.audit.errors import AuditError
from projections.commissions import (
    CommissionsProjection,
    CommissionsReport,
    build_report,
)
from projections.commissions.columns import decimal_text, money_text
from projections.report import ReportParams
from projections.runner import ProjectionRunner

__all__ = ["CommissionLine", "commission_lines", "store_report"]


@dataclass(frozen=True, slots=True)
class CommissionLine:
    """A commission line one deal earned (or that clawed it back), as text."""

    rep: str
    period: str
    kind: str
    time: str
    credit: str | None
    rate: str | None
    amount: str
    currency: str
    facts: list[str]


def store_report(runner: ProjectionRunner, params: ReportParams, *,
                 period: str | None = None) -> CommissionsReport:
    """The commission report from the store's view (``runner`` applies it), applied up to
    the log's head first (or, when a running service holds the views' lock, once it has
    applied it). The view's plans rate the statements."""
    head = runner.head()
    if runner.lock.acquire():
        try:
            runner.catch_up()
        finally:
            runner.stop()
    elif not runner.wait(head, timeout=60):
        raise AuditError("the commission view is behind the log; is its runner stuck?")
    view = runner.live[CommissionsProjection.name]
    assert isinstance(view, CommissionsProjection)
    with runner.engine.connect() as conn:
        return build_report(conn, view, params, period=period)


def commission_lines(runner: ProjectionRunner, as_of: datetime
                     ) -> Callable[[str], list[CommissionLine]]:
    """A source of one deal's commission lines (every rep and period) as of ``as_of``."""

    def lines(deal: str) -> list[CommissionLine]:
        report = store_report(runner, ReportParams(as_of=as_of))
        return [
            CommissionLine(
                rep=s.rep, period=s.period, kind=line.kind, time=line.time.isoformat(),
                credit=None if line.credit is None else money_text(line.credit),
                rate=None if line.rate is None else decimal_text(line.rate),
                amount=money_text(line.amount), currency=line.currency,
                facts=[f"{r.source}/{r.fact_id}@{r.position}" for r in line.facts])
            for s in report.result.statements for line in s.lines if line.deal == deal
        ]

    return lines
