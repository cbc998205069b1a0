"""What an SLA timer tick recorded, for people and machines (``dealflow sla tick``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.table import Table
from sqlalchemy import Connection, select

from engine.domain.escalation import Escalation
from engine.store.chunks import lookup_chunks
from projections.formatting import NONE, ReportTable, count, moment
from projections.sla.projection import SlaProjection

__all__ = ["KINDS", "recorded_json", "recorded_table", "subjects"]

#: Event class -> the kind a tick's listing shows.
KINDS: dict[type[Any], str] = {
    Escalation.Breached: "breached",
    Escalation.Corrected: "corrected",
    Escalation.Rebreached: "rebreached",
    Escalation.StepRecorded: "step",
    Escalation.StepCorrected: "step_corrected",
}


def subjects(conn: Connection, view: SlaProjection, events: Sequence[Any]) -> dict[str, str]:
    """Deal aggregate id -> subject, for the deals ``events`` name (as the view knows them)."""
    deals = sorted({e.deal for e in events})
    found: dict[str, str] = {}
    for chunk in lookup_chunks(deals):
        query = select(view.deals.c.deal, view.deals.c.subject).where(
            view.deals.c.deal.in_(chunk))
        found.update({row.deal: row.subject for row in conn.execute(query)
                      if row.subject is not None})
    return found


def recorded_json(event: Any, subject: str | None) -> dict[str, Any]:
    """One recorded escalation event: ``kind``, the deal, rule and instance, the step and
    its recipient (steps), the outcome or reason (corrections) and ``occurred_at`` (the
    step's instant for a step, else the timer's clock)."""
    kind = KINDS[type(event)]
    return {
        "kind": kind, "deal": event.deal, "subject": subject, "rule": event.rule,
        "instance": event.instance, "step": getattr(event, "step", None),
        "status": getattr(event, "status", None),
        "recipient": getattr(event, "recipient", None),
        "outcome": getattr(event, "outcome", None) or getattr(event, "reason", None),
        "occurred_at": event.occurred_at.isoformat(),
    }


def recorded_table(at: datetime, judged: int, rows: Sequence[dict[str, Any]]) -> Table:
    """The tick's events, one per row (times in UTC)."""
    table = ReportTable(f"SLA timer tick as of {moment(at, 'UTC')}: {count(judged)} deals "
                        f"judged, {count(len(rows))} events recorded",
                        "event", "deal", "rule, instance", "step", "to / outcome", "at")
    for row in rows:
        who = row["recipient"] or row["status"] if row["kind"] == "step" else row["outcome"]
        table.add_cells(row["kind"], row["subject"] or row["deal"],
                        f"{row['rule']}\n{row['instance']}", row["step"] or NONE,
                        who or NONE, moment(datetime.fromisoformat(row["occurred_at"]), "UTC"))
    return table
