"""Every allowed and refused transition and exit criterion of both shipped workflows,
through the real ingest path, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from engine.bootstrap import Engine
from engine.domain import Deal, deal_id
from tests.engine.conftest import send
from tests.engine.facts import CHANNEL_PATH, STANDARD_PATH, fact, opened

STANDARD_OPEN = ["lead", "contact", "needs_analysis", "proposal", "quote", "negotiation"]
CHANNEL_OPEN = ["registered", "approved", "joint_call", "proposal", "quote", "negotiation"]
WON_ACCEPTS = {"activity.logged", "deal.customer_info_captured", "payment.received",
               "survey.responded", "contract.cancelled"}
LOST_ACCEPTS = {"activity.logged", "deal.customer_info_captured", "survey.responded",
                "deal.reopened"}
SAMPLE_DATA: dict[str, dict[str, Any]] = {
    "deal.stage_changed": {"to": "contact"},
    "activity.logged": {"kind": "visit", "purpose": "checkin"},
    "deal.needs_recorded": {"summary": "s"},
    "deal.customer_info_captured": {"contact_name": "n"},
    "proposal.sent": {},
    "quote.issued": {"amount": "1", "currency": "CNY"},
    "deal.registration_approved": {},
    "contract.signed": {"amount": "1", "currency": "CNY"},
    "deal.lost": {"reason": "r"},
    "deal.reopened": {},
    "deal.reassigned": {"owner": "rep-02"},
    "deal.amount_changed": {"amount": "1", "currency": "CNY"},
    "payment.received": {"amount": "1", "currency": "CNY"},
    "contract.cancelled": {"reason": "r"},
    "survey.responded": {"score": 4},
    "deal.forecast_set": {"category": "commit"},
    "deal.expected_close_changed": {"expected_close": "2026-03-31"},
}


def stage(engine: Engine, subject: str) -> str:
    deal: Deal = engine.app.repository.get(deal_id(subject))
    return deal.stage


def walk(engine: Engine, subject: str, path: list[tuple[str, dict[str, Any]]], upto: int,
         workflow: str = "standard") -> None:
    """Open ``subject`` and apply the first ``upto`` steps of ``path``; all must be accepted."""
    result = send(engine, opened(subject, workflow),
                  *[fact(t, subject, d) for t, d in path[:upto]])
    assert result.rejected == {}, [o for o in result.outcomes if o.status == "rejected"]


def reason_of(engine: Engine, obj: dict[str, Any]) -> str | None:
    outcome = send(engine, obj).outcomes[0]
    return outcome.reason if outcome.status == "rejected" else None


def test_standard_happy_path_to_won(engine: Engine) -> None:
    walk(engine, "S-1", STANDARD_PATH, len(STANDARD_PATH))
    deal: Deal = engine.app.repository.get(deal_id("S-1"))
    assert deal.stage == "won"
    assert str(deal.signed_amount) == "11500.00"


def test_channel_happy_path_to_won(engine: Engine) -> None:
    walk(engine, "C-1", CHANNEL_PATH, len(CHANNEL_PATH), "channel")
    assert stage(engine, "C-1") == "won"


def test_channel_deal_requires_a_partner(engine: Engine) -> None:
    obj = opened("C-2", "channel")
    del obj["data"]["partner"]
    assert reason_of(engine, obj) == "invalid:data.partner"


def test_unknown_workflow_is_named(engine: Engine) -> None:
    assert reason_of(engine, opened("X-1", "enterprise")) == "invalid:data.workflow"


# Each stage change in the path, refused when its required fact is missing.
@pytest.mark.parametrize(
    ("workflow", "path"), [("standard", STANDARD_PATH), ("channel", CHANNEL_PATH)]
)
def test_every_entry_requirement_is_enforced(engine: Engine, workflow: str,
                                             path: list[tuple[str, dict[str, Any]]]) -> None:
    changes = [i for i, (t, _) in enumerate(path) if t == "deal.stage_changed"]
    for n, index in enumerate(changes):
        subject = f"{workflow}-req-{n}"
        # Everything before the required fact (the step just before the change) is applied.
        walk(engine, subject, path, index - 1, workflow)
        target = path[index][1]["to"]
        before = stage(engine, subject)
        assert reason_of(engine, fact("deal.stage_changed", subject, {"to": target})) == (
            "requirement_missing"
        )
        assert stage(engine, subject) == before
        # With the required fact the same move is accepted.
        req_type, req_data = path[index - 1]
        assert reason_of(engine, fact(req_type, subject, req_data)) is None
        assert reason_of(engine, fact("deal.stage_changed", subject, {"to": target})) is None
        assert stage(engine, subject) == target


@pytest.mark.parametrize(("workflow", "stages"), [("standard", STANDARD_OPEN),
                                                  ("channel", CHANNEL_OPEN)])
def test_only_one_stage_forward(engine: Engine, workflow: str, stages: list[str]) -> None:
    subject = f"{workflow}-jump"
    walk(engine, subject, STANDARD_PATH if workflow == "standard" else CHANNEL_PATH, 3, workflow)
    current = stage(engine, subject)
    position = stages.index(current)
    for target in [*stages, "won", "lost"]:
        if target == stages[position + 1]:
            continue
        assert reason_of(engine, fact("deal.stage_changed", subject, {"to": target})) == (
            "stage_jump"
        ), target
    assert reason_of(engine, fact("deal.stage_changed", subject, {"to": "nowhere"})) == (
        "unknown_stage"
    )
    assert stage(engine, subject) == current


def test_sign_only_from_negotiation(engine: Engine) -> None:
    walk(engine, "SG-1", STANDARD_PATH, 9)  # up to quote.issued, still in quote
    assert stage(engine, "SG-1") == "quote"
    signed = fact("contract.signed", "SG-1", {"amount": "5", "currency": "CNY"})
    assert reason_of(engine, signed) == "sign_requires_negotiation"
    assert reason_of(engine, fact("deal.stage_changed", "SG-1", {"to": "negotiation"})) is None
    assert reason_of(engine, fact("contract.signed", "SG-1",
                                  {"amount": "5", "currency": "CNY"})) is None
    assert stage(engine, "SG-1") == "won"


@pytest.mark.parametrize("steps", [0, 2, 4, 6, 8, 10])
def test_lose_from_every_open_stage_and_reopen_there(engine: Engine, steps: int) -> None:
    subject = f"L-{steps}"
    walk(engine, subject, STANDARD_PATH, steps)
    where = stage(engine, subject)
    assert reason_of(engine, fact("deal.lost", subject, {"reason": "budget"})) is None
    assert stage(engine, subject) == "lost"
    assert reason_of(engine, fact("deal.lost", subject, {"reason": "again"})) == "closed_deal"
    assert reason_of(engine, fact("deal.reopened", subject, {})) is None
    assert stage(engine, subject) == where


def test_reopen_to_an_earlier_stage_not_a_later_one(engine: Engine) -> None:
    walk(engine, "R-1", STANDARD_PATH, 4)  # in needs_analysis
    send(engine, fact("deal.lost", "R-1", {"reason": "x"}))
    assert reason_of(engine, fact("deal.reopened", "R-1", {"stage": "proposal"})) == (
        "reopen_stage_invalid"
    )
    assert reason_of(engine, fact("deal.reopened", "R-1", {"stage": "lead"})) is None
    assert stage(engine, "R-1") == "lead"
    assert reason_of(engine, fact("deal.reopened", "R-1", {})) == "reopen_requires_lost"


@pytest.mark.parametrize("fact_type", sorted(SAMPLE_DATA))
def test_closed_won_accepts_only_its_list(engine: Engine, fact_type: str) -> None:
    subject = f"W-{fact_type}"
    walk(engine, subject, STANDARD_PATH, len(STANDARD_PATH))
    got = reason_of(engine, fact(fact_type, subject, SAMPLE_DATA[fact_type]))
    if fact_type in WON_ACCEPTS:
        assert got is None
    elif fact_type == "deal.reopened":
        assert got == "reopen_requires_lost"
    else:
        assert got == "closed_deal"
    assert stage(engine, subject) == "won"


@pytest.mark.parametrize("fact_type", sorted(SAMPLE_DATA))
def test_closed_lost_accepts_only_its_list(engine: Engine, fact_type: str) -> None:
    subject = f"LL-{fact_type}"
    walk(engine, subject, STANDARD_PATH, 2)
    send(engine, fact("deal.lost", subject, {"reason": "x"}))
    got = reason_of(engine, fact(fact_type, subject, SAMPLE_DATA[fact_type]))
    if fact_type in LOST_ACCEPTS:
        assert got is None
    else:
        assert got == "closed_deal"


def test_cancel_keeps_won_and_only_once(engine: Engine) -> None:
    walk(engine, "X-1", STANDARD_PATH, len(STANDARD_PATH))
    assert reason_of(engine, fact("contract.cancelled", "X-1", {"reason": "refund"})) is None
    deal: Deal = engine.app.repository.get(deal_id("X-1"))
    assert (deal.stage, deal.cancelled) == ("won", True)
    assert reason_of(engine, fact("contract.cancelled", "X-1", {"reason": "again"})) == (
        "already_cancelled"
    )


def test_won_only_facts_are_refused_on_open_deals(engine: Engine) -> None:
    walk(engine, "O-1", STANDARD_PATH, 2)
    assert reason_of(engine, fact("payment.received", "O-1",
                                  {"amount": "1", "currency": "CNY"})) == "payment_requires_won"
    assert reason_of(engine, fact("contract.cancelled", "O-1", {"reason": "x"})) == (
        "cancel_requires_won"
    )


def test_missing_deal_and_double_open(engine: Engine) -> None:
    assert reason_of(engine, fact("deal.lost", "NOPE", {"reason": "x"})) == "deal_not_found"
    send(engine, opened("D-2"))
    assert reason_of(engine, opened("D-2")) == "deal_already_opened"


def test_open_deal_accepts_amount_changes_and_reassignment(engine: Engine) -> None:
    walk(engine, "A-1", STANDARD_PATH, 2)
    send(engine, fact("deal.amount_changed", "A-1", {"amount": "99.50", "currency": "USD"}),
         fact("deal.reassigned", "A-1", {"owner": "rep-07",
                                         "splits": [{"rep": "rep-07", "share": "1"}]}))
    deal: Deal = engine.app.repository.get(deal_id("A-1"))
    assert (str(deal.amount), deal.currency, deal.owner) == ("99.50", "USD", "rep-07")
