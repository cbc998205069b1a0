"""Forecast accuracy of a period (CONTRACT.md 1.1, precise rule 8).

A pure function of a period's forecast calls (``forecast.submitted``) and the reps' closed
credit of the period as of the earlier of T and the period's end: every call with ``time``
at or before T, each judged against that credit in its own currency, and the latest call
as of the earlier of T and the period's end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["Call", "JudgedCall", "RepAccuracy", "compute_accuracy", "error_of"]

_RATIO = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Call:
    """One accepted ``forecast.submitted``."""

    rep: str
    period: str
    occurred_at: datetime
    source: str
    fact_id: str
    amount: Decimal
    currency: str

    @property
    def order(self) -> tuple[datetime, str, str]:
        """Calls are ordered by (``time``, ``source``, ``id``)."""
        return (self.occurred_at, self.source, self.fact_id)


@dataclass(frozen=True, slots=True)
class JudgedCall:
    """A call, the closed credit it is judged against, and its error."""

    call: Call
    actual: Decimal
    error: Decimal | None


@dataclass(frozen=True, slots=True)
class RepAccuracy:
    """One rep's calls for the period (in order) and the latest one as of the cut-off."""

    rep: str
    calls: list[JudgedCall]
    latest: JudgedCall | None


def error_of(submitted: Decimal, actual: Decimal) -> Decimal | None:
    """(submitted - actual) / actual, half-up to 4 decimals; None when actual is 0."""
    if actual == 0:
        return None
    return ((submitted - actual) / actual).quantize(_RATIO, rounding=ROUND_HALF_UP)


def compute_accuracy(calls: Iterable[Call], credit: Mapping[tuple[str, str], Decimal], *,
                     as_of: datetime, period_end: datetime,
                     reps: Iterable[str] = ()) -> list[RepAccuracy]:
    """Each rep's accuracy: ``calls`` are the period's calls (any time; those after
    ``as_of`` are left out), ``credit`` the closed credit of the period by (rep, currency)
    as of the earlier of ``as_of`` and ``period_end`` (the first instant of the next
    quarter). Reps in ``reps`` are listed even without a call."""
    cutoff = min(as_of, period_end)
    mine: dict[str, list[Call]] = {rep: [] for rep in reps}
    for call in calls:
        if call.occurred_at <= as_of:
            mine.setdefault(call.rep, []).append(call)

    def judged(call: Call) -> JudgedCall:
        actual = credit.get((call.rep, call.currency), Decimal(0))
        return JudgedCall(call, actual, error_of(call.amount, actual))

    out = []
    for rep in sorted(mine):
        ordered = sorted(mine[rep], key=lambda c: c.order)
        held = [c for c in ordered if c.occurred_at <= cutoff]
        out.append(RepAccuracy(rep, [judged(c) for c in ordered],
                               judged(held[-1]) if held else None))
    return out
