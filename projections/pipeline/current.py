"""The open pipeline now, read from the incrementally kept ``totals`` table alone: one
indexed read of at most (workflow versions x stages x owners x currencies) rows, however
many deals are open (the HTTP endpoint and the metrics collector use this)."""

from __future__ import annotations

from sqlalchemy import Connection, and_, select

from projections.pipeline.projection import PipelineProjection
from projections.pipeline.render import cents
from projections.pipeline.report import OpenRow

__all__ = ["current_pipeline"]


def current_pipeline(conn: Connection, view: PipelineProjection) -> list[OpenRow]:
    """Open deals now per workflow, stage, owner and currency, with the owner's current team
    and the weighted amount (rounded half-up to cents), in workflow stage order."""
    t = view.tables
    totals, stages = t.totals, t.stages
    query = (
        select(totals, stages.c.probability, stages.c.ordinal)
        .join(stages, and_(stages.c.workflow == totals.c.workflow,
                           stages.c.workflow_version == totals.c.workflow_version,
                           stages.c.stage == totals.c.stage))
        .where(stages.c.kind == "open")
    )
    teams = {r.rep: r.team for r in conn.execute(select(t.reps.c.rep, t.reps.c.team))}
    rows: dict[tuple[str, str, str, str], OpenRow] = {}
    rank: dict[tuple[str, str], int] = {}
    for r in conn.execute(query):
        key = (r.workflow, r.stage, r.owner, r.currency)
        acc = rows.setdefault(key, OpenRow(r.workflow, r.stage, r.owner or None,
                                           teams.get(r.owner), r.currency))
        acc.deals += r.deals
        acc.amount += r.amount
        acc.weighted_amount += r.amount * r.probability
        rank[(r.workflow, r.stage)] = min(rank.get((r.workflow, r.stage), r.ordinal),
                                          r.ordinal)
    out = sorted(rows.values(), key=lambda o: (o.workflow, rank[(o.workflow, o.stage or "")],
                                               o.owner or "", o.currency))
    for o in out:
        o.weighted_amount = cents(o.weighted_amount)
    return out
