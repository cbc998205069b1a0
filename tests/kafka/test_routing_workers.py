"""Two Kafka workers in one group route deals on one PostgreSQL store: never two owners,
never a decision made on a state another worker had already changed (capacity never
exceeded, each round-robin choice follows the one recorded before it), exactly once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest

from engine.bootstrap import bootstrap
from engine.domain import Deal
from engine.domain.routing_book import ROUTING_BOOK_ID
from engine.ingest.batch import open_loads
from engine.settings import Settings
from tests.engine.facts import raw
from tests.engine.routing.helpers import profile, unowned
from tests.kafka.conftest import (
    Worker,
    create_topics,
    kafka_settings,
    processed,
    produce,
    wait_until,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

REPS = [f"rep-{i}" for i in range(1, 5)]
CAPACITY = 6
DEALS = 80


def test_two_workers_never_give_a_deal_two_owners_or_exceed_capacity(
    kafka_bootstrap: str, pg_database_url: str, workers: Callable[..., Worker]
) -> None:
    settings = kafka_settings(kafka_bootstrap, max_poll_records=7, partitions=4)
    create_topics(settings)
    profiles = [raw(profile(rep, capacity=CAPACITY)) for rep in REPS]
    deals = [raw(unowned(f"D-{i:03}")) for i in range(DEALS)]
    engine = bootstrap(Settings(db=pg_database_url))
    try:
        args = ["consume", "--db", pg_database_url]
        one, two = workers(args, settings, "one").start(), workers(args, settings, "two").start()

        def both_read() -> bool:
            return all("reading " in w.log.read_text(errors="replace") for w in (one, two))

        wait_until(both_read, timeout=60, what="both workers to get partitions",
                   on_timeout=lambda: one.output() + two.output())
        produce(kafka_bootstrap, settings.topics[0], profiles)
        wait_until(lambda: processed(engine) >= len(profiles), timeout=60,
                   what="the profiles", on_timeout=lambda: one.output() + two.output())
        produce(kafka_bootstrap, settings.topics[0], deals)
        total = len(profiles) + len(deals)
        wait_until(lambda: processed(engine) >= total, timeout=120, what="every deal",
                   on_timeout=lambda: one.output() + two.output())
        time.sleep(1.0)
        assert engine.app.store.counters()["accepted"] == total
        decisions = [e for n in engine.app.recorder.select_notifications(
            start=1, limit=1_000_000, topics=[Deal.Routed.TOPIC])
            for e in [engine.app.mapper.to_domain_event(n)]]
        assert len(decisions) == DEALS
        assert len({d.originator_id for d in decisions}) == DEALS  # one decision per deal
        owners = Counter(d.owner for d in decisions)
        # Nothing is ever closed: every rep fills up to its capacity exactly, never beyond.
        assert owners == {**dict.fromkeys(REPS, CAPACITY), None: DEALS - CAPACITY * len(REPS)}
        # In log order each choice of the round robin starts from the one recorded before it.
        last = None
        for d in decisions:
            if d.owner is None:
                continue
            assert d.reason["cursor"] == last
            assert d.reason["loads"][d.owner] == owners_before(decisions, d)
            last = d.owner
        book = engine.app.repository.get(ROUTING_BOOK_ID)
        assert {r: n for r, n in book.loads.items() if n} == open_loads(engine.app)
    finally:
        engine.close()


def owners_before(decisions: list[Deal.Routed], decision: Deal.Routed) -> int:
    """How many deals were routed to ``decision``'s owner before it in the log."""
    index = decisions.index(decision)
    return sum(1 for d in decisions[:index] if d.owner == decision.owner)
