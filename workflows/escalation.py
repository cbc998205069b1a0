"""Escalation ladders as data: who an SLA rule notifies after its deadline, and when.

A rule's ``escalation`` lists steps; each step notifies the deal's ``owner`` or the owner's
``manager`` ``after_hours`` after the deadline, in the rule's own clock (business hours
when the deadline is in business hours, elapsed hours otherwise). Steps are read from the
latest version of a workflow by rule name (CONTRACT 1.1, precise rule 10), so deals opened
on an earlier version get the ladder a user defines later. Written in a definition as::

    escalation:
      - {notify: owner, after_hours: 0}
      - {notify: manager, after_hours: 9}
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.calendar import BusinessCalendar

__all__ = ["EscalationStep", "Notify", "step_instant"]

Notify = Literal["owner", "manager"]
_MICROS_PER_HOUR = Decimal(3_600_000_000)


class EscalationStep(BaseModel):
    """Notify ``notify`` (the deal's owner, or the owner's manager) ``after_hours`` after
    the rule's deadline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notify: Notify
    after_hours: Decimal = Field(default=Decimal(0), ge=0)

    @property
    def key(self) -> str:
        """The step's name within its rule, e.g. ``owner+0h`` or ``manager+9h``: what the
        escalation events carry as ``step`` and the timer records once."""
        return f"{self.notify}+{self.after_hours.normalize():f}h"

    def describe(self) -> str:
        """``manager 9 hours after the deadline``."""
        hours = self.after_hours.normalize()
        if hours == 0:
            return f"{self.notify} at the deadline"
        return f"{self.notify} {hours:f} hours after the deadline"


def step_instant(step: EscalationStep, due_at: datetime, basis: str,
                 calendar: BusinessCalendar) -> datetime:
    """When ``step`` falls for a clock due at ``due_at`` (aware UTC): business hours add as
    deadlines do (18:00 + 9 business hours = the next working day's 18:00); calendar hours
    are elapsed time."""
    if basis == "business":
        return calendar.add_business_hours(due_at, step.after_hours)
    micros = int((step.after_hours * _MICROS_PER_HOUR).to_integral_value(ROUND_CEILING))
    return due_at.astimezone(UTC) + timedelta(microseconds=micros)
