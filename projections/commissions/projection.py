"""The commission view: the facts statements are computed from, one row per fact.

The view keeps facts, not computed commission lines: quotas, plan assignments, late
payments and cancellations may arrive in any order, and attainment is judged by ``time``,
so lines are computed when a statement is asked for (:mod:`.statement`), for explicit
``as_of``/``known_at`` times. Rows are only ever inserted, keyed by log position, which
makes the tables the same whatever the batch boundaries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, Connection, Index, String, Table, Text, select

from engine.domain.deal import Deal
from engine.domain.rep import Rep
from engine.store.chunks import lookup_chunks
from engine.store.log import LoggedEvent
from projections.base import Projection
from projections.commissions.columns import AwareDateTime, DecimalText, decimal_text
from projections.commissions.registry import PlanRegistry

__all__ = ["CommissionsProjection"]

Row = dict[str, Any]


def _fact_columns() -> list[Column[Any]]:
    """Provenance and both times, shared by every fact table."""
    return [
        Column("position", BigInteger, primary_key=True, autoincrement=False),
        Column("source", String(200), nullable=False),
        Column("fact_id", String(200), nullable=False),
        Column("occurred_at", AwareDateTime, nullable=False),
        Column("recorded_at", AwareDateTime, nullable=False),
    ]


def _fact_row(e: LoggedEvent) -> Row:
    return {"position": e.position, "source": e.event.source, "fact_id": e.event.fact_id,
            "occurred_at": e.occurred_at, "recorded_at": e.recorded_at}


def _splits_text(splits: list[dict[str, Any]] | None) -> str | None:
    if splits is None:
        return None
    return json.dumps([{"rep": s["rep"], "share": decimal_text(s["share"])} for s in splits],
                      separators=(",", ":"))


class CommissionsProjection(Projection):
    """The ``commissions`` view: signings, payments, cancellations, quotas, plan
    assignments, plus deal labels and rep names (see the module docstring)."""

    name = "commissions"
    topics = frozenset(event.TOPIC for event in (
        Deal.ContractSigned, Deal.PaymentReceived, Deal.ContractCancelled, Deal.Opened,
        Rep.Registered, Rep.QuotaSet, Rep.PlanAssigned))
    rebuild_cost = 0.08  # of the SLA view's 1 (measured, docs/views.md)

    def __init__(self, plans: PlanRegistry, generation: str = "a") -> None:
        """The view whose statements are rated by ``plans`` (shipped and user plans)."""
        self.plans = plans
        super().__init__(generation)

    signings: Table
    payments: Table
    cancellations: Table
    quotas: Table
    assignments: Table
    deals: Table
    reps: Table

    def define_tables(self) -> None:
        """Declare one table per kind of fact."""
        self.signings = self.table(
            "signings", *_fact_columns(),
            Column("deal", String(64), nullable=False),
            Column("amount", DecimalText, nullable=False),
            Column("currency", String(3), nullable=False),
            Column("owner", String(200), nullable=False),
            Column("splits", Text, nullable=True),  # JSON [{rep, share}] at signing, or null
            Index(self.table_name("signings_deal"), "deal"),
        )
        self.payments = self.table(
            "payments", *_fact_columns(),
            Column("deal", String(64), nullable=False),
            Column("amount", DecimalText, nullable=False),
            Column("currency", String(3), nullable=False),
            Index(self.table_name("payments_deal"), "deal"),
        )
        self.cancellations = self.table(
            "cancellations", *_fact_columns(),
            Column("deal", String(64), nullable=False),
            Column("reason", Text, nullable=False),
            Column("refund_amount", DecimalText, nullable=True),
            Index(self.table_name("cancellations_deal"), "deal"),
        )
        self.quotas = self.table(
            "quotas", *_fact_columns(),
            Column("rep", String(200), nullable=False),
            Column("period", String(16), nullable=False),
            Column("amount", DecimalText, nullable=False),
            Column("currency", String(3), nullable=False),
            Column("team", String(200), nullable=True),
            Index(self.table_name("quotas_rep"), "rep", "period"),
        )
        self.assignments = self.table(
            "assignments", *_fact_columns(),
            Column("rep", String(200), nullable=False),
            Column("plan", String(200), nullable=False),
            Column("effective_from", AwareDateTime, nullable=False),
            Index(self.table_name("assignments_rep"), "rep"),
        )
        self.deals = self.table(
            "deals",
            Column("deal", String(64), primary_key=True),
            Column("subject", String(200), nullable=True),
            Column("account", String(200), nullable=False),
            Column("position", BigInteger, nullable=False),
            Column("source", String(200), nullable=False),
            Column("fact_id", String(200), nullable=False),
        )
        self.reps = self.table(
            "reps",
            Column("rep_uuid", String(64), primary_key=True),
            Column("rep", String(200), nullable=False),
            Column("position", BigInteger, nullable=False),
        )

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        """Insert one row per relevant fact, one executemany per table for the batch."""
        rows: dict[str, list[Row]] = {}
        rep_events: list[tuple[str, LoggedEvent]] = []
        names: dict[UUID, str] = {}
        for e in events:
            ev = e.event
            if isinstance(ev, Deal.ContractSigned):
                rows.setdefault("signings", []).append(
                    {**_fact_row(e), "deal": e.originator_text, "amount": ev.amount,
                     # "" keeps a signing while unassigned (1.1) in the NOT NULL column
                     "currency": ev.currency, "owner": ev.owner or "",
                     "splits": _splits_text(ev.splits)})
            elif isinstance(ev, Deal.PaymentReceived):
                rows.setdefault("payments", []).append(
                    {**_fact_row(e), "deal": e.originator_text, "amount": ev.amount,
                     "currency": ev.currency})
            elif isinstance(ev, Deal.ContractCancelled):
                rows.setdefault("cancellations", []).append(
                    {**_fact_row(e), "deal": e.originator_text, "reason": ev.reason,
                     "refund_amount": ev.refund_amount})
            elif isinstance(ev, Deal.Opened):
                rows.setdefault("deals", []).append(
                    {"deal": e.originator_text, "subject": getattr(ev, "subject", None),
                     "account": ev.account, "position": e.position, "source": ev.source,
                     "fact_id": ev.fact_id})
            elif isinstance(ev, Rep.Registered):
                names[e.originator_id] = ev.rep
                rows.setdefault("reps", []).append(
                    {"rep_uuid": e.originator_text, "rep": ev.rep, "position": e.position})
            elif isinstance(ev, Rep.QuotaSet | Rep.PlanAssigned):
                rep_events.append(("quotas" if isinstance(ev, Rep.QuotaSet) else "assignments",
                                   e))
        if rep_events:
            self._rep_rows(conn, rep_events, names, rows)
        for base, batch in rows.items():
            conn.execute(getattr(self, base).insert(), batch)

    def _rep_rows(self, conn: Connection, rep_events: list[tuple[str, LoggedEvent]],
                  names: dict[UUID, str], rows: dict[str, list[Row]]) -> None:
        """Rows for quota and plan facts, named by rep (registered in this batch or before)."""
        missing = {e.originator_text for _, e in rep_events} - {str(u) for u in names}
        known = {str(u): n for u, n in names.items()}
        for chunk in lookup_chunks(sorted(missing)):
            query = select(self.reps.c.rep_uuid, self.reps.c.rep).where(
                self.reps.c.rep_uuid.in_(chunk))
            known.update({row.rep_uuid: row.rep for row in conn.execute(query)})
        for base, e in rep_events:
            ev = e.event
            rep = known.get(e.originator_text)
            if rep is None:  # the engine registers every rep before its first fact
                raise LookupError(f"rep aggregate {e.originator_id} has no Rep.Registered "
                                  f"event before position {e.position}")
            if base == "quotas":
                row = {**_fact_row(e), "rep": rep, "period": ev.period, "amount": ev.amount,
                       "currency": ev.currency, "team": ev.team}
            else:
                row = {**_fact_row(e), "rep": rep, "plan": ev.plan,
                       "effective_from": ev.effective_from}
            rows.setdefault(base, []).append(row)
