"""Every metric dealflow exports, created on one :class:`CollectorRegistry` passed in.

Names follow Prometheus conventions: the ``dealflow_`` prefix, ``_total`` on counters
(added by prometheus-client), ``_seconds`` for durations, no unit on counts. Gauges read from
the views at scrape time (pipeline, SLA, view lag) are produced by
:class:`engine.metrics.views.ViewCollector`, not here.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["LATENCY_BUCKETS", "Metrics"]

#: Seconds, from sub-millisecond reads to multi-second batches.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)
_BATCH_BUCKETS = (1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class Metrics:
    """The process's instruments; every one is registered on ``registry`` only."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """Create the instruments on ``registry`` (a fresh one by default)."""
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # --- ingest
        self.facts_ingested = Counter(
            "dealflow_facts_ingested", "Facts accepted, by channel, contract type and source.",
            ["channel", "type", "source"], registry=r)
        self.facts_duplicate = Counter(
            "dealflow_facts_duplicate",
            "Facts that repeated an accepted (source, id) and changed nothing.",
            ["channel", "source"], registry=r)
        self.facts_rejected = Counter(
            "dealflow_facts_rejected", "Inputs rejected (and stored), by reason.",
            ["channel", "reason"], registry=r)
        self.ingest_batch_seconds = Histogram(
            "dealflow_ingest_batch_seconds",
            "Time to decide and commit one ingest batch (retries included).",
            ["channel"], buckets=LATENCY_BUCKETS, registry=r)
        self.ingest_batch_inputs = Histogram(
            "dealflow_ingest_batch_inputs", "Inputs per ingest batch.", ["channel"],
            buckets=_BATCH_BUCKETS, registry=r)
        self.append_batch_events = Histogram(
            "dealflow_append_batch_events", "Events appended to the log per transaction.",
            ["channel"], buckets=_BATCH_BUCKETS, registry=r)
        self.ingest_retries = Counter(
            "dealflow_ingest_conflict_retries",
            "Ingest batches decided again after a concurrent writer won (optimistic "
            "concurrency).", ["channel"], registry=r)
        # --- HTTP (commands and queries)
        self.http_requests = Counter(
            "dealflow_http_requests", "HTTP requests served, by route template and status.",
            ["method", "route", "status"], registry=r)
        self.http_seconds = Histogram(
            "dealflow_http_request_duration_seconds",
            "HTTP request latency (commands and queries), by route template.",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.http_denied = Counter(
            "dealflow_http_denied",
            "Requests refused by access control: reason missing_token, invalid_token, "
            "revoked_token (401) or forbidden (403).", ["route", "reason"], registry=r)
        self.http_refused = Counter(
            "dealflow_http_refused",
            "Requests refused with 503 and Retry-After before any effect: reason overloaded "
            "(the group commit's bounded queue is full) or store_unavailable (the database "
            "did not answer).", ["reason"], registry=r)
        self.read_wait_seconds = Histogram(
            "dealflow_read_your_writes_wait_seconds",
            "Time requests waited for the views to reach a log position.",
            buckets=LATENCY_BUCKETS, registry=r)
        # Kafka consumer lag and relay position are the Kafka package's own metrics
        # (engine.kafka.metrics, registered on this registry by ``serve``); outbox lag is
        # read at scrape time (engine.metrics.views).
