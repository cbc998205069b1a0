"""The waterfall report (``dealflow report waterfall``): how a period's open pipeline moved
from ``--from`` (T1) to ``--to`` (T2), per currency (and per owner with ``--by owner``),
with the deals behind each term on request (see docs/forecast.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.table import Table
from sqlalchemy import Connection

from engine.errors import ReportOptionError
from projections.forecast.periods import check_period, period_bounds, quarter_of
from projections.forecast.projection import ForecastProjection
from projections.forecast.report import exact_text
from projections.forecast.states import DealState, deal_states
from projections.forecast.waterfall import TERMS, DealAt, Waterfall, compute_waterfall
from projections.formatting import NONE, ReportTable, moment, money
from projections.report import ReportParams

__all__ = ["WaterfallReport", "build_waterfall_report", "states_at"]

_UNASSIGNED = "unassigned"


def states_at(conn: Connection, view: ForecastProjection, period: str, at: datetime,
              known_at: datetime | None) -> dict[str, DealAt]:
    """subject -> the state the waterfall reads, as of ``at`` as known at ``known_at``, of
    every deal that may be open in ``period`` then (see :func:`deal_states`)."""
    out: dict[str, DealAt] = {}
    for s in deal_states(conn, view, ReportParams(as_of=at, known_at=known_at),
                         period=period):
        out[s.subject] = DealAt(s.subject, s.opened_at, _status(view, s), s.period,
                                s.amount, s.currency, s.owner)
    return out


def _status(view: ForecastProjection, s: DealState) -> str:
    if s.is_open:
        return "open"
    wf = view.workflows.get(s.workflow, s.workflow_version)
    return "lost" if s.stage == wf.lost_stage else "won"


@dataclass(frozen=True, slots=True)
class WaterfallReport:
    """The computed waterfall and the instants it compares."""

    waterfall: Waterfall
    start: datetime
    end: datetime
    known_at: datetime | None
    with_deals: bool

    @property
    def title(self) -> str:
        """A heading for people."""
        return f"Waterfall of {self.waterfall.period}"

    def to_json(self) -> dict[str, Any]:
        """Rows as exact decimal strings (at least 2 decimals), as the forecast report;
        ``deals`` (with ``--deals``): one item per deal and term, with the deal's state at
        both instants."""
        w = self.waterfall
        counts = {label: 0 for label in ("stayed", "new", "pulled_in", "pushed", "won",
                                         "lost")}
        for label in w.labels.values():
            counts[label] += 1
        out: dict[str, Any] = {
            "report": "waterfall", "title": self.title, "view": "forecast",
            "period": w.period, "from": self.start.isoformat(), "to": self.end.isoformat(),
            "by": "owner" if w.by_owner else None, "labels": counts,
            "rows": [{**({"owner": r.owner} if w.by_owner else {}), "currency": r.currency,
                      "start": exact_text(r.start),
                      **{t: exact_text(v) for t, v in r.terms.items()},
                      "end": exact_text(r.end)} for r in w.rows],
        }
        if self.with_deals:
            out["deals"] = [{
                "deal": m.deal, "label": m.label, "term": m.term, "owner": m.owner,
                "currency": m.currency, "amount": exact_text(m.amount),
                "from": _side(m.start), "to": _side(m.end),
            } for m in sorted(w.movements, key=lambda m: (TERMS.index(m.term), m.deal))]
        return out

    def tables(self) -> list[Table]:
        """The rows (one per currency, or per owner and currency), then with ``--deals``
        one table of the deals behind the terms."""
        w = self.waterfall
        when = (f"from {moment(self.start)} to {moment(self.end)}"
                + ("" if self.known_at is None else f", as known at {moment(self.known_at)}"))
        figures = ("start", *TERMS, "end")
        keys = ("owner", "currency") if w.by_owner else ("currency",)
        table = ReportTable(f"{self.title} {when}", *keys, *figures, numbers=figures)
        for r in w.rows:
            cells = [r.start, *(r.terms[t] for t in TERMS), r.end]
            table.add_cells(*([r.owner or _UNASSIGNED] if w.by_owner else []), r.currency,
                            *(money(c, r.currency) for c in cells))
        out: list[Table] = [table]
        if self.with_deals:
            deals = ReportTable("Deals behind each term", "term", "deal", "owner",
                                "at start", "at end", "counted",
                                numbers=("at start", "at end", "counted"))
            for m in sorted(w.movements, key=lambda m: (TERMS.index(m.term), m.deal)):
                deals.add_cells(m.term, m.deal, m.owner or _UNASSIGNED, _cell(m.start),
                                _cell(m.end), money(m.amount, m.currency))
            out.append(deals)
        return out


def _side(state: DealAt | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {"status": state.status, "period": state.period, "amount": exact_text(state.amount),
            "currency": state.currency, "owner": state.owner}


def _cell(state: DealAt | None) -> str:
    if state is None:
        return NONE
    where = state.period or "no close date"
    return f"{money(state.amount, state.currency)} {state.status} {where}"


def build_waterfall_report(conn: Connection, view: ForecastProjection, params: ReportParams,
                           *, period: str | None = None, from_: datetime | None = None,
                           to: datetime | None = None, by: str | None = None,
                           deals: bool = False) -> WaterfallReport:
    """The waterfall of ``period`` (default: the quarter of ``params.as_of`` in Asia/
    Shanghai) from ``from_`` (T1, default: the period's first instant) to ``to`` (T2,
    default ``params.as_of``), both as known at ``params.known_at``. ``by="owner"``
    breaks the rows down by owner; ``deals`` lists the deals behind each term."""
    if period is None:
        period = quarter_of(params.as_of, view.timezone)
    try:
        check_period(period)
    except ValueError as exc:
        raise ReportOptionError(f"--period: {exc}") from None
    if from_ is None:
        from_, _ = period_bounds(period, view.timezone)
    end = params.as_of if to is None else to
    if not from_ < end:
        raise ReportOptionError(f"--from {from_.isoformat()} must be before --to "
                                f"{end.isoformat()}")
    if by not in (None, "owner"):
        raise ReportOptionError(f"--by {by!r}: the waterfall is broken down by owner only "
                                "(--by owner)")
    starts = states_at(conn, view, period, from_, params.known_at)
    ends = states_at(conn, view, period, end, params.known_at)
    waterfall = compute_waterfall(period, from_, starts, ends, by_owner=by == "owner")
    return WaterfallReport(waterfall, from_, end, params.known_at, deals)
