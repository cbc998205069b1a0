"""The Kafka consumer and outbox relay inside ``dealflow serve --kafka`` (engine.kafka).

The consumer gets an engine of its own (its own store connections and ingestor: an ingestor
is not thread-safe, and the HTTP API's is busy with HTTP batches); its facts are counted
like HTTP's, under channel ``kafka``. Both register their metrics on the service's registry.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from engine.bootstrap import Engine, bootstrap
from engine.metrics import IngestMetrics

if TYPE_CHECKING:
    from engine.serve.service import BackgroundTask, Service

__all__ = ["kafka_tasks", "outbox_position"]

log = logging.getLogger(__name__)


class _Task:
    """A consumer or relay (``start()`` runs a thread, ``stop()`` ends it), and what to close
    after."""

    def __init__(self, runner: Any, engine: Engine | None = None) -> None:
        self.runner = runner
        self.engine = engine

    def start(self) -> None:
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()
        if self.engine is not None:
            self.engine.close()


def kafka_tasks(service: Service) -> list[BackgroundTask]:
    """The ingest consumer and the outbox relay, not started yet."""
    from engine.kafka.consumer import KafkaIngestWorker
    from engine.kafka.metrics import ConsumerMetrics, RelayMetrics

    settings = service.settings
    registry = service.metrics.registry
    engine = bootstrap(settings, observer=IngestMetrics(service.metrics, "kafka"))
    worker = KafkaIngestWorker(engine, settings.kafka, metrics=ConsumerMetrics(registry))
    relay = service.engine.relay(metrics=RelayMetrics(registry))
    return [_Task(worker, engine), _Task(relay)]


def outbox_position(service: Service) -> int:
    """The relay's saved log position for the configured events topic (0: never relayed)."""
    from engine.kafka.state import ensure_tables, relay_position

    ensure_tables(service.runner.engine)
    return relay_position(service.runner.engine, f"kafka:{service.settings.kafka.events_topic}")
