"""The KPI projection (view name ``kpis``): records the facts KPIs are judged on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, select

from engine.domain import Deal, Rep
from engine.store.log import LoggedEvent
from projections.base import BulkLoad, Projection
from projections.kpi.periods import KPI_TIMEZONE, quarter_of
from projections.kpi.tables import KpiTables, define
from projections.pipeline.columns import chunks, money, write_rows
from workflows import WorkflowRegistry

__all__ = ["KpiProjection"]

_NEEDS_DEAL = (Deal.StageChanged, Deal.ContractSigned, Deal.Lost, Deal.Reopened)


class KpiProjection(Projection):
    """Facts for the KPIs, one row each with business time, recorded time, log position
    and quarter; nothing is aggregated here, so the view does not depend on the order facts
    arrived in, and the report can answer as of any time.

    Quarters are calendar quarters in :attr:`timezone`; stage order comes from
    ``workflows``.
    """

    name = "kpis"
    timezone: ClassVar[ZoneInfo] = KPI_TIMEZONE
    tables: KpiTables

    def __init__(self, workflows: WorkflowRegistry, generation: str = "a") -> None:
        """The view over ``workflows`` (the registry ``bootstrap`` loaded), on ``generation``."""
        self.workflows = workflows
        super().__init__(generation)

    def define_tables(self) -> None:
        """Declare the tables (see :mod:`projections.kpi.tables`)."""
        self.tables = define(self)

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        """Record the batch's KPI facts inside the runner's transaction."""
        _Batch(self, conn).apply(events)

    def bulk_load(self) -> BulkLoad:
        """A rebuild keeps each deal's workflow and each rep's name in memory instead of
        reading them back batch after batch."""
        return _KpiBulkLoad(self)


class _KpiBulkLoad(BulkLoad):
    view: KpiProjection

    def __init__(self, view: KpiProjection) -> None:
        super().__init__(view)
        self.batch: _Batch | None = None

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        if self.batch is None:
            self.batch = _Batch(self.view, conn)
        self.batch.conn = conn
        self.batch.apply(events)


class _Batch:
    def __init__(self, view: KpiProjection, conn: Connection) -> None:
        self.t = view.tables
        self.view = view
        self.conn = conn
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.deals: dict[str, tuple[str, int]] = {}
        self.reps: dict[str, str] = {}
        self.handlers: dict[type[Any], Callable[[LoggedEvent, Any], None]] = {
            Deal.Opened: self._opened, Deal.StageChanged: self._advanced,
            Deal.ContractSigned: self._signed, Deal.Lost: self._lost,
            Deal.Reopened: self._reopened, Deal.Reassigned: self._reassigned,
            Deal.ContractCancelled: self._cancelled, Deal.ActivityLogged: self._activity,
            Deal.SurveyResponded: self._survey, Rep.Registered: self._registered,
            Rep.QuotaSet: self._quota_set,
        }

    def apply(self, events: Sequence[LoggedEvent]) -> None:
        mine = [e for e in events if type(e.event) in self.handlers]
        self._load(self.t.deals, "deal_id",
                   {str(e.originator_id) for e in mine if isinstance(e.event, _NEEDS_DEAL)}
                   - self.deals.keys(),
                   lambda r: self.deals.__setitem__(r.deal_id, (r.workflow, r.workflow_version)))
        self._load(self.t.reps, "rep_uuid",
                   {str(e.originator_id) for e in mine if isinstance(e.event, Rep.QuotaSet)}
                   - self.reps.keys(),
                   lambda r: self.reps.__setitem__(r.rep_uuid, r.rep))
        for e in mine:
            self.handlers[type(e.event)](e, e.event)
        for name, rows in self.rows.items():
            write_rows(self.conn, getattr(self.t, name), rows)
        self.rows.clear()

    def _load(self, table: Table, key: str, ids: set[str], put: Callable[[Any], None]) -> None:
        for batch in chunks(sorted(ids)):
            for row in self.conn.execute(select(table).where(table.c[key].in_(batch))):
                put(row)

    def _fact(self, e: LoggedEvent, quarter: bool = True, **row: Any) -> dict[str, Any]:
        row.update(position=e.position, occurred_at=e.occurred_at, recorded_at=e.recorded_at)
        if quarter:
            row["quarter"] = quarter_of(e.occurred_at, self.view.timezone)
        return row

    def _stage(self, e: LoggedEvent, stage: str | None, from_stage: str | None,
               kind: str) -> None:
        workflow, version = self.deals[str(e.originator_id)]
        wf = self.view.workflows.get(workflow, version)
        to = stage or wf.lost_stage
        self.rows["stages"].append(self._fact(
            e, deal_id=str(e.originator_id), workflow=workflow, stage=to,
            ordinal=wf.stages.index(to), from_stage=from_stage, kind=kind))

    def _opened(self, e: LoggedEvent, ev: Deal.Opened) -> None:
        deal_id = str(e.originator_id)
        self.deals[deal_id] = (ev.workflow, ev.workflow_version)
        self.rows["deals"].append({
            "deal_id": deal_id, "workflow": ev.workflow, "workflow_version": ev.workflow_version,
            "account": ev.account, "opened_at": e.occurred_at, "opened_recorded_at": e.recorded_at,
            "opened_position": e.position,
            "quarter": quarter_of(e.occurred_at, self.view.timezone)})
        self.rows["owners"].append(self._fact(e, quarter=False, deal_id=deal_id, owner=ev.owner))
        self._stage(e, ev.stage, None, "opened")

    def _advanced(self, e: LoggedEvent, ev: Deal.StageChanged) -> None:
        self._stage(e, ev.to_stage, ev.from_stage, "advanced")

    def _signed(self, e: LoggedEvent, ev: Deal.ContractSigned) -> None:
        deal_id = str(e.originator_id)
        self._stage(e, ev.to_stage, ev.from_stage, "won")
        amount = money(ev.amount)
        self.rows["signings"].append(self._fact(e, deal_id=deal_id, owner=ev.owner,
                                                amount=amount, currency=ev.currency))
        splits = ev.splits or [{"rep": ev.owner, "share": Decimal(1)}]
        for split in splits:
            share = Decimal(split["share"])
            self.rows["credits"].append(self._fact(
                e, deal_id=deal_id, rep=split["rep"], share=share, amount=share * amount,
                currency=ev.currency))

    def _lost(self, e: LoggedEvent, ev: Deal.Lost) -> None:
        self._stage(e, None, ev.from_stage, "lost")

    def _reopened(self, e: LoggedEvent, ev: Deal.Reopened) -> None:
        workflow, version = self.deals[str(e.originator_id)]
        lost = self.view.workflows.get(workflow, version).lost_stage
        self._stage(e, ev.to_stage, lost, "reopened")

    def _reassigned(self, e: LoggedEvent, ev: Deal.Reassigned) -> None:
        self.rows["owners"].append(self._fact(e, quarter=False, deal_id=str(e.originator_id),
                                              owner=ev.owner))

    def _cancelled(self, e: LoggedEvent, ev: Deal.ContractCancelled) -> None:
        self.rows["cancellations"].append(self._fact(e, deal_id=str(e.originator_id)))

    def _activity(self, e: LoggedEvent, ev: Deal.ActivityLogged) -> None:
        self.rows["activities"].append(self._fact(e, deal_id=str(e.originator_id),
                                                  kind=ev.kind))

    def _survey(self, e: LoggedEvent, ev: Deal.SurveyResponded) -> None:
        self.rows["surveys"].append(self._fact(e, deal_id=str(e.originator_id),
                                               score=ev.score))

    def _registered(self, e: LoggedEvent, ev: Rep.Registered) -> None:
        self.reps[str(e.originator_id)] = ev.rep
        self.rows["reps"].append({"rep_uuid": str(e.originator_id), "rep": ev.rep})

    def _quota_set(self, e: LoggedEvent, ev: Rep.QuotaSet) -> None:
        self.rows["quotas"].append(self._fact(
            e, quarter=False, rep=self.reps[str(e.originator_id)], period=ev.period,
            amount=money(ev.amount), currency=ev.currency, team=ev.team))
