"""A workflow version compiled once: one ``transitions`` machine and the lookup tables the
Deal aggregate consults on every fact (no machine per deal).

The machine is the source of truth: the ``(trigger, source) -> dest`` table is read back
from its events, so what the diagram shows is what the aggregate enforces.
"""

from __future__ import annotations

from decimal import Decimal

from transitions import State
from transitions.extensions.diagrams import GraphMachine

from workflows.calendar import BusinessCalendar
from workflows.model import REOPEN_ANY, Requirement, StageSpec, WorkflowDefinition
from workflows.sla import SlaRule

__all__ = ["CompiledWorkflow", "StageState"]


class StageState(State):
    """A machine state that carries a diagram label (name and win probability)."""

    def __init__(self, name: str, label: str, final: bool = False) -> None:
        super().__init__(name, final=final)
        self.label = label


class CompiledWorkflow:
    """Read-only answers about one workflow version: stages, moves, requirements, SLA rules.

    Built once per (name, version) by the registry and shared by every deal of that version.
    """

    def __init__(self, definition: WorkflowDefinition) -> None:
        """Compile ``definition`` (already validated) into a machine and lookup tables."""
        d = definition
        self.definition = d
        self.name: str = d.name
        self.version: int = d.version
        self.first_stage: str = d.stages[0].name
        self.open_stages: tuple[str, ...] = d.open_stages
        self.won_stage: str = d.closed_stage("won")
        self.lost_stage: str = d.closed_stage("lost")
        self.stages: tuple[str, ...] = (*self.open_stages, self.won_stage, self.lost_stage)
        self.sla_rules: tuple[SlaRule, ...] = d.sla
        self.calendar: BusinessCalendar = d.calendar
        self._specs = {s.name: s for s in d.stages}
        self._categories = {s.name: d.forecast_category(s.name) for s in d.stages}
        self.machine = self._build_machine()
        self._table, self._reopen_dests = self._read_tables()

    def __repr__(self) -> str:
        return f"<CompiledWorkflow {self.name} v{self.version}>"

    def _build_machine(self) -> GraphMachine:
        states = [
            StageState(name, f"{name} ({self._specs[name].probability * 100:.0f}%)",
                       final=name == self.won_stage)
            for name in self.stages
        ]
        transitions = []
        for t in self.definition.transitions:
            # "*" is "any open stage" here, not transitions' own "every state" wildcard.
            dests = self.open_stages if t.dest == REOPEN_ANY else (t.dest,)
            transitions += [
                {"trigger": t.trigger, "source": list(t.source), "dest": dest} for dest in dests
            ]
        return GraphMachine(
            model=None,
            states=states,
            initial=self.first_stage,
            transitions=transitions,
            auto_transitions=False,
            title=f"{self.name} v{self.version}",
            graph_engine="mermaid",
        )

    def _read_tables(self) -> tuple[dict[tuple[str, str], str], dict[str, frozenset[str]]]:
        """(trigger, source) -> dest, and source -> the stages ``reopen`` may go to."""
        table: dict[tuple[str, str], str] = {}
        reopen_dests: dict[str, frozenset[str]] = {}
        for trigger, event in self.machine.events.items():
            for source, moves in event.transitions.items():
                dests = frozenset(m.dest for m in moves if m.dest is not None)
                if trigger == "reopen":
                    reopen_dests[source] = dests
                    table[(trigger, source)] = REOPEN_ANY
                else:
                    (table[(trigger, source)],) = dests  # validation allows exactly one
        return table, reopen_dests

    @property
    def transitions(self) -> tuple[tuple[str, str, str], ...]:
        """Every machine transition as (trigger, source, dest), in definition order."""
        return tuple(
            (trigger, source, move.dest)
            for trigger, event in self.machine.events.items()
            for source, moves in event.transitions.items()
            for move in moves
            if move.dest is not None
        )

    def is_open(self, stage: str) -> bool:
        """Whether ``stage`` is an open stage of this workflow."""
        return stage in self.open_stages

    def is_closed(self, stage: str) -> bool:
        """Whether ``stage`` is the won or the lost stage."""
        return stage in (self.won_stage, self.lost_stage)

    def probability(self, stage: str) -> Decimal:
        """The stage's win probability, e.g. ``Decimal("0.05")``."""
        return self._spec(stage).probability

    def next_stage(self, stage: str) -> str | None:
        """The next open stage forward; ``None`` from the last open stage or a closed one."""
        return self._table.get(("advance", stage))

    def may(self, trigger: str, stage: str) -> str | None:
        """Where ``trigger`` leads from ``stage``: a stage, ``"*"`` for reopen (the caller
        picks one of :meth:`reopen_targets`), or ``None`` if it is not allowed."""
        return self._table.get((trigger, stage))

    def reopen_targets(self, lost_from: str) -> tuple[str, ...]:
        """Open stages a deal lost in ``lost_from`` may reopen in: at or before it, in order."""
        if not self.is_open(lost_from):
            raise KeyError(f"{lost_from!r} is not an open stage of workflow {self.name!r}")
        allowed = self._reopen_dests.get(self.lost_stage, frozenset())
        upto = self.open_stages[: self.open_stages.index(lost_from) + 1]
        return tuple(stage for stage in upto if stage in allowed)

    def forecast_category(self, stage: str) -> str:
        """The stage's forecast category (``pipeline`` ... ``closed``, ``omitted``)."""
        if stage not in self._categories:
            self._spec(stage)  # raises the KeyError naming the workflow and the stage
        return self._categories[stage]

    def requirement(self, stage: str) -> Requirement:
        """What entering ``stage`` requires."""
        return self._spec(stage).requires

    def accepts_on_closed(self, stage: str, fact_type: str) -> bool:
        """Whether a deal in ``stage`` accepts ``fact_type``; always true for open stages."""
        accepts = self._spec(stage).accepts
        return accepts is None or fact_type in accepts

    def _spec(self, stage: str) -> StageSpec:
        try:
            return self._specs[stage]
        except KeyError:
            raise KeyError(f"workflow {self.name!r} has no stage {stage!r}") from None
