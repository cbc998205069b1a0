"""Sales processes as data: workflow definitions validated when loaded, compiled once per
version into a ``transitions`` machine and lookup tables the Deal aggregate consults.

::

    definitions/*.yaml --loader--> WorkflowDefinition --CompiledWorkflow--> machine + tables
                                                    (held by WorkflowRegistry per name, version)
"""

from __future__ import annotations

from workflows.calendar import BusinessCalendar, Weekday
from workflows.compiled import CompiledWorkflow
from workflows.diagram import DiagramFormat, diagram
from workflows.facts import (
    ACTIVITY_KINDS,
    ACTIVITY_LOGGED,
    ACTIVITY_PURPOSES,
    FACT_TYPES,
    activity_token,
    fact_tokens,
)
from workflows.loader import definition_from_mapping, definition_from_yaml, read_definition
from workflows.model import (
    REOPEN_ANY,
    Requirement,
    StageKind,
    StageSpec,
    TransitionSpec,
    Trigger,
    WorkflowDefinition,
)
from workflows.registry import WorkflowRegistry
from workflows.sla import (
    Deadline,
    EndMatcher,
    FactMatcher,
    SlaRule,
    StageEntered,
    StageLeft,
    StartMatcher,
)

__all__ = [
    "ACTIVITY_KINDS",
    "ACTIVITY_LOGGED",
    "ACTIVITY_PURPOSES",
    "FACT_TYPES",
    "REOPEN_ANY",
    "BusinessCalendar",
    "CompiledWorkflow",
    "Deadline",
    "DiagramFormat",
    "EndMatcher",
    "FactMatcher",
    "Requirement",
    "SlaRule",
    "StageEntered",
    "StageKind",
    "StageLeft",
    "StageSpec",
    "StartMatcher",
    "TransitionSpec",
    "Trigger",
    "Weekday",
    "WorkflowDefinition",
    "WorkflowRegistry",
    "activity_token",
    "definition_from_mapping",
    "definition_from_yaml",
    "diagram",
    "fact_tokens",
    "read_definition",
]
