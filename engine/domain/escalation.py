"""The Escalation aggregate: what the SLA timer recorded about one SLA rule instance.

One aggregate per (deal, rule, instance), with a deterministic id (:func:`escalation_id`),
so two timers, or one timer before and after a restart, that both try to record the same
breach append the same aggregate version and the store refuses the second. Its events are
``Breached`` (when the clock passed the deadline with the end not reached), ``Corrected``
(a fact that arrived later shows the rule was met in time, or cancelled) and, rarely,
``Rebreached`` (a still later fact moved the clock's start so that it is breached again).
Every event names its deal, rule and instance, so a reader of the log needs no lookup.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

__all__ = ["BREACHED", "CORRECTED", "Escalation", "escalation_id"]

_ESCALATION_NS = UUID("6f1c2b0e-8a4d-4c55-9d0e-5e7a1f0d2c03")

#: Status values of an escalation.
BREACHED = "breached"
CORRECTED = "corrected"


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
