"""Stage analytics from the stage history: conversion and drop-off, time in stage.

For each open stage of a workflow: ``entered`` counts the distinct deals with a visible
entry into it; ``advanced`` those that visibly left it forward (to the next stage, or to
won); ``lost`` the deals that are lost as of the report, having been lost from it (where
deals die); ``open`` the deals in it now. Time in stage covers completed stays only (entry
and exit both visible), measured by business time, a negative span (facts whose times run
backwards) counting as zero.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from projections.pipeline.columns import visible
from projections.pipeline.stats import median, micros, percentile, ratio, seconds
from projections.pipeline.tables import PipelineTables
from projections.report import ReportParams

__all__ = ["StageFlow", "StageTime", "stage_flows", "stage_times", "times_in_stage",
           "visible_stays"]

_FORWARD = ("advanced", "won")


@dataclass(frozen=True, slots=True)
class StageFlow:
    """Conversion out of one open stage."""

    workflow: str
    stage: str
    entered: int
    advanced: int
    lost: int
    open: int

    @property
    def conversion(self) -> Decimal | None:
        """``advanced / entered``."""
        return ratio(self.advanced, self.entered)

    @property
    def drop_off(self) -> Decimal | None:
        """``lost / entered``: the share of entrants that died here."""
        return ratio(self.lost, self.entered)


@dataclass(frozen=True, slots=True)
class StageTime:
    """Time spent in one open stage over completed stays (seconds)."""

    workflow: str
    stage: str
    stays: int
    median_seconds: Decimal | None
    p90_seconds: Decimal | None


def visible_stays(conn: Connection, t: PipelineTables, params: ReportParams) -> list[Any]:
    """Stays whose entry is visible; ``exit_visible`` tells whether their exit is too."""
    s = t.stays
    columns = [s.c[n] for n in ("deal_id", "workflow", "workflow_version", "stage",
                                "entered_at", "exited_at", "exited_recorded_at",
                                "exited_position", "exited_by")]
    query = select(*columns).where(visible(s.c.entered_at, s.c.entered_recorded_at, params))
    out = []
    for row in conn.execute(query):
        seen = row.exited_position is not None and params.visible(row.exited_at,
                                                                  row.exited_recorded_at)
        out.append((row, seen))
    return out


def stage_flows(stays: Iterable[Any], order: dict[str, tuple[str, ...]],
                lost_from: Counter[tuple[str, str]],
                open_now: Counter[tuple[str, str]]) -> list[StageFlow]:
    """Conversion per (workflow, open stage), stages in workflow ``order``."""
    entered: dict[tuple[str, str], set[str]] = defaultdict(set)
    advanced: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row, exit_visible in stays:
        key = (row.workflow, row.stage)
        entered[key].add(row.deal_id)
        if exit_visible and row.exited_by in _FORWARD:
            advanced[key].add(row.deal_id)
    return [
        StageFlow(workflow, stage, len(entered[(workflow, stage)]),
                  len(advanced[(workflow, stage)]), lost_from[(workflow, stage)],
                  open_now[(workflow, stage)])
        for workflow, stages in sorted(order.items()) for stage in stages
    ]


def stage_times(stays: Iterable[Any], order: dict[str, tuple[str, ...]]) -> list[StageTime]:
    """Median and p90 time in stage per (workflow, open stage)."""
    spans: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row, exit_visible in stays:
        if exit_visible:
            spans[(row.workflow, row.stage)].append(max(0, micros(row.exited_at
                                                                  - row.entered_at)))
    return times_in_stage(spans, order)


def times_in_stage(spans: Mapping[tuple[str, str], Sequence[int]],
                   order: dict[str, tuple[str, ...]]) -> list[StageTime]:
    """Median and p90 of ``spans`` per (workflow, open stage), stages in ``order``."""
    return [
        StageTime(workflow, stage, len(found), seconds(median(found)),
                  seconds(percentile(found, 90)))
        for workflow, stages in sorted(order.items()) for stage in stages
        for found in [spans.get((workflow, stage), ())]
    ]
