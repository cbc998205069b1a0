"""The forecast view (view name ``forecast``): the facts a forecast and a waterfall read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from engine.domain import Deal, Rep
from engine.store.chunks import lookup_chunks
from engine.store.log import LoggedEvent
from projections.base import FactRowsProjection
from projections.forecast.tables import ForecastTables, define
from projections.kpi.periods import KPI_TIMEZONE, QuarterOf
from projections.pipeline.columns import insert_rows, instant_encoder, money

__all__ = ["ForecastProjection"]

_DEAL_EVENTS = (Deal.Opened, Deal.Routed, Deal.StageChanged, Deal.QuoteIssued,
                Deal.AmountChanged, Deal.ContractSigned, Deal.Lost, Deal.Reopened,
                Deal.Reassigned, Deal.ContractCancelled, Deal.ForecastSet,
                Deal.ExpectedCloseChanged)
_REP_EVENTS = (Rep.Registered, Rep.ProfileSet, Rep.ForecastSubmitted)

_FACT = ("position", "occurred_at", "recorded_at")
_TIES = (*_FACT, "source", "fact_id")
_COLUMNS: dict[str, tuple[str, ...]] = {  # the order each table's row tuples are built in
    "deals": ("deal_id", "subject", "workflow", "workflow_version"),
    "timeline": (*_TIES, "deal_id", "kind", "stage", "amount", "currency", "owner",
                 "expected_close", "category"),
    "credits": (*_FACT, "line", "quarter", "deal_id", "rep", "share", "amount", "currency"),
    "cancellations": (*_FACT, "deal_id"),
    "reps": ("rep_uuid", "rep"),
    "profiles": (*_TIES, "rep", "team"),
    "submissions": (*_TIES, "rep", "period", "amount", "currency"),
}
Row = tuple[Any, ...]


class ForecastProjection(FactRowsProjection):
    """One row per fact the forecast reads (see :mod:`projections.forecast.tables`); the
    forecast and the waterfall fold them as of any time, as known at any time.

    ``workflows`` answers, when a report reads the view, each stage's forecast category (the
    latest version's, by stage name), probability and kind; quarters of signings are
    calendar quarters in :attr:`timezone`.
    """

    name = "forecast"
    topics = frozenset(event.TOPIC for event in (*_DEAL_EVENTS, *_REP_EVENTS))
    rebuild_cost = 0.4  # like the KPI view: one insert per fact, nothing read back
    timezone: ClassVar[ZoneInfo] = KPI_TIMEZONE
    tables: ForecastTables

    def define_tables(self) -> None:
        """Declare the tables (see :mod:`projections.forecast.tables`)."""
        self.tables = define(self)

    def new_batch(self, conn: Connection) -> _Batch:
        """Rows of one batch (a rebuild keeps each rep's name in memory)."""
        return _Batch(self, conn)


class _Batch:
    """Rows for a batch, built as tuples already encoded for the driver."""

    def __init__(self, view: ForecastProjection, conn: Connection) -> None:
        self.t = view.tables
        self.conn = conn
        self.rows: dict[str, list[Row]] = {name: [] for name in _COLUMNS}
        self.reps: dict[str, str] = {}
        self.quarter = QuarterOf(view.timezone)
        self.instant = instant_encoder(conn.dialect.name)

    def apply(self, events: Sequence[LoggedEvent]) -> None:
        handlers = _HANDLERS
        mine = [e for e in events if type(e.event) in handlers]
        wanted = {e.originator_text for e in mine
                  if isinstance(e.event, Rep.ProfileSet | Rep.ForecastSubmitted)} - self.reps.keys()
        reps = self.t.reps
        for batch in lookup_chunks(sorted(wanted)):
            for row in self.conn.execute(select(reps).where(reps.c.rep_uuid.in_(batch))):
                self.reps[row.rep_uuid] = row.rep
        for e in mine:
            handlers[type(e.event)](self, e, e.event)
        for name, rows in self.rows.items():
            if rows:
                insert_rows(self.conn, getattr(self.t, name), _COLUMNS[name], rows)
                self.rows[name] = []

    def _fact(self, e: LoggedEvent) -> Row:
        return (e.position, self.instant(e.occurred_at), self.instant(e.recorded_at))

    def _step(self, e: LoggedEvent, kind: str, *, stage: str | None = None,
              amount: Decimal | None = None, currency: str | None = None,
              owner: str | None = None, close: str | None = None,
              category: str | None = None) -> None:
        ev = e.event
        self.rows["timeline"].append(
            (*self._fact(e), ev.source, ev.fact_id, e.originator_text, kind, stage,
             None if amount is None else str(money(amount)), currency, owner, close, category))

    def _opened(self, e: LoggedEvent, ev: Deal.Opened) -> None:
        self.rows["deals"].append((e.originator_text, ev.subject or e.originator_text,
                                   ev.workflow, ev.workflow_version))
        close = None if ev.expected_close is None else ev.expected_close.isoformat()
        self._step(e, "opened", stage=ev.stage, amount=ev.amount, currency=ev.currency,
                   owner=ev.owner, close=close)

    def _routed(self, e: LoggedEvent, ev: Deal.Routed) -> None:
        self._step(e, "owner", owner=ev.owner)

    def _advanced(self, e: LoggedEvent, ev: Deal.StageChanged) -> None:
        self._step(e, "stage", stage=ev.to_stage)

    def _amount(self, e: LoggedEvent, ev: Deal.QuoteIssued | Deal.AmountChanged) -> None:
        self._step(e, "amount", amount=ev.amount, currency=ev.currency)

    def _signed(self, e: LoggedEvent, ev: Deal.ContractSigned) -> None:
        self._step(e, "signed", stage=ev.to_stage, amount=ev.amount, currency=ev.currency)
        fact = self._fact(e)
        quarter = self.quarter(e.occurred_at)
        amount = money(ev.amount)
        splits = ev.splits or [{"rep": ev.owner, "share": Decimal(1)}]
        credits = self.rows["credits"]
        for line, split in enumerate(splits):
            share = Decimal(split["share"])
            credits.append((*fact, line, quarter, e.originator_text, split["rep"], str(share),
                            str(share * amount), ev.currency))

    def _lost(self, e: LoggedEvent, ev: Deal.Lost) -> None:
        self._step(e, "lost")

    def _reopened(self, e: LoggedEvent, ev: Deal.Reopened) -> None:
        self._step(e, "reopened", stage=ev.to_stage)

    def _reassigned(self, e: LoggedEvent, ev: Deal.Reassigned) -> None:
        self._step(e, "owner", owner=ev.owner)

    def _cancelled(self, e: LoggedEvent, ev: Deal.ContractCancelled) -> None:
        self._step(e, "cancelled")
        self.rows["cancellations"].append((*self._fact(e), e.originator_text))

    def _forecast_set(self, e: LoggedEvent, ev: Deal.ForecastSet) -> None:
        self._step(e, "forecast", category=ev.category)

    def _close_changed(self, e: LoggedEvent, ev: Deal.ExpectedCloseChanged) -> None:
        self._step(e, "close", close=ev.expected_close.isoformat())

    def _registered(self, e: LoggedEvent, ev: Rep.Registered) -> None:
        self.reps[e.originator_text] = ev.rep
        self.rows["reps"].append((e.originator_text, ev.rep))

    def _profile_set(self, e: LoggedEvent, ev: Rep.ProfileSet) -> None:
        self.rows["profiles"].append((*self._fact(e), ev.source, ev.fact_id,
                                      self.reps[e.originator_text], ev.team))

    def _submitted(self, e: LoggedEvent, ev: Rep.ForecastSubmitted) -> None:
        self.rows["submissions"].append((*self._fact(e), ev.source, ev.fact_id,
                                         self.reps[e.originator_text], ev.period,
                                         str(money(ev.amount)), ev.currency))


# Functions, not bound methods kept on the batch (that would be a reference cycle).
_HANDLERS: dict[type[Any], Callable[[_Batch, LoggedEvent, Any], None]] = {
    Deal.Opened: _Batch._opened, Deal.Routed: _Batch._routed,
    Deal.StageChanged: _Batch._advanced, Deal.QuoteIssued: _Batch._amount,
    Deal.AmountChanged: _Batch._amount, Deal.ContractSigned: _Batch._signed,
    Deal.Lost: _Batch._lost, Deal.Reopened: _Batch._reopened,
    Deal.Reassigned: _Batch._reassigned, Deal.ContractCancelled: _Batch._cancelled,
    Deal.ForecastSet: _Batch._forecast_set, Deal.ExpectedCloseChanged: _Batch._close_changed,
    Rep.Registered: _Batch._registered, Rep.ProfileSet: _Batch._profile_set,
    Rep.ForecastSubmitted: _Batch._submitted,
}
