"""The ingest observer: turns every stored batch into counter and histogram updates.

Two labels take their values from the input: a fact's ``source`` (any string the contract
accepts) and a rejection's ``reason``, which names the offending field (``invalid:PATH``,
where PATH can hold keys of the fact's own ``data``). Each distinct value is a series the
exporter keeps for as long as it runs and writes out on every scrape, so past
:data:`LABEL_VALUES` distinct values per label and channel the rest are counted under
:data:`OTHER`: hostile or careless input cannot grow serve's memory or its scrapes
without bound, and no fact goes uncounted.
"""

from __future__ import annotations

from engine.ingest.batch import BatchResult
from engine.metrics.instruments import Metrics

__all__ = ["LABEL_VALUES", "OTHER", "IngestMetrics"]

#: Distinct values of ``source`` and of ``reason`` exported per channel.
LABEL_VALUES = 200
#: The label value that counts every value past the first :data:`LABEL_VALUES`.
OTHER = "(other)"


class _Bounded:
    """The first ``limit`` distinct values as they are; any other one as :data:`OTHER`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        if len(self.seen) >= self.limit:
            return OTHER
        self.seen.add(value)
        return value


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
        self._source = _Bounded(LABEL_VALUES)
        self._reason = _Bounded(LABEL_VALUES)

    def batch_stored(self, result: BatchResult, seconds: float, attempts: int) -> None:
        """Count the batch's outcomes, its latency, size and retries."""
        m, channel = self.metrics, self.channel
        accepted: dict[tuple[str, str], int] = {}
        duplicates: dict[str, int] = {}
        rejected: dict[str, int] = {}
        for o in result.outcomes:
            if o.status == "accepted":
                key = (o.fact_type or "?", self._source(o.source or "?"))
                accepted[key] = accepted.get(key, 0) + 1
            elif o.status == "duplicate":
                source = self._source(o.source or "?")
                duplicates[source] = duplicates.get(source, 0) + 1
            else:
                reason = self._reason(o.reason or "?")
                rejected[reason] = rejected.get(reason, 0) + 1
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
