"""The KPI projection (view name ``kpis``): records the facts KPIs are judged on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, select

from engine.domain import Deal, Rep
from engine.store.chunks import lookup_chunks
from engine.store.log import LoggedEvent
from projections.base import FactRowsProjection
from projections.kpi.periods import KPI_TIMEZONE, QuarterOf
from projections.kpi.tables import KpiTables, define
from projections.pipeline.columns import insert_rows, instant_encoder, money

__all__ = ["KpiProjection"]

_NEEDS_DEAL = (Deal.StageChanged, Deal.ContractSigned, Deal.Lost, Deal.Reopened)
_HANDLED = (Deal.Opened, *_NEEDS_DEAL, Deal.Reassigned, Deal.Routed, Deal.ContractCancelled,
            Deal.ActivityLogged, Deal.SurveyResponded, Rep.Registered, Rep.QuotaSet)
# (each handled type has a handler in ``_HANDLERS``, at the end of the module)


class KpiProjection(FactRowsProjection):
    """Facts for the KPIs, one row each with business time, recorded time, log position
    and quarter; nothing is aggregated here, so the view does not depend on the order facts
    arrived in, and the report can answer as of any time.

    Quarters are calendar quarters in :attr:`timezone`; stage order comes from
    ``workflows``.
    """

    name = "kpis"
    topics = frozenset(event.TOPIC for event in _HANDLED)
    rebuild_cost = 0.4  # of the SLA view's 1 (measured, docs/views.md)
    timezone: ClassVar[ZoneInfo] = KPI_TIMEZONE
    tables: KpiTables

    def define_tables(self) -> None:
        """Declare the tables (see :mod:`projections.kpi.tables`)."""
        self.tables = define(self)

    def new_batch(self, conn: Connection) -> _Batch:
        """Rows of one batch (a rebuild keeps each deal's workflow and each rep's name in
        memory instead of reading them back batch after batch)."""
        return _Batch(self, conn)


_FACT = ("position", "occurred_at", "recorded_at")
_QUARTER = (*_FACT, "quarter")
_COLUMNS: dict[str, tuple[str, ...]] = {  # the order each table's row tuples are built in
    "reps": ("rep_uuid", "rep"),
    "quotas": (*_FACT, "rep", "period", "amount", "currency", "team"),
    "deals": ("deal_id", "workflow", "workflow_version", "account", "opened_at",
              "opened_recorded_at", "opened_position", "quarter"),
    "owners": (*_FACT, "deal_id", "owner"),
    "stages": (*_QUARTER, "deal_id", "workflow", "stage", "ordinal", "from_stage", "kind"),
    "signings": (*_QUARTER, "deal_id", "owner", "amount", "currency"),
    "credits": (*_QUARTER, "deal_id", "rep", "share", "amount", "currency"),
    "cancellations": (*_QUARTER, "deal_id"),
    "activities": (*_QUARTER, "deal_id", "kind"),
    "surveys": (*_QUARTER, "deal_id", "score"),
}
Row = tuple[Any, ...]


class _Batch:
    """Rows for a batch, built as tuples already encoded for the driver (each fact's
    instants converted once, however many rows it makes)."""

    def __init__(self, view: KpiProjection, conn: Connection) -> None:
        self.t = view.tables
        self.view = view
        self.conn = conn
        self.rows: dict[str, list[Row]] = {name: [] for name in _COLUMNS}
        self.deals: dict[str, tuple[str, int]] = {}
        self.reps: dict[str, str] = {}
        self.quarter = QuarterOf(view.timezone)
        self.instant = instant_encoder(conn.dialect.name)

    def apply(self, events: Sequence[LoggedEvent]) -> None:
        handlers = _HANDLERS
        mine = [e for e in events if type(e.event) in handlers]
        self._load(self.t.deals, "deal_id", ("workflow", "workflow_version"),
                   {e.originator_text for e in mine if isinstance(e.event, _NEEDS_DEAL)}
                   - self.deals.keys(),
                   lambda r: self.deals.__setitem__(r.deal_id, (r.workflow, r.workflow_version)))
        self._load(self.t.reps, "rep_uuid", ("rep",),
                   {e.originator_text for e in mine if isinstance(e.event, Rep.QuotaSet)}
                   - self.reps.keys(),
                   lambda r: self.reps.__setitem__(r.rep_uuid, r.rep))
        for e in mine:
            handlers[type(e.event)](self, e, e.event)
        for name, rows in self.rows.items():
            if rows:
                insert_rows(self.conn, getattr(self.t, name), _COLUMNS[name], rows)
                self.rows[name] = []

    def _load(self, table: Table, key: str, read: tuple[str, ...], ids: set[str],
              put: Callable[[Any], None]) -> None:
        # The key and the columns ``put`` reads only (a deal row's instants would each be
        # parsed back into a datetime that nothing reads).
        columns = [table.c[key], *(table.c[c] for c in read)]
        for batch in lookup_chunks(sorted(ids)):
            for row in self.conn.execute(select(*columns).where(table.c[key].in_(batch))):
                put(row)

    def _fact(self, e: LoggedEvent) -> Row:
        """``position, occurred_at, recorded_at`` of ``e``'s rows."""
        return (e.position, self.instant(e.occurred_at), self.instant(e.recorded_at))

    def _dated(self, e: LoggedEvent) -> Row:
        """``position, occurred_at, recorded_at, quarter`` of ``e``'s rows."""
        occurred = e.occurred_at
        return (e.position, self.instant(occurred), self.instant(e.recorded_at),
                self.quarter(occurred))

    def _stage(self, fact: Row, deal_id: str, stage: str | None, from_stage: str | None,
               kind: str) -> None:
        workflow, version = self.deals[deal_id]
        wf = self.view.workflows.get(workflow, version)
        to = stage or wf.lost_stage
        self.rows["stages"].append(
            (*fact, deal_id, workflow, to, wf.stages.index(to), from_stage, kind))

    def _opened(self, e: LoggedEvent, ev: Deal.Opened) -> None:
        deal_id = e.originator_text
        self.deals[deal_id] = (ev.workflow, ev.workflow_version)
        fact = self._dated(e)
        position, occurred, recorded, quarter = fact
        self.rows["deals"].append((deal_id, ev.workflow, ev.workflow_version, ev.account,
                                   occurred, recorded, position, quarter))
        if ev.owner is not None:  # None: routed next (Deal.Routed) or unassigned
            self.rows["owners"].append((position, occurred, recorded, deal_id, ev.owner))
        self._stage(fact, deal_id, ev.stage, None, "opened")

    def _advanced(self, e: LoggedEvent, ev: Deal.StageChanged) -> None:
        self._stage(self._dated(e), e.originator_text, ev.to_stage, ev.from_stage, "advanced")

    def _signed(self, e: LoggedEvent, ev: Deal.ContractSigned) -> None:
        deal_id = e.originator_text
        fact = self._dated(e)
        self._stage(fact, deal_id, ev.to_stage, ev.from_stage, "won")
        amount = money(ev.amount)
        # "" marks a signing while unassigned: it counts for no owner (tally skips it).
        self.rows["signings"].append((*fact, deal_id, ev.owner or "", str(amount),
                                      ev.currency))
        splits = ev.splits or ([] if ev.owner is None
                               else [{"rep": ev.owner, "share": Decimal(1)}])
        credits = self.rows["credits"]
        for split in splits:
            share = Decimal(split["share"])
            credits.append((*fact, deal_id, split["rep"], str(share), str(share * amount),
                            ev.currency))

    def _lost(self, e: LoggedEvent, ev: Deal.Lost) -> None:
        self._stage(self._dated(e), e.originator_text, None, ev.from_stage, "lost")

    def _reopened(self, e: LoggedEvent, ev: Deal.Reopened) -> None:
        deal_id = e.originator_text
        workflow, version = self.deals[deal_id]
        lost = self.view.workflows.get(workflow, version).lost_stage
        self._stage(self._dated(e), deal_id, ev.to_stage, lost, "reopened")

    def _reassigned(self, e: LoggedEvent, ev: Deal.Reassigned | Deal.Routed) -> None:
        if ev.owner is not None:
            self.rows["owners"].append((*self._fact(e), e.originator_text, ev.owner))

    def _cancelled(self, e: LoggedEvent, ev: Deal.ContractCancelled) -> None:
        self.rows["cancellations"].append((*self._dated(e), e.originator_text))

    def _activity(self, e: LoggedEvent, ev: Deal.ActivityLogged) -> None:
        self.rows["activities"].append((*self._dated(e), e.originator_text, ev.kind))

    def _survey(self, e: LoggedEvent, ev: Deal.SurveyResponded) -> None:
        self.rows["surveys"].append((*self._dated(e), e.originator_text, ev.score))

    def _registered(self, e: LoggedEvent, ev: Rep.Registered) -> None:
        self.reps[e.originator_text] = ev.rep
        self.rows["reps"].append((e.originator_text, ev.rep))

    def _quota_set(self, e: LoggedEvent, ev: Rep.QuotaSet) -> None:
        self.rows["quotas"].append((*self._fact(e), self.reps[e.originator_text], ev.period,
                                    str(money(ev.amount)), ev.currency, ev.team))


# Functions, not bound methods kept on the batch (that would be a reference cycle).
_HANDLERS: dict[type[Any], Callable[[_Batch, LoggedEvent, Any], None]] = {
    Deal.Opened: _Batch._opened, Deal.StageChanged: _Batch._advanced,
    Deal.ContractSigned: _Batch._signed, Deal.Lost: _Batch._lost,
    Deal.Reopened: _Batch._reopened, Deal.Reassigned: _Batch._reassigned,
    Deal.Routed: _Batch._reassigned, Deal.ContractCancelled: _Batch._cancelled,
    Deal.ActivityLogged: _Batch._activity,
    Deal.SurveyResponded: _Batch._survey, Rep.Registered: _Batch._registered,
    Rep.QuotaSet: _Batch._quota_set,
}
