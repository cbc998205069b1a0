"""A deal's current state as the pipeline view keeps it, and what it adds to the totals.

``contributions`` is the single definition of how one deal counts in ``totals`` and
``forecast``: a batch subtracts a touched deal's contributions before and adds them after,
so the totals are the same whatever the batch boundaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

__all__ = ["ClosedStages", "DealState", "Instant", "Key", "Vector", "close_month",
           "contributions"]

Key = tuple[str, tuple[Any, ...]]  # (table, primary key values)
#: An instant in a ``DealState``: an aware ``datetime`` when read for a report; while a
#: batch holds the deal, as the database driver takes it (UTC text on SQLite, see
#: ``columns.instant_encoder``), so that each event's instants are converted once.
Instant = Any
Vector = tuple[int, Decimal, int, Decimal]  # deals, amount, cancelled deals, cancelled amount
_ZERO = Decimal("0.00")


class ClosedStages(Protocol):
    """What :func:`contributions` needs of a workflow (a ``CompiledWorkflow`` has it)."""

    @property
    def won_stage(self) -> str:
        """The won stage's name."""

    @property
    def lost_stage(self) -> str:
        """The lost stage's name."""


@dataclass(slots=True)
class DealState:
    """One row of the ``deals`` table (see docs/views.md)."""

    deal_id: str
    workflow: str
    workflow_version: int
    account: str
    segment: str | None
    partner: str | None
    expected_close: date | None
    opened_at: Instant
    opened_recorded_at: Instant
    opened_position: int
    stage: str
    probability: Decimal
    stage_entered_at: Instant
    stage_entered_recorded_at: Instant
    stage_entered_position: int
    lost_from: str | None
    owner: str
    team: str | None
    amount: Decimal
    currency: str
    signed_at: Instant
    signed_recorded_at: Instant
    signed_position: int | None
    signed_amount: Decimal | None
    signed_currency: str | None
    cancelled_at: Instant
    cancelled_recorded_at: Instant
    cancelled_position: int | None
    last_position: int

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> DealState:
        """From a ``deals`` row."""
        return cls(**{name: row[name] for name in _FIELDS})

    def to_row(self) -> dict[str, Any]:
        """As a ``deals`` row (a shallow copy: the values are immutable)."""
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(DealState))


def close_month(expected: date | None) -> str:
    """The forecast bucket of an expected close date: ``YYYY-MM``, or ``""`` when unknown."""
    return "" if expected is None else f"{expected.year:04d}-{expected.month:02d}"


def contributions(deal: DealState, wf: ClosedStages) -> dict[Key, Vector]:
    """What ``deal`` adds to ``totals`` and ``forecast`` rows, by row key."""
    wf_key = (deal.workflow, deal.workflow_version)
    if deal.stage == wf.won_stage:
        assert deal.signed_amount is not None and deal.signed_currency is not None
        cancelled = deal.cancelled_at is not None
        return {("totals", (*wf_key, deal.stage, deal.owner, deal.signed_currency)): (
            1, deal.signed_amount, int(cancelled), deal.signed_amount if cancelled else _ZERO)}
    vector: Vector = (1, deal.amount, 0, _ZERO)
    out = {("totals", (*wf_key, deal.stage, deal.owner, deal.currency)): vector}
    if deal.stage != wf.lost_stage:
        out[("forecast", (*wf_key, deal.stage, deal.currency,
                          close_month(deal.expected_close)))] = vector
    return out
