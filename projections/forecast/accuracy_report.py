"""The accuracy report (``dealflow report accuracy``): each rep's forecast calls for a
period, the latest one, and their error against the rep's closed credit (docs/forecast.md)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.table import Table
from sqlalchemy import Connection, select

from engine.errors import ReportOptionError
from projections.forecast.accuracy import Call, JudgedCall, RepAccuracy, compute_accuracy
from projections.forecast.closed import closed_credits
from projections.forecast.periods import (
    FORECAST_TIMEZONE,
    check_period,
    period_bounds,
    quarter_of,
)
from projections.forecast.projection import ForecastProjection
from projections.forecast.report import exact_text
from projections.formatting import NONE, ReportTable, moment, money, percent
from projections.pipeline.columns import visible
from projections.report import ReportParams

__all__ = ["AccuracyReport", "build_accuracy_report", "load_calls"]



def load_calls(conn: Connection, view: ForecastProjection, period: str, params: ReportParams,
               rep: str | None = None) -> list[Call]:
    """The period's ``forecast.submitted`` calls visible as of ``params`` (one rep's, or
    every rep's)."""
    s = view.tables.submissions
    query = select(s).where(s.c.period == period,
                            visible(s.c.occurred_at, s.c.recorded_at, params))
    if rep is not None:
        query = query.where(s.c.rep == rep)
    return [Call(r.rep, r.period, r.occurred_at, r.source, r.fact_id, r.amount, r.currency)
            for r in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class AccuracyReport:
    """Each rep's judged calls for the period as of an instant."""

    period: str
    as_of: datetime
    known_at: datetime | None
    cutoff: datetime
    reps: list[RepAccuracy]

    @property
    def title(self) -> str:
        """A heading for people."""
        return f"Forecast accuracy, {self.period}"

    def to_json(self) -> dict[str, Any]:
        """One item per rep: its ``calls`` and the ``latest``, each with ``actual`` (the
        closed credit in the call's currency, exact: at least 2 decimals) and ``error`` (4
        decimals, or null)."""
        return {
            "report": "accuracy", "title": self.title, "view": "forecast",
            "period": self.period, "actual_as_of": self.cutoff.isoformat(),
            "reps": [{"rep": r.rep, "calls": [_judged(c) for c in r.calls],
                      "latest": None if r.latest is None else _judged(r.latest)}
                     for r in self.reps],
        }

    def tables(self) -> list[Table]:
        """One table: a line per call, the latest marked."""
        known = "" if self.known_at is None else f", as known at {moment(self.known_at)}"
        table = ReportTable(
            f"{self.title} as of {moment(self.as_of)}{known} (times in {FORECAST_TIMEZONE}; "
            f"actual: closed credit as of {moment(self.cutoff, FORECAST_TIMEZONE)})",
            "rep", "call", "amount", "actual", "error",
            numbers=("amount", "actual", "error"))
        for r in self.reps:
            if not r.calls:
                table.add_cells(r.rep, "no call", NONE, NONE, NONE, end_section=True)
            for i, c in enumerate(r.calls):
                latest = " (latest)" if r.latest is not None and c.call == r.latest.call else ""
                table.add_cells(r.rep if i == 0 else "",
                                f"{moment(c.call.occurred_at, FORECAST_TIMEZONE)}{latest}",
                                money(c.call.amount, c.call.currency),
                                money(c.actual, c.call.currency),
                                percent(c.error),  # tables show ratios as percents
                                end_section=i == len(r.calls) - 1)
        return [table]


def _judged(c: JudgedCall) -> dict[str, Any]:
    return {"time": c.call.occurred_at.astimezone(FORECAST_TIMEZONE).isoformat(),
            "source": c.call.source, "id": c.call.fact_id, "amount": str(c.call.amount),
            "currency": c.call.currency, "actual": exact_text(c.actual),
            "error": None if c.error is None else str(c.error)}


def build_accuracy_report(conn: Connection, view: ForecastProjection, params: ReportParams,
                          *, period: str | None = None, rep: str | None = None
                          ) -> AccuracyReport:
    """Accuracy of the calls for ``period`` (default: the quarter of ``params.as_of`` in
    Asia/Shanghai; every rep who made one, or ``rep``) as of ``params.as_of``, as known at
    ``params.known_at``."""
    if period is None:
        period = quarter_of(params.as_of, view.timezone)
    try:
        check_period(period)
    except ValueError as exc:
        raise ReportOptionError(f"--period: {exc}") from None
    _, end = period_bounds(period, view.timezone)
    cutoff = min(params.as_of, end)
    credit: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in closed_credits(conn, view, period,
                               ReportParams(as_of=cutoff, known_at=params.known_at)):
        if line.rep is not None:
            credit[(line.rep, line.currency)] += line.amount
    calls = load_calls(conn, view, period, params, rep)
    judged = compute_accuracy(calls, credit, as_of=params.as_of, period_end=end,
                              reps=() if rep is None else (rep,))
    return AccuracyReport(period, params.as_of, params.known_at, cutoff, judged)
