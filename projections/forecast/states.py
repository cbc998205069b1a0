"""Each deal's forecast state as of an instant, as known at another: the fold of the
forecast view's timeline (CONTRACT 1.1, precise rule 6).

- stage, amount, currency and owner fold the deal's facts with ``time`` at or before
  ``as_of`` (and recorded by ``known_at``) in order of ``time``, ties by log position;
- the close date is the latest ``deal.expected_close_changed`` by (``time``, ``source``,
  ``id``), else the one the deal opened with; the override likewise the latest
  ``deal.forecast_set`` (closing does not clear it: a reopened deal takes it back);
- a fact dated before its deal's opening is not counted (the deal is not there yet), and a
  deal opened after ``as_of`` has no state.

The category is the override while the deal is open (``auto`` is no override), else the
stage's category from the latest version of the workflow by stage name (rule 10); the
probability is the stage's in the deal's own version (an override never changes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from projections.forecast.periods import close_date_bounds, quarter_of_date
from projections.forecast.projection import ForecastProjection
from projections.pipeline.columns import visible
from projections.report import ReportParams
from workflows import CompiledWorkflow

__all__ = ["DealState", "deal_states"]


@dataclass(frozen=True, slots=True)
class DealState:
    """One deal as of an instant (see the module's docstring for how each field folds)."""

    deal_id: str
    subject: str
    workflow: str
    workflow_version: int
    opened_at: datetime
    stage: str
    is_open: bool
    amount: Decimal
    currency: str
    owner: str | None
    expected_close: date | None
    override: str | None
    cancelled: bool
    category: str
    probability: Decimal

    @property
    def period(self) -> str | None:
        """The quarter of the current close date as written; None without one."""
        return None if self.expected_close is None else quarter_of_date(self.expected_close)

    def in_period(self, period: str) -> bool:
        """Open with its close date in ``period`` (overrides play no part)."""
        return self.is_open and self.period == period

    @property
    def weighted(self) -> Decimal:
        """Amount x stage probability, exact."""
        return self.amount * self.probability


class _Fold:
    """The running state of one deal while its rows are read in (time, position) order."""

    __slots__ = ("amount", "cancelled", "close", "close_key", "currency", "lost_from",
                 "opened_at", "override", "override_key", "owner", "stage")

    def __init__(self, row: Any) -> None:
        self.opened_at: datetime = row.occurred_at
        self.stage: str = row.stage
        self.amount: Decimal = row.amount
        self.currency: str = row.currency
        self.owner: str | None = row.owner
        self.close: str | None = row.expected_close
        self.close_key: tuple[datetime, str, str] | None = None
        self.override: str | None = None
        self.override_key: tuple[datetime, str, str] | None = None
        self.cancelled = False
        self.lost_from: str | None = None

    def apply(self, row: Any, wf: CompiledWorkflow) -> None:
        kind = row.kind
        if kind == "stage" or kind == "reopened":
            self.stage = row.stage
        elif kind == "amount":
            self.amount, self.currency = row.amount, row.currency
        elif kind == "signed":
            self.stage, self.amount, self.currency = row.stage, row.amount, row.currency
        elif kind == "lost":
            self.lost_from, self.stage = self.stage, wf.lost_stage
        elif kind == "owner":
            self.owner = row.owner
        elif kind == "cancelled":
            self.cancelled = True
        elif kind == "close":
            key = (row.occurred_at, row.source, row.fact_id)
            if self.close_key is None or key > self.close_key:
                self.close_key, self.close = key, row.expected_close
        elif kind == "forecast":
            key = (row.occurred_at, row.source, row.fact_id)
            if self.override_key is None or key > self.override_key:
                self.override_key, self.override = key, row.category


def deal_states(conn: Connection, view: ForecastProjection, params: ReportParams, *,
                period: str | None = None, undated: bool = True) -> list[DealState]:
    """Every deal opened by ``params.as_of`` (facts recorded by ``params.known_at``), as of
    ``params.as_of``, ordered by subject.

    With ``period``, only the deals that may be in it are folded: those with a visible close
    date (opening or change) in the period, and those that opened without one (the "no
    close date" deals). Every deal in the period as of that instant is among them.
    """
    t = view.tables
    tl, deals = t.timeline, t.deals
    seen = visible(tl.c.occurred_at, tl.c.recorded_at, params)
    query = (select(tl, deals.c.subject, deals.c.workflow, deals.c.workflow_version)
             .join(deals, deals.c.deal_id == tl.c.deal_id).where(seen))
    if period is not None:
        first, last = close_date_bounds(period)
        dated = and_(tl.c.kind.in_(("opened", "close")),
                     tl.c.expected_close.between(first, last))
        candidates = select(tl.c.deal_id).where(seen, or_(
            dated, and_(tl.c.kind == "opened", tl.c.expected_close.is_(None)))
            if undated else and_(seen, dated))
        query = query.where(tl.c.deal_id.in_(candidates))
    query = query.order_by(tl.c.deal_id, tl.c.occurred_at, tl.c.position)
    out: list[DealState] = []
    deal: Any = None
    fold: _Fold | None = None
    wf: CompiledWorkflow | None = None
    for row in conn.execute(query):
        if deal is None or row.deal_id != deal.deal_id:
            if fold is not None and wf is not None:
                out.append(_state(view, deal, fold, wf))
            deal, fold = row, None
            wf = view.workflows.get(row.workflow, row.workflow_version)
        if fold is None:
            if row.kind == "opened":
                fold = _Fold(row)
            continue  # a fact dated before its deal's opening: the deal is not there yet
        assert wf is not None
        fold.apply(row, wf)
    if fold is not None and wf is not None:
        out.append(_state(view, deal, fold, wf))
    out.sort(key=lambda s: s.subject)
    return out


def _state(view: ForecastProjection, deal: Any, fold: _Fold, wf: CompiledWorkflow
           ) -> DealState:
    # ``deal`` is the deal's first row: its deal_id, subject, workflow and version.
    is_open = wf.is_open(fold.stage)
    category = view.workflows.forecast_category(wf.name, fold.stage)
    if category is None:  # the latest version has no such stage: the deal's own version's
        category = wf.forecast_category(fold.stage)
    if is_open and fold.override is not None and fold.override != "auto":
        category = fold.override
    return DealState(
        deal_id=deal.deal_id, subject=deal.subject, workflow=deal.workflow,
        workflow_version=deal.workflow_version, opened_at=fold.opened_at, stage=fold.stage,
        is_open=is_open, amount=fold.amount, currency=fold.currency, owner=fold.owner,
        expected_close=None if fold.close is None else date.fromisoformat(fold.close),
        override=fold.override, cancelled=fold.cancelled, category=category,
        probability=wf.probability(fold.stage))
