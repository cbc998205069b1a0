"""``dealflow report routing``: per rep, the profile in force, the open load, the capacity
and the deals routed to it per rule (in a period); and the unassigned deals.

As of T (and as known at K): the profile in force is the last visible ``rep.profile_set``
by (time, source, id); the open load sums the visible load changes (each computed in
arrival order, as the engine's is); the assignments counted are the routing decisions whose
deal opened in ``--period`` (a quarter in Asia/Shanghai; all of them without it).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.table import Table
from sqlalchemy import Connection, func, select

from engine.errors import ReportOptionError
from projections.forecast.periods import FORECAST_TIMEZONE, check_period, period_bounds
from projections.formatting import NONE, ReportTable, count, moment
from projections.pipeline.columns import visible
from projections.report import ReportParams
from projections.routing.projection import NO_OWNER, RoutingProjection

__all__ = ["RepRouting", "RoutingReport", "build_report"]


@dataclass(slots=True)
class RepRouting:
    """One rep: its profile in force (None: none), open load and assignments per rule."""

    rep: str
    profile: dict[str, Any] | None
    open_load: int = 0
    assigned: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        p = self.profile or {}
        return {"rep": self.rep, "profile": self.profile is not None, "team": p.get("team"),
                "manager": p.get("manager"), "active": p.get("active"),
                "territories": p.get("territories"), "segments": p.get("segments"),
                "capacity": p.get("capacity"), "open_load": self.open_load,
                "assigned": dict(sorted(self.assigned.items())),
                "assigned_total": sum(self.assigned.values())}


@dataclass(frozen=True, slots=True)
class RoutingReport:
    """Every rep with a profile, a load or an assignment; the unassigned deals."""

    period: str | None
    as_of: datetime
    known_at: datetime | None
    reps: list[RepRouting]
    rules: dict[str, int]
    unassigned_routed: list[str]
    unassigned_open: int

    @property
    def title(self) -> str:
        """A heading for people."""
        return f"Routing, {self.period or 'all periods'}"

    def to_json(self) -> dict[str, Any]:
        """``reps``; ``rules`` (deals routed per rule in the period); ``unassigned``: the
        deals opened unassigned in the period and the open deals without owner now."""
        return {"report": "routing", "title": self.title, "view": "routing",
                "period": self.period, "reps": [r.to_json() for r in self.reps],
                "rules": self.rules,
                "unassigned": {"routed_unassigned": len(self.unassigned_routed),
                               "deals": self.unassigned_routed,
                               "open_without_owner": self.unassigned_open}}

    def tables(self) -> list[Table]:
        """Per rep; then per rule, with the unassigned deals."""
        known = "" if self.known_at is None else f", as known at {moment(self.known_at)}"
        reps = ReportTable(f"{self.title} as of {moment(self.as_of)}{known}", "rep", "team",
                           "active", "capacity", "open load", "routed (per rule)",
                           numbers=("capacity", "open load"))
        for r in self.reps:
            p = r.profile
            per_rule = ", ".join(f"{k} {v}" for k, v in sorted(r.assigned.items()))
            reps.add_cells(r.rep, p["team"] if p else "no profile",
                           NONE if p is None else ("yes" if p["active"] else "no"),
                           NONE if p is None or p["capacity"] is None else count(p["capacity"]),
                           count(r.open_load), per_rule or NONE)
        rules = ReportTable(f"Deals routed in {self.period or 'all periods'}", "rule", "deals",
                            numbers=("deals",))
        for rule, n in self.rules.items():
            rules.add_cells(rule, count(n))
        rules.add_cells("unassigned", count(len(self.unassigned_routed)))
        rules.add_cells("open without owner now", count(self.unassigned_open))
        return [reps, rules]


def build_report(conn: Connection, view: RoutingProjection, params: ReportParams, *,
                 period: str | None = None, rep: str | None = None,
                 team: str | None = None) -> RoutingReport:
    """The routing report as of ``params``; ``period`` (``2026-Q1``) limits the assignments
    counted; ``rep`` and ``team`` (of the profile in force) keep only those reps."""
    t = view.tables
    if period is not None:
        try:
            check_period(period)
        except ValueError as exc:
            raise ReportOptionError(f"--period: {exc}") from None
    profiles: dict[str, tuple[Any, ...]] = {}
    p = t.profiles
    for row in conn.execute(select(p).where(visible(p.c.occurred_at, p.c.recorded_at, params))):
        held = profiles.get(row.rep)
        if held is None or (row.occurred_at, row.source, row.fact_id) > held[0]:
            profiles[row.rep] = ((row.occurred_at, row.source, row.fact_id), row)
    loads = {r.rep: int(r.total) for r in conn.execute(
        select(t.loads.c.rep, func.sum(t.loads.c.delta).label("total"))
        .where(visible(t.loads.c.occurred_at, t.loads.c.recorded_at, params))
        .group_by(t.loads.c.rep))}
    a = t.assignments
    query = select(a).where(visible(a.c.occurred_at, a.c.recorded_at, params))
    if period is not None:
        start, end = period_bounds(period)
        query = query.where(a.c.occurred_at >= start, a.c.occurred_at < end)
    assigned: defaultdict[str, Counter[str]] = defaultdict(Counter)
    rules: Counter[str] = Counter()
    unassigned: list[str] = []
    for row in conn.execute(query.order_by(a.c.position)):
        if row.owner is None:
            unassigned.append(row.deal)
            continue
        assigned[row.owner][row.rule] += 1
        rules[row.rule] += 1
    names = sorted({*profiles, *assigned, *(r for r, n in loads.items() if n)} - {NO_OWNER})
    reps = [RepRouting(name, _profile(profiles[name][1]) if name in profiles else None,
                       loads.get(name, 0), assigned.get(name, Counter())) for name in names]
    reps = [r for r in reps if (rep is None or r.rep == rep)
            and (team is None or (r.profile is not None and r.profile["team"] == team))]
    return RoutingReport(period, params.as_of, params.known_at, reps,
                         dict(sorted(rules.items())), unassigned, loads.get(NO_OWNER, 0))


def _profile(row: Any) -> dict[str, Any]:
    return {"team": row.team, "manager": row.manager, "active": bool(row.active),
            "territories": None if row.territories is None else json.loads(row.territories),
            "segments": None if row.segments is None else json.loads(row.segments),
            "capacity": row.capacity,
            "since": row.occurred_at.astimezone(FORECAST_TIMEZONE).isoformat()}
