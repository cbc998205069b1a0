"""The consumer's guard against kafka-python leaving a rebalance half done
(``engine.kafka.consumer.unstick_rejoin``), on kafka-python's own coordinator: the state is
set by hand (the real sequence needs a join to finish between two polls, which a test
cannot time; tests/kafka/test_consumer.py's broker restart meets it now and then)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer

from engine.kafka.consumer import unstick_rejoin

pytestmark = pytest.mark.kafka


@pytest.fixture
def consumer(kafka_bootstrap: str) -> Iterator[KafkaConsumer]:
    """A subscribed consumer that has not polled yet (so has not joined its group)."""
    made = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id="g-rejoin",
                         enable_auto_commit=False)
    made.subscribe(["facts"])
    try:
        yield made
    finally:
        made.close(autocommit=False)


def test_a_join_left_half_done_is_asked_again(consumer: KafkaConsumer) -> None:
    # The state kafka-python 3.0.12 leaves: a rebalance started (rejoining), the leader's
    # assignment recorded the new metadata (no longer "needs" to rejoin), the finished join
    # never collected.
    coordinator = consumer._coordinator
    coordinator.rejoining = True
    coordinator.rejoin_needed = False
    coordinator._joined_subscription = set(consumer.subscription() or ())
    assert not coordinator.need_rejoin()

    assert unstick_rejoin(consumer) is True
    assert coordinator.need_rejoin()  # the next poll joins (or collects the join in flight)


def test_a_rebalance_going_its_way_is_left_alone(consumer: KafkaConsumer) -> None:
    coordinator = consumer._coordinator
    coordinator._joined_subscription = set(consumer.subscription() or ())
    coordinator.rejoining = True  # still needs to rejoin: the poll loop is on it
    assert coordinator.need_rejoin()
    assert unstick_rejoin(consumer) is False

    coordinator.rejoining = False  # stable, nothing pending
    coordinator.rejoin_needed = False
    assert unstick_rejoin(consumer) is False
    assert not coordinator.need_rejoin()


def test_a_client_without_that_coordinator_is_left_alone() -> None:
    assert unstick_rejoin(object()) is False
