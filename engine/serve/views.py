"""Make sure the shipped views and reports are registered before the service reads them.

The projection packages register themselves in :mod:`projections.registry`; until all of
them do it on import, the service adds the shipped ones that are importable, under their
report names (``pipeline``, ``sla``, ``commissions``, ``kpis``), never replacing a
registration that exists.
"""

from __future__ import annotations

import importlib
from typing import Any

from projections.registry import REPORTS, VIEWS

__all__ = ["SHIPPED", "ensure_shipped_views"]

#: report name, module of the projection, its class, module of the report builder
SHIPPED = [
    ("pipeline", "projections.pipeline.projection", "PipelineProjection",
     "projections.pipeline.report"),
    ("sla", "projections.sla.projection", "SlaProjection", "projections.sla.report"),
    ("commissions", "projections.commissions.projection", "CommissionsProjection",
     "projections.commissions.report"),
    ("kpis", "projections.kpi.projection", "KpiProjection", "projections.kpi.report"),
]


def ensure_shipped_views() -> list[str]:
    """Register what is importable and not registered yet; return the reports available."""
    for report, view_module, view_class, report_module in SHIPPED:
        if report in REPORTS:
            continue
        try:
            projection: Any = getattr(importlib.import_module(view_module), view_class)
            builder: Any = importlib.import_module(report_module).build_report
        except (ImportError, AttributeError):
            continue
        VIEWS.setdefault(projection.name, projection)
        REPORTS[report] = (projection.name, builder)
    return sorted(REPORTS)
