"""Reading the SLA view: deal histories from its rows, and rule instances as of a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import fields
from itertools import groupby
from operator import itemgetter

from sqlalchemy import Connection, select

from projections.report import ReportParams
from projections.sla.evaluate import evaluate_deal
from projections.sla.model import DealHistory, EscalationRecord, SlaFact, SlaInstance
from projections.sla.projection import SlaProjection
from workflows import CompiledWorkflow

__all__ = ["histories", "instances"]

_STREAM = {"yield_per": 5000}
#: SlaFact's fields, in order (columns of the view's ``facts`` table).
_FACT_FIELDS = [f.name for f in fields(SlaFact)]


def histories(conn: Connection, view: SlaProjection) -> Iterator[DealHistory]:
    """Every deal the view knows, with its facts in log order (streamed deal by deal)."""
    deals = {row.deal: row for row in conn.execute(select(view.deals))}
    escalations: dict[str, list[EscalationRecord]] = defaultdict(list)
    for row in conn.execute(select(view.escalations).order_by(view.escalations.c.position)):
        escalations[row.deal].append(EscalationRecord(
            position=row.position, rule=row.rule, instance=row.instance, status=row.status,
            occurred_at=row.occurred_at, recorded_at=row.recorded_at,
        ))
    facts = view.facts
    columns = [facts.c.deal, *(facts.c[name] for name in _FACT_FIELDS)]
    rows = conn.execute(select(*columns).order_by(facts.c.deal, facts.c.position)
                        .execution_options(**_STREAM))
    for deal, group in groupby(rows, key=itemgetter(0)):
        opening = deals.get(deal)
        if opening is None:  # pragma: no cover - every deal's first event is its opening
            continue
        yield DealHistory(
            deal=deal, workflow=opening.workflow, workflow_version=opening.workflow_version,
            account=opening.account, facts=tuple(SlaFact(*row[1:]) for row in group),
            escalations=tuple(escalations.get(deal, ())), subject=opening.subject,
        )


def instances(
    conn: Connection,
    view: SlaProjection,
    params: ReportParams,
) -> list[SlaInstance]:
    """Every SLA rule instance the view's deals have as of ``params``, sorted by deal, rule,
    start and instance.

    Rules and calendars come from the view's workflows, looked up by each deal's workflow
    name and version.
    """
    registry = view.workflows
    compiled: dict[tuple[str, int], CompiledWorkflow] = {}
    found: list[SlaInstance] = []
    for history in histories(conn, view):
        key = (history.workflow, history.workflow_version)
        if key not in compiled:
            compiled[key] = registry.get(*key)
        found.extend(evaluate_deal(history, compiled[key], params))
    found.sort(key=lambda i: i.sort_key)
    return found
