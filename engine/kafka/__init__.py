"""Kafka in and out: the ingest consumer (with dead letters) and the outbox relay.

- :class:`KafkaIngestWorker` consumes contract facts with exactly-once effect per offset and
  per fact id, and publishes rejected inputs to the dead-letter topic;
- :class:`OutboxRelay` publishes every domain event, in log order, to the events topic;
- :class:`KafkaSettings` holds topics, group and client settings (``DEALFLOW_KAFKA_*``).

See docs/kafka.md and docs/events-schema.md. Only the settings are imported eagerly
(``engine.settings`` nests them); the clients load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from engine.kafka.settings import KafkaSettings

if TYPE_CHECKING:
    from engine.kafka.consumer import ConsumerStats, KafkaIngestWorker
    from engine.kafka.relay import OutboxRelay, RelayStats

__all__ = ["ConsumerStats", "KafkaIngestWorker", "KafkaSettings", "OutboxRelay", "RelayStats"]

_LAZY = {
    "ConsumerStats": "engine.kafka.consumer",
    "KafkaIngestWorker": "engine.kafka.consumer",
    "OutboxRelay": "engine.kafka.relay",
    "RelayStats": "engine.kafka.relay",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'engine.kafka' has no attribute {name!r}")
