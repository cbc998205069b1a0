"""The open pipeline now, read from the incrementally kept ``totals`` table alone: one
indexed read of at most (workflow versions x stages x owners x currencies) rows, however
many deals are open (the /metrics gauges use this, ``projections.pipeline.gauges``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection

from projections.pipeline.projection import PipelineProjection
from projections.pipeline.render import cents
from projections.pipeline.report import OpenRow, collect_open, open_order
from projections.pipeline.snapshot import load_stages, load_teams, load_totals
from projections.report import ReportParams

__all__ = ["current_pipeline", "open_now"]


def open_now(conn: Connection, view: PipelineProjection, params: ReportParams
             ) -> tuple[list[OpenRow], dict[str, tuple[str, ...]]]:
    """Open deals as the view stands per workflow, stage, owner and currency (weighted
    amounts exact), in workflow stage order, and that order (each workflow's open stages);
    ``params`` only fills the report-shaped reads (the tables are read as they stand)."""
    t = view.tables
    stages = load_stages(conn, t)
    teams = load_teams(conn, t, params, current=True)
    totals = load_totals(conn, t, params, stages, current=True)
    order = open_order(stages, set(stages))
    rank = {(w, s): i for w, found in order.items() for i, s in enumerate(found)}
    rows = sorted(collect_open(totals.totals, stages, teams).values(), key=lambda r: (
        r.workflow, rank[(r.workflow, r.stage or "")], r.owner or "", r.currency))
    return rows, order


def current_pipeline(conn: Connection, view: PipelineProjection) -> list[OpenRow]:
    """Open deals now per workflow, stage, owner and currency, with the owner's current team
    and the weighted amount (rounded half-up to cents), in workflow stage order."""
    rows, _ = open_now(conn, view, ReportParams(as_of=datetime.now(UTC)))
    for r in rows:
        r.weighted_amount = cents(r.weighted_amount)
    return rows
