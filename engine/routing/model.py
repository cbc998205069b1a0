"""A routing definition as validated data: named rules, tried in order (contract 1.1).

A rule has a ``name``, an optional ``match`` (``workflow``, ``segment``, ``territory``: each,
when given, must equal the deal's; a deal lacking the field does not match), an optional
``team`` (only reps whose profile names that team) and a ``strategy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ROUTING_NAME", "DealToRoute", "Match", "RoutingDefinition", "RuleSpec", "Strategy"]

#: The routing the engine uses; a user's file replaces it with a higher version.
ROUTING_NAME = "default"

Strategy = Literal["round_robin", "least_loaded"]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class DealToRoute:
    """What routing reads of a deal: its workflow and its optional segment and territory."""

    workflow: str
    segment: str | None = None
    territory: str | None = None


class Match(_Frozen):
    """Conditions on the deal; each given one must equal the deal's field."""

    workflow: str | None = Field(default=None, min_length=1)
    segment: str | None = Field(default=None, min_length=1)
    territory: str | None = Field(default=None, min_length=1)

    def matches(self, deal: DealToRoute) -> bool:
        """Whether every given condition equals the deal's (a missing deal field fails)."""
        return ((self.workflow is None or self.workflow == deal.workflow)
                and (self.segment is None or self.segment == deal.segment)
                and (self.territory is None or self.territory == deal.territory))


class RuleSpec(_Frozen):
    """One rule: which deals (``match``), which reps (``team``), how to choose."""

    name: str = Field(pattern=_NAME)
    match: Match | None = None
    team: str | None = Field(default=None, min_length=1)
    strategy: Strategy

    def matches(self, deal: DealToRoute) -> bool:
        """Whether the rule applies to ``deal``."""
        return self.match is None or self.match.matches(deal)


class RoutingDefinition(_Frozen):
    """A named, versioned list of rules."""

    name: str = Field(pattern=_NAME)
    version: int = Field(ge=1, strict=True)
    title: str | None = None
    rules: list[RuleSpec] = Field(min_length=1)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[RuleSpec]) -> list[RuleSpec]:
        names = [r.name for r in rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule name(s) {', '.join(map(repr, twice))} used more than once "
                             "(each rule keeps its own cursor, by name)")
        return rules

    def cursor_key(self, rule: str) -> str:
        """Where a rule's round-robin cursor is kept: per routing, version and rule."""
        return f"{self.name}@{self.version}/{rule}"
