"""SLA rules as data: when a clock starts, what stops it, and its deadline.

Only the shape lives here; evaluating rules against a deal's facts is done elsewhere. The
contract's outcome rules apply to every rule: ``met`` if the end comes at or before the
deadline, ``breached`` if later or never before the clock passes it, ``open`` meanwhile, and
``cancelled`` when one of ``cancelled_by`` arrives before the deadline with the end not yet
reached. A dwell rule is met by leaving the stage by any move (``deal.lost`` and
``contract.signed`` included), so for it the end wins over ``cancelled_by``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from workflows.escalation import EscalationStep
from workflows.facts import ACTIVITY_KINDS, ACTIVITY_LOGGED, ACTIVITY_PURPOSES, FACT_TYPES

__all__ = [
    "Deadline",
    "EndMatcher",
    "FactMatcher",
    "SlaRule",
    "StageEntered",
    "StageLeft",
    "StartMatcher",
    "check_fact_type",
]

#: What cancels a clock whose end has not come yet (CONTRACT: SLA outcomes).
DEFAULT_CANCELLED_BY: frozenset[str] = frozenset({"deal.lost", "contract.cancelled"})


def check_fact_type(value: str) -> str:
    """Return ``value`` if it is a contract fact type, else raise ``ValueError`` naming it."""
    if value not in FACT_TYPES:
        raise ValueError(f"unknown fact type {value!r}; known: {', '.join(sorted(FACT_TYPES))}")
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FactMatcher(_Frozen):
    """Facts of type ``fact``; for activities optionally only these ``kinds``/``purposes``.

    An empty set means any value (and an activity without a purpose matches only when
    ``purposes`` is empty).
    """

    fact: str
    kinds: frozenset[str] = frozenset()
    purposes: frozenset[str] = frozenset()

    @field_validator("fact")
    @classmethod
    def _known_fact(cls, value: str) -> str:
        return check_fact_type(value)

    @model_validator(mode="after")
    def _activity_fields(self) -> FactMatcher:
        if (self.kinds or self.purposes) and self.fact != ACTIVITY_LOGGED:
            raise ValueError(f"kinds and purposes apply to {ACTIVITY_LOGGED} only, not {self.fact}")
        if unknown := self.kinds - ACTIVITY_KINDS:
            raise ValueError(f"unknown activity kind(s) {sorted(unknown)}; known: "
                             f"{', '.join(sorted(ACTIVITY_KINDS))}")
        if unknown := self.purposes - ACTIVITY_PURPOSES:
            raise ValueError(f"unknown activity purpose(s) {sorted(unknown)}; known: "
                             f"{', '.join(sorted(ACTIVITY_PURPOSES))}")
        return self

    def matches(self, fact_type: str, kind: str | None = None, purpose: str | None = None) -> bool:
        """Whether a fact of this type (and activity kind/purpose) is one this matcher names."""
        if fact_type != self.fact:
            return False
        if self.kinds and kind not in self.kinds:
            return False
        return not self.purposes or purpose in self.purposes

    def describe(self) -> str:
        """``activity.logged kind=call purpose=thank_you`` (sets joined by ``|``)."""
        text = self.fact
        if self.kinds:
            text += " kind=" + "|".join(sorted(self.kinds))
        if self.purposes:
            text += " purpose=" + "|".join(sorted(self.purposes))
        return text


class StageEntered(_Frozen):
    """The deal enters ``enter_stage``."""

    enter_stage: str

    def describe(self) -> str:
        """``entering proposal``."""
        return f"entering {self.enter_stage}"


class StageLeft(_Frozen):
    """The deal leaves ``leave_stage`` by any move."""

    leave_stage: str

    def describe(self) -> str:
        """``leaving proposal``."""
        return f"leaving {self.leave_stage}"


def _tag(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("enter_stage", "leave_stage"):
            if key in value:
                return key
        return "fact"
    if isinstance(value, FactMatcher):
        return "fact"
    if isinstance(value, StageEntered):
        return "enter_stage"
    if isinstance(value, StageLeft):
        return "leave_stage"
    return None


#: Tags pydantic puts into error locations; the loader leaves them out of messages.
MATCHER_TAGS = frozenset({"fact", "enter_stage", "leave_stage"})

StartMatcher = Annotated[
    Annotated[FactMatcher, Tag("fact")] | Annotated[StageEntered, Tag("enter_stage")],
    Discriminator(_tag, custom_error_type="matcher",
                  custom_error_message="expected {fact: ...} or {enter_stage: ...}"),
]
EndMatcher = Annotated[
    Annotated[FactMatcher, Tag("fact")] | Annotated[StageLeft, Tag("leave_stage")],
    Discriminator(_tag, custom_error_type="matcher",
                  custom_error_message="expected {fact: ...} or {leave_stage: ...}"),
]


class Deadline(_Frozen):
    """``hours`` of ``business`` time (per the workflow's calendar) or ``calendar`` time.

    Definitions may write ``days: N`` instead for calendar time (days are 24-hour periods).
    """

    hours: Decimal = Field(gt=0)
    basis: Literal["business", "calendar"]

    @model_validator(mode="before")
    @classmethod
    def _days_are_24_hours(cls, data: Any) -> Any:
        if isinstance(data, dict) and "days" in data:
            data = dict(data)
            days = data.pop("days")
            if "hours" in data:
                raise ValueError("give either days or hours, not both")
            if data.setdefault("basis", "calendar") != "calendar":
                raise ValueError("days are 24-hour calendar periods; use hours for business time")
            data["hours"] = Decimal(str(days)) * 24
        return data

    def describe(self) -> str:
        """``9 business hours`` or ``336 hours (14 days)``."""
        hours = self.hours.normalize()
        text = f"{hours:f} business hours" if self.basis == "business" else f"{hours:f} hours"
        if self.basis == "calendar" and self.hours % 24 == 0:
            days = (self.hours / 24).normalize()
            text += f" ({days:f} day{'' if days == 1 else 's'})"
        return text


class SlaRule(_Frozen):
    """One SLA rule of a workflow.

    The clock starts at ``start`` (with ``first``, only the deal's earliest matching fact by
    ``time`` starts it) and stops at the earliest ``end`` (with ``end_at_or_after_start``,
    only an end whose ``time`` is at or after the start counts). ``deadline`` is measured from
    the start. ``escalation`` lists the steps that notify people once the deadline has
    passed (:mod:`workflows.escalation`).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str | None = None
    start: StartMatcher
    end: EndMatcher
    first: bool = False
    end_at_or_after_start: bool = False
    deadline: Deadline
    cancelled_by: frozenset[str] = DEFAULT_CANCELLED_BY
    escalation: tuple[EscalationStep, ...] = ()

    @field_validator("escalation")
    @classmethod
    def _steps_once(cls, value: tuple[EscalationStep, ...]) -> tuple[EscalationStep, ...]:
        keys = [step.key for step in value]
        if twice := sorted({k for k in keys if keys.count(k) > 1}):
            raise ValueError(f"escalation step {twice[0]} is listed more than once")
        return value

    @field_validator("cancelled_by")
    @classmethod
    def _known_cancellers(cls, value: frozenset[str]) -> frozenset[str]:
        for fact in value:
            check_fact_type(fact)
        return value

    def stages(self) -> tuple[str, ...]:
        """Stage names the rule refers to (for cross-checks against the workflow)."""
        names = []
        if isinstance(self.start, StageEntered):
            names.append(self.start.enter_stage)
        if isinstance(self.end, StageLeft):
            names.append(self.end.leave_stage)
        return tuple(names)
