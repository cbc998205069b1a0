"""The contract vocabulary and the seen tokens a deal collects."""

from __future__ import annotations

import pytest

from workflows import ACTIVITY_KINDS, ACTIVITY_PURPOSES, FACT_TYPES, fact_tokens


def test_fact_types_are_exactly_the_contract_types() -> None:
    assert {
        "deal.opened", "deal.stage_changed", "activity.logged", "deal.needs_recorded",
        "deal.customer_info_captured", "proposal.sent", "quote.issued",
        "deal.registration_approved", "contract.signed", "deal.lost", "deal.reopened",
        "deal.reassigned", "deal.amount_changed", "payment.received", "contract.cancelled",
        "survey.responded", "rep.quota_set", "rep.plan_assigned",
        "deal.forecast_set", "deal.expected_close_changed", "forecast.submitted",
    } == FACT_TYPES
    assert isinstance(FACT_TYPES, frozenset)


def test_activity_kinds_and_purposes_are_the_contract_values() -> None:
    assert {"call", "email", "meeting", "visit"} == ACTIVITY_KINDS
    assert {"first_call", "thank_you", "follow_up", "needs_discovery", "checkin"} == (
        ACTIVITY_PURPOSES
    )


def test_a_fact_adds_its_type() -> None:
    assert fact_tokens("deal.customer_info_captured", None) == ("deal.customer_info_captured",)


def test_an_activity_adds_its_type_and_its_kind() -> None:
    assert fact_tokens("activity.logged", "call") == ("activity.logged", "activity.logged:call")


def test_only_activities_have_a_kind() -> None:
    with pytest.raises(ValueError, match=r"proposal\.sent"):
        fact_tokens("proposal.sent", "call")
