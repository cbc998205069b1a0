"""Facts into commands: every contract type has its command, field for field."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from operator import attrgetter

import pytest

from engine import commands as c
from engine.contract.data import DATA_MODELS
from engine.contract.envelope import parse_fact
from engine.domain.facts import FactMeta
from engine.translate import (
    _DIRECT_DETAILS,
    _NOTED,
    _PLAIN,
    _RESHAPED,
    _TRANSLATORS,
    _by_keywords,
    _details,
    to_command,
)
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


@pytest.mark.parametrize("fact_type", sorted(_PLAIN))
def test_a_command_filled_through_its_slots_equals_one_built_by_keywords(
    fact_type: str,
) -> None:
    data = {**VALID_DATA[fact_type], **FULL_DATA.get(fact_type, {})}
    parsed = parse_fact(raw(fact(fact_type, "d-1", data)))
    meta = FactMeta(parsed.source, parsed.id, parsed.time, parsed.actor, {})
    command, fields = _PLAIN[fact_type]
    subject = "rep" if issubclass(command, c.RepCommand) else "deal"
    fast = _TRANSLATORS[fact_type](parsed, meta)
    slow = _by_keywords(command, subject, fields, attrgetter(*fields), len(fields) > 1,
                        [(name, _RESHAPED[name]) for name in fields if name in _RESHAPED]
                        )(parsed, meta)
    assert type(fast) is type(slow) is command
    # Every field is set (an unset slot would raise here) and equal.
    assert dataclasses.astuple(fast) == dataclasses.astuple(slow)
    assert fast == slow
    # The fast way was taken: no keyword dict, no __init__.
    assert _TRANSLATORS[fact_type].__qualname__.startswith("_plain.")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.meta = meta  # type: ignore[misc]


#: Optional data fields set, so that the comparison above covers them with values.
FULL_DATA: dict[str, dict[str, object]] = {
    "deal.opened": {"expected_close": "2026-03-31", "segment": "smb", "territory": "north",
                    "partner": "p-1", "splits": [{"rep": "r-1", "share": "0.5"},
                                                 {"rep": "r-2", "share": "0.5"}]},
    "activity.logged": {"purpose": "first_call", "outcome": "reached"},
    "deal.reassigned": {"splits": [{"rep": "r-1", "share": "1"}]},
    "rep.profile_set": {"manager": "m-1", "territories": ["north"], "segments": ["smb"],
                        "capacity": 5, "active": False},
}


@pytest.mark.parametrize("fact_type", sorted(_NOTED))
@pytest.mark.parametrize("extra", [{}, {"budget_hint": "high", "n": 3}])
def test_a_noted_fact_s_details_are_its_data_dumped_without_unknown_fields(
    fact_type: str, extra: dict[str, object],
) -> None:
    data_model = DATA_MODELS[fact_type]
    full = {**VALID_DATA[fact_type],
            **{name: f"{name}-value" for name in data_model.model_fields}}
    for given in (VALID_DATA[fact_type], full):
        data = parse_fact(raw(fact(fact_type, "d-1", {**given, **extra}))).data
        expected = data.model_dump(exclude_none=True)
        for key in extra:
            expected.pop(key)
        # Equal in order too: the details are stored as the event's JSON.
        assert list(_details(data).items()) == list(expected.items())
        assert type(data) in _DIRECT_DETAILS  # the direct way was taken
