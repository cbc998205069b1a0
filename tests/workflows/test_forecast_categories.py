"""Stage -> forecast category as workflow data (CONTRACT 1.1 "Forecast", precise rule 10)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import WorkflowDefinitionError
from tests.workflows.helpers import shipped_data, stage_of
from workflows import WorkflowRegistry, definition_from_mapping

SHIPPED = {
    "standard": {"lead": "pipeline", "contact": "pipeline", "needs_analysis": "pipeline",
                 "proposal": "best_case", "quote": "best_case", "negotiation": "commit",
                 "won": "closed", "lost": "omitted"},
    "channel": {"registered": "pipeline", "approved": "pipeline", "joint_call": "pipeline",
                "proposal": "best_case", "quote": "best_case", "negotiation": "commit",
                "won": "closed", "lost": "omitted"},
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_categories_are_the_contracts(name: str) -> None:
    wf = WorkflowRegistry.shipped().get(name)
    assert {stage: wf.forecast_category(stage) for stage in wf.stages} == SHIPPED[name]


def without_categories(name: str) -> dict[str, Any]:
    data = shipped_data(name)
    for stage in data["stages"]:
        stage.pop("forecast", None)
    return data


def test_a_workflow_defining_none_gets_the_contracts_default() -> None:
    definition = definition_from_mapping(without_categories("standard"))
    assert {s.name: definition.forecast_category(s.name) for s in definition.stages} == {
        "lead": "pipeline", "contact": "pipeline", "needs_analysis": "pipeline",
        "proposal": "pipeline", "quote": "pipeline", "negotiation": "pipeline",
        "won": "closed", "lost": "omitted"}


@pytest.mark.parametrize(
    ("stage", "value", "fragment"),
    [
        ("proposal", "Best_Case", "stage 'proposal'.forecast"),
        ("proposal", "closed", "stage 'proposal' is open: 'closed' is for the won stage"),
        ("won", "commit", "stage 'won' is won: its forecast category must be 'closed'"),
        ("lost", "pipeline", "stage 'lost' is lost: its forecast category must be 'omitted'"),
        ("quote", None, "stage 'quote' has no forecast category"),
    ],
)
def test_bad_categories_are_refused_naming_the_stage(stage: str, value: Any,
                                                     fragment: str) -> None:
    data = shipped_data("standard")
    if value is None:
        del stage_of(data, stage)["forecast"]
    else:
        stage_of(data, stage)["forecast"] = value
    with pytest.raises(WorkflowDefinitionError) as info:
        definition_from_mapping(data, source="test.yaml")
    assert fragment in str(info.value), str(info.value)


def test_categories_come_from_the_latest_version_by_stage_name() -> None:
    registry = WorkflowRegistry.shipped()
    v2 = shipped_data("standard")
    v2["version"] = 2
    stage_of(v2, "quote")["forecast"] = "commit"
    registry.add(definition_from_mapping(v2))
    # A deal of version 1 in quote is read with version 2's category.
    assert registry.get("standard", 1).forecast_category("quote") == "best_case"
    assert registry.forecast_category("standard", "quote") == "commit"
    assert registry.forecast_category("standard", "no_such_stage") is None
    assert registry.forecast_category("no_such_workflow", "quote") is None


def test_a_latest_version_defining_none_maps_open_stages_to_pipeline() -> None:
    registry = WorkflowRegistry.shipped()
    v2 = without_categories("standard")
    v2["version"] = 2
    registry.add(definition_from_mapping(v2))
    assert registry.forecast_category("standard", "negotiation") == "pipeline"
    assert registry.forecast_category("standard", "won") == "closed"
