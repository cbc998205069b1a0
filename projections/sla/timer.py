"""The SLA timer: records each breach once as an event in the log, and its correction.

A singleton (``SingletonLock`` named ``sla-timer``). Each :meth:`SlaTimer.tick` takes the time
from its caller (only the loop :meth:`SlaTimer.start` runs reads its clock, the wall clock
unless told otherwise), waits until the SLA view has applied the log as it stood, judges as
of that time the deals that may have changed since the last tick, and appends:

- ``Escalation.Breached`` for a breached instance with no escalation yet;
- ``Escalation.Corrected`` for an escalated instance that facts arrived since show met (or
  cancelled) in time;
- ``Escalation.Rebreached`` for a corrected instance breached again (an earlier start
  arrived);
- ``Escalation.StepRecorded`` for each step of the rule's escalation ladder whose instant
  the clock passed with the rule still outstanding then, and ``Escalation.StepCorrected``
  for a recorded step that facts arrived since show was not due
  (:mod:`projections.sla.ladder`). Steps have due rows of their own, so the due-time
  index finds them as it finds deadlines.

Which deals may judge differently than at the last tick (``judged_at``, view ``position``,
kept in :mod:`projections.sla.progress`, so a restart continues): those with a clock that
time alone breached since, found by the view's index on ``judge_at`` in (``judged_at``,
now]; with a fact recorded after ``position`` (a late end, an earlier start, a new clock
already past its deadline); or with an escalation recorded after ``position`` or timed in
the window. Nothing else can change what a full pass would append (``docs/sla.md`` gives
the argument). The first tick, a tick whose time is before the last judged one, and a view
whose due table is not filled yet judge every deal.

Exactly once: each escalation is an aggregate with a deterministic id per (deal, rule,
instance), so a second timer, or this one after a restart with a lagging view, appends the
same aggregate version and the store refuses it (``IntegrityError``): already recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from sqlalchemy import Connection, Engine

from engine.domain.escalation import (
    BREACHED,
    CORRECTED,
    NO_MANAGER,
    NO_OWNER,
    NOTIFY,
    Escalation,
    escalation_id,
)
from engine.store import positions
from engine.store.app import DealflowApplication
from engine.store.follower import Follower
from engine.store.locks import SingletonLock
from projections.report import ReportParams
from projections.runner import ProjectionRunner
from projections.sla import progress
from projections.sla.evaluate import evaluate_deal
from projections.sla.ladder import StepDue, StepUndone, judge_ladder
from projections.sla.model import DealHistory, SlaInstance
from projections.sla.progress import TimerProgress
from projections.sla.projection import SlaProjection
from projections.sla.query import (
    Profile,
    deals_due,
    deals_with_escalations,
    deals_with_facts_after,
    due_times_ready,
    histories,
    manager_at,
    rep_profiles,
)
from workflows import CompiledWorkflow

__all__ = ["LOCK_NAME", "SlaTimer", "wall_clock"]

log = logging.getLogger(__name__)
LOCK_NAME = "sla-timer"


def wall_clock() -> datetime:
    """The current time, aware UTC: the only clock the timer's loop reads."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Step:
    """A ladder step to record, with its recipient resolved."""

    due: StepDue
    status: str
    recipient: str | None


@dataclass
class _Judged:
    """What one tick found: every judged instance, the steps to record and to correct."""

    instances: list[SlaInstance] = field(default_factory=list)
    steps: list[_Step] = field(default_factory=list)
    undone: list[StepUndone] = field(default_factory=list)

    def changes_of(self) -> dict[tuple[str, str, str], tuple[list[_Step], list[StepUndone]]]:
        """Steps to record and to correct, by (deal, rule, instance)."""
        found: dict[tuple[str, str, str], tuple[list[_Step], list[StepUndone]]] = {}
        for step in self.steps:
            i = step.due.instance
            found.setdefault((i.deal, i.rule, i.instance), ([], []))[0].append(step)
        for undone in self.undone:
            i = undone.instance
            found.setdefault((i.deal, i.rule, i.instance), ([], []))[1].append(undone)
        return found


class SlaTimer:
    """Appends escalation events for SLA instances as the clock passes their deadlines.

    ``view`` is the SLA view as configured by ``bootstrap`` (its workflows give the rules);
    ``runner`` (optional) is a projection runner that includes it: the timer uses its
    ``wait`` to bring the view up to the log's head before judging. Without one, another
    process is expected to run the views and the timer polls the view's position.
    """

    def __init__(
        self,
        app: DealflowApplication,
        view: SlaProjection,
        sql: Engine,
        lock: SingletonLock,
        *,
        runner: ProjectionRunner | None = None,
        sync_timeout: float = 10.0,
        interval: float = 30.0,
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        """Prepare (the view's position row is created if missing); nothing is locked yet.

        :meth:`start` ticks every ``interval`` seconds on ``clock`` in a background thread.
        """
        self.app = app
        self.view = view
        self.runner = runner
        self.view_db = sql
        self.sync_timeout = sync_timeout
        self.clock = clock
        positions.ensure(self.view_db, [SlaProjection.name])
        progress.ensure(self.view_db)
        #: How many deals the last tick evaluated (every deal on a full pass).
        self.judged_deals = 0
        #: The events the last tick appended, in order (``dealflow sla tick`` prints them).
        self.appended: list[Any] = []
        self.follower = Follower(LOCK_NAME, self._tick_now, lock, idle=interval, full=None)
        self._live: SlaProjection | None = None

    @property
    def lock(self) -> SingletonLock:
        """The timer's singleton lock."""
        return self.follower.lock

    # ------------------------------------------------------------------ ticking
    def tick(self, now: datetime) -> int:
        """Judge as of ``now`` every instance that may have changed since the last tick (all
        of them the first time); return how many events were appended.

        Does nothing (returns 0) when another timer holds the lock, or when the SLA view
        did not reach the log's head within ``sync_timeout`` seconds. ``now`` must be aware.
        """
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"the SLA timer needs an aware time, got {now.isoformat()}")
        if not self.lock.acquire():
            return 0
        return self._judge(now)

    def _tick_now(self) -> int:
        return self._judge(self.clock())

    def _judge(self, now: datetime) -> int:
        if not self._sync():
            log.warning("SLA view behind the log for %.1fs; skipping this tick",
                        self.sync_timeout)
            return 0
        return self.escalate(now)

    def escalate(self, now: datetime) -> int:
        """The work of :meth:`tick` without lock or sync (safe anyway: ids are deterministic)."""
        view = self._view()
        self.appended = []
        with self.view_db.connect() as conn:
            # Read before the rows: facts applied meanwhile are judged again next time.
            position = int(positions.rows(conn)[view.name]["position"])
            last = progress.read(conn, view.name)
            deals = self._changed_deals(conn, view, last, now)
            judged = self._judge_deals(conn, view, now, deals)
        changes = judged.changes_of()
        new = [i for i in judged.instances if i.outcome == "breached" and i.escalation is None]
        appended = self._record_breaches(new, now, changes)
        fresh = {(i.deal, i.rule, i.instance) for i in new}
        for i in judged.instances:
            key = (i.deal, i.rule, i.instance)
            ended_in_time = i.outcome in ("met", "cancelled") and i.escalation == BREACHED
            breached_again = i.outcome == "breached" and i.escalation == CORRECTED
            if (ended_in_time or breached_again or key in changes) and key not in fresh:
                appended += self._update(i, now, *changes.get(key, ([], [])))
        if last is None or now >= last.judged_at:
            # A clock set back judges everything as of its time but moves nothing: the
            # next tick still owes every change since the last judged instant and position.
            with self.view_db.begin() as conn:
                progress.write(conn, view.name, TimerProgress(now, position))
        return appended

    def start(self) -> None:
        """Tick on the clock every ``interval`` seconds in a background thread."""
        self.follower.start()

    def stop(self) -> None:
        """Stop ticking and release the singleton lock (another timer may take over)."""
        self.follower.stop()

    # ------------------------------------------------------------------ helpers
    def _view(self) -> SlaProjection:
        with self.view_db.connect() as conn:
            generation = positions.rows(conn)[SlaProjection.name]["generation"]
        if self._live is None or self._live.generation != generation:
            view = self.view.in_generation(generation)
            view.metadata.create_all(self.view_db, checkfirst=True)
            self._live = view
        return self._live

    def _changed_deals(self, conn: Connection, view: SlaProjection,
                       last: TimerProgress | None, now: datetime) -> set[str] | None:
        """The deals whose judgement may differ from the last tick's (None: every deal)."""
        if last is None or now < last.judged_at or not due_times_ready(conn, view):
            return None
        return (deals_due(conn, view, last.judged_at, now)
                | deals_with_facts_after(conn, view, last.position)
                | deals_with_escalations(conn, view, last.position, last.judged_at, now))

    def _judge_deals(self, conn: Connection, view: SlaProjection, now: datetime,
                     deals: Collection[str] | None) -> _Judged:
        self.judged_deals = 0
        registry = view.workflows
        compiled: dict[tuple[str, int], CompiledWorkflow] = {}
        judged = _Judged()
        params = ReportParams(as_of=now)
        profiles: dict[str, list[Profile]] = {}  # each owner's profiles, read once a tick
        for history in self._counted(histories(conn, view, deals)):
            key = (history.workflow, history.workflow_version)
            if key not in compiled:
                compiled[key] = registry.get(*key)
            found = evaluate_deal(history, compiled[key], params)
            judged.instances.extend(found)
            if not any(i.outcome == "breached" or i.steps for i in found):
                continue  # nothing to escalate, no step recorded to correct

            def steps(rule: str, workflow: str = history.workflow) -> Any:
                return registry.escalation_steps(workflow, rule)

            due, undone = judge_ladder(history, compiled[key], steps, found, now)
            judged.steps += [_recipient(conn, view, d, profiles) for d in due]
            judged.undone += undone
        judged.instances.sort(key=lambda i: i.sort_key)
        return judged

    def _counted(self, found: Iterable[DealHistory]) -> Iterator[DealHistory]:
        for history in found:
            self.judged_deals += 1
            yield history

    def _sync(self) -> bool:
        head = int(self.app.recorder.max_notification_id() or 0)
        if self.runner is not None:
            return self.runner.wait(head, timeout=self.sync_timeout)
        deadline = time.monotonic() + self.sync_timeout
        while True:
            with self.view_db.connect() as conn:
                position = int(positions.rows(conn)[SlaProjection.name]["position"])
            if position >= head:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def _record_breaches(
        self, new: list[SlaInstance], now: datetime,
        changes: dict[tuple[str, str, str], tuple[list[_Step], list[StepUndone]]],
    ) -> int:
        """New escalations, each with the ladder steps already due (one save for all)."""
        if not new:
            return 0

        def fresh(i: SlaInstance) -> Escalation:
            escalation = _breach(i, now)
            for step in changes.get((i.deal, i.rule, i.instance), ([], []))[0]:
                _record_step(escalation, step)
            return escalation

        made = [fresh(i) for i in new]
        pending = [e for escalation in made for e in escalation.pending_events]
        try:
            self.app.save(*made)
            self.appended += pending
            return len(pending)
        except IntegrityError:
            pass  # some were recorded meanwhile: record the rest one by one
        appended = 0
        for i in new:
            # Fresh aggregates: a failed save has already taken the pending events.
            escalation = fresh(i)
            pending = list(escalation.pending_events)
            try:
                self.app.save(escalation)
                self.appended += pending
                appended += len(pending)
            except IntegrityError:
                log.debug("breach of %s %s %s already recorded", i.deal, i.rule, i.instance)
        return appended

    def _update(self, i: SlaInstance, now: datetime, steps: list[_Step],
                undone: list[StepUndone]) -> int:
        # The view may lag the store: decide on the aggregate as stored.
        try:
            escalation: Escalation = self.app.repository.get(
                escalation_id(i.deal, i.rule, i.instance))
        except AggregateNotFoundError:
            return 0  # not breached yet as far as the store knows: a later tick decides
        if i.outcome == "breached" and escalation.status == CORRECTED:
            escalation.rebreach(started_at=i.started_at, due_at=i.due_at, occurred_at=now)
        elif i.outcome in ("met", "cancelled") and escalation.status == BREACHED:
            ended = i.ended_at or i.cancelled_at
            assert ended is not None  # met and cancelled instances have an end time
            escalation.correct(outcome=i.outcome, started_at=i.started_at, due_at=i.due_at,
                               ended_at=ended, occurred_at=now)
        if escalation.status == BREACHED:
            for step in steps:
                _record_step(escalation, step)
        for u in undone:
            escalation.correct_step(subject=i.subject, step=u.step, reason=u.reason,
                                    ended_at=u.ended_at, step_at=u.at, occurred_at=now)
        pending = list(escalation.pending_events)
        if not pending:
            return 0
        try:
            self.app.save(escalation)
        except IntegrityError:
            return 0  # another timer recorded a change first: the next tick decides again
        self.appended += pending
        return len(pending)


def _breach(i: SlaInstance, now: datetime) -> Escalation:
    return Escalation.breach(deal=i.deal, workflow=i.workflow,
                             workflow_version=i.workflow_version, rule=i.rule,
                             instance=i.instance, started_at=i.started_at, due_at=i.due_at,
                             occurred_at=now)


def _recipient(conn: Connection, view: SlaProjection, due: StepDue,
               profiles: dict[str, list[Profile]]) -> _Step:
    """Who a step notifies: the owner at its instant, or that owner's manager by the
    profile in force at the deadline (``no_owner`` / ``no_manager`` when none)."""
    if due.step.notify == "owner":
        if due.owner is None:
            return _Step(due, NO_OWNER, None)
        return _Step(due, NOTIFY, due.owner)
    if due.owner is None:
        return _Step(due, NO_MANAGER, None)
    if due.owner not in profiles:
        profiles[due.owner] = rep_profiles(conn, view, due.owner)
    _, manager = manager_at(profiles[due.owner], due.instance.due_at)
    return _Step(due, NO_MANAGER, None) if manager is None else _Step(due, NOTIFY, manager)


def _record_step(escalation: Escalation, step: _Step) -> None:
    due = step.due
    escalation.record_step(subject=due.instance.subject, step=due.step.key,
                           notify=due.step.notify, recipient=step.recipient,
                           status=step.status, owner=due.owner, due_at=due.instance.due_at,
                           at=due.at)
