"""The waterfall of a forecast period between two instants (CONTRACT.md 1.1, precise rule 7).

A pure function of the deals' states at the two instants: each deal open in the period at
T1 (the start) or at T2 (the end) gets one label by comparing those two states only, and
its amounts go into the terms so that, per currency (and per owner when asked),

    end = start + new + pulled_in + increased - decreased - pushed - won - lost

which :func:`compute_waterfall` checks on every row it returns: a row that does not add up
is a bug and raises :class:`~engine.errors.ForecastIdentityError`, never a figure shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from engine.errors import ForecastIdentityError

__all__ = ["LABELS", "TERMS", "DealAt", "Movement", "Waterfall", "WaterfallRow",
           "check_identity", "compute_waterfall", "label_of"]

#: The terms between start and end, in the identity's order; the sign each takes.
TERMS: tuple[str, ...] = ("new", "pulled_in", "increased", "decreased", "pushed", "won",
                          "lost")
_SIGN = {"new": 1, "pulled_in": 1, "increased": 1, "decreased": -1, "pushed": -1, "won": -1,
         "lost": -1}
#: A deal's label: ``stayed`` or one of the terms that move a deal in or out.
LABELS: tuple[str, ...] = ("stayed", "new", "pulled_in", "pushed", "won", "lost")
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class DealAt:
    """What the waterfall reads of a deal's state at an instant."""

    deal: str  # the deal's subject
    opened_at: datetime
    status: str  # ``open``, ``won`` or ``lost``
    period: str | None  # the quarter of its current close date
    amount: Decimal
    currency: str
    owner: str | None  # None: unassigned

    def in_period(self, period: str) -> bool:
        """Open with its close date in ``period``: overrides play no part (an omitted deal
        is in the start and the end like any other)."""
        return self.status == "open" and self.period == period


@dataclass(frozen=True, slots=True)
class Movement:
    """One deal's part in one term: ``amount`` under (``owner``, ``currency``)."""

    deal: str
    label: str
    term: str
    owner: str | None
    currency: str
    amount: Decimal
    start: DealAt | None
    end: DealAt | None


@dataclass(slots=True)
class WaterfallRow:
    """Start, terms and end of one currency (and one owner, per owner)."""

    currency: str
    owner: str | None = None
    start: Decimal = _ZERO
    terms: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(TERMS, _ZERO))
    end: Decimal = _ZERO

    def computed_end(self) -> Decimal:
        """start plus and minus the terms."""
        return self.start + sum((_SIGN[t] * v for t, v in self.terms.items()), _ZERO)


@dataclass(slots=True)
class Waterfall:
    """The rows (by currency, or by owner and currency) and every movement behind them."""

    period: str
    by_owner: bool
    rows: list[WaterfallRow]
    movements: list[Movement]
    labels: dict[str, str]


def _in(state: DealAt | None, period: str) -> bool:
    return state is not None and state.in_period(period)


def label_of(start: DealAt | None, end: DealAt | None, period: str, t1: datetime
             ) -> str | None:
    """The deal's label from its states at T1 and T2 (``start`` may be None for a deal that
    was then not open in the period, and is None for one not yet opened), or None when it
    is open in the period at neither instant."""
    began, ended = _in(start, period), _in(end, period)
    if began and ended:
        return "stayed"
    if began:
        assert end is not None  # a deal open at T1 exists at T2
        return "pushed" if end.status == "open" else end.status
    if ended:
        assert end is not None
        return "new" if end.opened_at > t1 else "pulled_in"
    return None


def compute_waterfall(period: str, t1: datetime, starts: Mapping[str, DealAt],
                      ends: Mapping[str, DealAt], *, by_owner: bool = False) -> Waterfall:
    """The waterfall of ``period`` from the deals' states at ``t1`` (``starts``) to those
    at T2 (``ends``), keyed by deal. ``starts`` must hold every deal open in the period at
    T1 and ``ends`` every deal open in the period at T2 and every deal of ``starts``;
    either may hold others (they get no label)."""
    rows: dict[tuple[str | None, str], WaterfallRow] = {}
    movements: list[Movement] = []
    labels: dict[str, str] = {}

    def row(state: DealAt) -> WaterfallRow:
        key = (state.owner if by_owner else None, state.currency)
        found = rows.get(key)
        if found is None:
            found = rows[key] = WaterfallRow(currency=state.currency, owner=key[0])
        return found

    def move(deal: str, label: str, term: str, state: DealAt, amount: Decimal,
             start: DealAt | None, end: DealAt | None) -> None:
        row(state).terms[term] += amount
        movements.append(Movement(deal, label, term, state.owner, state.currency, amount,
                                  start, end))

    for deal in sorted(starts.keys() | ends.keys()):
        start, end = starts.get(deal), ends.get(deal)
        label = label_of(start, end, period, t1)
        if label is None:
            continue
        labels[deal] = label
        if start is not None and start.in_period(period):
            row(start).start += start.amount
        if end is not None and end.in_period(period):
            row(end).end += end.amount
        if label == "stayed":
            assert start is not None and end is not None
            if start.currency != end.currency or (by_owner and start.owner != end.owner):
                move(deal, label, "decreased", start, start.amount, start, end)
                move(deal, label, "increased", end, end.amount, start, end)
            elif end.amount > start.amount:
                move(deal, label, "increased", start, end.amount - start.amount, start, end)
            elif end.amount < start.amount:
                move(deal, label, "decreased", start, start.amount - end.amount, start, end)
        elif label in ("pushed", "won", "lost"):
            assert start is not None
            move(deal, label, label, start, start.amount, start, end)
        else:
            assert end is not None
            move(deal, label, label, end, end.amount, start, end)

    ordered = sorted(rows.values(), key=lambda r: (r.owner is None, r.owner or "", r.currency))
    check_identity(period, ordered)
    return Waterfall(period, by_owner, ordered, movements, labels)


def check_identity(period: str, rows: Sequence[WaterfallRow]) -> None:
    """Raise :class:`~engine.errors.ForecastIdentityError` naming the first row whose end
    is not its start plus and minus its terms."""
    for checked in rows:
        if checked.computed_end() != checked.end:
            who = "" if checked.owner is None else f"owner {checked.owner}, "
            raise ForecastIdentityError(
                f"waterfall of {period} ({who}{checked.currency}) does not add up: end "
                f"{checked.end} but start + terms = {checked.computed_end()} (a bug in "
                "dealflow: please report it with this message)")
