"""The SLA timer: records each breach once as an event in the log, and its correction.

A singleton (``SingletonLock`` named ``sla-timer``). Each :meth:`SlaTimer.tick` takes the time
from its caller (only the loop :meth:`SlaTimer.start` runs reads its clock, the wall clock
unless told otherwise), waits until
the SLA view has applied the log as it stood, evaluates every instance as of that time and
appends:

- ``Escalation.Breached`` for a breached instance with no escalation yet;
- ``Escalation.Corrected`` for an escalated instance that facts arrived since show met (or
  cancelled) in time;
- ``Escalation.Rebreached`` for a corrected instance breached again (an earlier start
  arrived).

Exactly once: each escalation is an aggregate with a deterministic id per (deal, rule,
instance), so a second timer, or this one after a restart with a lagging view, appends the
same aggregate version and the store refuses it (``IntegrityError``): already recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from eventsourcing.persistence import IntegrityError
from sqlalchemy import Engine

from engine.domain.escalation import BREACHED, CORRECTED, Escalation, escalation_id
from engine.store import positions
from engine.store.app import DealflowApplication
from engine.store.follower import Follower
from engine.store.locks import SingletonLock
from projections.report import ReportParams
from projections.runner import ProjectionRunner
from projections.sla.model import SlaInstance
from projections.sla.projection import SlaProjection
from projections.sla.query import instances

__all__ = ["LOCK_NAME", "SlaTimer", "wall_clock"]

log = logging.getLogger(__name__)
LOCK_NAME = "sla-timer"


def wall_clock() -> datetime:
    """The current time, aware UTC: the only clock the timer's loop reads."""
    return datetime.now(UTC)


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
        self.follower = Follower(LOCK_NAME, self._tick_now, lock, idle=interval, full=None)
        self._live: SlaProjection | None = None

    @property
    def lock(self) -> SingletonLock:
        """The timer's singleton lock."""
        return self.follower.lock

    # ------------------------------------------------------------------ ticking
    def tick(self, now: datetime) -> int:
        """Judge every instance as of ``now``; return how many events were appended.

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
        found = self._instances(now)
        new = [i for i in found if i.outcome == "breached" and i.escalation is None]
        appended = self._record_breaches(new, now)
        for i in found:
            ended_in_time = i.outcome in ("met", "cancelled") and i.escalation == BREACHED
            breached_again = i.outcome == "breached" and i.escalation == CORRECTED
            if ended_in_time or breached_again:
                appended += self._update(i, now)
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

    def _instances(self, now: datetime) -> list[SlaInstance]:
        view = self._view()
        with self.view_db.connect() as conn:
            return instances(conn, view, ReportParams(as_of=now))

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

    def _record_breaches(self, new: list[SlaInstance], now: datetime) -> int:
        if not new:
            return 0
        try:
            self.app.save(*[_breach(i, now) for i in new])
            return len(new)
        except IntegrityError:
            pass  # some were recorded meanwhile: record the rest one by one
        appended = 0
        for i in new:
            # Fresh aggregates: a failed save has already taken the pending events.
            try:
                self.app.save(_breach(i, now))
                appended += 1
            except IntegrityError:
                log.debug("breach of %s %s %s already recorded", i.deal, i.rule, i.instance)
        return appended

    def _update(self, i: SlaInstance, now: datetime) -> int:
        # The view may lag the store: decide on the aggregate as stored.
        escalation: Escalation = self.app.repository.get(
            escalation_id(i.deal, i.rule, i.instance))
        if i.outcome == "breached" and escalation.status == CORRECTED:
            escalation.rebreach(started_at=i.started_at, due_at=i.due_at, occurred_at=now)
        elif i.outcome in ("met", "cancelled") and escalation.status == BREACHED:
            ended = i.ended_at or i.cancelled_at
            assert ended is not None  # met and cancelled instances have an end time
            escalation.correct(outcome=i.outcome, started_at=i.started_at, due_at=i.due_at,
                               ended_at=ended, occurred_at=now)
        else:
            return 0
        try:
            self.app.save(escalation)
        except IntegrityError:
            return 0  # another timer recorded the same change first
        return 1


def _breach(i: SlaInstance, now: datetime) -> Escalation:
    return Escalation.breach(deal=i.deal, workflow=i.workflow,
                             workflow_version=i.workflow_version, rule=i.rule,
                             instance=i.instance, started_at=i.started_at, due_at=i.due_at,
                             occurred_at=now)
