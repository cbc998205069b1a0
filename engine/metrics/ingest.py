"""The ingest observer: turns every stored batch into counter and histogram updates."""

from __future__ import annotations

from engine.ingest.batch import BatchResult
from engine.metrics.instruments import Metrics

__all__ = ["IngestMetrics"]


class IngestMetrics:
    """An :class:`engine.ingest.batch.IngestObserver` for one ingest ``channel``
    (``http``, ``kafka``, ``file``)."""

    def __init__(self, metrics: Metrics, channel: str) -> None:
        """Count into ``metrics`` under ``channel``."""
        self.metrics = metrics
        self.channel = channel
        self._batch_seconds = metrics.ingest_batch_seconds.labels(channel)
        self._batch_inputs = metrics.ingest_batch_inputs.labels(channel)
        self._appended = metrics.append_batch_events.labels(channel)

    def batch_stored(self, result: BatchResult, seconds: float, attempts: int) -> None:
        """Count the batch's outcomes, its latency, size and retries."""
        m, channel = self.metrics, self.channel
        accepted: dict[tuple[str, str], int] = {}
        duplicates: dict[str, int] = {}
        rejected: dict[str, int] = {}
        for o in result.outcomes:
            if o.status == "accepted":
                key = (o.fact_type or "?", o.source or "?")
                accepted[key] = accepted.get(key, 0) + 1
            elif o.status == "duplicate":
                duplicates[o.source or "?"] = duplicates.get(o.source or "?", 0) + 1
            else:
                rejected[o.reason or "?"] = rejected.get(o.reason or "?", 0) + 1
        for (type_, source), n in accepted.items():
            m.facts_ingested.labels(channel, type_, source).inc(n)
        for source, n in duplicates.items():
            m.facts_duplicate.labels(channel, source).inc(n)
        for reason, n in rejected.items():
            m.facts_rejected.labels(channel, reason).inc(n)
        self._batch_seconds.observe(seconds)
        self._batch_inputs.observe(len(result.outcomes))
        if result.events:
            self._appended.observe(result.events)
        if attempts > 1:
            m.ingest_retries.labels(channel).inc(attempts - 1)
