"""Loading the KPI view's facts visible as of a report's times, and each deal's owner by
time."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select

from projections.kpi.tables import KpiTables
from projections.pipeline.columns import visible
from projections.report import ReportParams

__all__ = ["Facts", "OwnerTimeline", "load_facts"]


@dataclass(slots=True)
class OwnerTimeline:
    """Each deal's owners (opening owner, then reassignments) ordered by business time."""

    times: dict[str, list[datetime]] = field(default_factory=lambda: defaultdict(list))
    owners: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, deal_id: str, at: datetime, owner: str) -> None:
        """Append (rows must come ordered by time, then log position)."""
        self.times[deal_id].append(at)
        self.owners[deal_id].append(owner)

    def owner_at(self, deal_id: str, at: datetime) -> str | None:
        """The owner at ``at``: the latest change at or before it (ties: latest in the log);
        the opening owner for times before every change; ``None`` for an unknown deal."""
        times = self.times.get(deal_id)
        if not times:
            return None
        i = bisect_right(times, at) - 1
        return self.owners[deal_id][max(i, 0)]


@dataclass(slots=True)
class Facts:
    """Every KPI fact visible as of the report, each list in log order."""

    deals: dict[str, Any]
    owners: OwnerTimeline
    stages: list[Any]
    signings: list[Any]
    credits: list[Any]
    cancellations: list[Any]
    activities: list[Any]
    surveys: list[Any]
    quotas: list[Any]


def _rows(conn: Connection, table: Table, params: ReportParams, *columns: str,
          order: tuple[str, ...] = ("position",)) -> list[Any]:
    cols = [table.c[c] for c in columns] if columns else [table]
    query = (select(*cols)
             .where(visible(table.c.occurred_at, table.c.recorded_at, params))
             .order_by(*(table.c[o] for o in order)))
    return list(conn.execute(query))


def load_facts(conn: Connection, t: KpiTables, params: ReportParams) -> Facts:
    """The facts that happened by ``params.as_of`` and were recorded by ``known_at``."""
    d = t.deals
    deals = {r.deal_id: r for r in conn.execute(
        select(d).where(visible(d.c.opened_at, d.c.opened_recorded_at, params)))}
    owners = OwnerTimeline()
    for r in _rows(conn, t.owners, params, order=("occurred_at", "position")):
        if r.deal_id in deals:
            owners.add(r.deal_id, r.occurred_at, r.owner)
    return Facts(
        deals=deals, owners=owners,
        stages=_rows(conn, t.stages, params),
        signings=_rows(conn, t.signings, params),
        credits=_rows(conn, t.credits, params, order=("position", "rep")),
        cancellations=_rows(conn, t.cancellations, params),
        activities=_rows(conn, t.activities, params, "deal_id", "kind", "occurred_at",
                         "quarter"),
        surveys=_rows(conn, t.surveys, params),
        quotas=_rows(conn, t.quotas, params, order=("occurred_at", "position")),
    )
