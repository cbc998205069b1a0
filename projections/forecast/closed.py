"""Closed credit of a period as of an instant (CONTRACT 1.1 "Forecast", precise rule 6).

The credit of each ``contract.signed`` whose time falls in the period's quarter
(``Asia/Shanghai``), shared by the splits at signing (else 100 % to the owner at signing;
``rep`` None: signed while unassigned without splits, the ``unassigned`` row), signed by
``as_of`` and not cancelled by ``as_of`` whatever the delay; facts recorded by ``known_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, and_, exists, not_, select

from projections.forecast.projection import ForecastProjection
from projections.pipeline.columns import visible
from projections.report import ReportParams

__all__ = ["Credit", "closed_credits"]


@dataclass(frozen=True, slots=True)
class Credit:
    """One rep's share of one signing (exact, not rounded)."""

    deal_id: str
    subject: str
    signed_at: datetime
    rep: str | None
    share: Decimal
    amount: Decimal
    currency: str


def closed_credits(conn: Connection, view: ForecastProjection, period: str,
                   params: ReportParams) -> list[Credit]:
    """The period's closed credit lines as of ``params``, in log order."""
    t = view.tables
    c, x, d = t.credits, t.cancellations, t.deals
    cancelled = exists().where(x.c.deal_id == c.c.deal_id,
                               visible(x.c.occurred_at, x.c.recorded_at, params))
    query = (select(c, d.c.subject).join(d, d.c.deal_id == c.c.deal_id)
             .where(and_(c.c.quarter == period,
                         visible(c.c.occurred_at, c.c.recorded_at, params),
                         not_(cancelled)))
             .order_by(c.c.position, c.c.line))
    return [Credit(r.deal_id, r.subject, r.occurred_at, r.rep, r.share, r.amount, r.currency)
            for r in conn.execute(query)]
