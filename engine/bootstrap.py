"""Build the object graph from settings: the one place that wires things together.

Every entry point (CLI commands, ``serve``, the Kafka consumer and relay, the audit
commands) calls :func:`bootstrap` and takes what it needs from the returned graph: the
store, the SQL engine on the store's database, the definitions (shipped plus the user's),
the views configured with them, runners, singleton locks. Nothing is built at import time
and nothing below this module falls back to defaults of its own.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine as SqlEngine

import engine.domain  # noqa: F401  (registers the events' fixed stored names)
from engine.definitions import Definitions, load_definitions
from engine.ingest.batch import BatchResult, IngestObserver, Ingestor
from engine.ingest.parallel import ParallelIngest
from engine.settings import Settings
from engine.store.app import DealflowApplication
from engine.store.locks import SingletonLock
from engine.store.log import LogReader
from engine.store.sql import sql_engine
from projections.base import Projection
from projections.registry import shipped_views
from projections.runner import LOCK_NAME, ProjectionRunner
from projections.sla import SlaProjection
from projections.sla.timer import LOCK_NAME as TIMER_LOCK
from projections.sla.timer import SlaTimer, wall_clock
from workflows import WorkflowRegistry

if TYPE_CHECKING:
    from engine.audit.follower import ChainFollower
    from engine.audit.keys import Ed25519PrivateKey
    from engine.kafka.metrics import RelayMetrics
    from engine.kafka.relay import OutboxRelay
    from engine.kafka.settings import KafkaSettings

__all__ = ["Engine", "bootstrap"]


class _Stored:
    """The ingestor's observer: the caller's (metrics), then a nudge to every runner of this
    process, so that views following in a thread apply a commit at once instead of at
    their next poll. Runners are held weakly: a discarded runner is simply not nudged."""

    def __init__(self, observer: IngestObserver | None) -> None:
        self.observer = observer
        self.runners: weakref.WeakSet[ProjectionRunner] = weakref.WeakSet()

    def batch_stored(self, result: BatchResult, seconds: float, attempts: int) -> None:
        if self.observer is not None:
            self.observer.batch_stored(result, seconds, attempts)
        if result.last_position is not None:
            for runner in list(self.runners):
                runner.nudge()


@dataclass
class Engine:
    """The wired engine: settings, store, definitions, views and the ingestor."""

    settings: Settings
    app: DealflowApplication
    sql: SqlEngine
    definitions: Definitions
    ingestor: Ingestor
    reader: LogReader
    stored: _Stored
    views: dict[str, Projection] = field(default_factory=dict)
    _locks: list[SingletonLock] = field(default_factory=list)

    @property
    def workflows(self) -> WorkflowRegistry:
        """The workflows (shipped and the user's)."""
        return self.definitions.workflows

    def lock(self, name: str) -> SingletonLock:
        """The singleton lock ``name`` on this store (one holder per store); released at
        :meth:`close` at the latest."""
        lock = SingletonLock(self.app.url, self.sql, name)
        self._locks.append(lock)
        return lock

    def view_names(self) -> list[str]:
        """The views this engine maintains."""
        return list(self.views)

    def runner(self, names: Sequence[str] | None = None, *,
               batch_size: int = 1000) -> ProjectionRunner:
        """A runner over the views ``names`` (all by default), reading ``batch_size``
        events per batch; ``KeyError`` names an unknown view."""
        chosen = list(names or self.views)
        unknown = [n for n in chosen if n not in self.views]
        if unknown:
            raise KeyError(f"unknown view(s) {', '.join(unknown)}; "
                           f"known: {', '.join(self.views)}")
        return self.runner_of([self.views[n] for n in chosen], batch_size=batch_size)

    def runner_of(self, views: Sequence[Projection], *, batch_size: int = 1000
                  ) -> ProjectionRunner:
        """A runner over configured view instances (e.g. a view a test defines)."""
        runner = ProjectionRunner(self.reader, self.sql, views, lock=self.lock(LOCK_NAME),
                                  batch_size=batch_size)
        self.stored.runners.add(runner)
        return runner

    def sla_timer(self, runner: ProjectionRunner | None = None, *,
                  clock: Callable[[], datetime] = wall_clock,
                  interval: float | None = None) -> SlaTimer:
        """The SLA timer over this engine's SLA view, ticking on ``clock`` every
        ``interval`` seconds (default ``settings.sla_timer_interval``) once started;
        ``runner`` (one that applies the SLA view in this process) brings the view up to
        date before each tick."""
        view = self.views[SlaProjection.name]
        assert isinstance(view, SlaProjection)
        return SlaTimer(self.app, view, self.sql, self.lock(TIMER_LOCK), runner=runner,
                        interval=self.settings.sla_timer_interval if interval is None
                        else interval, clock=clock)

    def chain_follower(self, signer: Ed25519PrivateKey | None = None, *,
                       batch_size: int = 5000, periodic: bool = True) -> ChainFollower:
        """The audit chain's follower on this store; with ``signer`` it signs checkpoints
        (every ``settings.audit_checkpoint_every`` events or ``..._seconds`` seconds when
        ``periodic``, else on demand only)."""
        from engine.audit.follower import LOCK_NAME as CHAIN_LOCK
        from engine.audit.follower import ChainFollower

        s = self.settings
        return ChainFollower(self.app, self.sql, self.lock(CHAIN_LOCK), batch_size=batch_size,
                             signer=signer,
                             checkpoint_every=s.audit_checkpoint_every if periodic else None,
                             checkpoint_seconds=s.audit_checkpoint_seconds)

    def relay(self, kafka: KafkaSettings | None = None, *,
              metrics: RelayMetrics | None = None) -> OutboxRelay:
        """The outbox relay of this store to Kafka (``kafka``: default the settings')."""
        from engine.kafka.relay import LOCK_NAME as RELAY_LOCK
        from engine.kafka.relay import OutboxRelay

        return OutboxRelay(self.app, self.sql, self.lock(RELAY_LOCK),
                           kafka if kafka is not None else self.settings.kafka,
                           metrics=metrics)

    def parallel_ingest(self, workers: int) -> ParallelIngest:
        """Ingest with ``workers`` processes: this engine's ingestor decides every fact in
        line order, ``workers - 1`` helper processes parse and validate ahead of it."""
        return ParallelIngest(self.ingestor, self.settings.batch_size, workers)

    def close(self) -> None:
        """Release the locks taken through this engine and the store's connections."""
        for lock in self._locks:
            lock.release()
        self._locks.clear()
        self.sql.dispose()
        self.app.close()


def bootstrap(
    settings: Settings, *, observer: IngestObserver | None = None, create_tables: bool = True
) -> Engine:
    """Open the store named by ``settings.db`` and wire the engine around it.

    ``observer`` (e.g. the metrics) is told about every stored batch.
    """
    definitions = load_definitions(settings.definitions)
    app = DealflowApplication(settings.db, create_tables=create_tables,
                              busy_timeout=settings.store_busy_timeout)
    stored = _Stored(observer)
    ingestor = Ingestor(app, definitions.workflows, routing=definitions.routing,
                        cache_size=settings.cache_size,
                        observer=stored, limits=settings.input_limits())
    views = {v.name: v for v in shipped_views(definitions.workflows, definitions.plans)}
    return Engine(settings=settings, app=app,
                  sql=sql_engine(settings.db, busy_timeout=settings.store_busy_timeout),
                  definitions=definitions, ingestor=ingestor, reader=LogReader(app),
                  stored=stored, views=views)
