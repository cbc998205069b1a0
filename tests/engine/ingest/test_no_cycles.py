"""A stored batch is freed by reference counting alone: whatever it refused (invalid JSON, a
field a validator refused, a rule), it leaves nothing for the cyclic collector, which ingest
keeps off while a batch is decided (a cycle through a refusal's traceback held the whole
batch until the next collection)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from engine.bootstrap import Engine
from engine.store import gc as store_gc
from tests.engine.conftest import send
from tests.engine.facts import fact, opened


@pytest.fixture
def found_by_collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """What each collection between batches (``engine.store.gc``) found unreachable."""
    found: list[int] = []
    monkeypatch.setattr(store_gc, "_collect", lambda: found.append(gc.collect(1)))
    gc.collect()
    gc.disable()
    try:
        yield found
    finally:
        gc.enable()


def _refusing_batch(n: int) -> list[dict[str, object] | bytes]:
    return [
        opened(f"C-{n}"),
        b"{broken",
        fact("deal.amount_changed", f"C-{n}", {"amount": "1.005", "currency": "EUR"}),
        fact("survey.responded", f"C-{n}", {"score": 9}),
        fact("deal.stage_changed", f"C-{n}", {"to": "won"}),
        fact("deal.stage_changed", "C-never-opened", {"to": "contact"}),
    ]


def test_a_batch_with_refusals_leaves_no_cycles(engine: Engine,
                                                found_by_collector: list[int]) -> None:
    send(engine, *_refusing_batch(0))  # first use: connections, statement caches
    gc.collect()
    found_by_collector.clear()
    for n in range(1, 4):
        result = send(engine, *_refusing_batch(n))
        assert result.accepted == 1
        assert sorted(result.rejected) == ["deal_not_found", "invalid:(body)",
                                           "invalid:data.amount", "invalid:data.score",
                                           "stage_jump"]
        del result
    assert found_by_collector == [0, 0, 0]
    assert gc.collect() == 0
