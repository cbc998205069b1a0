"""The routing view: profiles, routing decisions and open-load changes, one row per fact.

Nothing is aggregated when events arrive: the report folds the rows visible as of T (and as
known at K). Load changes are computed in arrival order, as the engine's open load is
(precise rule 2): +1 for the owner when a deal opens, is routed (``""``: unassigned) or is
reopened, -1 when it is signed or lost, and both when an open deal is reassigned. The
view's own ``deals`` rows hold each deal's current owner and whether it is open.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
)

from engine.domain import Deal, Rep
from engine.store.chunks import lookup_chunks
from engine.store.log import LoggedEvent
from projections.base import Projection
from projections.pipeline.columns import UtcDateTime, upsert

__all__ = ["NO_OWNER", "RoutingProjection", "RoutingTables"]

#: The key of "no owner" in the load rows: unassigned open deals.
NO_OWNER = ""
_NAME = 128
_HANDLED = (Deal.Opened, Deal.Routed, Deal.ContractSigned, Deal.Lost, Deal.Reopened,
            Deal.Reassigned, Rep.Registered, Rep.ProfileSet)


@dataclass(frozen=True, slots=True)
class RoutingTables:
    """``profiles`` (each ``rep.profile_set``), ``assignments`` (each ``Deal.Routed``),
    ``loads`` (each change of a rep's open load), ``deals`` and ``reps`` (working state)."""

    profiles: Table
    assignments: Table
    loads: Table
    deals: Table
    reps: Table


def _fact() -> list[Column[Any]]:
    return [Column("position", Integer, primary_key=True, autoincrement=False),
            Column("occurred_at", UtcDateTime(), nullable=False),
            Column("recorded_at", UtcDateTime(), nullable=False)]


class RoutingProjection(Projection):
    """Rep profiles, routing decisions and open loads (``report routing``)."""

    name = "routing"
    topics = frozenset(event.TOPIC for event in _HANDLED)
    rebuild_cost = 0.3
    tables: RoutingTables

    def define_tables(self) -> None:
        """Declare the tables."""
        n = self.table_name
        self.tables = RoutingTables(
            profiles=self.table(
                "profiles", *_fact(), Column("source", String(_NAME), nullable=False),
                Column("fact_id", String(_NAME), nullable=False),
                Column("rep", String(_NAME), nullable=False),
                Column("team", String(_NAME), nullable=False),
                Column("manager", String(_NAME)), Column("territories", Text),
                Column("segments", Text), Column("capacity", Integer),
                Column("active", Boolean, nullable=False),
                Index(n("profiles_rep"), "rep")),
            assignments=self.table(
                "assignments", *_fact(), Column("deal", String(_NAME), nullable=False),
                Column("owner", String(_NAME)), Column("rule", String(_NAME)),
                Column("routing", String(_NAME), nullable=False),
                Column("routing_version", Integer, nullable=False),
                Index(n("assignments_time"), "occurred_at")),
            loads=self.table(
                "loads", Column("position", Integer, primary_key=True, autoincrement=False),
                Column("rep", String(_NAME), primary_key=True),
                Column("occurred_at", UtcDateTime(), nullable=False),
                Column("recorded_at", UtcDateTime(), nullable=False),
                Column("delta", Integer, nullable=False)),
            deals=self.table(
                "deals", Column("deal_id", String(36), primary_key=True),
                Column("subject", String(_NAME)), Column("owner", String(_NAME)),
                Column("open", Boolean, nullable=False)),
            reps=self.table("reps", Column("rep_id", String(36), primary_key=True),
                            Column("rep", String(_NAME), nullable=False)),
        )

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        """One row per relevant fact; the deals' working state read and written once."""
        mine = [e for e in events if type(e.event) in _HANDLED]
        if not mine:
            return
        t = self.tables
        deals = self._load(conn, t.deals, "deal_id", {
            e.originator_text for e in mine
            if not isinstance(e.event, Rep.Registered | Rep.ProfileSet)})
        reps = self._load(conn, t.reps, "rep_id", {e.originator_text for e in mine
                                                   if isinstance(e.event, Rep.ProfileSet)})
        rows: dict[str, list[dict[str, Any]]] = {"profiles": [], "assignments": [],
                                                 "loads": [], "reps": []}
        changed: set[str] = set()
        for e in mine:
            _apply(e, deals, reps, rows, changed)
        for name, found in rows.items():
            if found:
                conn.execute(insert(getattr(t, name)), found)
        if changed:
            upsert(conn, t.deals, [{"deal_id": d, **deals[d]} for d in sorted(changed)],
                   ["deal_id"])

    @staticmethod
    def _load(conn: Connection, table: Table, key: str, ids: set[str]
              ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for chunk in lookup_chunks(sorted(ids)):
            for row in conn.execute(select(table).where(table.c[key].in_(chunk))):
                values = dict(row._mapping)
                found[values.pop(key)] = values
        return found


def _apply(e: LoggedEvent, deals: dict[str, dict[str, Any]], reps: dict[str, dict[str, Any]],
           rows: dict[str, list[dict[str, Any]]], changed: set[str]) -> None:
    ev: Any = e.event
    key = e.originator_text
    if isinstance(ev, Rep.Registered):
        reps[key] = {"rep": ev.rep}
        rows["reps"].append({"rep_id": key, "rep": ev.rep})
        return
    fact = {"position": e.position, "occurred_at": ev.occurred_at, "recorded_at": e.recorded_at}

    def move(rep: str | None, delta: int) -> None:
        if rep is not None:
            rows["loads"].append({**fact, "rep": rep, "delta": delta})

    if isinstance(ev, Rep.ProfileSet):
        rows["profiles"].append({
            **fact, "source": ev.source, "fact_id": ev.fact_id, "rep": reps[key]["rep"],
            "team": ev.team, "manager": ev.manager, "capacity": ev.capacity,
            "territories": None if ev.territories is None else json.dumps(ev.territories),
            "segments": None if ev.segments is None else json.dumps(ev.segments),
            "active": ev.active})
        return
    changed.add(key)
    if isinstance(ev, Deal.Opened):
        deals[key] = {"subject": ev.subject, "owner": ev.owner, "open": True}
        move(ev.owner, 1)  # None: Deal.Routed follows and carries the load
    else:
        deal = deals[key]
        if isinstance(ev, Deal.Routed):
            rows["assignments"].append({
                **fact, "deal": deal["subject"] or key, "owner": ev.owner, "rule": ev.rule,
                "routing": ev.routing, "routing_version": ev.routing_version})
            deal["owner"] = ev.owner or NO_OWNER
            move(deal["owner"], 1)
        elif isinstance(ev, Deal.ContractSigned | Deal.Lost):
            if deal["open"]:
                move(deal["owner"], -1)
            deal["open"] = False
        elif isinstance(ev, Deal.Reopened):
            deal["open"] = True
            move(deal["owner"], 1)
        elif isinstance(ev, Deal.Reassigned) and ev.owner != deal["owner"]:
            if deal["open"]:
                move(deal["owner"], -1)
                move(ev.owner, 1)
            deal["owner"] = ev.owner
