"""The views dealflow maintains and the reports computed from them, by name."""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from projections import commissions, forecast, kpi, pipeline, segments, sla
from projections.base import Projection
from projections.commissions import CommissionsProjection, PlanRegistry
from projections.forecast import ForecastProjection
from projections.forecast.accuracy_report import build_accuracy_report
from projections.forecast.report import build_gauges as build_forecast_gauges
from projections.forecast.waterfall_report import build_waterfall_report
from projections.kpi import KpiProjection
from projections.pipeline import PipelineProjection
from projections.pipeline.gauges import build_gauges as build_pipeline_gauges
from projections.report import Report, ReportParams
from projections.routing import RoutingProjection
from projections.routing import build_report as build_routing_report
from projections.segments import SegmentsProjection
from projections.sla import SlaProjection
from projections.sla.gauges import SlaCounts, SlaGauges
from workflows import WorkflowRegistry

__all__ = ["FILTERS", "REPORTS", "ReportBuilder", "build", "builder_options", "gauge_builders",
           "report_filters", "shipped_views"]

ReportBuilder = Callable[..., Report]
REPORTS: dict[str, tuple[str, ReportBuilder]] = {
    "pipeline": (PipelineProjection.name, pipeline.build_report),
    "sla": (SlaProjection.name, sla.build_report),
    "commissions": (CommissionsProjection.name, commissions.build_report),
    "kpis": (KpiProjection.name, kpi.build_report),
    "forecast": (ForecastProjection.name, forecast.build_report),
    "waterfall": (ForecastProjection.name, build_waterfall_report),
    "accuracy": (ForecastProjection.name, build_accuracy_report),
    "routing": (RoutingProjection.name, build_routing_report),
    "segments": (SegmentsProjection.name, segments.build_report),
}
"""Report name -> (the view it reads, builder(conn, view, params, **options))."""




def gauge_builders() -> dict[str, tuple[str, ReportBuilder]]:
    """What the /metrics gauges read, by name: like :data:`REPORTS`, but reads whose cost
    does not grow with the log (``pipeline``: the current-state tables and the histogram
    of completed stays' times; ``sla``: counts kept incrementally, :class:`SlaCounts`, whose
    state this table owns: call once per exporting process; ``forecast``: a period's rows
    without the "no close date" deals, so only deals closing in the period are read), and
    the ``routing`` report, which reads per rep and rule."""
    counts = SlaCounts()

    def sla_counts(conn: Connection, view: SlaProjection, params: ReportParams) -> SlaGauges:
        return counts.refresh(conn, view, params.as_of)

    return {
        "pipeline": (PipelineProjection.name, build_pipeline_gauges),
        "sla": (SlaProjection.name, sla_counts),
        "forecast": (ForecastProjection.name, build_forecast_gauges),
        "routing": (RoutingProjection.name, build_routing_report),
    }


#: The filters a report may take (docs/cli.md); each report takes those its builder names
#: (a builder names ``from`` as ``from_``, a Python keyword).
FILTERS = ("deal", "rep", "team", "rule", "period", "limit", "from", "to", "by", "deals")


def report_filters(name: str) -> tuple[str, ...]:
    """The filters report ``name`` takes, in :data:`FILTERS` order."""
    accepted = {p.removesuffix("_") for p in inspect.signature(REPORTS[name][1]).parameters}
    return tuple(f for f in FILTERS if f in accepted)


def builder_options(options: dict[str, Any]) -> dict[str, Any]:
    """Filters by name (``from``) -> the builder's keywords (``from_``)."""
    return {f"{k}_" if keyword.iskeyword(k) else k: v for k, v in options.items()}


def shipped_views(workflows: WorkflowRegistry, plans: PlanRegistry) -> list[Projection]:
    """Every view, configured with the definitions ``bootstrap`` loaded."""
    return [
        PipelineProjection(workflows),
        SlaProjection(workflows),
        CommissionsProjection(plans),
        KpiProjection(workflows),
        ForecastProjection(workflows),
        RoutingProjection(),
        SegmentsProjection(),
    ]


def build(name: str, conn: Connection, views: dict[str, Projection], params: ReportParams,
          **options: Any) -> Report:
    """Compute report ``name`` from the live view it reads."""
    view_name, builder = REPORTS[name]
    return builder(conn, views[view_name], params, **builder_options(options))
