"""The pipeline view's tables (see docs/views.md for every column's meaning).

History (append-mostly, for as-of queries and analytics): ``stays`` (one row per stage a
deal entered, with its exit), ``changes`` (owner and amount changes), ``teams`` (team
assignments from ``rep.quota_set``).
Current state (maintained incrementally, for fast reads): ``deals``, ``totals`` (per
workflow version, stage, owner and currency), ``forecast`` (open amount per expected-close
month), ``reps``, ``stages`` (the workflow versions' stages and probabilities),
``stage_times`` (completed stays counted per workflow, stage and duration bucket: the
histogram /metrics reads time in stage from), ``watermark``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Date, Index, Integer, String, Table

from projections.base import Projection
from projections.pipeline.columns import DecimalText, Money, UtcDateTime

__all__ = ["PipelineTables", "define"]

_ID = 36
_NAME = 128


@dataclass(frozen=True, slots=True)
class PipelineTables:
    """The pipeline view's tables for one generation."""

    deals: Table
    stays: Table
    changes: Table
    totals: Table
    forecast: Table
    reps: Table
    teams: Table
    stages: Table
    stage_times: Table
    watermark: Table


def _times(prefix: str, nullable: bool = False) -> list[Column[object]]:
    return [
        Column(f"{prefix}_at", UtcDateTime(), nullable=nullable),
        Column(f"{prefix}_recorded_at", UtcDateTime(), nullable=nullable),
        Column(f"{prefix}_position", Integer, nullable=nullable),
    ]


def define(p: Projection) -> PipelineTables:
    """Declare the tables on ``p.metadata`` (names carry ``p``'s generation)."""
    n = p.table_name
    deals = p.table(
        "deals",
        Column("deal_id", String(_ID), primary_key=True),
        Column("workflow", String(_NAME), nullable=False),
        Column("workflow_version", Integer, nullable=False),
        Column("account", String(_NAME), nullable=False),
        Column("segment", String(_NAME)),
        Column("partner", String(_NAME)),
        Column("expected_close", Date),
        *_times("opened"),
        Column("stage", String(_NAME), nullable=False),
        Column("probability", DecimalText(), nullable=False),
        *_times("stage_entered"),
        Column("lost_from", String(_NAME)),
        Column("owner", String(_NAME), nullable=False),
        Column("team", String(_NAME)),
        Column("amount", Money(), nullable=False),
        Column("currency", String(3), nullable=False),
        *_times("signed", nullable=True),
        Column("signed_amount", Money()),
        Column("signed_currency", String(3)),
        *_times("cancelled", nullable=True),
        Column("last_position", Integer, nullable=False),
        Index(n("deals_stage"), "workflow", "stage", "owner"),
        Index(n("deals_owner"), "owner"),
    )
    stays = p.table(
        "stays",
        Column("deal_id", String(_ID), primary_key=True),
        Column("seq", Integer, primary_key=True),
        Column("workflow", String(_NAME), nullable=False),
        Column("workflow_version", Integer, nullable=False),
        Column("stage", String(_NAME), nullable=False),
        Column("from_stage", String(_NAME)),
        Column("entered_by", String(16), nullable=False),
        *_times("entered"),
        *_times("exited", nullable=True),
        Column("exited_by", String(16)),
        Column("to_stage", String(_NAME)),
        Index(n("stays_open"), "deal_id", "exited_position"),
        # (no index on (workflow, stage): no query reads stays by stage; the reports read
        # them whole by time, the live path by deal)
    )
    changes = p.table(
        "changes",
        Column("position", Integer, primary_key=True),
        Column("deal_id", String(_ID), nullable=False),
        Column("kind", String(16), nullable=False),
        Column("owner", String(_NAME)),
        Column("amount", Money()),
        Column("currency", String(3)),
        Column("occurred_at", UtcDateTime(), nullable=False),
        Column("recorded_at", UtcDateTime(), nullable=False),
        Index(n("changes_deal"), "deal_id", "position"),
    )
    totals = p.table(
        "totals",
        Column("workflow", String(_NAME), primary_key=True),
        Column("workflow_version", Integer, primary_key=True),
        Column("stage", String(_NAME), primary_key=True),
        Column("owner", String(_NAME), primary_key=True),
        Column("currency", String(3), primary_key=True),
        Column("deals", Integer, nullable=False),
        Column("amount", Money(), nullable=False),
        Column("cancelled_deals", Integer, nullable=False),
        Column("cancelled_amount", Money(), nullable=False),
        Index(n("totals_owner"), "owner"),
    )
    forecast = p.table(
        "forecast",
        Column("workflow", String(_NAME), primary_key=True),
        Column("workflow_version", Integer, primary_key=True),
        Column("stage", String(_NAME), primary_key=True),
        Column("currency", String(3), primary_key=True),
        Column("close_month", String(7), primary_key=True),  # "" when no expected close
        Column("deals", Integer, nullable=False),
        Column("amount", Money(), nullable=False),
        Index(n("forecast_month"), "close_month"),
    )
    reps = p.table(
        "reps",
        Column("rep_uuid", String(_ID), primary_key=True),
        Column("rep", String(_NAME), nullable=False, unique=True),
        Column("team", String(_NAME)),
        Column("team_at", UtcDateTime()),
        Column("team_position", Integer),
    )
    teams = p.table(
        "teams",
        Column("position", Integer, primary_key=True),
        Column("rep", String(_NAME), nullable=False),
        Column("team", String(_NAME), nullable=False),
        Column("occurred_at", UtcDateTime(), nullable=False),
        Column("recorded_at", UtcDateTime(), nullable=False),
    )
    stages = p.table(
        "stages",
        Column("workflow", String(_NAME), primary_key=True),
        Column("workflow_version", Integer, primary_key=True),
        Column("stage", String(_NAME), primary_key=True),
        Column("ordinal", Integer, nullable=False),
        Column("probability", DecimalText(), nullable=False),
        Column("kind", String(8), nullable=False),  # open, won or lost
    )
    stage_times = p.table(
        "stage_times",
        Column("workflow", String(_NAME), primary_key=True),
        Column("stage", String(_NAME), primary_key=True),
        Column("bucket", Integer, primary_key=True),  # projections.pipeline.stats.span_bucket
        Column("stays", Integer, nullable=False),
    )
    watermark = p.table(
        "watermark",
        Column("id", Integer, primary_key=True),
        Column("occurred_at", UtcDateTime(), nullable=False),
        Column("recorded_at", UtcDateTime(), nullable=False),
    )
    return PipelineTables(deals, stays, changes, totals, forecast, reps, teams, stages,
                          stage_times, watermark)
