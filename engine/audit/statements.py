"""Commission statements recomputed from a list of events, on an in-memory database.

The same projection and report code as the store's commission view; only the events come
from elsewhere (a bundle). Positions are kept, so the statements' fact references match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from engine.store.log import LoggedEvent
from projections.commissions import CommissionsProjection, PlanRegistry, build_report
from projections.report import ReportParams

__all__ = ["statements_from_events"]


def statements_from_events(events: Sequence[LoggedEvent], params: ReportParams, period: str,
                           plans: PlanRegistry) -> dict[str, Any]:
    """The commission report for ``period`` as JSON, from ``events`` alone."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        view = CommissionsProjection(plans)
        with engine.begin() as conn:
            view.metadata.create_all(conn)
            ordered = sorted(events, key=lambda e: e.position)
            for start in range(0, len(ordered), 1000):
                view.process(conn, ordered[start : start + 1000])
            report = build_report(conn, view, params, period=period)
            return report.to_json()
    finally:
        engine.dispose()
