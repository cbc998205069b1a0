"""The KPI view's tables: the facts KPIs are judged on, each with its business time, its
recorded time, its log position and its quarter (see docs/views.md). Aggregation happens
in the report, because every KPI must be answerable as of any time and as known at any
time, and because facts may arrive in any time order."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Integer, String, Table

from projections.base import Projection
from projections.pipeline.columns import DecimalText, Money, UtcDateTime

__all__ = ["KpiTables", "define"]

_ID = 36
_NAME = 128


@dataclass(frozen=True, slots=True)
class KpiTables:
    """The KPI view's tables for one generation."""

    reps: Table
    quotas: Table
    deals: Table
    owners: Table
    stages: Table
    signings: Table
    credits: Table
    cancellations: Table
    activities: Table
    surveys: Table


def _fact(quarter: bool = True) -> list[Column[object]]:
    cols: list[Column[object]] = [
        Column("position", Integer, primary_key=True),
        Column("occurred_at", UtcDateTime(), nullable=False),
        Column("recorded_at", UtcDateTime(), nullable=False),
    ]
    if quarter:
        cols.append(Column("quarter", String(7), nullable=False))
    return cols


def _deal() -> Column[object]:
    return Column("deal_id", String(_ID), nullable=False)


def define(p: Projection) -> KpiTables:
    """Declare the tables on ``p.metadata`` (names carry ``p``'s generation).

    No secondary indexes: the report reads every table whole (by time), never by deal, and
    an index on a deal's UUID cost each fact row a write into a random page of one more
    B-tree (and each live step's commit those pages again)."""
    return KpiTables(
        reps=p.table("reps", Column("rep_uuid", String(_ID), primary_key=True),
                     Column("rep", String(_NAME), nullable=False)),
        quotas=p.table("quotas", *_fact(quarter=False),
                       Column("rep", String(_NAME), nullable=False),
                       Column("period", String(7), nullable=False),
                       Column("amount", Money(), nullable=False),
                       Column("currency", String(3), nullable=False),
                       Column("team", String(_NAME))),
        deals=p.table("deals", Column("deal_id", String(_ID), primary_key=True),
                      Column("workflow", String(_NAME), nullable=False),
                      Column("workflow_version", Integer, nullable=False),
                      Column("account", String(_NAME), nullable=False),
                      Column("opened_at", UtcDateTime(), nullable=False),
                      Column("opened_recorded_at", UtcDateTime(), nullable=False),
                      Column("opened_position", Integer, nullable=False),
                      Column("quarter", String(7), nullable=False)),
        owners=p.table("owners", *_fact(quarter=False), _deal(),
                       Column("owner", String(_NAME), nullable=False)),
        stages=p.table("stages", *_fact(), _deal(),
                       Column("workflow", String(_NAME), nullable=False),
                       Column("stage", String(_NAME), nullable=False),
                       Column("ordinal", Integer, nullable=False),
                       Column("from_stage", String(_NAME)),
                       Column("kind", String(16), nullable=False)),
        signings=p.table("signings", *_fact(), _deal(),
                         Column("owner", String(_NAME), nullable=False),
                         Column("amount", Money(), nullable=False),
                         Column("currency", String(3), nullable=False)),
        credits=p.table("credits", *_fact(), _deal(),
                        Column("rep", String(_NAME), primary_key=True),
                        Column("share", DecimalText(), nullable=False),
                        Column("amount", DecimalText(), nullable=False),
                        Column("currency", String(3), nullable=False)),
        cancellations=p.table("cancellations", *_fact(), _deal()),
        activities=p.table("activities", *_fact(), _deal(),
                           Column("kind", String(16), nullable=False)),
        surveys=p.table("surveys", *_fact(), _deal(),
                        Column("score", Integer, nullable=False)),
    )
