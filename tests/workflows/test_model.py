"""Every class of invalid definition is refused with an error naming the offending item."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.errors import WorkflowDefinitionError
from tests.workflows.helpers import rule_of, shipped_data, stage_of
from workflows import (
    Requirement,
    WorkflowDefinition,
    definition_from_mapping,
    definition_from_yaml,
)

Mutation = Callable[[dict[str, Any]], None]


def refused(mutate: Mutation, base: str = "standard") -> str:
    """Apply ``mutate`` to a shipped definition and return the refusal message."""
    data = shipped_data(base)
    mutate(data)
    with pytest.raises(WorkflowDefinitionError) as info:
        definition_from_mapping(data, source="test.yaml")
    message = str(info.value)
    assert message.startswith("test.yaml: ")
    return message


def test_the_shipped_data_is_valid() -> None:
    for name in ("standard", "channel"):
        assert isinstance(definition_from_mapping(shipped_data(name)), WorkflowDefinition)


def _set(path: list[str | int], value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


# (case id, mutation, fragments the message must contain)
CASES: list[tuple[str, Mutation, tuple[str, ...]]] = [
    ("unknown stage in a transition",
     _set(["transitions", 1, "dest"], "needs_analyis"),
     ("transition #2", "unknown stage 'needs_analyis'")),
    ("unknown source stage",
     _set(["transitions", 6, "source"], ["lead", "contract"]),
     ("transition #7", "unknown stage 'contract'")),
    ("unreachable stage",
     lambda d: d["transitions"].pop(2),  # advance needs_analysis -> proposal
     ("stage 'proposal' is not reachable from the first stage 'lead'",)),
    ("requirement naming an unknown fact type",
     lambda d: stage_of(d, "proposal").update(requires="deal.needs_captured"),
     ("stage 'proposal'", "unknown fact type 'deal.needs_captured'")),
    ("requirement with an unknown activity kind",
     lambda d: stage_of(d, "contact").update(
         requires={"fact": "activity.logged", "kinds": ["fax"]}),
     ("stage 'contact'", "unknown activity kind", "fax")),
    ("requirement with kinds on a non-activity",
     lambda d: stage_of(d, "quote").update(
         requires={"fact": "proposal.sent", "kinds": ["call"]}),
     ("stage 'quote'", "kinds apply to activity.logged only")),
    ("SLA rule naming an unknown fact type",
     lambda d: rule_of(d, "first_contact").update(end={"fact": "activity.loged"}),
     ("SLA rule 'first_contact'", "unknown fact type 'activity.loged'")),
    ("SLA rule with an unknown activity kind",
     lambda d: rule_of(d, "thank_you_email").update(
         start={"fact": "activity.logged", "kinds": ["telegram"]}),
     ("SLA rule 'thank_you_email'", "start", "unknown activity kind", "telegram")),
    ("SLA rule with an unknown activity purpose",
     lambda d: rule_of(d, "after_sales_followup").update(
         end={"fact": "activity.logged", "purposes": ["gossip"]}),
     ("SLA rule 'after_sales_followup'", "end", "unknown activity purpose", "gossip")),
    ("SLA rule naming an unknown stage",
     lambda d: rule_of(d, "proposal_dwell").update(start={"enter_stage": "propsal"}),
     ("SLA rule 'proposal_dwell'", "unknown stage 'propsal'")),
    ("SLA rule with an unknown canceller",
     lambda d: rule_of(d, "first_contact").update(cancelled_by=["deal.closed"]),
     ("SLA rule 'first_contact'", "cancelled_by", "unknown fact type 'deal.closed'")),
    ("duplicate SLA rule names",
     lambda d: d["sla"].append(dict(rule_of(d, "first_contact"))),
     ("SLA rule 'first_contact' is defined more than once",)),
    ("SLA rule with a non-positive deadline",
     lambda d: rule_of(d, "first_contact").update(deadline={"hours": 0, "basis": "business"}),
     ("SLA rule 'first_contact'", "deadline.hours")),
    ("SLA rule with an unknown deadline basis",
     lambda d: rule_of(d, "first_contact").update(deadline={"hours": 9, "basis": "lunar"}),
     ("SLA rule 'first_contact'", "deadline.basis")),
    ("closed-stage list naming an unknown fact type",
     lambda d: stage_of(d, "won").update(accepts=["payment.recieved"]),
     ("stage 'won'", "unknown fact type 'payment.recieved'")),
    ("duplicate stage names",
     lambda d: d["stages"].insert(1, dict(stage_of(d, "lead"))),
     ("stage 'lead' is defined more than once",)),
    ("probability above 1",
     lambda d: stage_of(d, "quote").update(probability="1.5"),
     ("stage 'quote'", "probability 1.5 is outside 0..1")),
    ("negative probability",
     lambda d: stage_of(d, "lead").update(probability="-0.05"),
     ("stage 'lead'", "probability -0.05 is outside 0..1")),
    ("unknown trigger",
     _set(["transitions", 0, "trigger"], "skip"),
     ("transition #1 (skip lead -> contact)", "trigger")),
    ("advance skipping a stage",
     lambda d: d["transitions"].append(
         {"trigger": "advance", "source": "lead", "dest": "proposal"}),
     ("transition #9", "advance moves one stage forward, from 'lead' only to 'contact'")),
    ("advance out of the last open stage",
     lambda d: d["transitions"].append(
         {"trigger": "advance", "source": "negotiation", "dest": "won"}),
     ("transition #9", "'negotiation' is the last open stage")),
    ("sign into a non-won stage",
     _set(["transitions", 5, "dest"], "lost"),
     ("transition #6", "sign goes to the won stage 'won'")),
    ("lose into a non-lost stage",
     _set(["transitions", 6, "dest"], "won"),
     ("transition #7", "lose goes to the lost stage 'lost'")),
    ("lose from a closed stage",
     _set(["transitions", 6, "source"], ["lead", "won"]),
     ("transition #7", "lose starts from an open stage, not 'won'")),
    ("reopen from an open stage",
     _set(["transitions", 7, "source"], "quote"),
     ("transition #8", "reopen starts from the lost stage 'lost'")),
    ("a transition listed twice",
     lambda d: d["transitions"].append(dict(d["transitions"][0])),
     ("transition #9", "advance lead -> contact is listed twice")),
    ("no won stage",
     lambda d: stage_of(d, "won").update(kind="open", accepts=None),
     ("exactly one won stage",)),
    ("a closed stage without its accepted list",
     lambda d: stage_of(d, "lost").pop("accepts"),
     ("stage 'lost'", "must list the fact types it accepts")),
    ("an accepted list on an open stage",
     lambda d: stage_of(d, "quote").update(accepts=["activity.logged"]),
     ("stage 'quote'", "is open")),
    ("a first stage not opened by deal.opened",
     lambda d: stage_of(d, "lead").update(requires="activity.logged"),
     ("stage 'lead' (first) must require deal.opened",)),
    ("a typo in a field name",
     lambda d: stage_of(d, "proposal").update(requries="deal.needs_recorded"),
     ("stage 'proposal'", "requries", "Extra inputs are not permitted")),
    ("an unknown time zone",
     _set(["calendar", "timezone"], "Asia/Shangai"),
     ("calendar.timezone", "unknown time zone 'Asia/Shangai'")),
    ("working hours out of order",
     _set(["calendar", "start_hour"], 18),
     ("calendar", "start_hour 18 must be before end_hour 18")),
    ("an unknown weekday",
     _set(["calendar", "weekdays"], ["mon", "funday"]),
     ("calendar.weekdays",)),
    ("a version below 1",
     _set(["version"], 0),
     ("version",)),
]


@pytest.mark.parametrize(("mutate", "fragments"), [(m, f) for _, m, f in CASES],
                         ids=[case for case, _, _ in CASES])
def test_invalid_definition_is_refused_naming_the_item(
    mutate: Mutation, fragments: tuple[str, ...]
) -> None:
    message = refused(mutate)
    for fragment in fragments:
        assert fragment in message, message


def test_channel_joint_call_kinds_are_checked() -> None:
    message = refused(
        lambda d: stage_of(d, "joint_call").update(
            requires={"fact": "activity.logged", "kinds": ["call", "smoke_signal"]}),
        base="channel",
    )
    assert "stage 'joint_call'" in message
    assert "smoke_signal" in message


def test_several_problems_are_reported_together() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["transitions"][0]["dest"] = "nowhere"
        rule_of(d, "proposal_dwell")["end"] = {"leave_stage": "nowhere_either"}

    message = refused(mutate)
    assert "unknown stage 'nowhere'" in message
    assert "unknown stage 'nowhere_either'" in message


def test_not_yaml() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"^bad\.yaml: not valid YAML"):
        definition_from_yaml("stages: [unclosed", source="bad.yaml")


def test_not_a_mapping() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"^list\.yaml: .* mapping"):
        definition_from_yaml("- one\n- two\n", source="list.yaml")


def test_days_and_hours_together_are_refused() -> None:
    message = refused(lambda d: rule_of(d, "proposal_dwell").update(
        deadline={"days": 14, "hours": 336}))
    assert "SLA rule 'proposal_dwell'" in message
    assert "either days or hours" in message


def test_days_are_calendar_time_only() -> None:
    message = refused(lambda d: rule_of(d, "proposal_dwell").update(
        deadline={"days": 1, "basis": "business"}))
    assert "days are 24-hour calendar periods" in message


def test_requirement_shorthand_and_tokens() -> None:
    assert Requirement.model_validate("proposal.sent") == Requirement(fact="proposal.sent")
    joint = Requirement(fact="activity.logged", kinds=frozenset({"call", "meeting"}))
    assert joint.tokens == {"activity.logged:call", "activity.logged:meeting"}
    assert joint.describe() == "activity.logged with kind call or meeting"
    assert Requirement(fact="deal.opened").describe() == "deal.opened"


def test_with_fields_only_on_deal_opened() -> None:
    from workflows import Requirement

    assert Requirement(fact="deal.opened", with_fields=frozenset({"partner"})).describe() == (
        "deal.opened with partner"
    )
    with pytest.raises(ValueError, match=r"with_fields applies to deal\.opened only"):
        Requirement(fact="proposal.sent", with_fields=frozenset({"partner"}))
