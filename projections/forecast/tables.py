"""The forecast view's tables (see docs/forecast.md).

Nothing is aggregated when events arrive: every accepted fact that changes what the forecast
reads becomes one row with its business time (``occurred_at``), its recorded time
(``recorded_at``), its log position and, where the contract breaks ties by them, its
``source`` and ``fact_id``. The forecast as of any T, as known at any K, and a deal's state
at any two instants (the waterfall) are then folds of these rows (:mod:`.states`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Index, Integer, String, Table

from projections.base import Projection
from projections.pipeline.columns import DecimalText, Money, UtcDateTime

__all__ = ["ForecastTables", "define"]

_ID = 36
_NAME = 128


@dataclass(frozen=True, slots=True)
class ForecastTables:
    """The forecast view's tables for one generation.

    - ``deals``: one row per opened deal (its key and workflow version);
    - ``timeline``: one row per accepted deal fact changing stage, amount, currency, owner,
      close date or override, or cancelling its contract (``kind`` says which columns it sets);
    - ``credits``: closed credit, one row per rep of each signing (splits or owner at
      signing; ``rep`` NULL: signed while unassigned, without splits), with its quarter;
    - ``cancellations``: contract cancellations;
    - ``reps``, ``profiles``: rep names and the team of each ``rep.profile_set``;
    - ``submissions``: ``forecast.submitted`` calls.
    """

    deals: Table
    timeline: Table
    credits: Table
    cancellations: Table
    reps: Table
    profiles: Table
    submissions: Table


def _fact(ties: bool = False) -> list[Column[object]]:
    cols: list[Column[object]] = [
        Column("position", Integer, primary_key=True, autoincrement=False),
        Column("occurred_at", UtcDateTime(), nullable=False),
        Column("recorded_at", UtcDateTime(), nullable=False),
    ]
    if ties:
        cols += [Column("source", String(_NAME), nullable=False),
                 Column("fact_id", String(_NAME), nullable=False)]
    return cols


def define(p: Projection) -> ForecastTables:
    """Declare the tables on ``p.metadata`` (names carry ``p``'s generation)."""
    n = p.table_name
    return ForecastTables(
        deals=p.table("deals", Column("deal_id", String(_ID), primary_key=True),
                      Column("subject", String(_NAME), nullable=False),
                      Column("workflow", String(_NAME), nullable=False),
                      Column("workflow_version", Integer, nullable=False)),
        timeline=p.table("timeline", *_fact(ties=True),
                         Column("deal_id", String(_ID), nullable=False),
                         Column("kind", String(16), nullable=False),
                         Column("stage", String(_NAME)),
                         Column("amount", Money()),
                         Column("currency", String(3)),
                         Column("owner", String(_NAME)),
                         Column("expected_close", String(10)),  # ISO date as written
                         Column("category", String(16)),
                         Index(n("timeline_deal"), "deal_id", "occurred_at"),
                         # Candidates of a period: openings and moves by close date, and
                         # openings without one, without touching the other kinds' rows.
                         Index(n("timeline_close"), "kind", "expected_close")),
        credits=p.table("credits", *_fact(),
                        Column("line", Integer, primary_key=True, autoincrement=False),
                        Column("quarter", String(7), nullable=False),
                        Column("deal_id", String(_ID), nullable=False),
                        Column("rep", String(_NAME)),
                        Column("share", DecimalText(), nullable=False),
                        Column("amount", DecimalText(), nullable=False),
                        Column("currency", String(3), nullable=False),
                        Index(n("credits_quarter"), "quarter")),
        cancellations=p.table("cancellations", *_fact(),
                              Column("deal_id", String(_ID), nullable=False),
                              Index(n("cancellations_deal"), "deal_id")),
        reps=p.table("reps", Column("rep_uuid", String(_ID), primary_key=True),
                     Column("rep", String(_NAME), nullable=False)),
        profiles=p.table("profiles", *_fact(ties=True),
                         Column("rep", String(_NAME), nullable=False),
                         Column("team", String(_NAME), nullable=False),
                         Index(n("profiles_rep"), "rep")),
        submissions=p.table("submissions", *_fact(ties=True),
                            Column("rep", String(_NAME), nullable=False),
                            Column("period", String(7), nullable=False),
                            Column("amount", Money(), nullable=False),
                            Column("currency", String(3), nullable=False),
                            Index(n("submissions_rep"), "rep", "period")),
    )
