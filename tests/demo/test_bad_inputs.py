"""Every bad-input class of the contract is present, labelled, and refused for its reason."""

from __future__ import annotations

import json
import re

import pytest

from engine.demo import (
    BAD_CLASSES,
    FIELD_CLASSES,
    WORKFLOW_CLASSES,
    GeneratedCounts,
    generate_lines,
)
from tests.demo.conftest import Quarter
from tests.demo.reference import field_error

BAD_ID = re.compile(r"bad-(?P<cls>[a-z_]+)-\d{6}")


def test_the_classes_cover_the_contract() -> None:
    assert set(BAD_CLASSES) == {
        "not_json", "missing_field", "ill_typed", "unknown_type", "amount_precision",
        "time_without_offset", "stage_jump", "missing_requirement", "unknown_deal",
        "opened_twice", "closed_deal", "conflict",
    }
    assert set(FIELD_CLASSES) | set(WORKFLOW_CLASSES) | {"conflict"} == set(BAD_CLASSES)


def test_every_class_is_present_several_times(quarter: Quarter) -> None:
    for name in BAD_CLASSES:
        assert quarter.counts.bad_by_class.get(name, 0) >= 5, name


def test_bad_lines_carry_a_fresh_id_naming_their_class(quarter: Quarter) -> None:
    for line in quarter.lines:
        if line.category != "bad" or line.bad_class == "conflict":
            continue
        match = BAD_ID.search(line.raw.decode())
        if line.bad_class == "not_json" and match is None:
            continue  # a proxy's error page carries no id at all
        assert match is not None and match["cls"] == line.bad_class, line


def test_field_classes_fail_validation_for_their_reason(quarter: Quarter) -> None:
    for line in quarter.lines:
        if line.bad_class in FIELD_CLASSES:
            assert field_error(line.raw) == line.bad_class, line
        elif line.category == "bad":
            assert field_error(line.raw) is None, line


def test_the_model_refuses_each_bad_line_for_its_class(quarter: Quarter) -> None:
    for line, verdict in zip(quarter.lines, quarter.verdicts, strict=True):
        if line.category == "bad":
            assert verdict == line.bad_class, line


def test_conflicts_resend_an_accepted_activity_with_other_content(quarter: Quarter) -> None:
    delivered: dict[tuple[str, str], bytes] = {}
    conflicts = 0
    for line in quarter.lines:
        if line.category == "good":
            obj = json.loads(line.raw)
            delivered[(obj["source"], obj["id"])] = line.raw
        elif line.bad_class == "conflict":
            obj = json.loads(line.raw)
            original = delivered[(obj["source"], obj["id"])]
            assert original != line.raw
            assert obj["type"] == "activity.logged"
            assert {k: v for k, v in json.loads(original).items() if k != "data"} == {
                k: v for k, v in obj.items() if k != "data"}
            conflicts += 1
    assert conflicts == quarter.counts.bad_by_class["conflict"]


def test_bad_lines_never_reuse_a_good_key(quarter: Quarter) -> None:
    good = set()
    for line in quarter.lines:
        if line.category == "good":
            obj = json.loads(line.raw)
            good.add((obj["source"], obj["id"]))
    for line in quarter.lines:
        if line.category == "bad" and line.bad_class != "conflict" and field_error(line.raw) in (
            None, "amount_precision", "time_without_offset", "unknown_type"):
            obj = json.loads(line.raw)
            assert (obj["source"], obj["id"]) not in good


def test_the_engine_parser_agrees_on_field_classes(quarter: Quarter) -> None:
    envelope = pytest.importorskip("engine.contract.envelope")
    errors = pytest.importorskip("engine.errors")
    for line in quarter.lines[:20_000]:
        if line.category == "bad" and line.bad_class in FIELD_CLASSES:
            with pytest.raises(errors.InvalidFactError):
                envelope.parse_fact(line.raw)
        elif line.category != "bad" or line.bad_class not in FIELD_CLASSES:
            envelope.parse_fact(line.raw)


@pytest.mark.parametrize("seed", [1, 5, 7, 42])
def test_even_a_small_quarter_has_every_class(seed: int) -> None:
    counts = GeneratedCounts()
    for _ in generate_lines(seed, deals=30, counts=counts):
        pass
    assert set(counts.bad_by_class) == set(BAD_CLASSES)
