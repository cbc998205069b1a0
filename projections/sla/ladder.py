"""The escalation ladder's decisions: which steps the SLA timer records, and which it
corrects, for one deal as of the timer's clock (CONTRACT 1.1, precise rule 5).

A step of a rule instance falls at the deadline plus its offset in the rule's clock
(:func:`workflows.escalation.step_instant`). The timer records it once its clock is strictly
past that instant, and only if, counting the facts whose ``time`` is at or before the
instant, the rule's end has not come, the deal is not lost and its contract not cancelled.
A recorded step is corrected when facts that arrived later show that, at its instant, one
of those had happened. Pure functions of the deal's kept facts and the times given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from engine.domain.escalation import STEP_RECORDED
from projections.report import ReportParams
from projections.sla.evaluate import evaluate_deal, owner_at
from projections.sla.model import DealHistory, SlaFact, SlaInstance
from workflows import CompiledWorkflow
from workflows.escalation import EscalationStep, step_instant

__all__ = ["StepDue", "StepUndone", "judge_ladder", "why_not_outstanding"]

#: A rule name -> its escalation steps (from the latest version of the deal's workflow).
Steps = Callable[[str], tuple[EscalationStep, ...]]


@dataclass(frozen=True, slots=True)
class StepDue:
    """A step to record: ``at`` its instant, ``owner`` the deal's owner then."""

    instance: SlaInstance
    step: EscalationStep
    at: datetime
    owner: str | None


@dataclass(frozen=True, slots=True)
class StepUndone:
    """A recorded step to correct: at its instant ``at`` the rule was no longer outstanding
    (``reason`` ``ended``, ``lost`` or ``cancelled``, since ``ended_at``)."""

    instance: SlaInstance
    step: str
    at: datetime
    reason: str
    ended_at: datetime


def judge_ladder(history: DealHistory, workflow: CompiledWorkflow, steps: Steps,
                 found: Sequence[SlaInstance], now: datetime
                 ) -> tuple[list[StepDue], list[StepUndone]]:
    """The steps of ``found`` (this deal's instances as of ``now``, with the steps already
    recorded) to record and to correct as of ``now``."""
    due: list[StepDue] = []
    undone: list[StepUndone] = []
    rules = {rule.name: rule for rule in workflow.sla_rules}
    for i in found:
        rule = rules.get(i.rule)
        if rule is None:  # pragma: no cover - instances come from these rules
            continue
        recorded = {s.step: s for s in i.steps}
        for step in steps(i.rule):
            if step.key in recorded:
                continue
            at = step_instant(step, i.due_at, rule.deadline.basis, workflow.calendar)
            if now > at and why_not_outstanding(history, workflow, i, at) is None:
                due.append(StepDue(i, step, at, owner_at(history.facts, at)))
        for state in i.steps:
            if state.status != STEP_RECORDED:
                continue
            why = why_not_outstanding(history, workflow, i, state.at)
            if why is not None:
                undone.append(StepUndone(i, state.step, state.at, *why))
    return due, undone


def why_not_outstanding(history: DealHistory, workflow: CompiledWorkflow, i: SlaInstance,
                        at: datetime) -> tuple[str, datetime] | None:
    """None when instance ``i`` was outstanding at ``at`` counting the facts timed at or
    before it; else why not (``ended``, ``lost``, ``cancelled``) and since when."""
    visible = [f for f in history.facts if f.occurred_at <= at]
    cancelled = [f.occurred_at for f in visible if f.fact_type == "contract.cancelled"]
    if cancelled:
        return "cancelled", min(cancelled)
    lost = _lost_since(visible)
    if lost is not None:
        return "lost", lost
    for then in evaluate_deal(history, workflow, ReportParams(as_of=at), only=i.rule):
        if (then.rule, then.instance) != (i.rule, i.instance):
            continue
        if then.ended_at is not None:
            return "ended", then.ended_at
        if then.cancelled_at is not None:
            return "cancelled", then.cancelled_at
        return None
    return None  # pragma: no cover - the instance's start is before its deadline


def _lost_since(facts: Sequence[SlaFact]) -> datetime | None:
    """When the deal was lost and not reopened since, by ``time`` (ties: log order)."""
    moves = sorted((f for f in facts if f.fact_type in ("deal.lost", "deal.reopened")),
                   key=lambda f: (f.occurred_at, f.position))
    if moves and moves[-1].fact_type == "deal.lost":
        return moves[-1].occurred_at
    return None
