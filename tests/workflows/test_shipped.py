"""The shipped definitions say exactly what CONTRACT.md says."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from workflows import (
    BusinessCalendar,
    Deadline,
    FactMatcher,
    StageEntered,
    StageLeft,
    WorkflowRegistry,
)


@pytest.fixture(scope="module")
def registry() -> WorkflowRegistry:
    return WorkflowRegistry.shipped()


Expected = dict[str, tuple[str, str, frozenset[str]]]

STANDARD: Expected = {
    "lead": ("0.05", "deal.opened", frozenset()),
    "contact": ("0.10", "activity.logged", frozenset()),
    "needs_analysis": ("0.20", "deal.customer_info_captured", frozenset()),
    "proposal": ("0.40", "deal.needs_recorded", frozenset()),
    "quote": ("0.60", "proposal.sent", frozenset()),
    "negotiation": ("0.80", "quote.issued", frozenset()),
    "won": ("1", "contract.signed", frozenset()),
    "lost": ("0", "deal.lost", frozenset()),
}
CHANNEL: Expected = {
    "registered": ("0.10", "deal.opened", frozenset()),
    "approved": ("0.20", "deal.registration_approved", frozenset()),
    "joint_call": ("0.30", "activity.logged", frozenset({"call", "meeting"})),
    "proposal": ("0.40", "deal.needs_recorded", frozenset()),
    "quote": ("0.60", "proposal.sent", frozenset()),
    "negotiation": ("0.80", "quote.issued", frozenset()),
    "won": ("1", "contract.signed", frozenset()),
    "lost": ("0", "deal.lost", frozenset()),
}


def test_the_shipped_workflows_load(registry: WorkflowRegistry) -> None:
    assert registry.names() == ("channel", "standard")
    assert registry.versions("standard") == (1,)
    assert registry.versions("channel") == (1,)


@pytest.mark.parametrize(("name", "expected"), [("standard", STANDARD), ("channel", CHANNEL)])
def test_stages_probabilities_and_requirements(
    registry: WorkflowRegistry, name: str, expected: Expected
) -> None:
    wf = registry.get(name)
    assert wf.name == name
    assert wf.version == 1
    assert wf.stages == tuple(expected)
    assert wf.open_stages == tuple(expected)[:-2]
    assert wf.first_stage == next(iter(expected))
    for stage, (probability, fact, kinds) in expected.items():
        assert wf.probability(stage) == Decimal(probability), stage
        assert isinstance(wf.probability(stage), Decimal)
        assert wf.requirement(stage).fact == fact, stage
        assert wf.requirement(stage).kinds == kinds, stage


def test_probabilities_are_the_decimal_strings(registry: WorkflowRegistry) -> None:
    assert str(registry.get("standard").probability("lead")) == "0.05"


@pytest.mark.parametrize("name", ["standard", "channel"])
def test_sla_rules_per_contract(registry: WorkflowRegistry, name: str) -> None:
    wf = registry.get(name)
    rules = {rule.name: rule for rule in wf.sla_rules}
    expected_names = {"first_contact", "thank_you_email", "proposal_dwell",
                      "negotiation_dwell", "after_sales_followup"}
    if name == "channel":
        expected_names.add("registration_approval")
    assert set(rules) == expected_names

    first_contact = rules["first_contact"]
    assert first_contact.start == FactMatcher(fact="deal.opened")
    assert first_contact.end == FactMatcher(fact="activity.logged")
    assert first_contact.deadline == Deadline(hours=Decimal(9), basis="business")

    thank_you = rules["thank_you_email"]
    assert thank_you.start == FactMatcher(fact="activity.logged", kinds=frozenset({"call"}))
    assert thank_you.first is True
    assert thank_you.end == FactMatcher(fact="activity.logged", kinds=frozenset({"email"}),
                                        purposes=frozenset({"thank_you"}))
    assert thank_you.end_at_or_after_start is True
    assert thank_you.deadline == Deadline(hours=Decimal(24), basis="calendar")

    for dwell, stage, days in (("proposal_dwell", "proposal", 14),
                               ("negotiation_dwell", "negotiation", 30)):
        rule = rules[dwell]
        assert rule.start == StageEntered(enter_stage=stage)
        assert rule.end == StageLeft(leave_stage=stage)
        assert rule.deadline == Deadline(hours=Decimal(days * 24), basis="calendar")

    after_sales = rules["after_sales_followup"]
    assert after_sales.start == StageEntered(enter_stage="won")
    assert after_sales.end == FactMatcher(fact="activity.logged",
                                          kinds=frozenset({"visit", "call"}),
                                          purposes=frozenset({"checkin", "follow_up"}))
    assert after_sales.end_at_or_after_start is True
    assert after_sales.deadline == Deadline(hours=Decimal(720), basis="calendar")

    for rule in wf.sla_rules:
        assert rule.cancelled_by == {"deal.lost", "contract.cancelled"}


def test_registration_approval_is_channel_only(registry: WorkflowRegistry) -> None:
    rule = {r.name: r for r in registry.get("channel").sla_rules}["registration_approval"]
    assert rule.start == FactMatcher(fact="deal.opened")
    assert rule.end == FactMatcher(fact="deal.registration_approved")
    assert rule.deadline == Deadline(hours=Decimal(18), basis="business")
    assert "registration_approval" not in {r.name for r in registry.get("standard").sla_rules}


@pytest.mark.parametrize("name", ["standard", "channel"])
def test_shipped_calendar(registry: WorkflowRegistry, name: str) -> None:
    calendar = registry.get(name).calendar
    assert calendar == BusinessCalendar(
        timezone="Asia/Shanghai", weekdays=("mon", "tue", "wed", "thu", "fri"),
        start_hour=9, end_hour=18, holidays=frozenset(),
    )
    assert calendar.is_working_day(date(2026, 3, 6))  # a Friday
    assert not calendar.is_working_day(date(2026, 3, 7))
