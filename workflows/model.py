"""A workflow definition as validated data: stages, transitions, requirements, SLA rules and
the business calendar.

Field checks (known fact types, kinds, probabilities) run on each item; the checks that need
the whole definition (unknown or unreachable stages, duplicates, trigger shapes) run once the
items are valid. Load files through :mod:`workflows.loader`, which turns any failure into a
``WorkflowDefinitionError`` naming the item.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from workflows.calendar import BusinessCalendar
from workflows.facts import ACTIVITY_KINDS, ACTIVITY_LOGGED, activity_token
from workflows.sla import SlaRule, check_fact_type

__all__ = [
    "REOPEN_ANY",
    "ForecastCategory",
    "Requirement",
    "StageKind",
    "StageSpec",
    "TransitionSpec",
    "Trigger",
    "WorkflowDefinition",
]

Trigger = Literal["advance", "sign", "lose", "reopen"]
StageKind = Literal["open", "won", "lost"]
#: Forecast categories a stage may map to (CONTRACT 1.1 "Forecast").
ForecastCategory = Literal["pipeline", "best_case", "commit", "closed", "omitted"]

#: ``reopen`` destination meaning "any open stage; the caller chooses".
REOPEN_ANY = "*"

#: The fact that must have created a deal / that enters each closed stage.
_ENTRY_FACT: dict[str, str] = {"first": "deal.opened", "won": "contract.signed",
                               "lost": "deal.lost"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Requirement(_Frozen):
    """What entering a stage requires: a fact of type ``fact`` already accepted for the deal.

    For ``activity.logged``, ``kinds`` narrows it to those kinds (empty: any kind). Written
    in a definition as ``requires: proposal.sent`` or ``requires: {fact: activity.logged,
    kinds: [call, meeting]}``. ``with_fields`` names data fields the fact must carry (the
    channel workflow's first stage: ``{fact: deal.opened, with_fields: [partner]}``).
    """

    fact: str
    kinds: frozenset[str] = frozenset()
    with_fields: frozenset[str] = frozenset()

    _tokens: frozenset[str] = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"fact": data} if isinstance(data, str) else data

    @field_validator("fact")
    @classmethod
    def _known_fact(cls, value: str) -> str:
        return check_fact_type(value)

    @model_validator(mode="after")
    def _known_kinds(self) -> Requirement:
        if self.with_fields and self.fact != "deal.opened":
            raise ValueError(f"with_fields applies to deal.opened only, not {self.fact}")
        if self.kinds and self.fact != ACTIVITY_LOGGED:
            raise ValueError(f"kinds apply to {ACTIVITY_LOGGED} only, not {self.fact}")
        if unknown := self.kinds - ACTIVITY_KINDS:
            raise ValueError(f"unknown activity kind(s) {sorted(unknown)}; known: "
                             f"{', '.join(sorted(ACTIVITY_KINDS))}")
        return self

    def model_post_init(self, context: object, /) -> None:
        """Compute the seen tokens once: the fact type, or one token per allowed kind."""
        if self.kinds:
            self._tokens = frozenset(activity_token(kind) for kind in self.kinds)
        else:
            self._tokens = frozenset({self.fact})

    @property
    def tokens(self) -> frozenset[str]:
        """Seen tokens any one of which satisfies the requirement."""
        return self._tokens

    def satisfied_by(self, seen: Set[str]) -> bool:
        """Whether a deal that has seen these tokens may enter the stage."""
        # Read from pydantic's store of private values directly: ``self._tokens`` goes
        # through ``BaseModel.__getattr__``, whose ``hasattr(..., "__get__")`` on the private
        # attribute raises and catches an AttributeError each time (~2-5 us; ingest asks this
        # on every stage change).
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        tokens: frozenset[str] = private["_tokens"]
        return not tokens.isdisjoint(seen)

    def describe(self) -> str:
        """``proposal.sent`` or ``activity.logged with kind call or meeting``."""
        text = self.fact
        if self.kinds:
            text += f" with kind {' or '.join(sorted(self.kinds))}"
        if self.with_fields:
            text += f" with {', '.join(sorted(self.with_fields))}"
        return text


class StageSpec(_Frozen):
    """One stage: its name, kind (``open``, ``won``, ``lost``), win probability and entry
    requirement; a closed stage also lists the fact types it still ``accepts``. ``forecast``
    is its forecast category (contract 1.1; none given anywhere: the contract's default)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: StageKind = "open"
    probability: Decimal
    requires: Requirement
    accepts: frozenset[str] | None = None
    forecast: ForecastCategory | None = None
    description: str | None = None

    @field_validator("probability")
    @classmethod
    def _a_probability(cls, value: Decimal) -> Decimal:
        if not Decimal(0) <= value <= Decimal(1):
            raise ValueError(f"probability {value} is outside 0..1")
        return value

    @field_validator("accepts")
    @classmethod
    def _known_accepts(cls, value: frozenset[str] | None) -> frozenset[str] | None:
        for fact in value or ():
            check_fact_type(fact)
        return value

    @model_validator(mode="after")
    def _accepts_on_closed_only(self) -> StageSpec:
        if self.kind == "open" and self.accepts is not None:
            raise ValueError(f"stage {self.name!r} is open: 'accepts' is for won/lost stages")
        if self.kind != "open" and self.accepts is None:
            raise ValueError(f"closed stage {self.name!r} must list the fact types it accepts "
                             "('accepts: []' for none)")
        return self


class TransitionSpec(_Frozen):
    """A trigger moving a deal from each ``source`` stage to ``dest``.

    ``advance`` goes one open stage forward, ``sign`` to the won stage, ``lose`` to the lost
    stage, ``reopen`` from the lost stage to an open stage (``dest: "*"``: any, the caller
    chooses).
    """

    trigger: Trigger
    source: tuple[str, ...] = Field(min_length=1)
    dest: str

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    def describe(self) -> str:
        """``advance lead -> contact``."""
        return f"{self.trigger} {', '.join(self.source)} -> {self.dest}"


class WorkflowDefinition(_Frozen):
    """A whole workflow version as loaded from a definition file."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    version: int = Field(ge=1)
    title: str | None = None
    stages: tuple[StageSpec, ...] = Field(min_length=1)
    transitions: tuple[TransitionSpec, ...]
    sla: tuple[SlaRule, ...] = ()
    calendar: BusinessCalendar = Field(default_factory=BusinessCalendar)

    @model_validator(mode="after")
    def _consistent(self) -> WorkflowDefinition:
        problems = list(_problems(self))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def stage(self, name: str) -> StageSpec:
        """The stage called ``name`` (``KeyError`` if there is none)."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"workflow {self.name!r} has no stage {name!r}")

    @property
    def open_stages(self) -> tuple[str, ...]:
        """Names of the open stages, in order."""
        return tuple(s.name for s in self.stages if s.kind == "open")

    def forecast_category(self, stage: str) -> str:
        """The forecast category of ``stage``: as defined, else the contract's default (open
        stages ``pipeline``, won ``closed``, lost ``omitted``)."""
        spec = self.stage(stage)
        if spec.forecast is not None:
            return spec.forecast
        return {"open": "pipeline", "won": "closed", "lost": "omitted"}[spec.kind]

    def closed_stage(self, kind: Literal["won", "lost"]) -> str:
        """The name of the won or the lost stage."""
        return next(s.name for s in self.stages if s.kind == kind)


def _problems(d: WorkflowDefinition) -> Iterator[str]:
    names = [s.name for s in d.stages]
    for name in sorted({n for n in names if names.count(n) > 1}):
        yield f"stage {name!r} is defined more than once"
    for kind in ("won", "lost"):
        of_kind = [s.name for s in d.stages if s.kind == kind]
        if len(of_kind) != 1:
            yield f"a workflow needs exactly one {kind} stage, found {of_kind or 'none'}"
            return
    first = d.stages[0]
    if first.kind != "open":
        yield f"the first stage {first.name!r} must be open"
        return
    for role, stage in (("first", first.name), ("won", d.closed_stage("won")),
                        ("lost", d.closed_stage("lost"))):
        fact = d.stage(stage).requires.fact
        if fact != _ENTRY_FACT[role]:
            yield (f"stage {stage!r} ({role}) must require {_ENTRY_FACT[role]}, not {fact}")
    yield from _transition_problems(d)
    yield from _sla_problems(d, set(names))
    yield from _forecast_problems(d)


def _forecast_problems(d: WorkflowDefinition) -> Iterator[str]:
    # Either no stage names a category (the contract's default applies) or every stage does,
    # so that no stage's category is left to a guess.
    given = [s for s in d.stages if s.forecast is not None]
    if not given:
        return
    for stage in d.stages:
        if stage.forecast is None:
            yield (f"stage {stage.name!r} has no forecast category: when one stage names one, "
                   "every stage must")
        elif stage.kind == "won" and stage.forecast != "closed":
            yield f"stage {stage.name!r} is won: its forecast category must be 'closed'"
        elif stage.kind == "lost" and stage.forecast != "omitted":
            yield f"stage {stage.name!r} is lost: its forecast category must be 'omitted'"
        elif stage.kind == "open" and stage.forecast == "closed":
            yield (f"stage {stage.name!r} is open: 'closed' is for the won stage (use "
                   "pipeline, best_case, commit or omitted)")


def _transition_problems(d: WorkflowDefinition) -> Iterator[str]:
    known = {s.name for s in d.stages}
    open_ = d.open_stages
    won, lost = d.closed_stage("won"), d.closed_stage("lost")
    seen: set[tuple[str, str, str]] = set()
    broken = False
    edges: dict[str, set[str]] = {name: set() for name in known}
    for number, t in enumerate(d.transitions, start=1):
        where = f"transition #{number} ({t.describe()})"
        dests = set(open_) if t.trigger == "reopen" and t.dest == REOPEN_ANY else {t.dest}
        unknown = [n for n in (*t.source, *dests) if n not in known]
        if unknown:
            yield f"{where}: unknown stage {unknown[0]!r}"
            broken = True
            continue
        for source in t.source:
            if (t.trigger, source, t.dest) in seen:
                yield f"{where}: {t.trigger} {source} -> {t.dest} is listed twice"
            seen.add((t.trigger, source, t.dest))
            problem = _shape_problem(t.trigger, source, t.dest, open_, won, lost)
            if problem:
                yield f"{where}: {problem}"
            # A deal reopens only where it was lost (or earlier), so reopen reaches nothing new.
            if t.trigger != "reopen":
                edges[source] |= dests
    if broken:  # reachability would only repeat the unknown stage's consequences
        return
    reached, todo = {d.stages[0].name}, [d.stages[0].name]
    while todo:
        for nxt in edges[todo.pop()] - reached:
            reached.add(nxt)
            todo.append(nxt)
    for stage in d.stages:
        if stage.name not in reached:
            yield f"stage {stage.name!r} is not reachable from the first stage {d.stages[0].name!r}"


def _shape_problem(trigger: str, source: str, dest: str, open_: tuple[str, ...], won: str,
                   lost: str) -> str | None:
    if trigger == "reopen":
        if source != lost:
            return f"reopen starts from the lost stage {lost!r}, not {source!r}"
        if dest != REOPEN_ANY and dest not in open_:
            return f"reopen goes to an open stage (or '*'), not {dest!r}"
        return None
    if source not in open_:
        return f"{trigger} starts from an open stage, not {source!r}"
    if trigger == "sign" and dest != won:
        return f"sign goes to the won stage {won!r}, not {dest!r}"
    if trigger == "lose" and dest != lost:
        return f"lose goes to the lost stage {lost!r}, not {dest!r}"
    if trigger == "advance":
        index = open_.index(source)
        if index + 1 == len(open_):
            return f"{source!r} is the last open stage: it leaves by sign or lose, not advance"
        if dest != open_[index + 1]:
            return f"advance moves one stage forward, from {source!r} only to {open_[index + 1]!r}"
    return None


def _sla_problems(d: WorkflowDefinition, known: set[str]) -> Iterator[str]:
    names = [rule.name for rule in d.sla]
    for name in sorted({n for n in names if names.count(n) > 1}):
        yield f"SLA rule {name!r} is defined more than once"
    for rule in d.sla:
        for stage in rule.stages():
            if stage not in known:
                yield f"SLA rule {rule.name!r} names unknown stage {stage!r}"
