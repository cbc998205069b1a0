"""The SLA view's values: what is kept per deal, and the rule instances computed from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = [
    "DealHistory",
    "EscalationRecord",
    "Outcome",
    "SlaFact",
    "SlaInstance",
    "StepRecord",
    "StepState",
]

Outcome = Literal["met", "breached", "open", "cancelled"]


@dataclass(frozen=True, slots=True)
class SlaFact:
    """One accepted deal fact, as SLA evaluation needs it.

    ``fact_type`` is the contract type (``activity.logged``, ``deal.registration_approved``,
    ...; ``deal.routed`` for the engine's routing decision). Stage moves carry
    ``from_stage``/``to_stage`` (``deal.opened`` has only ``to_stage``); activities
    ``kind``/``purpose``; ``deal.opened``, ``deal.routed`` and ``deal.reassigned`` the new
    ``owner`` (None: unassigned). ``position`` is the event's place in the log (arrival
    order).
    """

    position: int
    fact_type: str
    source: str
    fact_id: str
    occurred_at: datetime
    recorded_at: datetime
    kind: str | None = None
    purpose: str | None = None
    from_stage: str | None = None
    to_stage: str | None = None
    owner: str | None = None

    @property
    def key(self) -> str:
        """The fact's identity, ``source/id``: the same however and whenever it arrived."""
        return f"{self.source}/{self.fact_id}"

    @property
    def is_move(self) -> bool:
        """Whether the fact moved the deal between stages."""
        return self.to_stage is not None or self.from_stage is not None


@dataclass(frozen=True, slots=True)
class EscalationRecord:
    """One escalation event of the SLA timer, as the view keeps it.

    ``status`` is ``breached`` (``Breached``/``Rebreached``) or ``corrected``.
    """

    position: int
    rule: str
    instance: str
    status: str
    occurred_at: datetime
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One escalation-step event of the SLA timer, as the view keeps it.

    ``status`` is ``recorded`` or ``corrected``; ``outcome`` what a recorded step does
    (``notify``, ``no_owner``, ``no_manager``) or why a correction undid it (``ended``,
    ``lost``, ``cancelled``); ``at`` the step's instant; ``occurred_at`` the event's
    business time (the step's instant when recorded, the timer's clock when corrected).
    """

    position: int
    rule: str
    instance: str
    step: str
    status: str
    outcome: str
    recipient: str | None
    at: datetime
    occurred_at: datetime
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class StepState:
    """An escalation step of one instance as of a report's times: ``status`` ``recorded``
    or ``corrected``, ``outcome`` and ``recipient`` as recorded, ``at`` its instant,
    ``corrected_at`` when the timer corrected it and ``reason`` why."""

    step: str
    status: str
    outcome: str
    recipient: str | None
    at: datetime
    corrected_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DealHistory:
    """Everything the SLA view keeps of one deal: its workflow and its facts in log order.

    ``deal`` is the aggregate id; ``subject`` the contract's deal key (None for deals opened
    before ``Deal.Opened`` version 2 kept it).
    """

    deal: str
    workflow: str
    workflow_version: int
    account: str
    facts: tuple[SlaFact, ...]
    escalations: tuple[EscalationRecord, ...] = ()
    subject: str | None = None
    steps: tuple[StepRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class SlaInstance:
    """One clock of one SLA rule on one deal, judged as of a time.

    ``instance`` names the clock: ``first`` for a rule with ``first: true`` (one clock per
    deal, whose start may move earlier when an earlier fact arrives late), else the starting
    fact's ``source/id``. ``ended_at`` is the end's time when the end came first (``met``, or
    ``breached`` late); ``cancelled_at`` when a cancelling fact came first. ``escalation`` is
    the timer's recorded state (``breached``/``corrected``/None) as known by the same
    times, with ``escalated_at`` the first breach and ``corrected_at`` the latest correction.
    Times are aware UTC; ``timezone`` is the workflow calendar's zone, for display.
    ``deal`` is the aggregate id, ``subject`` the contract's deal key when known.
    ``steps`` are the escalation steps the timer recorded (and corrected), by step key.
    """

    deal: str
    account: str
    owner: str | None
    workflow: str
    workflow_version: int
    rule: str
    instance: str
    started_at: datetime
    due_at: datetime
    outcome: Outcome
    ended_at: datetime | None = None
    cancelled_at: datetime | None = None
    escalation: str | None = None
    escalated_at: datetime | None = None
    corrected_at: datetime | None = None
    timezone: str = "UTC"
    subject: str | None = None
    steps: tuple[StepState, ...] = ()

    @property
    def overdue(self) -> bool:
        """Breached and still outstanding: no end yet and the deal not closed by a cancel."""
        return self.outcome == "breached" and self.ended_at is None and self.cancelled_at is None

    @property
    def sort_key(self) -> tuple[str, str, datetime, str]:
        """Deal, rule, start, instance: an order that does not depend on arrival."""
        return (self.deal, self.rule, self.started_at, self.instance)
