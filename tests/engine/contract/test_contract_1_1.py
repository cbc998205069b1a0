"""Contract version 1.1 parsing: optional owner, territory, ``rep.profile_set`` (rules 1, 9)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.contract.data import DealOpenedData, ProfileSetData
from engine.contract.envelope import parse_fact
from engine.errors import InvalidFactError
from tests.engine.facts import fact, opened, raw


def profile(**data: Any) -> dict[str, Any]:
    return fact("rep.profile_set", "rep-1", {"team": "east", **data})


def reject(obj: dict[str, Any] | bytes) -> InvalidFactError:
    body = obj if isinstance(obj, bytes) else raw(obj)
    with pytest.raises(InvalidFactError) as caught:
        parse_fact(body)
    return caught.value


@pytest.mark.parametrize("owner", ["absent", None])
def test_deal_opened_without_owner_parses(owner: Any) -> None:
    obj = opened("D-1", territory="north")
    if owner == "absent":
        del obj["data"]["owner"]
    else:
        obj["data"]["owner"] = owner
    data = parse_fact(raw(obj)).data
    assert isinstance(data, DealOpenedData)
    assert (data.owner, data.territory) == (None, "north")


def test_profile_defaults_follow_rule_1() -> None:
    data = parse_fact(raw(profile())).data
    assert isinstance(data, ProfileSetData)
    assert (data.manager, data.territories, data.segments, data.capacity) == (
        None, None, None, None)
    assert data.active is None  # the translator reads an absent ``active`` as true


def test_profile_keeps_empty_lists_and_zero_capacity() -> None:
    data = parse_fact(raw(profile(segments=[], territories=[], capacity=0, active=False))).data
    assert isinstance(data, ProfileSetData)
    assert (data.segments, data.territories, data.capacity, data.active) == ([], [], 0, False)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"capacity": True}, "data.capacity"),
        ({"capacity": "2"}, "data.capacity"),
        ({"capacity": -1}, "data.capacity"),
        ({"capacity": [2]}, "data.capacity"),
        ({"segments": "high_value"}, "data.segments"),
        ({"segments": ["a", 1]}, "data.segments"),
        ({"territories": [None]}, "data.territories"),
        ({"territories": {"a": 1}}, "data.territories"),
        ({"active": "true"}, "data.active"),
        ({"active": 1}, "data.active"),
        ({"manager": 5}, "data.manager"),
        ({"team": ""}, "data.team"),
        ({"team": None}, "data.team"),
    ],
)
def test_bad_profile_fields_are_named(data: dict[str, Any], field: str) -> None:
    assert reject(profile(**data)).field == field


def test_capacity_two_point_zero_is_not_an_integer() -> None:
    # Written by hand: ``json.dumps(2.0)`` would be fine, but the point is the text "2.0".
    body = raw(profile(capacity=0)).replace(b'"capacity": 0', b'"capacity": 2.0')
    assert b"2.0" in body
    error = reject(body)
    assert error.field == "data.capacity"
    assert "integer" in error.message


def test_profile_without_team_is_rejected() -> None:
    obj = fact("rep.profile_set", "rep-1", {"capacity": 2})
    assert reject(obj).field == "data.team"


def test_reassigned_to_null_owner_is_rejected_naming_owner() -> None:
    error = reject(fact("deal.reassigned", "D-1", {"owner": None}))
    assert error.field == "data.owner"
    assert "null" in error.message


def test_opened_with_bad_territory_names_it() -> None:
    assert reject(opened("D-1", territory=["north"])).field == "data.territory"


def test_profile_extra_fields_are_kept() -> None:
    parsed = parse_fact(raw(profile(desk="3F")))
    assert parsed.data_extra == {"desk": "3F"}
    assert json.loads(raw(profile()))["data"] == {"team": "east"}
