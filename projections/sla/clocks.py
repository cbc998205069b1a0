"""Due times: every rule clock's deadline given all the facts recorded so far.

The SLA view keeps one row per clock (deal, rule, instance) with its start, its deadline
(``due_at``) and ``judge_at``, the first instant at which the clock can be breached by the
passing of time alone: one microsecond (the finest step of an instant) after the deadline,
or the deal's opening time when that is later (a deal has no clocks before it is opened,
and an activity may be timed before the opening). The SLA timer finds the clocks it must
judge by an index on ``judge_at`` (see ``docs/sla.md``).

A clock's start is the earliest ``time`` of the facts that start it: a ``first`` rule's
single clock takes the earliest of all its matches, every other clock has one starting fact.
So the rows are a function of the set of facts recorded, the same for any batching, and
equal what evaluation gives as of the end of time.

Each escalation step of a rule (read from the latest version of the workflow by rule
name) adds a row of its own, ``step`` naming it (``manager+9h``; the deadline's row has
``step`` ``""``), judged one microsecond after the step's instant: the timer then records
the step once its clock is strictly past it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from projections.sla.columns import utc_text
from projections.sla.evaluate import due_at, instance_name, starts_clock
from projections.sla.model import SlaFact
from workflows import CompiledWorkflow, SlaRule, StageEntered, WorkflowRegistry
from workflows.escalation import EscalationStep, step_instant

__all__ = ["DueMemo", "DueRow", "DueTimes", "judge_at"]

#: (deal, rule, instance, step, started_at, due_at, judge_at): the due table's columns,
#: times as UTC text; ``step`` is "" for the deadline, else the escalation step's key and
#: ``due_at`` the step's instant.
DueRow = tuple[str, str, str, str, str, str, str]
_STEP = timedelta(microseconds=1)
#: The entries a memo keeps (up to ~1 KB each: a clock and two escalation steps), so a
#: live views process holds at most ~5 MB of them; then it starts afresh.
_MEMO = 5_000
#: A row's times without its deal: (step, started_at, due_at as text, the instant one
#: microsecond after ``due_at``, that instant as text), the judge_at of a deal opened by then.
_Times = tuple[str, str, str, datetime, str]


def judge_at(due: datetime, opened_at: datetime) -> datetime:
    """The first instant ``T`` at which a clock due at ``due`` on a deal opened at
    ``opened_at`` is breached if nothing ends or cancels it: ``T > due`` and ``T >=
    opened_at``."""
    return max(due.astimezone(UTC) + _STEP, opened_at.astimezone(UTC))


class _Rules:
    """One workflow version's SLA rules by name, and the rules a fact may start, looked up
    by its type or the stage it enters (:func:`starts_clock` still decides)."""

    def __init__(self, workflow: CompiledWorkflow) -> None:
        self.workflow = workflow
        self.by_name = {rule.name: rule for rule in workflow.sla_rules}
        #: Rule name -> its escalation steps, from the latest version of the workflow.
        self.steps: dict[str, tuple[EscalationStep, ...]] = {}
        self.by_type: dict[str, list[SlaRule]] = {}
        self.by_stage: dict[str, list[SlaRule]] = {}
        for rule in workflow.sla_rules:
            start = rule.start
            if isinstance(start, StageEntered):
                self.by_stage.setdefault(start.enter_stage, []).append(rule)
            else:
                self.by_type.setdefault(start.fact, []).append(rule)

    def starting(self, fact: SlaFact) -> list[SlaRule]:
        """The rules ``fact`` starts a clock of."""
        found = self.by_type.get(fact.fact_type, [])
        if fact.to_stage is not None:
            found = found + self.by_stage.get(fact.to_stage, [])
        return [rule for rule in found if starts_clock(rule, fact)]


@dataclass(slots=True)
class _Deal:
    rules: _Rules
    opened_at: datetime
    starts: dict[tuple[str, str], datetime] = field(default_factory=dict)


class DueMemo:
    """What one view's due-time maths keeps from batch to batch: each workflow version's
    rules, and the rows' times of recent (rule, start) pairs, which many clocks share
    (facts timed on the hour), whatever their deals' openings (only a deal opened after a
    deadline has a judge_at of its own, its opening). Both are functions of the workflows
    alone, so keeping them changes no row."""

    def __init__(self) -> None:
        """Empty."""
        self.rules: dict[tuple[str, int], _Rules] = {}
        self.times: dict[tuple[str, int, str, datetime], list[_Times]] = {}


class DueTimes:
    """The clocks of some deals, built from their openings, the rows already kept, and new
    facts; :meth:`rows` gives the due rows of the clocks that changed."""

    def __init__(self, workflows: WorkflowRegistry, memo: DueMemo | None = None) -> None:
        """Clocks judged by the rules of ``workflows``; ``memo`` (kept by the view with
        these workflows) carries the maths of earlier batches."""
        self.workflows = workflows
        self.deals: dict[str, _Deal] = {}
        self.changed: set[tuple[str, str, str]] = set()
        self.memo = memo or DueMemo()
        self._rules = self.memo.rules
        self._starters: tuple[set[str], set[str]] | None = None

    def may_start(self, fact: SlaFact) -> bool:
        """Whether ``fact`` could start a clock in some workflow: a fact of a type no rule
        starts on, entering no stage a rule starts on, needs no look at its deal."""
        if self._starters is None:
            types: set[str] = set()
            stages: set[str] = set()
            for workflow in self.workflows:
                for rule in workflow.sla_rules:
                    start = rule.start
                    if isinstance(start, StageEntered):
                        stages.add(start.enter_stage)
                    else:
                        types.add(start.fact)
            self._starters = (types, stages)
        types, stages = self._starters
        return fact.fact_type in types or (fact.to_stage is not None and fact.to_stage in stages)

    def opened(self, deal: str, workflow: str, version: int, opened_at: datetime) -> None:
        """Know ``deal``: its workflow version and its opening time."""
        rules = self._rules.get((workflow, version))
        if rules is None:
            rules = self._rules[(workflow, version)] = _Rules(self.workflows.get(workflow,
                                                                                 version))
            rules.steps = {rule: self.workflows.escalation_steps(workflow, rule)
                           for rule in rules.by_name}
        self.deals[deal] = _Deal(rules, opened_at.astimezone(UTC))

    def kept(self, deal: str, rule: str, instance: str, started_at: datetime) -> None:
        """A clock the view already keeps (not changed unless a fact moves its start)."""
        self.deals[deal].starts[(rule, instance)] = started_at

    def starting(self, deal: str, facts: Iterable[SlaFact]) -> bool:
        """Whether any of ``facts`` starts a clock of ``deal`` (unknown deals: no)."""
        known = self.deals.get(deal)
        return known is not None and any(known.rules.starting(fact) for fact in facts)

    def take(self, deal: str, fact: SlaFact) -> None:
        """Apply one fact of ``deal`` (facts of deals never opened start nothing)."""
        known = self.deals.get(deal)
        if known is None:
            return
        for rule in known.rules.starting(fact):
            key = (rule.name, instance_name(rule, fact))
            started = fact.occurred_at.astimezone(UTC)
            kept = known.starts.get(key)
            if kept is None or started < kept:
                known.starts[key] = started
                self.changed.add((deal, *key))

    def rows(self) -> list[DueRow]:
        """The due rows of the clocks that changed (and of their steps), in key order."""
        return [row for key in sorted(self.changed) for row in self._rows(*key)]

    def every_row(self) -> Iterator[DueRow]:
        """The due row of every clock of every deal held."""
        for deal, known in self.deals.items():
            for rule, instance in known.starts:
                yield from self._rows(deal, rule, instance)

    def _rows(self, deal: str, rule: str, instance: str) -> list[DueRow]:
        known = self.deals[deal]
        started = known.starts[(rule, instance)]
        workflow = known.rules.workflow
        key = (workflow.name, workflow.version, rule, started)
        times = self.memo.times
        found = times.get(key)
        if found is None:
            found = self._times(known, rule, started)
            if len(times) >= _MEMO:
                times.clear()
            times[key] = found
        opened = known.opened_at
        # judge_at(due, opened) is the later of due + 1 us and the opening (in UTC).
        return [(deal, rule, instance, step, start, due,
                 judge if opened <= after else utc_text(opened))
                for step, start, due, after, judge in found]

    @staticmethod
    def _times(known: _Deal, rule: str, started: datetime) -> list[_Times]:
        workflow = known.rules.workflow
        spec = known.rules.by_name[rule]
        due = due_at(spec, workflow.calendar, started)
        start = utc_text(started)
        instants = [("", due)] + [
            (step.key, step_instant(step, due, spec.deadline.basis, workflow.calendar))
            for step in known.rules.steps.get(rule, ())]
        found = []
        for name, at in instants:
            after = at.astimezone(UTC) + _STEP
            found.append((name, start, utc_text(at), after, utc_text(after)))
        return found
