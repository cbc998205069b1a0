"""The views dealflow maintains and the reports computed from them, by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from projections import commissions, kpi, pipeline, sla
from projections.base import Projection
from projections.commissions import CommissionsProjection
from projections.kpi import KpiProjection
from projections.pipeline import PipelineProjection
from projections.report import Report, ReportParams
from projections.sla import SlaProjection

__all__ = ["REPORTS", "VIEWS", "ReportBuilder", "view_classes"]

ReportBuilder = Callable[..., Report]
VIEWS: dict[str, type[Projection]] = {
    PipelineProjection.name: PipelineProjection,
    SlaProjection.name: SlaProjection,
    CommissionsProjection.name: CommissionsProjection,
    KpiProjection.name: KpiProjection,
}
REPORTS: dict[str, tuple[str, ReportBuilder]] = {
    "pipeline": (PipelineProjection.name, pipeline.build_report),
    "sla": (SlaProjection.name, sla.build_report),
    "commissions": (CommissionsProjection.name, commissions.build_report),
    "kpis": (KpiProjection.name, kpi.build_report),
}
"""Report name -> (the view it reads, builder(conn, view, params, **options))."""


def view_classes(names: list[str] | None = None) -> list[type[Projection]]:
    """The projection classes for ``names`` (all by default)."""
    if not names:
        return list(VIEWS.values())
    unknown = [n for n in names if n not in VIEWS]
    if unknown:
        raise KeyError(f"unknown view(s) {', '.join(unknown)}; known: {', '.join(VIEWS)}")
    return [VIEWS[n] for n in names]


def build(name: str, conn: Connection, views: dict[str, Projection], params: ReportParams,
          **options: Any) -> Report:
    """Compute report ``name`` from the live view it reads."""
    view_name, builder = REPORTS[name]
    return builder(conn, views[view_name], params, **options)
