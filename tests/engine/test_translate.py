"""Facts into commands: every contract type has its command, field for field."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from engine import commands as c
from engine.contract.data import DATA_MODELS
from engine.contract.envelope import parse_fact
from engine.translate import to_command
from tests.engine.contract.test_envelope import VALID_DATA
from tests.engine.facts import fact, raw


@pytest.mark.parametrize("fact_type", sorted(DATA_MODELS))
def test_a_command_takes_each_data_field_under_its_name(fact_type: str) -> None:
    parsed = parse_fact(raw(fact(fact_type, "d-1", VALID_DATA[fact_type])))
    command = to_command(parsed)
    assert command.meta.source == parsed.source
    assert command.meta.fact_id == parsed.id
    assert command.meta.occurred_at == parsed.time
    assert command.meta.extra == {}
    names = {f.name for f in dataclasses.fields(command)}
    subject = "rep" if isinstance(command, c.RepCommand) else "deal"
    assert getattr(command, subject) == "d-1"
    if isinstance(command, c.NoteFact):
        assert command.fact_type == fact_type
        assert command.details == parsed.data.model_dump(exclude_none=True)
        return
    for name in type(parsed.data).model_fields:
        assert name in names, f"{fact_type}: the command has no field {name}"
        value = getattr(command, name)
        given = getattr(parsed.data, name)
        if name == "splits":
            assert value == [{"rep": s.rep, "share": s.share} for s in given]
        else:
            assert value == given


def test_an_absent_active_flag_means_active() -> None:
    data = {"team": "north"}
    command = to_command(parse_fact(raw(fact("rep.profile_set", "rep-9", data))))
    assert isinstance(command, c.SetProfile)
    assert command.active is True
    assert command.territories is None


def test_unknown_fields_travel_in_the_meta_and_not_in_details() -> None:
    obj = fact("deal.needs_recorded", "d-1", {"summary": "pilot", "budget_hint": "high"},
               trace="abc")
    command = to_command(parse_fact(raw(obj)))
    assert isinstance(command, c.NoteFact)
    assert command.details == {"summary": "pilot"}
    assert command.meta.extra == {"data": {"budget_hint": "high"},
                                  "envelope": {"trace": "abc"}}


def test_money_commands_keep_the_exact_amount() -> None:
    data = {"amount": "99.99", "currency": "EUR"}
    command = to_command(parse_fact(raw(fact("quote.issued", "d-1", data))))
    assert isinstance(command, c.MoneyCommand)
    assert command.amount == Decimal("99.99")
    assert command.currency == "EUR"
