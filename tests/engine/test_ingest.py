"""Ingest guarantees: exactly-once per (source, id), rejections kept with their bytes,
optimistic concurrency retried, bitemporal events; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pytest

from engine.bootstrap import Engine
from engine.domain import Deal, deal_id
from tests.engine.conftest import send
from tests.engine.facts import fact, opened, raw


def test_repeated_id_changes_nothing_and_is_counted(engine: Engine) -> None:
    first = opened("D-1")
    result = send(engine, first, first)
    assert [o.status for o in result.outcomes] == ["accepted", "duplicate"]
    again = send(engine, first)
    assert again.outcomes[0].status == "duplicate"
    assert again.events == 0
    assert engine.app.store.counters()["duplicates"] == 2
    # The opening, and the routing book's start and its record of the batch (its load).
    assert engine.app.recorder.max_notification_id() == 3


def test_repeated_id_after_restart_changes_nothing(make_engine: Callable[..., Engine]) -> None:
    first_engine = make_engine()
    activity = fact("activity.logged", "D-1", {"kind": "call"})
    first = opened("D-1")
    send(first_engine, first, activity)
    first_engine.close()
    restarted = make_engine()
    result = send(restarted, activity, first)
    assert [o.status for o in result.outcomes] == ["duplicate", "duplicate"]
    # Two facts' events, the routing book's start and its record of the first batch.
    assert restarted.app.recorder.max_notification_id() == 4


def test_same_id_with_other_content_is_a_conflict(engine: Engine) -> None:
    original = opened("D-1")
    send(engine, original)
    changed = {**original, "data": {**original["data"], "amount": "1.00"}}
    outcome = send(engine, changed).outcomes[0]
    assert (outcome.status, outcome.reason, outcome.field) == ("rejected", "conflict", "id")
    deal: Deal = engine.app.repository.get(deal_id("D-1"))
    assert deal.amount == Decimal("10000.00")


def test_same_id_from_another_source_is_another_fact(engine: Engine) -> None:
    send(engine, opened("D-1"))
    one = fact("activity.logged", "D-1", {"kind": "call"}, id_="same", source="telephony")
    two = fact("activity.logged", "D-1", {"kind": "email"}, id_="same", source="mail-gateway")
    assert [o.status for o in send(engine, one, two).outcomes] == ["accepted", "accepted"]


def test_rejected_fact_is_not_remembered_and_can_be_corrected(engine: Engine) -> None:
    send(engine, opened("D-1"))
    bad = fact("deal.stage_changed", "D-1", {"to": "proposal"}, id_="fix-me")
    good = fact("activity.logged", "D-1", {"kind": "call"}, id_="fix-me")
    result = send(engine, bad, good)
    assert [o.status for o in result.outcomes] == ["rejected", "accepted"]


def test_rejections_are_stored_with_original_bytes_reason_and_time(engine: Engine) -> None:
    not_json = b'{"id": "broken'
    jump = raw(fact("deal.stage_changed", "D-1", {"to": "quote"}, id_="j1"))
    send(engine, opened("D-1"), not_json, jump, fact("deal.lost", "D-1", {"reason": "x"}))
    rows = engine.app.store.select_rejections()
    assert [(r.raw, r.reason, r.origin) for r in rows] == [
        (not_json, "invalid:(body)", "test:2"),
        (jump, "stage_jump", "test:3"),
    ]
    assert rows[1].fact_id == "j1"
    assert datetime.fromisoformat(rows[0].recorded_at).tzinfo is not None
    assert engine.app.store.rejection_counts() == {"invalid:(body)": 1, "stage_jump": 1}
    # Processing went on with the next input.
    deal: Deal = engine.app.repository.get(deal_id("D-1"))
    assert deal.stage == "lost"


def test_events_keep_business_time_and_recorded_time(engine: Engine) -> None:
    send(engine, opened("D-1"))
    send(engine, fact("activity.logged", "D-1", {"kind": "call"},
                      time="2026-01-02T09:30:00-05:00"))
    events = list(engine.app.events.get(deal_id("D-1")))
    logged = events[-1]
    assert logged.occurred_at == datetime.fromisoformat("2026-01-02T09:30:00-05:00")
    assert logged.timestamp.year >= 2026 and logged.timestamp != logged.occurred_at
    assert logged.source == "crm-web"


def test_unknown_fields_are_kept_in_the_event(engine: Engine) -> None:
    obj = opened("D-1", campaign="spring")
    obj["trace"] = "t-9"
    send(engine, obj)
    created = next(iter(engine.app.events.get(deal_id("D-1"))))
    assert created.extra == {"data": {"campaign": "spring"}, "envelope": {"trace": "t-9"}}


def test_concurrent_write_to_one_deal_is_retried(make_engine: Callable[..., Engine]) -> None:
    worker_a, worker_b = make_engine(), make_engine()
    send(worker_a, opened("D-1"))
    # B loads the deal and appends: A's cached copy is now one version behind.
    send(worker_b, fact("activity.logged", "D-1", {"kind": "call"}))
    result = send(worker_a, fact("deal.stage_changed", "D-1", {"to": "contact"}))
    assert result.outcomes[0].status == "accepted"
    assert worker_a.ingestor.conflicts_retried == 1
    deal: Deal = worker_b.app.repository.get(deal_id("D-1"))
    assert (deal.stage, deal.version) == ("contact", 3)


def test_refusals_on_cached_deals_read_the_store_once_per_batch(engine: Engine) -> None:
    # Each refusal on a cached deal must know the cache was current (a stale one is decided
    # again: test_concurrent_write_to_one_deal_is_retried); one query answers for the batch.
    send(engine, *(opened(f"D-{i}") for i in range(4)))
    asked: list[list[object]] = []
    last_versions = engine.app.store.last_versions

    def counting(ids: list[object]) -> dict[object, int]:
        asked.append(list(ids))
        return last_versions(ids)  # type: ignore[arg-type]

    engine.app.store.last_versions = counting  # type: ignore[assignment, method-assign]
    engine.app.recorder.select_events = None  # type: ignore[assignment, method-assign]
    jumps = [fact("deal.stage_changed", f"D-{i}", {"to": "quote"}) for i in range(4)]
    result = send(engine, *jumps, fact("activity.logged", "D-0", {"kind": "call"}))
    assert [o.reason for o in result.outcomes[:4]] == ["stage_jump"] * 4
    assert result.outcomes[4].status == "accepted"
    assert asked == [[deal_id(f"D-{i}") for i in range(4)]]


def test_one_transaction_per_batch(engine: Engine) -> None:
    objs = [opened(f"D-{i}") for i in range(50)]
    result = send(engine, *objs)
    assert result.accepted == 50
    notifications = engine.app.recorder.select_notifications(start=1, limit=100)
    # 50 openings, then the routing book's start and one record of the whole batch.
    assert [n.id for n in notifications] == list(range(1, 53))
    assert result.last_position == 52


def test_a_batch_is_not_kept_alive_after_it_is_stored(engine: Engine) -> None:
    """Streaming stays flat: nothing of a stored batch (inputs, facts) outlives it, even
    when it held rejections (whose tracebacks would reference the batch)."""
    import gc

    from engine.contract.envelope import Fact
    from engine.ingest.batch import RawInput

    for n in range(3):
        send(engine, opened(f"M-{n}"), b"{broken", fact("deal.stage_changed", f"M-{n}",
                                                         {"to": "quote"}))
    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, RawInput | Fact)]
    assert alive == []


def test_a_failed_batch_leaves_no_unsaved_changes_in_the_cache(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    send(engine, opened("D-1"), fact("activity.logged", "D-1", {"kind": "call"}))
    advance = fact("deal.stage_changed", "D-1", {"to": "contact"})

    def store_down(*_: object, **__: object) -> None:
        raise OSError("store unreachable")

    monkeypatch.setattr(engine.app.recorder, "insert_event_rows", store_down)
    with pytest.raises(OSError):
        send(engine, advance)
    monkeypatch.undo()
    # The cached deal must not believe it moved: the same fact is decided afresh.
    assert send(engine, advance).outcomes[0].status == "accepted"
    deal: Deal = engine.app.repository.get(deal_id("D-1"))
    assert (deal.stage, deal.version) == ("contact", 3)


def test_huge_integers_in_unknown_fields_are_kept(engine: Engine) -> None:
    obj = opened("D-big", ticket=2**80)
    assert send(engine, obj).outcomes[0].status == "accepted"
    created = next(iter(engine.app.events.get(deal_id("D-big"))))
    assert created.extra == {"data": {"ticket": 2**80}}
