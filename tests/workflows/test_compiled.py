"""The compiled workflow: its lookup table agrees with its one machine, and the moves are
exactly the contract's."""

from __future__ import annotations

from itertools import pairwise

import pytest

from tests.workflows.helpers import shipped_data
from workflows import CompiledWorkflow, WorkflowRegistry, definition_from_mapping, fact_tokens
from workflows.compiled import StageState

TRIGGERS = ("advance", "sign", "lose", "reopen", "to_won", "unknown")

WON_ACCEPTS = {"activity.logged", "deal.customer_info_captured", "payment.received",
               "survey.responded", "contract.cancelled"}
LOST_ACCEPTS = {"activity.logged", "deal.customer_info_captured", "survey.responded",
                "deal.reopened"}


@pytest.fixture(scope="module", params=["standard", "channel"])
def wf(request: pytest.FixtureRequest) -> CompiledWorkflow:
    name: str = request.param
    return WorkflowRegistry.shipped().get(name)


def test_lookup_table_agrees_with_the_machine(wf: CompiledWorkflow) -> None:
    for trigger in TRIGGERS:
        for stage in wf.stages:
            dests = {t.dest for t in wf.machine.get_transitions(trigger, source=stage)}
            answer = wf.may(trigger, stage)
            if not dests:
                assert answer is None, (trigger, stage)
            elif trigger == "reopen":
                assert answer == "*"
                assert dests == set(wf.open_stages)
            else:
                assert dests == {answer}, (trigger, stage)


def test_every_machine_transition_is_in_the_table(wf: CompiledWorkflow) -> None:
    for trigger, source, dest in wf.transitions:
        assert wf.may(trigger, source) in (dest, "*")


def test_one_model_less_machine_without_auto_transitions(wf: CompiledWorkflow) -> None:
    assert wf.machine.models == []
    assert set(wf.machine.events) == {"advance", "sign", "lose", "reopen"}
    assert list(wf.machine.states) == list(wf.stages)
    assert all(isinstance(state, StageState) for state in wf.machine.states.values())
    assert wf.machine.initial == wf.first_stage


def test_advance_goes_one_stage_forward_only(wf: CompiledWorkflow) -> None:
    opens = wf.open_stages
    for here, there in pairwise(opens):
        assert wf.may("advance", here) == there
        assert wf.next_stage(here) == there
    assert wf.may("advance", opens[-1]) is None
    assert wf.next_stage("negotiation") is None
    assert wf.may("advance", "won") is None
    assert wf.may("advance", "lost") is None


def test_sign_only_from_negotiation(wf: CompiledWorkflow) -> None:
    assert {stage: wf.may("sign", stage) for stage in wf.stages if wf.may("sign", stage)} == {
        "negotiation": "won"
    }


def test_lose_from_every_open_stage_only(wf: CompiledWorkflow) -> None:
    for stage in wf.open_stages:
        assert wf.may("lose", stage) == "lost"
    assert wf.may("lose", "won") is None
    assert wf.may("lose", "lost") is None


def test_reopen_only_from_lost_and_the_caller_picks(wf: CompiledWorkflow) -> None:
    assert wf.may("reopen", "lost") == "*"
    for stage in (*wf.open_stages, "won"):
        assert wf.may("reopen", stage) is None


def test_reopen_targets_are_the_open_stages_up_to_where_it_was_lost(
    wf: CompiledWorkflow,
) -> None:
    opens = wf.open_stages
    for index, stage in enumerate(opens):
        assert wf.reopen_targets(stage) == opens[: index + 1]
    assert wf.reopen_targets(wf.first_stage) == (wf.first_stage,)
    with pytest.raises(KeyError):
        wf.reopen_targets("won")


def test_open_and_closed(wf: CompiledWorkflow) -> None:
    for stage in wf.open_stages:
        assert wf.is_open(stage) and not wf.is_closed(stage)
    for stage in ("won", "lost"):
        assert wf.is_closed(stage) and not wf.is_open(stage)
    assert not wf.is_open("nowhere") and not wf.is_closed("nowhere")


def test_closed_stages_accept_exactly_the_contract_lists(wf: CompiledWorkflow) -> None:
    from workflows import FACT_TYPES

    assert {f for f in FACT_TYPES if wf.accepts_on_closed("won", f)} == WON_ACCEPTS
    assert {f for f in FACT_TYPES if wf.accepts_on_closed("lost", f)} == LOST_ACCEPTS
    for stage in wf.open_stages:
        assert all(wf.accepts_on_closed(stage, f) for f in FACT_TYPES)


def test_first_stage_is_satisfied_by_deal_opened(wf: CompiledWorkflow) -> None:
    assert wf.requirement(wf.first_stage).satisfied_by({"deal.opened"})
    assert not wf.requirement(wf.first_stage).satisfied_by(set())


def test_unknown_stage_is_a_key_error(wf: CompiledWorkflow) -> None:
    with pytest.raises(KeyError, match="nowhere"):
        wf.probability("nowhere")
    with pytest.raises(KeyError, match="nowhere"):
        wf.requirement("nowhere")
    assert wf.may("advance", "nowhere") is None


def test_standard_contact_needs_any_activity() -> None:
    wf = WorkflowRegistry.shipped().get("standard")
    requirement = wf.requirement("contact")
    assert requirement.satisfied_by(set(fact_tokens("activity.logged", "email")))
    assert not requirement.satisfied_by({"deal.opened", "deal.customer_info_captured"})
    assert wf.requirement("quote").satisfied_by({"deal.opened", "proposal.sent"})


def test_channel_joint_call_needs_a_call_or_a_meeting() -> None:
    requirement = WorkflowRegistry.shipped().get("channel").requirement("joint_call")
    assert requirement.satisfied_by(set(fact_tokens("activity.logged", "call")))
    assert requirement.satisfied_by(set(fact_tokens("activity.logged", "meeting")))
    assert not requirement.satisfied_by(set(fact_tokens("activity.logged", "email")))
    assert not requirement.satisfied_by(set(fact_tokens("activity.logged", "visit")))


def test_reopen_limited_to_listed_stages() -> None:
    data = shipped_data("standard")
    data["transitions"][-1] = {"trigger": "reopen", "source": "lost", "dest": "lead"}
    data["transitions"].append({"trigger": "reopen", "source": "lost", "dest": "proposal"})
    wf = CompiledWorkflow(definition_from_mapping(data))
    assert wf.may("reopen", "lost") == "*"
    assert wf.reopen_targets("negotiation") == ("lead", "proposal")
    assert wf.reopen_targets("contact") == ("lead",)


def test_sign_from_quote_in_a_user_workflow() -> None:
    data = shipped_data("standard")
    data["transitions"].append({"trigger": "sign", "source": "quote", "dest": "won"})
    wf = CompiledWorkflow(definition_from_mapping(data))
    assert wf.may("sign", "quote") == "won"
    assert wf.may("advance", "quote") == "negotiation"
