"""The pipeline figures /metrics exports, read at a cost that does not fold history.

The full pipeline report as of now reads every stage stay into memory for its conversion
figures. The gauges need the open pipeline by stage and the time spent in each stage:
the open pipeline comes from the incrementally kept ``totals`` table (one read of at most
workflow versions x stages x owners x currencies rows, the view as it stands: every fact
it applied, whatever its time), and the time in stage from the completed stays, streamed
four columns at a time and kept as eight bytes each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.table import Table
from sqlalchemy import Connection

from projections.formatting import ReportTable, count, duration, money
from projections.pipeline.analytics import StageTime, completed_spans, times_in_stage
from projections.pipeline.current import open_now
from projections.pipeline.projection import PipelineProjection
from projections.pipeline.render import cents, jsonable
from projections.pipeline.report import OpenRow, open_rollups
from projections.report import ReportParams

__all__ = ["PipelineGauges", "build_gauges"]


@dataclass(frozen=True)
class PipelineGauges:
    """Open deals by (workflow, stage, currency) as the view stands, and time in stage over
    the stays completed as of ``as_of``."""

    as_of: datetime
    open_by_stage: list[OpenRow]
    time_in_stage: list[StageTime]
    title: str = field(default="Pipeline gauges")

    def to_json(self) -> dict[str, Any]:
        """``open_by_stage`` and ``time_in_stage``, shaped as in the pipeline report."""
        return {"view": "pipeline", "as_of": jsonable(self.as_of), "source": "current",
                "open_by_stage": jsonable(self.open_by_stage),
                "time_in_stage": jsonable(self.time_in_stage)}

    def tables(self) -> list[Table]:
        """Open pipeline by stage and time in stage, for the terminal."""
        numbers = ("deals", "amount", "weighted")
        opened = ReportTable("Open pipeline by stage", "workflow", "stage", *numbers,
                             numbers=numbers)
        for r in self.open_by_stage:
            opened.add_cells(r.workflow, r.stage, count(r.deals), money(r.amount, r.currency),
                             money(r.weighted_amount, r.currency))
        numbers = ("stays", "median", "p90")
        times = ReportTable("Time in stage", "workflow", "stage", *numbers, numbers=numbers)
        for t in self.time_in_stage:
            times.add_cells(t.workflow, t.stage, count(t.stays), duration(t.median_seconds),
                            duration(t.p90_seconds))
        return [opened, times]


def build_gauges(conn: Connection, view: PipelineProjection,
                 params: ReportParams) -> PipelineGauges:
    """The gauges: open rows from the current-state tables, time in stage as of
    ``params``."""
    opens, order = open_now(conn, view, params)
    rank = {(w, s): i for w, found in order.items() for i, s in enumerate(found)}
    by_stage = open_rollups(opens, rank)["stage"]
    for r in by_stage:
        r.weighted_amount = cents(r.weighted_amount)
    return PipelineGauges(params.as_of, by_stage,
                          times_in_stage(completed_spans(conn, view.tables, params), order))
