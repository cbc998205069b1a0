"""Prometheus metrics of the Kafka consumer and the relay (registered on a given registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["ConsumerMetrics", "RelayMetrics"]


class ConsumerMetrics:
    """What the ingest workers count; one instance per registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """A private registry unless one is given (nothing global)."""
        self.registry = registry if registry is not None else CollectorRegistry()
        self.records = Counter("dealflow_kafka_records", "Kafka records consumed.",
                               ["topic"], registry=self.registry)
        self.outcomes = Counter("dealflow_kafka_facts", "Consumed facts by outcome "
                                "(accepted, duplicate, rejected).", ["outcome"],
                                registry=self.registry)
        self.dead_letters = Counter("dealflow_kafka_dead_letters",
                                    "Dead letters published, by reason.", ["reason"],
                                    registry=self.registry)
        self.lag = Gauge("dealflow_kafka_consumer_lag", "Records behind the fetched log end.",
                         ["topic", "partition"], registry=self.registry)
        self.batch_seconds = Histogram("dealflow_kafka_batch_seconds",
                                       "Time to store one polled batch.",
                                       registry=self.registry)
        self.store_errors = Counter("dealflow_kafka_store_errors",
                                    "Times the store did not answer the consumer (database "
                                    "down or locked): a polled batch not stored, or a "
                                    "partition not taken; asked again after a backoff.",
                                    registry=self.registry)
        self.rebalances = Counter("dealflow_kafka_rebalances",
                                  "Partition assignment changes seen.", registry=self.registry)


class RelayMetrics:
    """What the outbox relay counts."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """A private registry unless one is given (nothing global)."""
        self.registry = registry if registry is not None else CollectorRegistry()
        self.published = Counter("dealflow_relay_events", "Domain events acknowledged by "
                                 "the broker.", registry=self.registry)
        self.position = Gauge("dealflow_relay_position", "Last log position saved as "
                              "published.", registry=self.registry)
        self.resends = Counter("dealflow_relay_resends", "Times the relay went back to its "
                               "saved position after a failed send.", registry=self.registry)
