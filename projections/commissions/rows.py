"""Reading the commission view's rows back as :class:`CommissionFacts`.

Only rows visible under the report's times are read (``occurred_at`` by ``as_of``,
``recorded_at`` by ``known_at``); the statement function applies the same filter again, so
this is only pruning.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, and_, select

from engine.store.chunks import lookup_chunks
from projections.commissions.model import (
    Cancellation,
    CommissionFacts,
    DealLabel,
    FactRef,
    Payment,
    PlanAssignment,
    QuotaFact,
    Signing,
    Split,
)
from projections.commissions.projection import CommissionsProjection
from projections.report import ReportParams

__all__ = ["load_facts"]


def _visible(table: Table, params: ReportParams) -> ColumnElement[bool]:
    clause = table.c.occurred_at <= params.as_of
    if params.known_at is not None:
        clause = and_(clause, table.c.recorded_at <= params.known_at)
    return clause


def _rows(conn: Connection, table: Table, params: ReportParams) -> list[Row[Any]]:
    query = select(table).where(_visible(table, params)).order_by(table.c.position)
    return list(conn.execute(query))


def _base(row: Row[Any]) -> dict[str, Any]:
    return {"ref": FactRef(row.source, row.fact_id, int(row.position)),
            "occurred_at": row.occurred_at, "recorded_at": row.recorded_at}


def _splits(text: str | None) -> tuple[Split, ...] | None:
    if text is None:
        return None
    return tuple(Split(item["rep"], Decimal(item["share"])) for item in json.loads(text))


def load_facts(conn: Connection, view: CommissionsProjection,
               params: ReportParams) -> CommissionFacts:
    """The view's facts visible under ``params``, with the label of every deal they name
    (only those: the cost follows the facts visible, not every deal ever opened)."""
    signings = tuple(
        Signing(**_base(r), deal=r.deal, amount=r.amount, currency=r.currency,
                owner=r.owner or None, splits=_splits(r.splits))
        for r in _rows(conn, view.signings, params))
    payments = tuple(
        Payment(**_base(r), deal=r.deal, amount=r.amount, currency=r.currency)
        for r in _rows(conn, view.payments, params))
    cancellations = tuple(
        Cancellation(**_base(r), deal=r.deal, reason=r.reason, refund_amount=r.refund_amount)
        for r in _rows(conn, view.cancellations, params))
    named = sorted({s.deal for s in signings} | {p.deal for p in payments}
                   | {c.deal for c in cancellations})
    deals: dict[str, DealLabel] = {}
    for chunk in lookup_chunks(named):
        for r in conn.execute(select(view.deals).where(view.deals.c.deal.in_(chunk))):
            deals[r.deal] = DealLabel(r.deal, r.subject, r.account)
    return CommissionFacts(
        signings=signings,
        payments=payments,
        cancellations=cancellations,
        quotas=tuple(
            QuotaFact(**_base(r), rep=r.rep, period=r.period, amount=r.amount,
                      currency=r.currency, team=r.team)
            for r in _rows(conn, view.quotas, params)),
        assignments=tuple(
            PlanAssignment(**_base(r), rep=r.rep, plan=r.plan,
                           effective_from=r.effective_from)
            for r in _rows(conn, view.assignments, params)),
        deals=deals,
    )
