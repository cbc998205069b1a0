"""Reading the pipeline view as of a time: each deal's state and the totals.

As of ``as_of`` (and known at ``known_at``), a deal's state is the fold, in log order, of
its visible facts: its stage is that of the visible stage entry latest in the log, its
owner and amount those of the visible change latest in the log. When nothing in the view
happened after ``as_of`` or was recorded after ``known_at``, that equals the current-state
tables, which are then read instead (:func:`is_current`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from engine.store.chunks import lookup_chunks
from projections.pipeline.columns import visible
from projections.pipeline.state import DealState, contributions
from projections.pipeline.tables import PipelineTables
from projections.report import ReportParams

__all__ = [
    "Totals",
    "WorkflowStages",
    "is_current",
    "load_stages",
    "load_teams",
    "load_totals",
    "snapshots",
]

WfKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class WorkflowStages:
    """One workflow version's stages as the view recorded them."""

    workflow: str
    version: int
    stages: tuple[str, ...]
    kinds: dict[str, str]
    probabilities: dict[str, Decimal]

    @property
    def open_stages(self) -> tuple[str, ...]:
        """The open stages, in workflow order."""
        return tuple(s for s in self.stages if self.kinds[s] == "open")

    @property
    def won_stage(self) -> str:
        """The won stage."""
        return next(s for s in self.stages if self.kinds[s] == "won")

    @property
    def lost_stage(self) -> str:
        """The lost stage."""
        return next(s for s in self.stages if self.kinds[s] == "lost")


@dataclass(slots=True)
class Totals:
    """Rows shaped like the ``totals`` and ``forecast`` tables, plus where lost deals died."""

    totals: list[dict[str, Any]]
    forecast: list[dict[str, Any]]
    lost_from: Counter[tuple[str, str]]


def load_stages(conn: Connection, t: PipelineTables) -> dict[WfKey, WorkflowStages]:
    """Every workflow version seen by the view."""
    rows: dict[WfKey, list[Any]] = defaultdict(list)
    for row in conn.execute(select(t.stages).order_by(t.stages.c.ordinal)):
        rows[(row.workflow, row.workflow_version)].append(row)
    return {
        key: WorkflowStages(key[0], key[1], tuple(r.stage for r in found),
                            {r.stage: r.kind for r in found},
                            {r.stage: r.probability for r in found})
        for key, found in sorted(rows.items())
    }


def is_current(conn: Connection, t: PipelineTables, params: ReportParams) -> bool:
    """Whether nothing in the view happened after ``as_of`` or was recorded after
    ``known_at`` (then the current-state tables answer the question exactly)."""
    row = conn.execute(select(t.watermark)).first()
    if row is None:
        return True
    return row.occurred_at <= params.as_of and (
        params.known_at is None or row.recorded_at <= params.known_at)


def load_teams(conn: Connection, t: PipelineTables, params: ReportParams,
               current: bool) -> dict[str, str]:
    """Each rep's team: from its latest (by time) visible ``rep.quota_set`` with a team."""
    if current:
        query = select(t.reps.c.rep, t.reps.c.team).where(t.reps.c.team.is_not(None))
        return {row.rep: row.team for row in conn.execute(query)}
    teams = t.teams
    query = (select(teams).where(visible(teams.c.occurred_at, teams.c.recorded_at, params))
             .order_by(teams.c.occurred_at, teams.c.position))
    return {row.rep: row.team for row in conn.execute(query)}


def load_totals(conn: Connection, t: PipelineTables, params: ReportParams,
                stages: dict[WfKey, WorkflowStages], current: bool) -> Totals:
    """Open, won and lost totals and the forecast rows as of ``params``."""
    if current:
        lost = select(t.deals.c.workflow, t.deals.c.lost_from, func.count()).where(
            t.deals.c.lost_from.is_not(None)).group_by(t.deals.c.workflow, t.deals.c.lost_from)
        return Totals(
            [dict(r._mapping) for r in conn.execute(select(t.totals))],
            [dict(r._mapping) for r in conn.execute(select(t.forecast))],
            Counter({(r[0], r[1]): int(r[2]) for r in conn.execute(lost)}),
        )
    sums: dict[tuple[str, tuple[Any, ...]], list[Any]] = defaultdict(
        lambda: [0, Decimal("0.00"), 0, Decimal("0.00")])
    lost_from: Counter[tuple[str, str]] = Counter()
    for deal in snapshots(conn, t, params).values():
        wf = stages[(deal.workflow, deal.workflow_version)]
        if deal.lost_from is not None:
            lost_from[(deal.workflow, deal.lost_from)] += 1
        for key, vector in contributions(deal, wf).items():
            acc = sums[key]
            for i in range(4):
                acc[i] += vector[i]
    totals = [
        {"workflow": k[0], "workflow_version": k[1], "stage": k[2], "owner": k[3],
         "currency": k[4], "deals": v[0], "amount": v[1], "cancelled_deals": v[2],
         "cancelled_amount": v[3]}
        for (name, k), v in sums.items() if name == "totals"
    ]
    forecast = [
        {"workflow": k[0], "workflow_version": k[1], "stage": k[2], "currency": k[3],
         "close_month": k[4], "deals": v[0], "amount": v[1]}
        for (name, k), v in sums.items() if name == "forecast"
    ]
    return Totals(totals, forecast, lost_from)


def snapshots(conn: Connection, t: PipelineTables, params: ReportParams,
              deal_ids: Iterable[str] | None = None) -> dict[str, DealState]:
    """Each visible deal's state as of ``params`` (all deals, or those in ``deal_ids``)."""
    wanted = None if deal_ids is None else sorted(set(deal_ids))
    deals: dict[str, DealState] = {}
    stays: dict[str, Any] = {}
    owners: dict[str, str] = {}
    amounts: dict[str, tuple[Decimal, str]] = {}
    for ids in ([None] if wanted is None else list(lookup_chunks(wanted))):
        d, s, c = t.deals, t.stays, t.changes
        q_deals = select(d).where(visible(d.c.opened_at, d.c.opened_recorded_at, params))
        q_stays = (select(s).where(visible(s.c.entered_at, s.c.entered_recorded_at, params))
                   .order_by(s.c.entered_position))
        q_changes = (select(c).where(visible(c.c.occurred_at, c.c.recorded_at, params))
                     .order_by(c.c.position))
        if ids is not None:
            q_deals = q_deals.where(d.c.deal_id.in_(ids))
            q_stays = q_stays.where(s.c.deal_id.in_(ids))
            q_changes = q_changes.where(c.c.deal_id.in_(ids))
        for row in conn.execute(q_deals):
            deals[row.deal_id] = DealState.from_row(row._mapping)
        for row in conn.execute(q_stays):
            stays[row.deal_id] = row
        for row in conn.execute(q_changes):
            if row.owner is not None:
                owners[row.deal_id] = row.owner
            if row.amount is not None:
                amounts[row.deal_id] = (row.amount, row.currency)
    for deal_id, deal in deals.items():
        _fold(deal, stays[deal_id], owners[deal_id], amounts[deal_id], params)
    return deals


def _fold(deal: DealState, stay: Any, owner: str, amount: tuple[Decimal, str],
          params: ReportParams) -> None:
    """Set ``deal`` (a current-state row) to its state as of ``params``."""
    deal.stage = stay.stage
    deal.stage_entered_at = stay.entered_at
    deal.stage_entered_recorded_at = stay.entered_recorded_at
    deal.stage_entered_position = stay.entered_position
    deal.lost_from = stay.from_stage if stay.entered_by == "lost" else None
    deal.owner = owner
    deal.amount, deal.currency = amount
    if deal.signed_at is None or deal.signed_recorded_at is None or not params.visible(
            deal.signed_at, deal.signed_recorded_at):
        deal.signed_at = deal.signed_recorded_at = None
        deal.signed_position = None
        deal.signed_amount = None
        deal.signed_currency = None
    if deal.cancelled_at is None or deal.cancelled_recorded_at is None or not params.visible(
            deal.cancelled_at, deal.cancelled_recorded_at):
        deal.cancelled_at = deal.cancelled_recorded_at = None
        deal.cancelled_position = None
