"""Reading the SLA view: deal histories from its rows, and rule instances as of a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
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


def histories(conn: Connection, view: SlaProjection,
              only: Collection[str] | None = None) -> Iterator[DealHistory]:
    """Every deal the view knows (or the deals ``only`` names, by aggregate id), with its
    facts in log order (streamed deal by deal)."""
    deal_q, escalation_q = select(view.deals), select(view.escalations)
    facts = view.facts
    columns = [facts.c.deal, *(facts.c[name] for name in _FACT_FIELDS)]
    fact_q = select(*columns)
    if only is not None:
        chosen = sorted(only)
        deal_q = deal_q.where(view.deals.c.deal.in_(chosen))
        escalation_q = escalation_q.where(view.escalations.c.deal.in_(chosen))
        fact_q = fact_q.where(facts.c.deal.in_(chosen))
    deals = {row.deal: row for row in conn.execute(deal_q)}
    escalations: dict[str, list[EscalationRecord]] = defaultdict(list)
    for row in conn.execute(escalation_q.order_by(view.escalations.c.position)):
        escalations[row.deal].append(EscalationRecord(
            position=row.position, rule=row.rule, instance=row.instance, status=row.status,
            occurred_at=row.occurred_at, recorded_at=row.recorded_at,
        ))
    rows = conn.execute(fact_q.order_by(facts.c.deal, facts.c.position)
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
    only: Collection[str] | None = None,
) -> list[SlaInstance]:
    """Every SLA rule instance the view's deals (or the deals ``only`` names) have as of
    ``params``, sorted by deal, rule, start and instance.

    Rules and calendars come from the view's workflows, looked up by each deal's workflow
    name and version.
    """
    registry = view.workflows
    compiled: dict[tuple[str, int], CompiledWorkflow] = {}
    found: list[SlaInstance] = []
    for history in histories(conn, view, only):
        key = (history.workflow, history.workflow_version)
        if key not in compiled:
            compiled[key] = registry.get(*key)
        found.extend(evaluate_deal(history, compiled[key], params))
    found.sort(key=lambda i: i.sort_key)
    return found
