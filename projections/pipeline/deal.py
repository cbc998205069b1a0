"""One deal's state and stage history from the pipeline view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.table import Table
from sqlalchemy import Connection, select

from engine.domain import deal_id
from projections.pipeline.projection import PipelineProjection
from projections.pipeline.render import cents, jsonable, rich_table
from projections.pipeline.snapshot import load_stages, load_teams, snapshots
from projections.pipeline.state import DealState
from projections.report import ReportParams

__all__ = ["DealView", "StageStay", "deal_state"]


@dataclass(frozen=True, slots=True)
class StageStay:
    """One stay in a stage: how the deal entered it and (if visible) left it."""

    stage: str
    from_stage: str | None
    entered_by: str
    entered_at: datetime
    entered_recorded_at: datetime
    entered_position: int
    exited_by: str | None
    to_stage: str | None
    exited_at: datetime | None
    exited_recorded_at: datetime | None
    exited_position: int | None


@dataclass(frozen=True, slots=True)
class DealView:
    """A deal's state (current, or as of a report's times) with its stage history."""

    subject: str
    state: DealState
    cancelled: bool
    history: list[StageStay]

    @property
    def title(self) -> str:
        """For display."""
        return f"Deal {self.subject}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready content; ``weighted_amount`` is amount x stage probability."""
        return {"subject": self.subject, **jsonable(self.state.to_row()),
                "cancelled": self.cancelled,
                "weighted_amount": str(cents(self.state.amount * self.state.probability)),
                "history": jsonable(self.history)}

    def tables(self) -> list[Table]:
        """The history as a table."""
        return [rich_table(self.title, ["stage", "entered", "by", "left", "to"],
                           [(s.stage, s.entered_at.isoformat(), s.entered_by,
                             s.exited_at.isoformat() if s.exited_at else None, s.to_stage)
                            for s in self.history])]


def _stay(row: Any, exit_visible: bool) -> StageStay:
    exit_cols = (row.exited_by, row.to_stage, row.exited_at, row.exited_recorded_at,
                 row.exited_position) if exit_visible else (None,) * 5
    return StageStay(row.stage, row.from_stage, row.entered_by, row.entered_at,
                     row.entered_recorded_at, row.entered_position, *exit_cols)


def deal_state(conn: Connection, view: PipelineProjection, subject: str,
               params: ReportParams | None = None) -> DealView | None:
    """The deal ``subject`` now (current-state tables), or as of ``params``; ``None`` if
    it was not opened (by then)."""
    t = view.tables
    key = str(deal_id(subject))
    stays = select(t.stays).where(t.stays.c.deal_id == key).order_by(t.stays.c.seq)
    if params is None:
        row = conn.execute(select(t.deals).where(t.deals.c.deal_id == key)).first()
        if row is None:
            return None
        state = DealState.from_row(row._mapping)
        history = [_stay(r, r.exited_position is not None) for r in conn.execute(stays)]
        return DealView(subject, state, state.cancelled_at is not None, history)
    found = snapshots(conn, t, params, [key]).get(key)
    if found is None:
        return None
    stages = load_stages(conn, t)[(found.workflow, found.workflow_version)]
    found.probability = stages.probabilities[found.stage]
    found.team = load_teams(conn, t, params, current=False).get(found.owner)
    history = [
        _stay(r, r.exited_position is not None and params.visible(r.exited_at,
                                                                  r.exited_recorded_at))
        for r in conn.execute(stays)
        if params.visible(r.entered_at, r.entered_recorded_at)
    ]
    return DealView(subject, found, found.cancelled_at is not None, history)
