"""Input limits: an input too large, with a string too long (value or key) or nested too
deep is rejected naming the field and the limit's setting; a rejected input is stored with
at most ``rejection_max_raw_bytes`` of its bytes; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from engine.bootstrap import Engine
from engine.contract.envelope import parse_fact
from engine.contract.limits import DEFAULT_LIMITS, InputLimits
from engine.errors import InvalidFactError
from engine.settings import Settings
from tests.engine.conftest import send
from tests.engine.facts import opened, raw

SMALL = InputLimits(max_bytes=2048, max_string=200, max_depth=5, max_kept_bytes=300)


def _refusal(obj: dict[str, Any] | bytes, limits: InputLimits = SMALL) -> InvalidFactError:
    with pytest.raises(InvalidFactError) as caught:
        parse_fact(obj if isinstance(obj, bytes) else raw(obj), limits)
    return caught.value


def test_a_fact_within_the_limits_parses() -> None:
    fact = parse_fact(raw(opened("LIM-1", note="n" * 200)), SMALL)
    assert fact.subject == "LIM-1"


def test_too_many_bytes_names_input_max_bytes() -> None:
    error = _refusal(opened("LIM-2", filler=["x" * 100] * 30))
    assert error.field == "(body)" and "input_max_bytes=2048" in error.message


def test_a_long_string_names_its_field_and_input_max_string() -> None:
    error = _refusal(opened("LIM-3", note="n" * 201))
    assert error.field == "data.note"
    assert error.reason == "invalid:data.note" and "input_max_string=200" in error.message


def test_a_long_envelope_string_and_a_long_key_are_refused() -> None:
    assert _refusal({**opened("LIM-4"), "source": "s" * 300}).field == "source"
    long_key: dict[str, Any] = {"k" * 201: 1}
    error = _refusal(opened("LIM-5", **long_key))
    assert error.field == "data" and "input_max_string=200" in error.message


def test_a_long_string_in_a_short_escaped_input_is_caught() -> None:
    # 150 escapes of 6 bytes each: the bytes are long, the characters too.
    text = '"' + "\\u0041" * 250 + '"'
    body = json.dumps(opened("LIM-6")).replace('"acct-LIM-6"', text).encode()
    assert _refusal(body).field == "data.account"


def test_deep_nesting_names_input_max_depth() -> None:
    deep: Any = "leaf"
    for _ in range(5):
        deep = {"in": deep}
    error = _refusal(opened("LIM-7", extra=deep))
    assert (error.field or "").startswith("data.extra") and "input_max_depth=5" in error.message
    lists: Any = 1
    for _ in range(5):
        lists = [lists]
    assert "input_max_depth=5" in _refusal(opened("LIM-8", extra=lists)).message


def test_nesting_at_the_limit_passes() -> None:
    # The fact is level 1, data 2, so three more levels reach 5 exactly.
    parse_fact(raw(opened("LIM-9", extra={"a": {"b": {"c": 1}}})), SMALL)


def test_the_default_limits_are_the_settings_defaults() -> None:
    assert Settings().input_limits() == DEFAULT_LIMITS
    assert Settings(input_max_string=300).input_limits().max_string == 300


def test_kept_bytes_are_cut_at_the_limit() -> None:
    assert SMALL.kept(b"x" * 300) == b"x" * 300
    assert SMALL.kept(b"x" * 301) == b"x" * 300


def test_rejections_store_only_the_first_bytes_of_a_large_input(
        make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(input_max_bytes=4096, input_max_string=1000,
                         rejection_max_raw_bytes=512)
    big = raw(opened("LIM-10", note="n" * 10_000))
    long_string = raw(opened("LIM-11", note="n" * 2000))
    result = send(engine, big, opened("LIM-12"), long_string)
    assert [o.status for o in result.outcomes] == ["rejected", "accepted", "rejected"]
    assert "input_max_bytes=4096" in (result.outcomes[0].message or "")
    stored = {row.origin: row for row in engine.app.store.select_rejections(limit=10)}
    assert stored["test:1"].raw == big[:512]
    assert stored["test:3"].raw == long_string[:512]
    assert stored["test:1"].reason == "invalid:(body)"
    assert stored["test:3"].reason == "invalid:data.note"
    assert "input_max_string=1000" in (stored["test:3"].message or "")
