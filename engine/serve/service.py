"""The service process's object graph: engine, views runner, metrics, tokens, reports.

``Service.build(settings)`` wires everything (nothing connects at import time);
``start()`` follows the log with the projection runner (and, with Kafka configured, starts
the consumer and relay); ``stop()`` undoes it. The HTTP app (:func:`engine.api.create_app`)
only talks to a Service.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from engine.bootstrap import Engine, bootstrap
from engine.errors import DealflowError, StoreUnavailableError
from engine.ingest.batch import BatchResult, Outcome, RawInput
from engine.metrics import IngestMetrics, Metrics, ViewCollector
from engine.serve.group import GroupCommitter
from engine.serve.health import StoreHealth, is_store_outage
from engine.serve.malloc import HeapTrimmer, limit_sqlite_heap
from engine.serve.reports import ReportService
from engine.serve.rwlock import ReadWriteLock
from engine.serve.sla_timer import serve_sla_timer
from engine.serve.tokens import TokenStore
from engine.serve.wal import WalCheckpointer
from engine.serve.worker import ViewsProcess
from engine.settings import Settings
from engine.store.app import parse_store_url
from engine.store.rows import RejectionRow
from projections.registry import gauge_builders
from projections.runner import ProjectionRunner

__all__ = ["BackgroundTask", "Readiness", "Service"]

log = logging.getLogger(__name__)
#: The reason stored for an input the ingestor failed on unexpectedly (see ``ingest``).
UNPROCESSABLE = "unprocessable"


class BackgroundTask(Protocol):
    """Something the service runs beside the HTTP API (the Kafka consumer, the relay)."""

    def start(self) -> None:
        """Start in the background."""

    def stop(self) -> None:
        """Stop and release resources."""


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the service should receive traffic, and why."""

    ready: bool
    head: int | None
    views: dict[str, int]
    detail: str


@dataclass
class Service:
    """Everything one ``dealflow serve`` process runs."""

    settings: Settings
    engine: Engine
    runner: ProjectionRunner
    metrics: Metrics
    tokens: TokenStore
    reports: ReportService
    gauges: ReportService
    views_lock: ReadWriteLock
    ingest_lock: threading.Lock = field(default_factory=threading.Lock)
    background: list[BackgroundTask] = field(default_factory=list)
    health: StoreHealth | None = None
    _committer: GroupCommitter | None = None
    _views_process: ViewsProcess | None = None
    _start_head: int | None = None
    _caught_up: bool = False
    _stopped: bool = False
    _sqlite_heap_before: int | None = None

    @classmethod
    def build(cls, settings: Settings, *, registry: CollectorRegistry | None = None
              ) -> Service:
        """Open the store and wire the service (nothing runs until :meth:`start`)."""
        metrics = Metrics(registry)
        engine = bootstrap(settings, observer=IngestMetrics(metrics, "http"))
        runner = engine.runner()
        views_lock = ReadWriteLock()
        reports = ReportService(runner, views_lock, max_age=settings.api_report_max_age,
                                stale_after=settings.api_report_stale_seconds)
        gauges = ReportService(runner, views_lock, reports=gauge_builders(),
                               max_age=settings.metrics_view_cache_seconds,
                               stale_after=settings.api_report_stale_seconds)
        tokens = TokenStore(engine.sql, cache_seconds=settings.api_token_cache_seconds)
        service = cls(settings=settings, engine=engine, runner=runner, metrics=metrics,
                      tokens=tokens, reports=reports, gauges=gauges, views_lock=views_lock,
                      health=StoreHealth(settings.db))
        outbox = None
        if settings.serve_kafka:
            from engine.serve.kafka import outbox_position

            def outbox() -> int:
                return outbox_position(service)

        ViewCollector(head=runner.head, positions=service.positions,
                      read_report=service.report_for_metrics, registry=metrics.registry,
                      outbox=outbox, exporting=service.holds_views)
        return service

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Follow the log with the views' runner; start Kafka tasks when configured."""
        self._start_head = self.runner.head()
        self._sqlite_heap_before = limit_sqlite_heap(self.settings.serve_sqlite_heap_mb << 20)
        tasks: list[BackgroundTask] = [] if self.health is None else [self.health]
        if self.settings.serve_heap_trim_seconds > 0:
            tasks.append(HeapTrimmer(self.settings.serve_heap_trim_seconds))
        wal = self._wal_checkpointer()
        if wal is not None:
            tasks.append(wal)
        if self.runner.live and self.settings.serve_views:
            if self.settings.views_process:
                self._views_process = ViewsProcess(self.settings)
                tasks.append(self._views_process)
            else:
                self.runner.start()
                if "sla" in self.runner.live and self.settings.sla_timer_interval > 0:
                    tasks.append(self._sla_timer())
        if self.settings.serve_kafka:
            from engine.serve.kafka import kafka_tasks

            tasks.extend(kafka_tasks(self))
        for task in tasks:
            task.start()
            self.background.append(task)

    def _wal_checkpointer(self) -> WalCheckpointer | None:
        """The WAL's checkpointer for a SQLite store file (:mod:`engine.serve.wal`)."""
        path = parse_store_url(self.settings.db).get("SQLITE_DBNAME")
        if path is None or path == ":memory:" or self.settings.serve_wal_check_seconds <= 0:
            return None
        return WalCheckpointer(path, interval=self.settings.serve_wal_check_seconds,
                               limit_bytes=self.settings.serve_wal_limit_mb << 20,
                               busy_ms=self.settings.serve_wal_busy_ms)

    def _sla_timer(self) -> BackgroundTask:
        return serve_sla_timer(self.engine, self.runner)

    def stop(self) -> None:
        """Stop background work and close the store (once; later calls do nothing)."""
        if self._stopped:
            return
        self._stopped = True
        for task in reversed(self.background):
            try:
                task.stop()
            except Exception:
                log.exception("stopping %r failed", task)
        self.background = []
        try:
            self.runner.stop()
            self.engine.close()
        finally:
            if self._sqlite_heap_before is not None:  # the process's own limit, as it was
                limit_sqlite_heap(self._sqlite_heap_before)

    # ------------------------------------------------------------------ writing
    def ingest(self, inputs: Sequence[RawInput]) -> BatchResult:
        """Decide and store ``inputs``, in one transaction with any other requests waiting
        at the same time (:mod:`engine.serve.group`)."""
        return self.committer.submit(inputs)

    @property
    def committer(self) -> GroupCommitter:
        """The group commit and its bounded queue (made on first use)."""
        if self._committer is None:
            self._committer = GroupCommitter(self._ingest_batch,
                                             max_inputs=self.settings.api_group_commit,
                                             max_waiting=self.settings.api_max_waiting,
                                             max_requests=self.settings.api_max_waiting_requests)
        return self._committer

    def _ingest_batch(self, inputs: Sequence[RawInput]) -> BatchResult:
        """Decide and store ``inputs`` as one batch (the caller serializes calls).

        If the ingestor fails on the batch with an unexpected error (a bug, not a
        rejection), the inputs are ingested one by one so the others still go through, and
        an input that fails alone is stored as a rejection (reason ``unprocessable``) with
        its bytes: nothing is dropped silently (CONTRACT.md, "What a bad input gets").
        """
        with self.ingest_lock:  # the committer serializes already; direct callers too
            if self.health is not None:
                self.health.check()  # down: refused at once, the database not touched
            try:
                return self.engine.ingestor.ingest(inputs)
            except DealflowError:
                raise
            except Exception as exc:
                if is_store_outage(exc):  # the database, not an input: nothing is stored
                    raise self._outage(exc) from exc
                log.exception("ingesting a batch of %d failed; isolating the input(s) at "
                              "fault", len(inputs))
            result = BatchResult()
            for item in inputs:
                try:
                    one = self.engine.ingestor.ingest([item])
                except DealflowError:
                    raise
                except Exception as exc:
                    if is_store_outage(exc):
                        raise self._outage(exc) from exc
                    one = self._unprocessable(item, exc)
                result.outcomes.extend(one.outcomes)
                result.events += one.events
                if one.last_position is not None:
                    result.last_position = one.last_position
            return result

    def _outage(self, exc: BaseException) -> StoreUnavailableError:
        """The error answering a request that met a store outage (marked down first)."""
        if self.health is not None:
            return self.health.mark_down(exc)
        return StoreUnavailableError(f"the store is unavailable ({exc}); retry")

    def _unprocessable(self, item: RawInput, exc: Exception) -> BatchResult:
        """Store ``item`` as a rejection the ingestor could not make itself."""
        message = f"unprocessable: {type(exc).__name__}: {exc}"
        row = RejectionRow(recorded_at=datetime.now(UTC).isoformat(), origin=item.origin,
                           reason=UNPROCESSABLE, field=None, message=message, source=None,
                           fact_id=None, fact_type=None, subject=None,
                           raw=self.engine.ingestor.limits.kept(item.raw))
        self.engine.app.events.put([], rejections=[row], counters={"rejected": 1})
        self.metrics.facts_rejected.labels("http", UNPROCESSABLE).inc()
        return BatchResult(outcomes=[Outcome("rejected", item.origin, UNPROCESSABLE,
                                             message)])

    # ------------------------------------------------------------------ reading
    def positions(self) -> dict[str, int]:
        """Each live view's position (empty when no view is registered)."""
        return self.runner.positions() if self.runner.live else {}

    def head(self) -> int:
        """The log's last position."""
        return self.runner.head()

    def wait_for(self, position: int, timeout: float | None = None) -> bool:
        """Block until every view has applied ``position`` (read-your-writes)."""
        if not self.runner.live:
            return True
        started = time.perf_counter()
        limit = self.settings.api_wait_seconds if timeout is None else timeout
        if self.following:
            done = self.runner.wait(position, timeout=limit)
        else:  # another process applies the views: poll their shared positions
            while not (done := min(self.positions().values()) >= position):
                if time.perf_counter() - started >= limit:
                    break
                time.sleep(0.01)
        self.metrics.read_wait_seconds.observe(time.perf_counter() - started)
        return done

    def report_for_metrics(self, name: str, **options: Any) -> dict[str, Any] | None:
        """The gauges' read ``name`` as of now with ``options`` (e.g. the forecast's
        ``period``) for the scrape (None if there is no such read, or its first computation
        is not done within ``metrics_first_read_seconds``: it goes on in the background):
        :func:`projections.registry.gauge_builders`, reused for
        ``metrics_view_cache_seconds`` and refreshed in the background after that."""
        if name not in self.gauges.reports:
            return None
        found = self.gauges.compute_within(name, self.settings.metrics_first_read_seconds,
                                           options=options or None)
        return None if found is None else found.content

    def readiness(self) -> Readiness:
        """Ready when the store answers, the views caught up with the log as it was at
        start, and no view is more than ``ready_max_lag`` events behind."""
        if self.health is not None and self.health.down is not None:
            return Readiness(False, None, {}, f"store unavailable: {self.health.down}")
        try:
            head, views = self.head(), self.positions()
        except Exception as exc:  # the store is down: not ready, say why
            return Readiness(False, None, {}, f"store unavailable: {exc}")
        behind = {name: head - at for name, at in views.items()}
        if not self._caught_up:
            start = self._start_head if self._start_head is not None else head
            if all(at >= start for at in views.values()):
                self._caught_up = True
            else:
                return Readiness(False, head, views, "views still catching up with the log")
        worst = max(behind.values(), default=0)
        if worst > self.settings.ready_max_lag:
            return Readiness(False, head, views, f"a view is {worst} events behind "
                             f"(limit {self.settings.ready_max_lag})")
        return Readiness(True, head, views, "ok")

    def rebuild(self, names: Sequence[str] | None = None) -> dict[str, int]:
        """Rebuild views from position zero (replay), readers waiting for the swap."""
        with self.views_lock.writing():
            following, child = self.following, self._views_process
            self.runner.stop()
            if child is not None:
                child.stop()
            try:
                done = self.runner.rebuild(list(names) if names else None)
            finally:
                self.runner.lock.release()
                if following:
                    self.runner.start()
                if child is not None:
                    child.start()
            self.reports.clear()
            self.gauges.clear()
        return done

    @property
    def following(self) -> bool:
        """Whether this process's own thread applies the views (thread mode)."""
        return self.runner.following

    def holds_views(self) -> bool:
        """Whether this service keeps the views (its thread or its views process holds
        their lock). Only that one exports the gauges read from the views, so that the
        replicas of a deployment do not count open deals or overdue steps twice."""
        if self._views_process is not None:
            return self._views_process.holds_views
        return self.runner.lock.held
