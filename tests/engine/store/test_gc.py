"""The collection between batches (``engine.store.gc``) runs once enough young objects add
up, and then frees the cycles left before it; below that it scans nothing."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from engine.store import gc as store_gc


class _Node:
    """A cycle: freed only by the collector."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_a_few_young_objects_are_left_to_reference_counting(
        collector_off: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_gc, "YOUNG_LIMIT", 5_000)
    cycle = weakref.ref(_Node())
    with store_gc.batches() as collect:
        collect()
    assert cycle() is not None  # not collected yet: too few young objects
    assert gc.get_count()[0] > 0


def test_enough_young_objects_are_collected_with_the_cycles_among_them(
        collector_off: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_gc, "YOUNG_LIMIT", 5_000)
    cycle = weakref.ref(_Node())
    alive = [[n] for n in range(5_000)]  # young and alive: they count
    with store_gc.batches() as collect:
        collect()
    assert cycle() is None
    assert gc.get_count()[0] < 100  # the young generation was collected
    assert len(alive) == 5_000


def test_freezing_after_start_up_frees_the_young_cycles_first(collector_off: None) -> None:
    cycle = weakref.ref(_Node())
    try:
        store_gc.freeze_startup()
        assert cycle() is None  # collected before the freeze, not kept for good
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
