"""Build the object graph from settings: the one place that wires things together.

Every entry point (CLI commands, ``serve``, the Kafka consumer and relay, the audit
commands) calls :func:`bootstrap` and takes what it needs from the returned graph: the
store, the SQL engine on the store's database, the definitions (shipped plus the user's),
the views configured with them, runners, singleton locks. Nothing is built at import time
and nothing below this module falls back to defaults of its own.

The graph is wired here but its read side is built when first asked for: the SQL engine,
the log reader and the views (with SQLAlchemy and every projection module) load on first
use of :attr:`Engine.sql`, :attr:`Engine.reader` or :attr:`Engine.views`, so that a command
that only writes (``dealflow ingest``) starts without them (about a third of its start-up).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

import engine.domain  # noqa: F401  (registers the events' fixed stored names)
from engine.definitions import Definitions, load_definitions
from engine.ingest.batch import BatchResult, IngestObserver, Ingestor
from engine.ingest.parallel import ParallelIngest
from engine.settings import Settings
from engine.store.app import DealflowApplication

if TYPE_CHECKING:
    from sqlalchemy import Engine as SqlEngine

    from engine.audit.follower import ChainFollower
    from engine.audit.keys import Ed25519PrivateKey
    from engine.kafka.metrics import RelayMetrics
    from engine.kafka.relay import OutboxRelay
    from engine.kafka.settings import KafkaSettings
    from engine.store.locks import SingletonLock
    from engine.store.log import LogReader
    from projections.base import Projection
    from projections.runner import ProjectionRunner
    from projections.sla.timer import SlaTimer
    from workflows import WorkflowRegistry

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


class Engine:
    """The wired engine: settings, store, definitions and the ingestor; the SQL engine,
    the log reader and the views, built on first use (see the module docstring)."""

    def __init__(self, *, settings: Settings, app: DealflowApplication,
                 definitions: Definitions, ingestor: Ingestor, stored: _Stored) -> None:
        """Wire the parts :func:`bootstrap` built (use it rather than this)."""
        self.settings = settings
        self.app = app
        self.definitions = definitions
        self.ingestor = ingestor
        self.stored = stored
        self._locks: list[SingletonLock] = []

    @cached_property
    def sql(self) -> SqlEngine:
        """The SQLAlchemy engine on the store's database (views, positions, side tables)."""
        from engine.store.sql import sql_engine

        return sql_engine(self.settings.db, busy_timeout=self.settings.store_busy_timeout)

    @cached_property
    def reader(self) -> LogReader:
        """Reads the log in batches, decoded once for every follower."""
        from engine.store.log import LogReader

        return LogReader(self.app)

    @cached_property
    def views(self) -> dict[str, Projection]:
        """The shipped views, configured with this engine's definitions, by name."""
        from projections.registry import shipped_views

        definitions = self.definitions
        return {v.name: v for v in shipped_views(definitions.workflows, definitions.plans)}

    @property
    def workflows(self) -> WorkflowRegistry:
        """The workflows (shipped and the user's)."""
        return self.definitions.workflows

    def lock(self, name: str) -> SingletonLock:
        """The singleton lock ``name`` on this store (one holder per store); released at
        :meth:`close` at the latest."""
        from engine.store.locks import SingletonLock

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
        from projections.runner import LOCK_NAME, ProjectionRunner

        runner = ProjectionRunner(self.reader, self.sql, views, lock=self.lock(LOCK_NAME),
                                  batch_size=batch_size)
        self.stored.runners.add(runner)
        return runner

    def sla_timer(self, runner: ProjectionRunner | None = None, *,
                  clock: Callable[[], datetime] | None = None,
                  interval: float | None = None) -> SlaTimer:
        """The SLA timer over this engine's SLA view, ticking on ``clock`` every
        ``interval`` seconds (default ``settings.sla_timer_interval``) once started;
        ``runner`` (one that applies the SLA view in this process) brings the view up to
        date before each tick. ``clock`` defaults to the wall clock."""
        from projections.sla import SlaProjection
        from projections.sla.timer import LOCK_NAME as TIMER_LOCK
        from projections.sla.timer import SlaTimer, wall_clock

        view = self.views[SlaProjection.name]
        assert isinstance(view, SlaProjection)
        return SlaTimer(self.app, view, self.sql, self.lock(TIMER_LOCK), runner=runner,
                        interval=self.settings.sla_timer_interval if interval is None
                        else interval, clock=wall_clock if clock is None else clock)

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
        if "sql" in self.__dict__:  # built (see ``sql``): its pool's connections
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
    return Engine(settings=settings, app=app, definitions=definitions, ingestor=ingestor,
                  stored=stored)
