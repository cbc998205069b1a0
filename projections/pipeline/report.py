"""The pipeline report (``dealflow report pipeline``): a pure function of the view's rows
and the report's times (see docs/views.md for every field)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from rich.table import Table
from sqlalchemy import Connection

from projections.formatting import ReportTable, count, duration, moment, money, percent
from projections.pipeline.analytics import (
    StageFlow,
    StageTime,
    stage_flows,
    stage_times,
    visible_stays,
)
from projections.pipeline.projection import PipelineProjection
from projections.pipeline.render import cents, jsonable
from projections.pipeline.snapshot import (
    WorkflowStages,
    is_current,
    load_stages,
    load_teams,
    load_totals,
)
from projections.report import ReportParams

__all__ = ["CloseDateRow", "OpenRow", "OutcomeRow", "PipelineReport", "build_report",
           "collect_open", "open_order", "open_rollups"]

Period = Literal["month", "quarter"]
NO_CLOSE_DATE = "no close date"
_ZERO = Decimal("0.00")


@dataclass(slots=True)
class OpenRow:
    """Open deals of one workflow, stage, owner (and the owner's team) in one currency."""

    workflow: str
    stage: str | None
    owner: str | None
    team: str | None
    currency: str
    deals: int = 0
    amount: Decimal = _ZERO
    weighted_amount: Decimal = _ZERO


@dataclass(slots=True)
class OutcomeRow:
    """Closed deals of one workflow and owner in one currency. Won includes cancelled
    deals (a cancelled deal stays won); ``net_won`` is won minus cancelled."""

    json_extra: ClassVar[tuple[str, ...]] = ("net_won_deals", "net_won_amount")
    workflow: str
    owner: str | None  # None: signed or lost while unassigned (1.1)
    team: str | None
    currency: str
    won_deals: int = 0
    won_amount: Decimal = _ZERO
    cancelled_deals: int = 0
    cancelled_amount: Decimal = _ZERO
    lost_deals: int = 0
    lost_amount: Decimal = _ZERO

    @property
    def net_won_deals(self) -> int:
        """Won deals not cancelled."""
        return self.won_deals - self.cancelled_deals

    @property
    def net_won_amount(self) -> Decimal:
        """Signed amount of won deals not cancelled."""
        return self.won_amount - self.cancelled_amount


@dataclass(slots=True)
class CloseDateRow:
    """Open deals expected to close in one period, in one currency: every open amount and
    the weighted amount, whatever the deals' forecast categories. Not the forecast (that is
    ``report forecast``: categories, overrides, closed credit)."""

    period: str
    currency: str
    deals: int = 0
    weighted_amount: Decimal = _ZERO
    open_amount: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class PipelineReport:
    """The pipeline as of ``as_of`` (known at ``known_at``)."""

    title: str
    as_of: datetime
    known_at: datetime | None
    source: str  # "current" (current-state tables) or "history" (folded as of)
    period: Period
    open: list[OpenRow]
    outcomes: list[OutcomeRow]
    conversion: list[StageFlow]
    time_in_stage: list[StageTime]
    by_close_date: list[CloseDateRow]
    rollups: dict[str, list[OpenRow]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready content (decimals as strings, times as RFC 3339)."""
        flows = [{**jsonable(f), "conversion": jsonable(f.conversion),
                  "drop_off": jsonable(f.drop_off)} for f in self.conversion]
        return {
            "view": "pipeline", "as_of": jsonable(self.as_of),
            "known_at": jsonable(self.known_at), "source": self.source,
            "close_period": self.period, "open": jsonable(self.open),
            "open_by_stage": jsonable(self.rollups.get("stage", [])),
            "open_by_team": jsonable(self.rollups.get("team", [])),
            "outcomes": jsonable(self.outcomes), "conversion": flows,
            "time_in_stage": jsonable(self.time_in_stage),
            "by_close_date": jsonable(self.by_close_date),
        }

    def tables(self) -> list[Table]:
        """Readable tables for the terminal (formats: projections.formatting)."""
        amounts = ("deals", "amount", "weighted")
        by_stage = ReportTable(f"Open pipeline by stage, {_when(self.as_of, self.known_at)}",
                               "workflow", "stage", *amounts, numbers=amounts)
        for r in self.rollups.get("stage", []):
            by_stage.add_cells(r.workflow, r.stage, *_open_cells(r))
        by_team = ReportTable("Open pipeline by team", "workflow", "team", *amounts,
                              numbers=amounts)
        for r in self.rollups.get("team", []):
            by_team.add_cells(r.workflow, r.team, *_open_cells(r))
        # The owners' teams are in the JSON (``open``); a team's sums are the table above.
        by_owner = ReportTable("Open pipeline by owner", "workflow", "stage", "owner",
                               *amounts, numbers=amounts)
        for r in self.open:
            by_owner.add_cells(r.workflow, r.stage, r.owner, *_open_cells(r))
        ends = ("won", "cancelled", "lost")
        outcomes = ReportTable("Won and lost (cancelled deals are also counted as won)",
                               "workflow", "owner", "team", *ends, numbers=ends)
        for o in self.outcomes:
            outcomes.add_cells(o.workflow, o.owner, o.team,
                               *(_deals(n, amount, o.currency) for n, amount in (
                                   (o.won_deals, o.won_amount),
                                   (o.cancelled_deals, o.cancelled_amount),
                                   (o.lost_deals, o.lost_amount))))
        flow = ("entered", "advanced (conversion)", "lost here (drop-off)", "open")
        conversion = ReportTable("Stage conversion and drop-off", "workflow", "stage", *flow,
                                 numbers=flow)
        for f in self.conversion:
            conversion.add_cells(f.workflow, f.stage, count(f.entered),
                                 _share(f.advanced, f.conversion), _share(f.lost, f.drop_off),
                                 count(f.open))
        spans = ("stays", "median", "p90")
        times = ReportTable("Time in stage", "workflow", "stage", *spans, numbers=spans)
        for t in self.time_in_stage:
            times.add_cells(t.workflow, t.stage, count(t.stays), duration(t.median_seconds),
                            duration(t.p90_seconds))
        sums = ("deals", "weighted", "open amount")
        closing = ReportTable(f"Open deals by {self.period} of expected close (the forecast "
                              "by category: report forecast)", "period", *sums, numbers=sums)
        for c in self.by_close_date:
            closing.add_cells(c.period, count(c.deals), money(c.weighted_amount, c.currency),
                              money(c.open_amount, c.currency))
        return [by_stage, by_team, by_owner, outcomes, conversion, times, closing]


def _when(as_of: datetime, known_at: datetime | None) -> str:
    """``as of T`` (and ``, as known at K``), each in the offset it was given with."""
    known = "" if known_at is None else f", as known at {moment(known_at)}"
    return f"as of {moment(as_of)}{known}"


def _open_cells(r: OpenRow) -> tuple[str, str, str]:
    return count(r.deals), money(r.amount, r.currency), money(r.weighted_amount, r.currency)


def _share(deals: int, ratio: Decimal | None) -> str:
    """``116 (92.06 %)``: deals, and their share of the deals that entered the stage."""
    return count(deals) if ratio is None else f"{count(deals)} ({percent(ratio)})"


def _deals(deals: int, amount: Decimal, currency: str) -> str:
    """An amount and, below it, how many deals make it."""
    return f"{money(amount, currency)}\n{count(deals)} deal{'' if deals == 1 else 's'}"


def open_order(stages: dict[tuple[str, int], WorkflowStages], seen: set[tuple[str, int]]
               ) -> dict[str, tuple[str, ...]]:
    """The open stages, in order, of each workflow with a deal in ``seen`` versions (across
    those versions, the newest order first)."""
    out: dict[str, list[str]] = defaultdict(list)
    for (name, _), wf in sorted(stages.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        if (name, wf.version) in seen:
            out[name] += [s for s in wf.open_stages if s not in out[name]]
    return {name: tuple(found) for name, found in out.items()}


def _period(close_month: str, period: Period) -> str:
    if not close_month:
        return NO_CLOSE_DATE
    if period == "month":
        return close_month
    year, month = close_month.split("-")
    return f"{year}-Q{(int(month) - 1) // 3 + 1}"


def build_report(conn: Connection, view: PipelineProjection, params: ReportParams, *,
                 close_by: Period = "quarter", use_current: bool = True) -> PipelineReport:
    """The pipeline report as of ``params``.

    Reads the current-state tables when they answer exactly (nothing in the view happened
    after ``as_of`` or was recorded after ``known_at``) unless ``use_current`` is false;
    otherwise folds the history as of ``params``. Both give the same figures.
    """
    t = view.tables
    stages = load_stages(conn, t)
    current = use_current and is_current(conn, t, params)
    teams = load_teams(conn, t, params, current)
    totals = load_totals(conn, t, params, stages, current)
    stays = visible_stays(conn, t, params)
    order = open_order(stages, {(row.workflow, row.workflow_version) for row, _ in stays})
    rank = {(w, s): i for w, found in order.items() for i, s in enumerate(found)}

    open_rows = collect_open(totals.totals, stages, teams)
    open_now: Counter[tuple[str, str]] = Counter()
    for r in open_rows.values():
        open_now[(r.workflow, r.stage or "")] += r.deals
    outcomes: dict[tuple[Any, ...], OutcomeRow] = {}
    for row in totals.totals:
        kind = stages[(row["workflow"], row["workflow_version"])].kinds[row["stage"]]
        if kind == "open":
            continue
        # The view keeps "no owner" as NO_OWNER (""): reports show None (JSON null, "-").
        owner, currency = row["owner"] or None, row["currency"]
        out = outcomes.setdefault((row["workflow"], owner, currency),
                                  OutcomeRow(row["workflow"], owner, teams.get(row["owner"]),
                                             currency))
        if kind == "won":
            out.won_deals += row["deals"]
            out.won_amount += row["amount"]
            out.cancelled_deals += row["cancelled_deals"]
            out.cancelled_amount += row["cancelled_amount"]
        else:
            out.lost_deals += row["deals"]
            out.lost_amount += row["amount"]

    closing: dict[tuple[str, str], CloseDateRow] = {}
    for row in totals.forecast:
        wf = stages[(row["workflow"], row["workflow_version"])]
        label = _period(row["close_month"], close_by)
        f = closing.setdefault((label, row["currency"]), CloseDateRow(label, row["currency"]))
        f.deals += row["deals"]
        f.open_amount += row["amount"]
        f.weighted_amount += row["amount"] * wf.probabilities[row["stage"]]

    opens = sorted(open_rows.values(), key=lambda r: (
        r.workflow, rank[(r.workflow, r.stage or "")], r.owner or "", r.currency))
    rollups = open_rollups(opens, rank)
    for r in [*opens, *rollups["stage"], *rollups["team"]]:
        r.weighted_amount = cents(r.weighted_amount)
    for f in closing.values():
        f.weighted_amount = cents(f.weighted_amount)
    return PipelineReport(
        title="Pipeline", as_of=params.as_of, known_at=params.known_at,
        source="current" if current else "history", period=close_by, open=opens,
        outcomes=[outcomes[k] for k in sorted(outcomes)],
        conversion=stage_flows(stays, order, totals.lost_from, open_now),
        time_in_stage=stage_times(stays, order),
        by_close_date=[closing[k] for k in sorted(closing, key=lambda k: (
            k[0] == NO_CLOSE_DATE, k))],
        rollups=rollups,
    )


def collect_open(totals: list[dict[str, Any]], stages: dict[tuple[str, int], WorkflowStages],
                 teams: dict[str, str]) -> dict[tuple[Any, ...], OpenRow]:
    """The open rows of ``totals`` (rows shaped like the ``totals`` table) per (workflow,
    stage, owner, currency), with the owner's team and the exact weighted amount."""
    rows: dict[tuple[Any, ...], OpenRow] = {}
    for row in totals:
        wf = stages[(row["workflow"], row["workflow_version"])]
        if wf.kinds[row["stage"]] != "open":
            continue
        # The view keeps "no owner" as NO_OWNER (""): reports show None (JSON null, "-").
        owner = row["owner"] or None
        key = (row["workflow"], row["stage"], owner, row["currency"])
        acc = rows.setdefault(key, OpenRow(row["workflow"], row["stage"], owner,
                                           teams.get(row["owner"]), row["currency"]))
        acc.deals += row["deals"]
        acc.amount += row["amount"]
        acc.weighted_amount += row["amount"] * wf.probabilities[row["stage"]]
    return rows


def open_rollups(opens: list[OpenRow], rank: dict[tuple[str, str], int]
                 ) -> dict[str, list[OpenRow]]:
    """Open rows summed per (workflow, stage, currency) and per (workflow, team, currency);
    weighted amounts still exact (rounded by the caller)."""
    by_stage: dict[tuple[Any, ...], OpenRow] = {}
    by_team: dict[tuple[Any, ...], OpenRow] = {}
    for r in opens:
        for target, key, blank in (
            (by_stage, (r.workflow, r.stage, r.currency),
             OpenRow(r.workflow, r.stage, None, None, r.currency)),
            (by_team, (r.workflow, r.team or "", r.currency),
             OpenRow(r.workflow, None, None, r.team, r.currency)),
        ):
            acc = target.setdefault(key, blank)
            acc.deals += r.deals
            acc.amount += r.amount
            acc.weighted_amount += r.weighted_amount
    return {
        "stage": sorted(by_stage.values(), key=lambda r: (
            r.workflow, rank[(r.workflow, r.stage or "")], r.currency)),
        "team": [by_team[k] for k in sorted(by_team)],
    }
