"""Hostile input (Hypothesis over arbitrary bytes, arbitrary JSON and mutated facts): the
contract parser answers every input with a fact or a named refusal, and the ingest path
accepts each input, counts it a duplicate, or rejects it with a reason and stores it; never
an unhandled exception; on SQLite and PostgreSQL. The long run is bench/fuzz_contract.py;
what it found is pinned below as regression tests."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from engine.bootstrap import Engine
from tests.engine.hostile import BatchChecker, batches, check_parse, hostile_inputs

_SHORT = settings(max_examples=150, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_SHORT
@given(hostile_inputs())
def test_the_parser_refuses_by_name_and_never_raises_otherwise(raw: bytes) -> None:
    check_parse(raw)
    check_parse(raw, "application/x-ndjson")


def test_the_ingest_path_accepts_or_rejects_and_stores_every_input(engine: Engine) -> None:
    checker = BatchChecker(engine)
    seen: dict[str, int] = {}

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(batches)
    def run(inputs: list[bytes]) -> None:
        for status, n in checker.check(inputs).items():
            seen[status] = seen.get(status, 0) + n

    run()
    assert seen.get("rejected", 0) > 0 and seen.get("accepted", 0) > 0


@pytest.mark.parametrize("raw", [
    b'{"id": "x", "type": "deal.opened", "source": "s", "time": "2026-01-05T10:00:00Z",'
    b' "subject": "F-9", "data": {"amount": 1e400}}',
    b'{"id": "x", "type": "deal.opened", "source": "s", "time": "2026-01-05T10:00:00Z",'
    b' "subject": "F-9", "data": {"amount": NaN}}',
    b'{"id": "\\ud800", "type": "deal.opened"}',
    # Found by bench/fuzz_contract.py (atheris): an exponent beyond Decimal's range made
    # the decoder raise decimal.InvalidOperation, which is no ValueError.
    b'644836e999999999999999999999999999995',
    b'{"id": "x", "type": "deal.opened", "data": {"amount": 1e9999999999999999999}}',
    b'\xff\xfe{}',
    b'[' * 5000 + b']' * 5000,
    b'{"a":' * 3000 + b'1' + b'}' * 3000,
])
def test_inputs_that_once_needed_care_are_rejected_and_stored(engine: Engine, raw: bytes
                                                              ) -> None:
    counts = BatchChecker(engine).check([raw])
    assert counts == {"rejected": 1}
