"""The forecast report (``dealflow report forecast``): closed, commit, best_case, pipeline,
omitted, weighted and the three rollups of a period, per rep, per team, ``unassigned`` and
in total, per currency, as of T and as known at K (CONTRACT 1.1 "Forecast", rule 6).

Sums are exact. The tables show them rounded half-up to cents; JSON keeps them exact, as
decimal strings with at least 2 decimals (``7200.00``; a weighted ``49.9995`` stays so).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.table import Table
from sqlalchemy import Connection

from engine.errors import ReportOptionError
from projections.forecast.closed import closed_credits
from projections.forecast.periods import check_period, quarter_of
from projections.forecast.projection import ForecastProjection
from projections.forecast.states import deal_states
from projections.forecast.teams import NO_TEAM, teams_at
from projections.formatting import ReportTable, count, moment, money
from projections.pipeline.render import jsonable
from projections.report import ReportParams

__all__ = ["COLUMNS", "UNASSIGNED", "ForecastReport", "ForecastRow", "NoCloseDate",
           "build_gauges", "build_report"]

UNASSIGNED = "unassigned"
TOTAL = "total"
#: The summed columns, then the rollups (each the one before plus a column).
COLUMNS = ("closed", "commit", "best_case", "pipeline", "omitted", "weighted")
ROLLUPS = ("commit_forecast", "best_case_forecast", "pipeline_forecast")
_ZERO = Decimal(0)
_CENT = Decimal("0.01")


@dataclass(slots=True)
class ForecastRow:
    """One rep's, team's, the unassigned or the total forecast in one currency."""

    scope: str  # "rep", "team", "unassigned" or "total"
    name: str
    team: str | None  # a rep's team (its profile in force at T; ``no team``)
    currency: str
    deals: int = 0  # open deals in the period
    closed: Decimal = _ZERO
    commit: Decimal = _ZERO
    best_case: Decimal = _ZERO
    pipeline: Decimal = _ZERO
    omitted: Decimal = _ZERO
    weighted: Decimal = _ZERO

    @property
    def commit_forecast(self) -> Decimal:
        """closed + commit."""
        return self.closed + self.commit

    @property
    def best_case_forecast(self) -> Decimal:
        """commit forecast + best_case."""
        return self.commit_forecast + self.best_case

    @property
    def pipeline_forecast(self) -> Decimal:
        """best-case forecast + pipeline."""
        return self.best_case_forecast + self.pipeline

    def add(self, other: ForecastRow) -> None:
        """Add ``other``'s sums to this row's."""
        self.deals += other.deals
        for column in COLUMNS:
            setattr(self, column, getattr(self, column) + getattr(other, column))

    def to_json(self) -> dict[str, Any]:
        """Sums and rollups, exact (see :func:`exact_text`)."""
        out: dict[str, Any] = {"scope": self.scope, "name": self.name, "team": self.team,
                               "currency": self.currency, "deals": self.deals}
        for column in (*COLUMNS, *ROLLUPS):
            out[column] = exact_text(getattr(self, column))
        return out


@dataclass(frozen=True, slots=True)
class NoCloseDate:
    """Open deals without a close date (in no period), counted apart, per currency."""

    currency: str
    deals: int
    amount: Decimal


@dataclass(slots=True)
class ForecastReport:
    """The forecast of :attr:`period` as of :attr:`as_of` (as known at :attr:`known_at`)."""

    period: str
    as_of: datetime
    known_at: datetime | None
    timezone: str
    rows: list[ForecastRow] = field(default_factory=list)
    no_close_date: list[NoCloseDate] = field(default_factory=list)

    @property
    def title(self) -> str:
        """A heading for people."""
        return f"Forecast {self.period}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready content: rows per rep, team, unassigned and total, per currency."""
        return {"view": "forecast", "period": self.period, "as_of": jsonable(self.as_of),
                "known_at": jsonable(self.known_at), "timezone": self.timezone,
                "rows": [r.to_json() for r in self.rows],
                "no_close_date": [{"currency": n.currency, "deals": n.deals,
                                   "amount": exact_text(n.amount)} for n in self.no_close_date]}

    def tables(self) -> list[Table]:
        """Two tables of the same rows (by category; weighted and the rollups), then the
        deals without a close date; rows are reps (with their team), teams, ``unassigned``
        and ``total``."""
        when = f"as of {moment(self.as_of, self.timezone)}" + (
            "" if self.known_at is None
            else f", as known at {moment(self.known_at, self.timezone)}")
        sums = ("deals", "closed", "commit", "best case", "pipeline", "omitted")
        by_category = ReportTable(f"Forecast {self.period} by category ({when})", "row",
                                  "team", *sums, numbers=sums)
        rolled = ("weighted", "commit fcst", "best-case fcst", "pipeline fcst")
        rollups = ReportTable(f"Forecast {self.period}: weighted and rollups", "row",
                              *rolled, numbers=rolled)
        for i, r in enumerate(self.rows):
            label = f"team {r.name}" if r.scope == "team" else r.name
            following = self.rows[i + 1].scope if i + 1 < len(self.rows) else r.scope
            last = following != r.scope  # a line between reps, teams, unassigned and total
            by_category.add_cells(label, r.team, count(r.deals),
                                  *(money(getattr(r, c), r.currency) for c in COLUMNS[:5]),
                                  end_section=last)
            rollups.add_cells(label, *(money(getattr(r, c), r.currency)
                                       for c in ("weighted", *ROLLUPS)), end_section=last)
        undated = ReportTable("Open deals with no close date (in no period)", "currency",
                              "deals", "amount", numbers=("deals", "amount"))
        for n in self.no_close_date:
            undated.add_cells(n.currency, count(n.deals), money(n.amount, n.currency))
        return [by_category, rollups, undated]


def build_report(conn: Connection, view: ForecastProjection, params: ReportParams, *,
                 period: str | None = None, rep: str | None = None,
                 team: str | None = None) -> ForecastReport:
    """The forecast of ``period`` (default: the quarter of ``as_of`` in Asia/Shanghai) as
    of ``params``. ``rep`` keeps that rep's rows; ``team`` that team's row and its reps'
    rows (the ``unassigned`` and ``total`` rows are for the whole, unfiltered report)."""
    return _forecast(conn, view, params, period=period, rep=rep, team=team, read_undated=True)


def build_gauges(conn: Connection, view: ForecastProjection, params: ReportParams, *,
                 period: str | None = None) -> ForecastReport:
    """The forecast rows of ``period`` as of ``params`` without the "no close date" figures
    (what /metrics exports): only the deals with a close date in the period are read, so
    the cost follows the period, not every deal opened without a close date."""
    return _forecast(conn, view, params, period=period, rep=None, team=None, read_undated=False)


def _forecast(conn: Connection, view: ForecastProjection, params: ReportParams, *,
              period: str | None, rep: str | None, team: str | None,
              read_undated: bool) -> ForecastReport:
    if rep is not None and team is not None:
        raise ReportOptionError("--rep and --team: give one of them, not both")
    if period is None:
        period = quarter_of(params.as_of, view.timezone)
    try:
        check_period(period)
    except ValueError as exc:
        raise ReportOptionError(f"--period: {exc}") from None
    teams = teams_at(conn, view, params)
    reps: dict[tuple[str, str], ForecastRow] = {}
    unassigned: dict[str, ForecastRow] = {}
    undated: dict[str, list[Any]] = defaultdict(lambda: [0, _ZERO])

    def row(owner: str | None, currency: str) -> ForecastRow:
        if owner is None:
            found = unassigned.get(currency)
            if found is None:
                found = unassigned[currency] = ForecastRow("unassigned", UNASSIGNED, None,
                                                           currency)
            return found
        found = reps.get((owner, currency))
        if found is None:
            found = reps[(owner, currency)] = ForecastRow(
                "rep", owner, teams.get(owner, NO_TEAM), currency)
        return found

    for credit in closed_credits(conn, view, period, params):
        row(credit.rep, credit.currency).closed += credit.amount
    for state in deal_states(conn, view, params, period=period, undated=read_undated):
        if not state.is_open:
            continue
        if state.expected_close is None:
            if _kept(state.owner, teams, rep, team):
                undated[state.currency][0] += 1
                undated[state.currency][1] += state.amount
            continue
        if state.period != period:
            continue
        target = row(state.owner, state.currency)
        target.deals += 1
        setattr(target, state.category, getattr(target, state.category) + state.amount)
        target.weighted += state.weighted
    team_rows: dict[tuple[str, str], ForecastRow] = {}
    totals: dict[str, ForecastRow] = {}
    for (_, currency), r in sorted(reps.items()):
        assert r.team is not None
        key = (r.team, currency)
        if key not in team_rows:
            team_rows[key] = ForecastRow("team", r.team, None, currency)
        team_rows[key].add(r)
    for r in (*reps.values(), *unassigned.values()):
        if r.currency not in totals:
            totals[r.currency] = ForecastRow("total", TOTAL, None, r.currency)
        totals[r.currency].add(r)
    rep_rows = [r for _, r in sorted(reps.items()) if _kept(r.name, teams, rep, team)]
    kept_teams = [r for _, r in sorted(team_rows.items())
                  if rep is None and (team is None or r.name == team)]
    rows = [*rep_rows, *kept_teams]
    if rep is None and team is None:
        rows += [unassigned[c] for c in sorted(unassigned)] + [totals[c] for c in sorted(totals)]
    return ForecastReport(
        period=period, as_of=params.as_of, known_at=params.known_at,
        timezone=str(view.timezone), rows=rows,
        no_close_date=[NoCloseDate(c, n, amount) for c, (n, amount) in sorted(undated.items())])


def exact_text(value: Decimal) -> str:
    """An exact amount as a decimal string with at least 2 decimals and no trailing zeros
    beyond them: ``7200.000`` -> ``7200.00``, ``49.9995`` -> ``49.9995``."""
    if value == value.quantize(_CENT):
        return str(value.quantize(_CENT))
    return format(value.normalize(), "f")


def _kept(owner: str | None, teams: dict[str, str], rep: str | None, team: str | None) -> bool:
    if rep is not None:
        return owner == rep
    if team is not None:
        return owner is not None and teams.get(owner, NO_TEAM) == team
    return True
