"""The pipeline view: where every deal stands, what is open, won and lost, where deals die
and how long they sit, and open amounts by expected close; as of any time (docs/views.md).
The forecast by category is the forecast view's (``projections.forecast``)."""

from projections.pipeline.current import current_pipeline
from projections.pipeline.deal import DealView, StageStay, deal_state
from projections.pipeline.projection import PipelineProjection
from projections.pipeline.report import (
    CloseDateRow,
    OpenRow,
    OutcomeRow,
    PipelineReport,
    build_report,
)

__all__ = [
    "CloseDateRow",
    "DealView",
    "OpenRow",
    "OutcomeRow",
    "PipelineProjection",
    "PipelineReport",
    "StageStay",
    "build_report",
    "current_pipeline",
    "deal_state",
]
