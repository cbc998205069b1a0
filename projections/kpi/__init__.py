"""The KPI view: per rep and team per quarter, revenue and deals won, win rate, conversion
per stage, activities, first-response time, survey score, new customers and target
attainment; as of any time (docs/views.md)."""

from projections.kpi.projection import KpiProjection
from projections.kpi.report import KpiReport, KpiRow, StageConversion, build_report

__all__ = ["KpiProjection", "KpiReport", "KpiRow", "StageConversion", "build_report"]
