"""Escalation ladders as workflow data: shipped per the contract, refused naming the step
when invalid, read from the latest version by rule name, step instants in the rule's clock."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from engine.errors import WorkflowDefinitionError
from tests.workflows.helpers import rule_of, shipped_data
from workflows import WorkflowRegistry, definition_from_mapping
from workflows.escalation import EscalationStep, step_instant


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("workflow", ["standard", "channel"])
def test_shipped_ladders(workflow: str) -> None:
    registry = WorkflowRegistry.shipped()
    assert [s.key for s in registry.escalation_steps(workflow, "first_contact")] == [
        "owner+0h", "manager+9h"]
    assert [s.key for s in registry.escalation_steps(workflow, "thank_you_email")] == [
        "owner+0h"]
    assert registry.escalation_steps(workflow, "proposal_dwell") == ()
    assert registry.escalation_steps("no-such-workflow", "first_contact") == ()


@pytest.mark.parametrize(("steps", "named"), [
    ([{"notify": "boss", "after_hours": 1}], "SLA rule 'first_contact'.escalation.0.notify"),
    ([{"notify": "owner", "after_hours": -1}],
     "SLA rule 'first_contact'.escalation.0.after_hours"),
    ([{"notify": "owner", "after": 1}], "SLA rule 'first_contact'.escalation.0.after"),
    ([{"notify": "owner"}, {"notify": "owner", "after_hours": "0.0"}],
     "escalation step owner+0h is listed more than once"),
])
def test_a_bad_step_is_refused_naming_it(steps: list[dict[str, Any]], named: str) -> None:
    data = shipped_data("standard")
    rule_of(data, "first_contact")["escalation"] = steps
    with pytest.raises(WorkflowDefinitionError) as info:
        definition_from_mapping(data, source="test.yaml")
    assert named in str(info.value)


def test_steps_come_from_the_latest_version_by_rule_name() -> None:
    registry = WorkflowRegistry.shipped()
    data = shipped_data("standard")
    data["version"] = 2
    rule_of(data, "first_contact")["escalation"] = [{"notify": "manager", "after_hours": 4}]
    rule_of(data, "thank_you_email").pop("escalation")
    registry.add(definition_from_mapping(data))
    assert [s.key for s in registry.escalation_steps("standard", "first_contact")] == [
        "manager+4h"]
    assert registry.escalation_steps("standard", "thank_you_email") == ()
    # Version 1 itself still has its own (the stage machine deals keep is unchanged).
    v1 = {r.name: r for r in registry.get("standard", 1).sla_rules}
    assert [s.key for s in v1["first_contact"].escalation] == ["owner+0h", "manager+9h"]


def test_step_instants_in_the_rules_clock() -> None:
    calendar = WorkflowRegistry.shipped().get("standard").calendar
    manager = EscalationStep(notify="manager", after_hours=Decimal(9))
    # 18:00 + 9 business hours = the next working day's 18:00; Friday's goes to Monday.
    assert step_instant(manager, at("2026-01-05T18:00:00+08:00"), "business", calendar) == at(
        "2026-01-06T18:00:00+08:00")
    assert step_instant(manager, at("2026-01-09T18:00:00+08:00"), "business", calendar) == at(
        "2026-01-12T18:00:00+08:00")
    assert step_instant(manager, at("2026-01-05T10:00:00+08:00"), "business", calendar) == at(
        "2026-01-06T10:00:00+08:00")
    # Calendar hours are elapsed time; offset 0 is the deadline itself.
    assert step_instant(manager, at("2026-01-09T18:00:00+08:00"), "calendar", calendar) == at(
        "2026-01-10T03:00:00+08:00")
    owner = EscalationStep(notify="owner")
    assert step_instant(owner, at("2026-01-10T03:00:00+08:00"), "business", calendar) == at(
        "2026-01-10T03:00:00+08:00")
    assert (owner.key, manager.key) == ("owner+0h", "manager+9h")
