"""The KPI report (``dealflow report kpis``): per rep and per team, per quarter (see
docs/views.md for every field and who gets credit for what)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from rich.table import Table
from sqlalchemy import Connection

from projections.formatting import (
    ReportTable,
    count,
    duration,
    lines,
    moment,
    moneys,
    percent,
)
from projections.kpi.facts import load_facts
from projections.kpi.projection import KpiProjection
from projections.kpi.quotas import QuotaBook
from projections.kpi.tally import Tally, tally
from projections.pipeline.render import cents, jsonable
from projections.pipeline.stats import median, ratio, seconds
from projections.report import ReportParams

__all__ = ["KpiReport", "KpiRow", "StageConversion", "build_report"]

_SCORE = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class StageConversion:
    """Deals that entered a stage in the quarter, and how many of them left it forward."""

    workflow: str
    stage: str
    entered: int
    advanced: int
    conversion: Decimal | None


@dataclass(frozen=True, slots=True)
class KpiRow:
    """One rep's or one team's KPIs for one quarter. Money is per currency; ``attainment``
    is a ratio per quota currency (``attainment_percent``: the same as a percent)."""

    json_extra: ClassVar[tuple[str, ...]] = ("attainment_percent",)
    scope: str  # "rep" or "team"
    name: str
    period: str
    team: str | None
    members: tuple[str, ...]
    revenue_won: dict[str, Decimal]
    deals_won: int
    deals_lost: int
    win_rate: Decimal | None
    deals_cancelled: int
    revenue_cancelled: dict[str, Decimal]
    conversion: tuple[StageConversion, ...]
    activities: dict[str, int]
    first_responses: int
    first_response_median_seconds: Decimal | None
    surveys: int
    survey_average: Decimal | None
    new_customers: int
    quota: dict[str, Decimal]
    attainment: dict[str, Decimal | None]

    @property
    def attainment_percent(self) -> dict[str, str | None]:
        """Per quota currency, attainment as a percent with 2 decimals (``"7.20"`` for a
        ratio of ``0.0720``): the JSON ``attainment`` ratio, unambiguous beside money."""
        return {currency: None if ratio is None
                else format((ratio * 100).quantize(_SCORE, ROUND_HALF_UP), "f")
                for currency, ratio in self.attainment.items()}


@dataclass(frozen=True, slots=True)
class KpiReport:
    """KPIs per rep and per team per quarter, as of ``as_of`` (known at ``known_at``)."""

    title: str
    as_of: datetime
    known_at: datetime | None
    timezone: str
    reps: list[KpiRow]
    teams: list[KpiRow]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready content (decimals as strings, times as RFC 3339)."""
        return {"view": "kpis", "as_of": jsonable(self.as_of),
                "known_at": jsonable(self.known_at), "timezone": self.timezone,
                "reps": jsonable(self.reps), "teams": jsonable(self.teams)}

    def tables(self) -> list[Table]:
        """Readable tables for the terminal, three per scope (rep, team): revenue against
        quota, deals, activity; periods are quarters in :attr:`timezone`."""
        when = f"as of {moment(self.as_of, self.timezone)}" + (
            "" if self.known_at is None
            else f", as known at {moment(self.known_at, self.timezone)}")
        tables: list[Table] = []
        for scope, rows in (("rep", self.reps), ("team", self.teams)):
            first = f", {when} (quarters in {self.timezone})" if scope == "rep" else ""
            tables += [_revenue(f"KPIs per {scope}: revenue and quota{first}", rows),
                       _deals(f"KPIs per {scope}: deals", rows),
                       _activity(f"KPIs per {scope}: activity", rows)]
        return tables


def _revenue(title: str, rows: list[KpiRow]) -> Table:
    # A team row's team is its name: the team column is for reps only.
    keys = ("period", "name", "team") if any(r.scope == "rep" for r in rows) else (
        "period", "name")
    sums = ("revenue won", "quota", "attainment")
    table = ReportTable(title, *keys, *sums, numbers=sums)
    for r in rows:
        table.add_cells(r.period, r.name, *([r.team] if len(keys) == 3 else []),
                        moneys(r.revenue_won), moneys(r.quota),
                        lines(percent(r.attainment[c]) for c in sorted(r.attainment)))
    return table


def _deals(title: str, rows: list[KpiRow]) -> Table:
    figures = ("won", "lost", "win rate", "cancelled", "new customers")
    table = ReportTable(title, "period", "name", *figures, numbers=figures)
    for r in rows:
        table.add_cells(r.period, r.name, count(r.deals_won), count(r.deals_lost),
                        percent(r.win_rate), count(r.deals_cancelled), count(r.new_customers))
    return table


def _activity(title: str, rows: list[KpiRow]) -> Table:
    figures = ("activities", "first response (median)", "surveys", "survey (average)")
    table = ReportTable(title, "period", "name", *figures, numbers=figures)
    for r in rows:
        table.add_cells(r.period, r.name, count(sum(r.activities.values())),
                        duration(r.first_response_median_seconds), count(r.surveys),
                        None if r.survey_average is None else str(r.survey_average))
    return table


def _row(scope: str, name: str, period: str, team: str | None, members: tuple[str, ...],
         t: Tally, quota: dict[str, Decimal]) -> KpiRow:
    won, lost = len(t.deals_won), len(t.deals_lost)
    conversion = tuple(
        StageConversion(workflow, stage, len(t.entered[key]), len(t.advanced[key]),
                        ratio(len(t.advanced[key]), len(t.entered[key])))
        for key in sorted(t.entered) for workflow, _, stage in [key]
    )
    average = None
    if t.scores:
        average = (Decimal(sum(t.scores)) / len(t.scores)).quantize(_SCORE, ROUND_HALF_UP)
    return KpiRow(
        scope=scope, name=name, period=period, team=team, members=members,
        revenue_won={c: cents(v) for c, v in sorted(t.revenue.items())},
        deals_won=won, deals_lost=lost, win_rate=ratio(won, won + lost),
        deals_cancelled=len(t.deals_cancelled),
        revenue_cancelled={c: cents(v) for c, v in sorted(t.revenue_cancelled.items())},
        conversion=conversion, activities=dict(sorted(t.activities.items())),
        first_responses=len(t.responses),
        first_response_median_seconds=seconds(median(t.responses)),
        surveys=len(t.scores), survey_average=average, new_customers=len(t.new_customers),
        quota=dict(sorted(quota.items())),
        attainment={c: ratio(t.revenue.get(c, Decimal(0)), q) for c, q in sorted(quota.items())},
    )


def build_report(conn: Connection, view: KpiProjection, params: ReportParams, *,
                 period: str | None = None, rep: str | None = None,
                 team: str | None = None) -> KpiReport:
    """KPIs per rep and team per quarter from the facts visible as of ``params``;
    ``period`` (a quarter such as ``2026-Q1``), ``rep`` and ``team`` keep only those rows
    (with ``rep``, the team rows of that rep's teams; with ``team``, that team's row and
    the rows of reps in it that quarter)."""
    facts = load_facts(conn, view.tables, params)
    tallies = tally(facts)
    book = QuotaBook(facts.quotas)
    for name, quarters in book.periods.items():
        for quarter in quarters:
            tallies.setdefault((name, quarter), Tally())
    reps: list[KpiRow] = []
    teams: dict[tuple[str, str], tuple[Tally, dict[str, Decimal], list[str]]] = {}
    for name, quarter in sorted(tallies, key=lambda k: (k[1], k[0])):
        t = tallies[(name, quarter)]
        rep_team = book.team(name, quarter)  # not ``team``: that is the filter
        quota = book.quota(name, quarter)
        reps.append(_row("rep", name, quarter, rep_team, (), t, quota))
        if rep_team is None:
            continue
        acc, team_quota, members = teams.setdefault((quarter, rep_team), (Tally(), {}, []))
        acc.merge(t)
        for cur, amount in quota.items():
            team_quota[cur] = team_quota.get(cur, Decimal("0.00")) + amount
        members.append(name)
    team_rows = [_row("team", name, quarter, name, tuple(members), acc, quota)
                 for (quarter, name), (acc, quota, members) in sorted(teams.items())]
    if period is not None:
        reps = [r for r in reps if r.period == period]
        team_rows = [r for r in team_rows if r.period == period]
    if rep is not None:
        reps = [r for r in reps if r.name == rep]
        team_rows = [r for r in team_rows if rep in r.members]
    if team is not None:
        reps = [r for r in reps if r.team == team]
        team_rows = [r for r in team_rows if r.name == team]
    return KpiReport(title="KPIs", as_of=params.as_of, known_at=params.known_at,
                     timezone=str(view.timezone), reps=reps, teams=team_rows)

