"""Validation of the contract envelope and every type's data (CONTRACT.md)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from engine.contract.data import DATA_MODELS
from engine.contract.envelope import parse_fact
from engine.errors import InvalidFactError
from tests.engine.facts import fact, opened, raw

VALID_DATA: dict[str, dict[str, Any]] = {
    "deal.opened": {"workflow": "standard", "account": "a", "owner": "r", "amount": "1.50",
                    "currency": "CNY", "expected_close": "2026-03-31", "segment": "potential",
                    "splits": [{"rep": "r", "share": "0.5"}, {"rep": "s", "share": "0.5"}]},
    "deal.stage_changed": {"to": "contact"},
    "activity.logged": {"kind": "email", "purpose": "thank_you", "outcome": "sent"},
    "deal.needs_recorded": {"summary": "s"},
    "deal.customer_info_captured": {"contact_name": "n", "phone": "1", "email": "e@x"},
    "proposal.sent": {},
    "quote.issued": {"amount": 10, "currency": "USD"},
    "deal.registration_approved": {},
    "contract.signed": {"amount": "10", "currency": "USD"},
    "deal.lost": {"reason": "price"},
    "deal.reopened": {"stage": "lead"},
    "deal.reassigned": {"owner": "r2", "splits": [{"rep": "r2", "share": 1}]},
    "deal.amount_changed": {"amount": "3", "currency": "EUR"},
    "payment.received": {"amount": "3", "currency": "EUR"},
    "contract.cancelled": {"reason": "refund", "refund_amount": "3.10"},
    "survey.responded": {"score": 5},
    "rep.quota_set": {"period": "2026-Q1", "amount": "100000", "currency": "CNY", "team": "t"},
    "rep.plan_assigned": {"plan": "standard-2026", "effective_from": "2026-01-01"},
    "rep.profile_set": {"team": "east", "manager": "m", "territories": ["sh"],
                        "segments": ["high_value"], "capacity": 3, "active": True},
    "deal.forecast_set": {"category": "best_case"},
    "deal.expected_close_changed": {"expected_close": "2026-06-30"},
    "forecast.submitted": {"period": "2026-Q2", "amount": "1000.00", "currency": "CNY"},
}


def test_every_contract_type_has_a_valid_example() -> None:
    assert set(VALID_DATA) == set(DATA_MODELS)


@pytest.mark.parametrize("fact_type", sorted(VALID_DATA))
def test_valid_fact_of_every_type_parses(fact_type: str) -> None:
    parsed = parse_fact(raw(fact(fact_type, "D-1", VALID_DATA[fact_type])))
    assert parsed.type == fact_type
    assert parsed.time.utcoffset() is not None


def reject(obj: dict[str, Any] | bytes) -> InvalidFactError:
    body = obj if isinstance(obj, bytes) else raw(obj)
    with pytest.raises(InvalidFactError) as caught:
        parse_fact(body)
    return caught.value


@pytest.mark.parametrize("body", [b"{not json", b"[1,2]", b"\"text\"", b""])
def test_not_json_or_not_an_object(body: bytes) -> None:
    assert reject(body).field == "(body)"


@pytest.mark.parametrize("name", ["id", "type", "source", "time", "subject", "data"])
def test_missing_envelope_field_is_named(name: str) -> None:
    obj = opened("D-1")
    del obj[name]
    error = reject(obj)
    assert error.field == name
    assert name in error.message


def test_actor_is_optional() -> None:
    obj = opened("D-1")
    del obj["actor"]
    assert parse_fact(raw(obj)).actor is None


@pytest.mark.parametrize(
    ("name", "value"),
    [("id", 7), ("id", ""), ("id", "x" * 129), ("source", ["a"]), ("subject", 3),
     ("actor", 5), ("data", "x"), ("time", 1767225600)],
)
def test_ill_typed_envelope_field_is_named(name: str, value: Any) -> None:
    obj = opened("D-1")
    obj[name] = value
    assert reject(obj).field == name


def test_id_of_128_chars_is_accepted() -> None:
    obj = opened("D-1")
    obj["id"] = "x" * 128
    assert parse_fact(raw(obj)).id == "x" * 128


def test_unknown_type_is_named() -> None:
    error = reject(fact("deal.teleported", "D-1", {}))
    assert error.field == "type"
    assert "deal.teleported" in error.message


@pytest.mark.parametrize(
    "time",
    ["2026-01-05T10:00:00", "2026-01-05", "2026-01-05T10:00", "yesterday",
     "2026-13-05T10:00:00Z", "2026-01-05T10:00:00+0800"],
)
def test_time_without_offset_or_malformed(time: str) -> None:
    error = reject(fact("deal.lost", "D-1", {"reason": "x"}, time=time))
    assert error.field == "time"


@pytest.mark.parametrize(
    "time", ["2026-01-05T10:00:00Z", "2026-01-05T02:00:00.123456789+00:00",
             "2026-01-05 10:00:00-05:30", "2026-01-05t10:00:00z"],
)
def test_rfc3339_forms_are_accepted(time: str) -> None:
    parsed = parse_fact(raw(fact("deal.lost", "D-1", {"reason": "x"}, time=time)))
    assert parsed.time.tzinfo is not None


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("12500.100", Decimal("12500.10")), ("12500", Decimal("12500.00")), (7, Decimal("7.00")),
     ("0.5", Decimal("0.50"))],
)
def test_amount_with_at_most_two_decimals_by_value(amount: Any, expected: Decimal) -> None:
    parsed = parse_fact(raw(fact("quote.issued", "D", {"amount": amount, "currency": "CNY"})))
    assert parsed.data.amount == expected  # type: ignore[attr-defined]


def test_json_number_amount_is_never_parsed_through_float() -> None:
    body = (b'{"id":"a","type":"quote.issued","source":"s","time":"2026-01-05T10:00:00Z",'
            b'"subject":"D","data":{"amount":12345678901234567.89,"currency":"CNY"}}')
    assert parse_fact(body).data.amount == Decimal("12345678901234567.89")  # type: ignore[attr-defined]


@pytest.mark.parametrize("amount", ["100.005", 100.005, "-1", "1e3x", "NaN", True, None, "", [1]])
def test_bad_amounts_are_rejected_naming_the_field(amount: Any) -> None:
    body = raw(fact("contract.signed", "D", {"amount": 0, "currency": "CNY"})).replace(
        b'"amount": 0', b'"amount": ' + json.dumps(amount).encode()
    )
    assert reject(body).field == "data.amount"


@pytest.mark.parametrize(
    ("fact_type", "data", "field"),
    [
        ("deal.opened", {**VALID_DATA["deal.opened"], "currency": "yuan"}, "data.currency"),
        ("deal.opened", {**VALID_DATA["deal.opened"], "expected_close": "31/03/2026"},
         "data.expected_close"),
        ("deal.opened", {**VALID_DATA["deal.opened"], "owner": 7}, "data.owner"),
        ("deal.opened", {**VALID_DATA["deal.opened"],
                         "splits": [{"rep": "a", "share": "0.6"}, {"rep": "b", "share": "0.3"}]},
         "data.splits"),
        ("deal.opened", {**VALID_DATA["deal.opened"], "splits": [{"rep": "a", "share": "0"}]},
         "data.splits.0.share"),
        ("activity.logged", {"kind": "fax"}, "data.kind"),
        ("activity.logged", {"kind": "call", "purpose": "gossip"}, "data.purpose"),
        ("deal.stage_changed", {"to": 3}, "data.to"),
        ("deal.lost", {}, "data.reason"),
        ("deal.lost", {"reason": ""}, "data.reason"),
        ("survey.responded", {"score": 6}, "data.score"),
        ("survey.responded", {"score": "4"}, "data.score"),
        ("survey.responded", {"score": 4.5}, "data.score"),
        ("rep.quota_set", {"period": "2026-Q5", "amount": "1", "currency": "CNY"}, "data.period"),
        ("rep.quota_set", {"period": "2026-13", "amount": "1", "currency": "CNY"}, "data.period"),
        ("rep.plan_assigned", {"plan": "p", "effective_from": "soon"}, "data.effective_from"),
        ("contract.cancelled", {"reason": "x", "refund_amount": "1.001"}, "data.refund_amount"),
    ],
)
def test_bad_data_names_the_field(fact_type: str, data: dict[str, Any], field: str) -> None:
    assert reject(fact(fact_type, "D-1", data)).field == field


def test_unknown_extra_fields_are_kept() -> None:
    obj = opened("D-1", campaign="spring")
    obj["trace"] = "abc"
    parsed = parse_fact(raw(obj))
    assert parsed.data_extra == {"campaign": "spring"}
    assert parsed.envelope_extra == {"trace": "abc"}


def test_digest_ignores_key_order_and_spacing_but_not_values() -> None:
    obj = opened("D-1")
    same = json.dumps(dict(reversed(list(obj.items()))), indent=2).encode()
    assert parse_fact(raw(obj)).digest == parse_fact(same).digest
    changed = {**obj, "data": {**obj["data"], "amount": "10000.01"}}
    assert parse_fact(raw(obj)).digest != parse_fact(raw(changed)).digest


def test_nul_characters_are_refused_naming_the_field() -> None:
    obj = fact("deal.lost", "D-1", {"reason": "bad\u0000byte"})
    error = reject(obj)
    assert error.field == "data.reason"
    assert "NUL" in error.message
    escaped_text = fact("deal.lost", "D-1", {"reason": "a literal \\u0000 is fine"})
    assert parse_fact(raw(escaped_text)).type == "deal.lost"


def test_huge_integers_do_not_crash_the_parser() -> None:
    body = raw(fact("survey.responded", "D-1", {"score": 3, "ticket": 2**80}))
    assert parse_fact(body).data_extra == {"ticket": 2**80}
    error = reject(fact("survey.responded", "D-1", {"score": 2**70}))
    assert error.field == "data.score"
