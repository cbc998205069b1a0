"""The pipeline view: where every deal stands, what is open, won and lost, where deals die
and how long they sit, and the forecast; as of any time (docs/views.md)."""

from projections.pipeline.current import current_pipeline
from projections.pipeline.deal import DealView, StageStay, deal_state
from projections.pipeline.projection import PipelineProjection
from projections.pipeline.report import (
    ForecastRow,
    OpenRow,
    OutcomeRow,
    PipelineReport,
    build_report,
)

__all__ = [
    "DealView",
    "ForecastRow",
    "OpenRow",
    "OutcomeRow",
    "PipelineProjection",
    "PipelineReport",
    "StageStay",
    "build_report",
    "current_pipeline",
    "deal_state",
]
