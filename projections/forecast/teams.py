"""Each rep's team for the forecast: the team of its ``rep.profile_set`` in force at
``as_of`` (the latest by ``time``, ``source``, ``id`` at or before it, recorded by
``known_at``); a rep without one is in ``no team`` (CONTRACT 1.1, precise rule 11)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from projections.forecast.projection import ForecastProjection
from projections.pipeline.columns import visible
from projections.report import ReportParams

__all__ = ["NO_TEAM", "teams_at"]

NO_TEAM = "no team"


def teams_at(conn: Connection, view: ForecastProjection, params: ReportParams
             ) -> dict[str, str]:
    """rep -> team in force at ``params.as_of``; reps without a profile are absent."""
    p = view.tables.profiles
    query = (select(p.c.rep, p.c.team, p.c.occurred_at, p.c.source, p.c.fact_id)
             .where(visible(p.c.occurred_at, p.c.recorded_at, params)))
    # Ties compare by code point in Python: a database collation might order text otherwise.
    rows = sorted(conn.execute(query), key=lambda r: (r.occurred_at, r.source, r.fact_id))
    return {row.rep: row.team for row in rows}  # the last one wins
