"""The Escalation aggregate: what the SLA timer recorded about one SLA rule instance.

One aggregate per (deal, rule, instance), with a deterministic id (:func:`escalation_id`),
so two timers, or one timer before and after a restart, that both try to record the same
breach append the same aggregate version and the store refuses the second. Its events are
``Breached`` (when the clock passed the deadline with the end not reached), ``Corrected``
(a fact that arrived later shows the rule was met in time, or cancelled) and, rarely,
``Rebreached`` (a still later fact moved the clock's start so that it is breached again).
The escalation ladder (CONTRACT 1.1) adds ``StepRecorded``, once per step of the rule's
ladder (``owner+0h``, ``manager+9h``, ...) when the clock passed the step's instant with the
rule still outstanding, and ``StepCorrected`` when later facts show it was not. Every event
names its deal, rule and instance, so a reader of the log needs no lookup.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

__all__ = [
    "BREACHED",
    "CORRECTED",
    "NOTIFY",
    "NO_MANAGER",
    "NO_OWNER",
    "STEP_CORRECTED",
    "STEP_RECORDED",
    "Escalation",
    "escalation_id",
]

_ESCALATION_NS = UUID("6f1c2b0e-8a4d-4c55-9d0e-5e7a1f0d2c03")

#: Status values of an escalation.
BREACHED = "breached"
CORRECTED = "corrected"
#: States of one escalation step.
STEP_RECORDED = "recorded"
STEP_CORRECTED = "corrected"
#: What a recorded step does: notify its recipient, or say why there is none.
NOTIFY = "notify"
NO_OWNER = "no_owner"
NO_MANAGER = "no_manager"


def escalation_id(deal: str, rule: str, instance: str) -> UUID:
    """The aggregate id of the escalation of ``rule``'s ``instance`` on ``deal``."""
    return uuid5(_ESCALATION_NS, json.dumps([deal, rule, instance]))


class Escalation(Aggregate):
    """The escalation state of one SLA rule instance: ``breached`` or ``corrected``.

    Times: ``occurred_at`` of each event is the timer's clock when it decided (business
    time); the inherited ``timestamp`` is when the event was recorded.
    """

    TOPIC = "dealflow.sla.escalation"

    deal: str
    rule: str
    instance: str
    status: str
    breached_at: datetime
    corrected_at: datetime | None
    #: Step key -> ``recorded`` or ``corrected``.
    steps: dict[str, str]

    def __init__(self) -> None:
        """State is set by :class:`Escalation.Breached`."""

    class Created(Aggregate.Created):
        """Unused: escalations are created by :class:`Escalation.Breached`."""

        TOPIC = "dealflow.sla.escalation.created"

    class Breached(Aggregate.Created):
        """The clock of an SLA rule instance passed its deadline with the end not reached."""

        TOPIC = "dealflow.sla.breached"
        deal: str
        workflow: str
        workflow_version: int
        rule: str
        instance: str
        started_at: datetime
        due_at: datetime
        occurred_at: datetime

        def apply(self, aggregate: Any) -> None:
            """Initial state."""
            escalation: Escalation = aggregate
            escalation.deal = self.deal
            escalation.rule = self.rule
            escalation.instance = self.instance
            escalation.status = BREACHED
            escalation.breached_at = self.occurred_at
            escalation.corrected_at = None
            escalation.steps = {}

    class Corrected(Aggregate.Event):
        """A fact that arrived after the breach shows the instance ended in time.

        ``outcome`` is ``met`` or ``cancelled``; ``ended_at`` is when the end (or the
        cancelling fact) happened.
        """

        TOPIC = "dealflow.sla.corrected"
        deal: str
        rule: str
        instance: str
        outcome: str
        started_at: datetime
        due_at: datetime
        ended_at: datetime
        occurred_at: datetime

        def apply(self, aggregate: Any) -> None:
            """Corrected."""
            aggregate.status = CORRECTED
            aggregate.corrected_at = self.occurred_at

    class Rebreached(Aggregate.Event):
        """After a correction, a later fact (an earlier start) makes the instance breached."""

        TOPIC = "dealflow.sla.rebreached"
        deal: str
        rule: str
        instance: str
        started_at: datetime
        due_at: datetime
        occurred_at: datetime

        def apply(self, aggregate: Any) -> None:
            """Breached again."""
            aggregate.status = BREACHED
            aggregate.corrected_at = None

    class StepRecorded(Aggregate.Event):
        """The clock passed an escalation step's instant with the rule still outstanding.

        ``occurred_at`` is the step's instant (deadline + offset in the rule's clock), not
        when the timer wrote it. ``step`` is its key (``manager+9h``), ``notify`` who it is
        for; ``status`` is ``notify`` with ``recipient`` the rep to tell, or ``no_owner`` /
        ``no_manager`` (``recipient`` None). ``owner`` is the deal's owner at the instant;
        ``deal_subject`` the deal's contract key (``deal`` is its aggregate id, as on the
        breach, so every event of the escalation has one message key).
        """

        TOPIC = "dealflow.sla.escalation_step"
        deal: str
        deal_subject: str | None
        rule: str
        instance: str
        step: str
        notify: str
        status: str
        recipient: str | None
        owner: str | None
        due_at: datetime
        occurred_at: datetime

        def apply(self, aggregate: Any) -> None:
            """The step is recorded."""
            aggregate.steps[self.step] = STEP_RECORDED

    class StepCorrected(Aggregate.Event):
        """Facts that arrived after a step was recorded show that at its instant the rule
        was no longer outstanding: ``reason`` ``ended`` (its end had come), ``lost`` or
        ``cancelled`` (the deal lost, its contract cancelled), at ``ended_at``.
        ``occurred_at`` is the timer's clock when it decided; ``step_at`` the step's
        instant."""

        TOPIC = "dealflow.sla.escalation_step_corrected"
        deal: str
        deal_subject: str | None
        rule: str
        instance: str
        step: str
        reason: str
        ended_at: datetime
        step_at: datetime
        occurred_at: datetime

        def apply(self, aggregate: Any) -> None:
            """The step is corrected."""
            aggregate.steps[self.step] = STEP_CORRECTED

    # ---------------------------------------------------------------- decisions
    @classmethod
    def breach(
        cls,
        *,
        deal: str,
        workflow: str,
        workflow_version: int,
        rule: str,
        instance: str,
        started_at: datetime,
        due_at: datetime,
        occurred_at: datetime,
    ) -> Escalation:
        """Record the breach of ``rule``'s ``instance`` on ``deal``, seen at ``occurred_at``."""
        return cls._create(
            cls.Breached,
            id=escalation_id(deal, rule, instance),
            deal=deal,
            workflow=workflow,
            workflow_version=workflow_version,
            rule=rule,
            instance=instance,
            started_at=started_at,
            due_at=due_at,
            occurred_at=occurred_at,
        )

    def correct(
        self,
        *,
        outcome: str,
        started_at: datetime,
        due_at: datetime,
        ended_at: datetime,
        occurred_at: datetime,
    ) -> None:
        """Record that the instance ended in time after all (``met`` or ``cancelled``)."""
        if self.status != BREACHED:
            raise ValueError(f"escalation {self.id} is {self.status}, not {BREACHED}")
        if outcome not in ("met", "cancelled"):
            raise ValueError(f"a correction's outcome is met or cancelled, not {outcome!r}")
        self.trigger_event(self.Corrected, deal=self.deal, rule=self.rule,
                           instance=self.instance, outcome=outcome, started_at=started_at,
                           due_at=due_at, ended_at=ended_at, occurred_at=occurred_at)

    def rebreach(self, *, started_at: datetime, due_at: datetime, occurred_at: datetime) -> None:
        """Record that a corrected instance is breached again."""
        if self.status != CORRECTED:
            raise ValueError(f"escalation {self.id} is {self.status}, not {CORRECTED}")
        self.trigger_event(self.Rebreached, deal=self.deal, rule=self.rule,
                           instance=self.instance, started_at=started_at, due_at=due_at,
                           occurred_at=occurred_at)

    def record_step(
        self,
        *,
        subject: str | None,
        step: str,
        notify: str,
        recipient: str | None,
        status: str,
        owner: str | None,
        due_at: datetime,
        at: datetime,
    ) -> bool:
        """Record escalation step ``step`` at its instant ``at``; False (nothing recorded)
        when it already was."""
        if step in self.steps:
            return False
        if status not in (NOTIFY, NO_OWNER, NO_MANAGER):
            raise ValueError(f"a step's status is notify, no_owner or no_manager, not {status!r}")
        if (status == NOTIFY) != (recipient is not None):
            raise ValueError("a step notifies a recipient exactly when its status is notify")
        self.trigger_event(self.StepRecorded, deal=self.deal, deal_subject=subject, rule=self.rule,
                           instance=self.instance, step=step, notify=notify, status=status,
                           recipient=recipient, owner=owner, due_at=due_at, occurred_at=at)
        return True

    def correct_step(self, *, subject: str | None, step: str, reason: str,
                     ended_at: datetime, step_at: datetime, occurred_at: datetime) -> bool:
        """Record that step ``step`` should not have been taken; False when it is not a
        recorded, uncorrected step."""
        if self.steps.get(step) != STEP_RECORDED:
            return False
        if reason not in ("ended", "lost", "cancelled"):
            raise ValueError(f"a step correction's reason is ended, lost or cancelled, "
                             f"not {reason!r}")
        self.trigger_event(self.StepCorrected, deal=self.deal, deal_subject=subject, rule=self.rule,
                           instance=self.instance, step=step, reason=reason,
                           ended_at=ended_at, step_at=step_at, occurred_at=occurred_at)
        return True
