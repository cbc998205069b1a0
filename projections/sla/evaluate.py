"""SLA evaluation: a pure function from one deal's kept facts to its rule instances.

Judged by the facts' ``time`` (never by arrival), as of ``params.as_of`` and, when given,
only from what was recorded by ``params.known_at``. See ``docs/sla.md`` for every rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from engine.domain.escalation import BREACHED, CORRECTED, STEP_CORRECTED, STEP_RECORDED
from projections.report import ReportParams
from projections.sla.model import (
    DealHistory,
    EscalationRecord,
    Outcome,
    SlaFact,
    SlaInstance,
    StepRecord,
    StepState,
)
from workflows import BusinessCalendar, CompiledWorkflow, SlaRule, StageEntered, StageLeft

__all__ = ["OWNER_FACTS", "due_at", "evaluate_deal", "instance_name", "owner_at",
           "starts_clock"]

#: The facts that set a deal's owner (None included: opened or routed unassigned).
OWNER_FACTS = frozenset({"deal.opened", "deal.routed", "deal.reassigned"})

#: Cancelling facts that leave the deal closed: one before a clock starts cancels it at its
#: start, unless (for ``deal.lost``) a ``deal.reopened`` came between.
_LASTING = frozenset({"deal.lost", "contract.cancelled"})
_REOPENED = "deal.reopened"
_MICROS_PER_HOUR = Decimal(3_600_000_000)


def due_at(rule: SlaRule, calendar: BusinessCalendar, start: datetime) -> datetime:
    """The deadline of a clock started at ``start`` (aware UTC).

    Business deadlines count the calendar's working hours only; calendar deadlines are
    elapsed time (a day is 24 hours, whatever the zone's clocks do).
    """
    if rule.deadline.basis == "business":
        return calendar.add_business_hours(start, rule.deadline.hours)
    micros = int((rule.deadline.hours * _MICROS_PER_HOUR).to_integral_value(ROUND_CEILING))
    return start.astimezone(UTC) + timedelta(microseconds=micros)


def starts_clock(rule: SlaRule, fact: SlaFact) -> bool:
    """Whether ``fact`` starts a clock of ``rule`` (entering its stage, or a matching fact)."""
    start = rule.start
    if isinstance(start, StageEntered):
        return fact.to_stage == start.enter_stage
    return start.matches(fact.fact_type, fact.kind, fact.purpose)


def instance_name(rule: SlaRule, fact: SlaFact) -> str:
    """The name of the clock ``fact`` starts: ``first`` for a ``first`` rule, else the
    fact's ``source/id``."""
    return "first" if rule.first else fact.key


def evaluate_deal(
    history: DealHistory, workflow: CompiledWorkflow, params: ReportParams,
    only: str | None = None,
) -> list[SlaInstance]:
    """Every instance of ``workflow``'s SLA rules (``only``: of that rule) on this deal, as
    of ``params``."""
    visible = [f for f in history.facts if params.visible(f.occurred_at, f.recorded_at)]
    if not any(f.fact_type == "deal.opened" for f in visible):
        return []
    escalations = _escalations(history.escalations, params)
    steps = _steps(history.steps, params)
    owner = owner_at(visible)
    found: list[SlaInstance] = []
    for rule in workflow.sla_rules:
        if only is not None and rule.name != only:
            continue
        for key, start in _starts(rule, visible):
            started = start.occurred_at.astimezone(UTC)
            due = due_at(rule, workflow.calendar, started)
            end = _end(rule, start, started, history.facts, visible, params)
            cancel = _cancelled_at(rule, started, visible)
            outcome, ended_at = _judge(end, cancel, due, params.now)
            status, escalated_at, corrected_at = escalations.get((rule.name, key), (None,) * 3)
            found.append(SlaInstance(
                deal=history.deal, account=history.account, owner=owner,
                workflow=history.workflow, workflow_version=history.workflow_version,
                rule=rule.name, instance=key, started_at=started, due_at=due,
                outcome=outcome, ended_at=ended_at,
                cancelled_at=cancel if ended_at is None else None,
                escalation=status, escalated_at=escalated_at, corrected_at=corrected_at,
                timezone=workflow.calendar.timezone, subject=history.subject,
                steps=steps.get((rule.name, key), ()),
            ))
    found.sort(key=lambda i: i.sort_key)
    return found


def _judge(
    end: datetime | None, cancel: datetime | None, due: datetime, now: datetime
) -> tuple[Outcome, datetime | None]:
    # Whichever of end and cancel came first decides; a tie goes to the end (it is reached
    # at that instant). Exactly at the deadline is still in time.
    if end is not None and (cancel is None or end <= cancel):
        return ("met" if end <= due else "breached"), end
    if cancel is not None:
        return ("cancelled" if cancel <= due else "breached"), None
    return ("breached" if now > due else "open"), None


def _time_key(fact: SlaFact) -> tuple[datetime, str, str]:
    # Ties in time are broken by identity, never by arrival.
    return (fact.occurred_at, fact.source, fact.fact_id)


def _starts(rule: SlaRule, facts: Sequence[SlaFact]) -> list[tuple[str, SlaFact]]:
    matches = [f for f in facts if starts_clock(rule, f)]
    if rule.first:
        return [("first", min(matches, key=_time_key))] if matches else []
    return [(instance_name(rule, f), f) for f in matches]


def _end(
    rule: SlaRule,
    start: SlaFact,
    started: datetime,
    every: Sequence[SlaFact],
    visible: Sequence[SlaFact],
    params: ReportParams,
) -> datetime | None:
    end = rule.end
    if (isinstance(end, StageLeft) and isinstance(rule.start, StageEntered)
            and end.leave_stage == rule.start.enter_stage):
        # A dwell: the stay that this entry began ends with the next move out of the stage
        # in the log (stages are judged in arrival order), if that move is visible.
        for fact in every:
            if fact.position > start.position and fact.from_stage == end.leave_stage:
                visible_now = params.visible(fact.occurred_at, fact.recorded_at)
                return fact.occurred_at.astimezone(UTC) if visible_now else None
        return None
    if isinstance(end, StageLeft):
        ends = [f for f in visible if f.from_stage == end.leave_stage]
    else:
        ends = [f for f in visible if end.matches(f.fact_type, f.kind, f.purpose)]
    times = [f.occurred_at for f in ends
             if not rule.end_at_or_after_start or f.occurred_at >= started]
    return min(times).astimezone(UTC) if times else None


def _cancelled_at(rule: SlaRule, started: datetime, facts: Sequence[SlaFact]) -> datetime | None:
    reopens = [f.occurred_at for f in facts if f.fact_type == _REOPENED]
    found: list[datetime] = []
    for fact in facts:
        if fact.fact_type not in rule.cancelled_by:
            continue
        at = fact.occurred_at
        if at >= started:
            found.append(at)
        elif fact.fact_type in _LASTING and not (
            fact.fact_type == "deal.lost" and any(at <= r <= started for r in reopens)
        ):
            found.append(started)  # the deal was already closed when the clock started
    return min(found).astimezone(UTC) if found else None


def owner_at(facts: Sequence[SlaFact], instant: datetime | None = None) -> str | None:
    """The deal's owner by its facts (those timed at or before ``instant``, if given):
    opened with, routed to, reassigned to, folded in order of ``time`` then log position;
    None when it has none (opened unassigned and not reassigned since)."""
    owned = [f for f in facts if f.fact_type in OWNER_FACTS
             and (instant is None or f.occurred_at <= instant)]
    return max(owned, key=lambda f: (f.occurred_at, f.position)).owner if owned else None


def _steps(records: Sequence[StepRecord], params: ReportParams
           ) -> dict[tuple[str, str], tuple[StepState, ...]]:
    """Each instance's escalation steps as known by ``params``, by step key."""
    state: dict[tuple[str, str], dict[str, StepState]] = {}
    for record in sorted(records, key=lambda r: r.position):
        if not params.visible(record.occurred_at, record.recorded_at):
            continue
        steps = state.setdefault((record.rule, record.instance), {})
        if record.status == STEP_RECORDED:
            steps[record.step] = StepState(record.step, STEP_RECORDED, record.outcome,
                                           record.recipient, record.at)
        elif record.status == STEP_CORRECTED and record.step in steps:
            kept = steps[record.step]
            steps[record.step] = StepState(kept.step, STEP_CORRECTED, kept.outcome,
                                           kept.recipient, kept.at, record.occurred_at,
                                           record.outcome)
    return {key: tuple(sorted(steps.values(), key=lambda s: (s.at, s.step)))
            for key, steps in state.items()}


def _escalations(
    records: Sequence[EscalationRecord], params: ReportParams
) -> dict[tuple[str, str], tuple[str, datetime | None, datetime | None]]:
    state: dict[tuple[str, str], tuple[str, datetime | None, datetime | None]] = {}
    for record in sorted(records, key=lambda r: r.position):
        if not params.visible(record.occurred_at, record.recorded_at):
            continue
        key = (record.rule, record.instance)
        _, first, _ = state.get(key, (None, None, None))
        if record.status == BREACHED:
            state[key] = (BREACHED, first or record.occurred_at, None)
        elif record.status == CORRECTED:
            state[key] = (CORRECTED, first, record.occurred_at)
    return state
