"""Our own projection runner: follows the log by position in batches.

Why not eventsourcing's stock runner: it needs subscriptions (which its SQLite store lacks)
and commits one transaction per event. This one reads up to ``batch_size`` events, lets
every projection apply the ones past its own position, and writes the views' rows and
their positions in ONE transaction. It resumes from the stored positions after a restart,
follows live appends by polling (a few milliseconds), offers ``wait(position)`` for
read-your-writes, and holds a lock so only one runner per store applies events; the
position update is a compare-and-set as a second guard against double application.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from engine.errors import StoreError
from engine.store.app import DealflowApplication
from projections.base import LoggedEvent, Projection
from projections.db import (
    CATALOG,
    advance_position,
    catalog_rows,
    ensure_catalog,
    view_engine,
)
from projections.lock import RunnerLock

__all__ = ["PositionConflictError", "ProjectionRunner"]

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


class PositionConflictError(StoreError):
    """Another runner moved a view's position first; this batch was rolled back."""


def _other(generation: str) -> str:
    return "b" if generation == "a" else "a"


class ProjectionRunner:
    """Applies the log to a set of projections; see the module docstring."""

    def __init__(
        self,
        app: DealflowApplication,
        projections: Sequence[type[Projection]],
        *,
        batch_size: int = 1000,
        engine: Engine | None = None,
    ) -> None:
        """Prepare the catalog and the live tables; nothing is applied yet."""
        self.app = app
        self.batch_size = batch_size
        self._owns_engine = engine is None
        self.engine = engine or view_engine(app.url)
        self.factories = {p.name: p for p in projections}
        ensure_catalog(self.engine, list(self.factories))
        with self.engine.connect() as conn:
            rows = catalog_rows(conn)
        self.live: dict[str, Projection] = {
            name: factory(rows[name]["generation"]) for name, factory in self.factories.items()
        }
        for projection in self.live.values():
            projection.metadata.create_all(self.engine, checkfirst=True)
        self.lock = RunnerLock(app.url, self.engine)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._applied = threading.Condition()

    # ----------------------------------------------------------------- reading
    def head(self) -> int:
        """The last position in the log (0 when empty)."""
        return int(self.app.recorder.max_notification_id() or 0)

    def positions(self) -> dict[str, int]:
        """Each live view's applied position."""
        with self.engine.connect() as conn:
            return {name: int(row["position"]) for name, row in catalog_rows(conn).items()
                    if name in self.factories}

    def _read(self, after: int) -> list[LoggedEvent]:
        notifications = self.app.recorder.select_notifications(
            start=after + 1, limit=self.batch_size
        )
        mapper = self.app.mapper
        return [
            LoggedEvent(n.id, n.originator_id, n.originator_version, n.topic,  # type: ignore[arg-type]
                        mapper.to_domain_event(n), n.state)
            for n in notifications
        ]

    # ---------------------------------------------------------------- applying
    def run_once(self) -> int:
        """Apply at most one batch to every live view; return how many events were read."""
        if not self.lock.acquire():
            return 0
        with self.engine.connect() as conn:
            rows = catalog_rows(conn)
        start = min(int(rows[name]["position"]) for name in self.live)
        events = self._read(start)
        if not events:
            return 0
        with self.engine.begin() as conn:
            for name, projection in self.live.items():
                position = int(rows[name]["position"])
                mine = [e for e in events if e.position > position]
                if not mine:
                    continue
                projection.process(conn, mine)
                if not advance_position(conn, name, position, mine[-1].position):
                    raise PositionConflictError(f"view {name!r} moved past {position} meanwhile")
        with self._applied:
            self._applied.notify_all()
        return len(events)

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply everything up to the current head; return how many events were read."""
        total = 0
        head = self.head()
        while True:
            read = self.run_once()
            total += read
            if progress is not None:
                progress(min(self.positions().values() or [head]), head)
            if read == 0 or read < self.batch_size:
                return total

    # ----------------------------------------------------------------- following
    def start(self, poll_interval: float = 0.005) -> None:
        """Follow live appends in a background thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, args=(poll_interval,),
                                        name="dealflow-projections", daemon=True)
        self._thread.start()

    def _follow(self, poll_interval: float) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once() == 0:
                    self._stop.wait(poll_interval)
            except Exception:  # keep following; the next pass retries the same batch
                log.exception("projection batch failed; retrying")
                self._stop.wait(1.0)

    def stop(self) -> None:
        """Stop following and release the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.lock.release()

    def close(self) -> None:
        """Stop, release the lock, and close the database connections this runner opened."""
        self.stop()
        if self._owns_engine:
            self.engine.dispose()

    def wait(self, position: int, timeout: float = 10.0) -> bool:
        """Block until every live view has applied ``position`` (read-your-writes)."""
        deadline = time.monotonic() + timeout
        while True:
            if min(self.positions().values()) >= position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._thread is None:
                self.run_once()
            else:
                with self._applied:
                    self._applied.wait(min(remaining, 0.05))

    # ------------------------------------------------------------------ rebuild
    def rebuild(self, names: Sequence[str] | None = None,
                progress: Progress | None = None) -> dict[str, int]:
        """Rebuild views from position zero into fresh tables, then swap them in.

        Returns each rebuilt view's position. Readers keep the old tables until the swap,
        which happens in one transaction together with the catalog update.
        """
        if not self.lock.acquire(blocking=True, timeout=60):
            raise StoreError("another runner holds the views' lock; stop it or wait")
        done: dict[str, int] = {}
        for name in names or list(self.factories):
            done[name] = self._rebuild_one(name, progress)
        return done

    def _rebuild_one(self, name: str, progress: Progress | None) -> int:
        old = self.live[name]
        fresh = self.factories[name](_other(old.generation))
        fresh.metadata.drop_all(self.engine, checkfirst=True)
        fresh.metadata.create_all(self.engine)
        position = 0
        while True:
            head = self.head()
            events = self._read(position)
            if events:
                with self.engine.begin() as conn:
                    fresh.process(conn, events)
                position = events[-1].position
            if progress is not None:
                progress(position, max(head, position))
            if len(events) < self.batch_size:
                break
        with self.engine.begin() as conn:
            conn.execute(CATALOG.update().where(CATALOG.c.name == name)
                         .values(generation=fresh.generation, position=position))
        self.live[name] = fresh
        old.metadata.drop_all(self.engine, checkfirst=True)
        return position
