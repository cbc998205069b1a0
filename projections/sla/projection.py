"""The SLA view's tables and how events fill them (batched, insert-only, deterministic).

The view keeps what SLA evaluation needs, not outcomes: outcomes depend on the as-of and
known-at times a reader asks for, so they are computed when read (``projections.sla.query``).
Rows are a function of each event alone, so any batch boundaries give the same tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Index, Integer, String, Table

from engine.domain.deal import Deal
from engine.domain.escalation import BREACHED, CORRECTED, Escalation
from engine.store.log import LoggedEvent
from projections.base import Projection
from projections.sla.columns import UtcInstant, utc_text
from workflows import WorkflowRegistry

__all__ = ["SlaProjection"]

Row = tuple[Any, ...]
#: (fact_type, kind, purpose, from_stage, to_stage, owner)
Fields = tuple[str, str | None, str | None, str | None, str | None, str | None]

#: Deal events -> the contract fact type they record, and the fields SLA rules may test.
_FACTS: dict[type[Any], Callable[[Any], Fields]] = {
    Deal.Opened: lambda e: ("deal.opened", None, None, None, e.stage, e.owner),
    Deal.StageChanged: lambda e: ("deal.stage_changed", None, None, e.from_stage, e.to_stage,
                                  None),
    Deal.ActivityLogged: lambda e: ("activity.logged", e.kind, e.purpose, None, None, None),
    Deal.Noted: lambda e: (e.fact_type, None, None, None, None, None),
    Deal.QuoteIssued: lambda e: ("quote.issued", None, None, None, None, None),
    Deal.AmountChanged: lambda e: ("deal.amount_changed", None, None, None, None, None),
    Deal.ContractSigned: lambda e: ("contract.signed", None, None, e.from_stage, e.to_stage,
                                    None),
    # The aggregate's lost stage is always called "lost" (Deal.Lost.apply).
    Deal.Lost: lambda e: ("deal.lost", None, None, e.from_stage, "lost", None),
    Deal.Reopened: lambda e: ("deal.reopened", None, None, "lost", e.to_stage, None),
    Deal.Reassigned: lambda e: ("deal.reassigned", None, None, None, None, e.owner),
    Deal.PaymentReceived: lambda e: ("payment.received", None, None, None, None, None),
    Deal.ContractCancelled: lambda e: ("contract.cancelled", None, None, None, None, None),
    Deal.SurveyResponded: lambda e: ("survey.responded", None, None, None, None, None),
}
_ESCALATION_STATUS: dict[type[Any], str] = {
    Escalation.Breached: BREACHED,
    Escalation.Rebreached: BREACHED,
    Escalation.Corrected: CORRECTED,
}


class SlaProjection(Projection):
    """View ``sla``: per deal its opening (subject, workflow and version), every fact with
    its times and log position, and the SLA timer's escalation events.

    ``workflows`` is the registry evaluation looks rules and calendars up in (the one
    ``bootstrap`` loaded, user definitions included).
    """

    name = "sla"

    deals: Table
    facts: Table
    escalations: Table

    def __init__(self, workflows: WorkflowRegistry, generation: str = "a") -> None:
        """The view over ``workflows``, on ``generation``."""
        self.workflows = workflows
        super().__init__(generation)

    def define_tables(self) -> None:
        """``deals``, ``facts`` and ``escalations``; times as UTC instants.

        ``process`` writes rows as tuples in the order the columns are declared here.
        """
        self.deals = self.table(
            "deals",
            Column("deal", String(36), primary_key=True),
            Column("subject", String()),
            Column("workflow", String(), nullable=False),
            Column("workflow_version", Integer, nullable=False),
            Column("account", String(), nullable=False),
            Column("position", BigInteger, nullable=False),
        )
        self.facts = self.table(
            "facts",
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("deal", String(36), nullable=False),
            Column("source", String(), nullable=False),
            Column("fact_id", String(), nullable=False),
            Column("occurred_at", UtcInstant, nullable=False),
            Column("recorded_at", UtcInstant, nullable=False),
            Column("fact_type", String(), nullable=False),
            Column("kind", String()),
            Column("purpose", String()),
            Column("from_stage", String()),
            Column("to_stage", String()),
            Column("owner", String()),
        )
        Index(self.table_name("facts_deal"), self.facts.c.deal, self.facts.c.position)
        self.escalations = self.table(
            "escalations",
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("deal", String(36), nullable=False),
            Column("rule", String(), nullable=False),
            Column("instance", String(), nullable=False),
            Column("status", String(), nullable=False),
            Column("occurred_at", UtcInstant, nullable=False),
            Column("recorded_at", UtcInstant, nullable=False),
        )
        Index(self.table_name("escalations_deal"), self.escalations.c.deal)

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        """Insert one row per deal fact (and per opening, per escalation event)."""
        deals: list[Row] = []
        facts: list[Row] = []
        escalations: list[Row] = []
        for logged in events:
            event = logged.event
            fields = _FACTS.get(type(event))
            if fields is not None:
                deal = str(logged.originator_id)
                facts.append((logged.position, deal, event.source, event.fact_id,
                              utc_text(event.occurred_at), utc_text(event.timestamp),
                              *fields(event)))
                if isinstance(event, Deal.Opened):
                    deals.append((deal, event.subject, event.workflow, event.workflow_version,
                                  event.account, logged.position))
                continue
            status = _ESCALATION_STATUS.get(type(event))
            if status is not None:
                escalations.append((logged.position, event.deal, event.rule, event.instance,
                                    status, utc_text(event.occurred_at),
                                    utc_text(event.timestamp)))
        for table, rows in ((self.deals, deals), (self.facts, facts),
                            (self.escalations, escalations)):
            if rows:
                _insert(conn, table, rows)


def _insert(conn: Connection, table: Table, rows: list[Row]) -> None:
    # The driver's executemany with rows in column order: SQLAlchemy's per-row parameter
    # processing cost more than the rest of a rebuild. Times are already UTC text.
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(quote(c.name) for c in table.columns)
    marks = ", ".join([mark] * len(table.columns))
    conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", rows)
