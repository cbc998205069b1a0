"""Reading the SLA view: deal histories from its rows, rule instances as of a time, and the
deals the SLA timer must judge (by the due-time index, and by new facts)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import fields
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Select, select

from engine.domain.ids import rep_id
from engine.store.chunks import lookup_chunks
from projections.report import ReportParams
from projections.sla.evaluate import evaluate_deal
from projections.sla.model import DealHistory, EscalationRecord, SlaFact, SlaInstance, StepRecord
from projections.sla.projection import DUE_FORMAT, DUE_KEY, SlaProjection
from workflows import CompiledWorkflow

__all__ = [
    "deals_due",
    "deals_with_escalations",
    "deals_with_facts_after",
    "due_times_ready",
    "evaluate",
    "evaluate_each",
    "histories",
    "instances",
    "manager_at",
    "rep_profiles",
]

_STREAM = {"yield_per": 5000}
_CHUNK = 500
#: SlaFact's fields, in order (columns of the view's ``facts`` table).
_FACT_FIELDS = [f.name for f in fields(SlaFact)]


def histories(conn: Connection, view: SlaProjection,
              only: Collection[str] | None = None,
              params: ReportParams | None = None, *,
              chunked: bool = False) -> Iterator[DealHistory]:
    """Every deal the view knows (or the deals ``only`` names, by aggregate id), with its
    facts in log order (streamed deal by deal, in order of aggregate id). With ``params``,
    only the deals whose opening counts as of them (opened by ``as_of``, recorded by
    ``known_at``): no other deal has a clock then, so a report's cost follows the deals it
    can show, not the whole log.

    ``chunked``: read every deal ``_CHUNK`` deals at a time (by aggregate id), so memory
    holds one chunk's rows however many deals there are (the /metrics gauges read so);
    otherwise every deal's opening and escalations are read at once (fewer queries)."""
    if only is None and chunked:
        for deals in _deal_chunks(conn, view, params):
            yield from _histories(conn, view, deals, params)
        return
    if only is None:
        yield from _histories(conn, view, None, params)
        return
    ordered = sorted(only)
    for start in range(0, len(ordered), _CHUNK):
        yield from _histories(conn, view, ordered[start:start + _CHUNK], params)


def _deal_chunks(conn: Connection, view: SlaProjection,
                 params: ReportParams | None) -> Iterator[list[str]]:
    """The view's deals (opened as of ``params``), ``_CHUNK`` aggregate ids at a time in
    order (keyset pagination on the primary key)."""
    opened = view.deals
    last: str | None = None
    while True:
        query = select(opened.c.deal).order_by(opened.c.deal).limit(_CHUNK)
        if last is not None:
            query = query.where(opened.c.deal > last)
        if params is not None:
            query = query.where(opened.c.opened_at <= params.as_of)
            if params.known_at is not None:
                query = query.where(opened.c.opened_recorded_at <= params.known_at)
        deals = list(conn.execute(query).scalars())
        if not deals:
            return
        yield deals
        last = deals[-1]


def _histories(conn: Connection, view: SlaProjection, deals: list[str] | None,
               params: ReportParams | None) -> Iterator[DealHistory]:
    opened = view.deals
    # Padded to one of a few counts (engine.store.chunks): the SLA timer asks for the deals
    # due at each tick, a different count each time, and each count would be a statement
    # of its own in the connection's cache.
    keys = None if deals is None else next(lookup_chunks(deals), [])

    def only(query: Select[Any], column: Any) -> Select[Any]:
        if keys is not None:
            query = query.where(column.in_(keys))
        if params is not None:
            if column is not opened.c.deal:
                query = query.join(opened, opened.c.deal == column)
            query = query.where(opened.c.opened_at <= params.as_of)
            if params.known_at is not None:
                query = query.where(opened.c.opened_recorded_at <= params.known_at)
        return query

    openings = {row.deal: row for row in conn.execute(only(select(opened), opened.c.deal))}
    escalations: dict[str, list[EscalationRecord]] = defaultdict(list)
    esc = view.escalations
    for row in conn.execute(only(select(esc), esc.c.deal).order_by(esc.c.position)):
        escalations[row.deal].append(EscalationRecord(
            position=row.position, rule=row.rule, instance=row.instance, status=row.status,
            occurred_at=row.occurred_at, recorded_at=row.recorded_at,
        ))
    steps: dict[str, list[StepRecord]] = defaultdict(list)
    st = view.steps
    for row in conn.execute(only(select(st), st.c.deal).order_by(st.c.position)):
        steps[row.deal].append(StepRecord(
            position=row.position, rule=row.rule, instance=row.instance, step=row.step,
            status=row.status, outcome=row.outcome, recipient=row.recipient, at=row.at,
            occurred_at=row.occurred_at, recorded_at=row.recorded_at,
        ))
    facts = view.facts
    columns = [facts.c.deal, *(facts.c[name] for name in _FACT_FIELDS)]
    rows = conn.execute(only(select(*columns), facts.c.deal)
                        .order_by(facts.c.deal, facts.c.position).execution_options(**_STREAM))
    for deal, group in groupby(rows, key=itemgetter(0)):
        opening = openings.get(deal)
        if opening is None:  # pragma: no cover - every deal's first event is its opening
            continue
        yield DealHistory(
            deal=deal, workflow=opening.workflow, workflow_version=opening.workflow_version,
            account=opening.account, facts=tuple(SlaFact(*row[1:]) for row in group),
            escalations=tuple(escalations.get(deal, ())), subject=opening.subject,
            steps=tuple(steps.get(deal, ())),
        )


def evaluate(view: SlaProjection, found: Iterable[DealHistory],
             params: ReportParams) -> list[SlaInstance]:
    """The instances of the deals ``found`` as of ``params``, sorted by deal, rule, start and
    instance; rules and calendars from the view's workflows (each deal's name and version)."""
    return sorted(evaluate_each(view, found, params), key=lambda i: i.sort_key)


def evaluate_each(view: SlaProjection, found: Iterable[DealHistory],
                  params: ReportParams) -> Iterator[SlaInstance]:
    """The instances of the deals ``found`` as of ``params``, deal by deal as ``found``
    yields them (nothing kept: a caller that only counts holds one deal at a time)."""
    registry = view.workflows
    compiled: dict[tuple[str, int], CompiledWorkflow] = {}
    for history in found:
        key = (history.workflow, history.workflow_version)
        if key not in compiled:
            compiled[key] = registry.get(*key)
        yield from evaluate_deal(history, compiled[key], params)


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
    return evaluate(view, histories(conn, view, only, params), params)


def deals_due(conn: Connection, view: SlaProjection, after: datetime,
              until: datetime) -> set[str]:
    """Deals with a clock whose ``judge_at`` falls in (``after``, ``until``]: the clocks
    that the passing of time alone can have breached in between (the due-time index)."""
    due = view.due
    query = (select(due.c.deal).distinct()
             .where(due.c.judge_at > after, due.c.judge_at <= until))
    return set(conn.execute(query).scalars())


def deals_with_facts_after(conn: Connection, view: SlaProjection, position: int) -> set[str]:
    """Deals with a fact recorded in the log after ``position``."""
    facts = view.facts
    query = select(facts.c.deal).distinct().where(facts.c.position > position)
    return set(conn.execute(query).scalars())


def deals_with_escalations(conn: Connection, view: SlaProjection, position: int,
                           after: datetime, until: datetime) -> set[str]:
    """Deals with an escalation event recorded after ``position`` (by any timer), or timed
    in (``after``, ``until``] (it becomes visible to a judgement as of ``until``)."""
    found: set[str] = set()
    for esc in (view.escalations, view.steps):
        recorded = select(esc.c.deal).distinct().where(esc.c.position > position)
        timed = (select(esc.c.deal).distinct()
                 .where(esc.c.occurred_at > after, esc.c.occurred_at <= until))
        found |= set(conn.execute(recorded).scalars()) | set(conn.execute(timed).scalars())
    return found


#: One ``rep.profile_set`` as the ladder needs it: (time, source, id, manager).
Profile = tuple[datetime, str, str, str | None]


def rep_profiles(conn: Connection, view: SlaProjection, rep: str) -> list[Profile]:
    """Every profile of ``rep`` the view holds, in (time, source, id) order (code points,
    whatever the database's collation)."""
    p = view.profiles
    query = select(p.c.occurred_at, p.c.source, p.c.fact_id, p.c.manager).where(
        p.c.rep == str(rep_id(rep)))
    return sorted((row[0], row[1], row[2], row[3]) for row in conn.execute(query))


def manager_at(profiles: list[Profile], at: datetime) -> tuple[bool, str | None]:
    """(whether a profile is in force at ``at``, that profile's manager): among
    ``profiles`` (:func:`rep_profiles`) with ``time`` at or before ``at``, the last by
    (time, source, id) (CONTRACT 1.1, precise rule 1)."""
    found = [p for p in profiles if p[0] <= at]
    return (False, None) if not found else (True, found[-1][3])


def due_times_ready(conn: Connection, view: SlaProjection) -> bool:
    """Whether the view's due table covers all its facts (tables that predate it are filled
    by the runner's next batch, or by a rebuild)."""
    meta = view.meta
    found = conn.execute(select(meta.c.value).where(meta.c.key == DUE_KEY)).scalar()
    return found == DUE_FORMAT
