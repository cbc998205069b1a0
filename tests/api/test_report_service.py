"""ReportService.compute_within: a reader that must not hang (a /metrics scrape) gets None
while a first computation runs in the background, and the answer once it is done; the
computation runs once however many readers ask. Reports asked as of many instants keep no
state beyond the cache's entries."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from engine.serve.reports import ReportService
from engine.serve.rwlock import ReadWriteLock


class _Report:
    def __init__(self, content: dict[str, Any]) -> None:
        self.content = content

    def to_json(self) -> dict[str, Any]:
        return self.content


class _Engine:
    @contextlib.contextmanager
    def connect(self) -> Iterator[None]:
        yield None


class _Runner:
    live = {"v": object()}
    engine = _Engine()

    def positions(self) -> dict[str, int]:
        return {"v": 7}


def test_a_first_computation_is_waited_for_only_so_long() -> None:
    release = threading.Event()
    calls: list[int] = []

    def slow(conn: Any, view: Any, params: Any) -> _Report:
        calls.append(1)
        assert release.wait(30)
        return _Report({"n": len(calls)})

    service = ReportService(_Runner(), ReadWriteLock(), max_age=60, stale_after=60,  # type: ignore[arg-type]
                            reports={"slow": ("v", slow)})
    assert service.compute_within("slow", 0.05) is None  # still computing
    assert service.compute_within("slow", 0.05) is None  # the same computation, not another
    release.set()
    found = service.compute_within("slow", 30)
    assert found is not None
    assert (found.content, found.position) == ({"n": 1}, 7)
    assert len(calls) == 1
    again = service.compute_within("slow", 0)  # at hand now: no wait, no recomputation
    assert again is not None and again.content == {"n": 1}
    assert len(calls) == 1


def test_reports_as_of_many_instants_keep_no_state_beyond_the_cache() -> None:
    from datetime import UTC, datetime, timedelta

    from engine.serve.reports import _CACHE_ENTRIES

    def quick(conn: Any, view: Any, params: Any) -> _Report:
        return _Report({"as_of": params.as_of.isoformat()})

    service = ReportService(_Runner(), ReadWriteLock(), max_age=60, stale_after=60,  # type: ignore[arg-type]
                            reports={"quick": ("v", quick)})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    instants = [start + timedelta(seconds=i) for i in range(3 * _CACHE_ENTRIES)]
    for at in instants:
        assert service.compute("quick", as_of=at).content == {"as_of": at.isoformat()}
    # Each instant is a key of its own: the cache keeps the latest, and the per-key flight
    # locks (which once stayed for every instant ever asked) go with what it evicts.
    assert len(service._cache) == _CACHE_ENTRIES
    assert set(service._flights) <= set(service._cache)
    assert service.compute("quick", as_of=instants[-1]).content["as_of"] == instants[-1].isoformat()

