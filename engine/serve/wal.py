"""Keeping a SQLite store's write-ahead log from growing while ``dealflow serve`` runs.

SQLite checkpoints its WAL into the database after each commit that passes 1,000 pages,
but that automatic checkpoint is passive: it copies only the frames no reader still needs,
and the WAL restarts from its beginning only when a checkpoint finished while no reader
was using it. ``serve`` always has someone reading (the views process, the API's reports,
the health check, the Kafka tasks) and three writers (HTTP ingest, the Kafka consumer, the
views), so the WAL can go on without a restart: the soak (``bench/soak.py``, 1,000 facts/s)
saw it reach 850 MB in eight minutes, with up to 100,000 frames live. A long WAL costs disk,
and every reader looks its pages up in a longer index.

:class:`WalCheckpointer` looks at the WAL every ``DEALFLOW_SERVE_WAL_CHECK_SECONDS``
(default 10); once it is larger than ``DEALFLOW_SERVE_WAL_LIMIT_MB`` (default 64) it runs
``PRAGMA wal_checkpoint(TRUNCATE)`` on a connection of its own: that waits for the writer's
lock and for the readers to reach the latest snapshot, copies every frame into the
database and truncates the WAL to zero bytes. It waits at most
``DEALFLOW_SERVE_WAL_BUSY_MS`` (default 500) for them, so a writer waits at most that
long behind it; when it cannot finish in time it tries again at the next look, never
failing anything else.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass

from engine.serve.periodic import Periodic

__all__ = ["Checkpoint", "WalCheckpointer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What one ``wal_checkpoint(TRUNCATE)`` did: whether it finished (``busy``: it could
    not get the lock or the readers in time), the WAL's size before (bytes)."""

    busy: bool
    wal_bytes: int


class WalCheckpointer(Periodic):
    """A background task (:class:`~engine.serve.periodic.Periodic`): truncate the SQLite
    WAL of ``path`` once it passes ``limit_bytes``, looking every ``interval`` seconds."""

    thread_name = "dealflow-wal-checkpoint"

    def __init__(self, path: str, *, interval: float = 10.0, limit_bytes: int = 64 << 20,
                 busy_ms: int = 500) -> None:
        """Watch the WAL of the SQLite database file ``path``."""
        super().__init__(interval)
        self.path = path
        self.limit_bytes = limit_bytes
        self.busy_ms = busy_ms
        self.truncated = 0
        self.busy = 0

    def wal_bytes(self) -> int:
        """The WAL file's size now (0 when there is none)."""
        try:
            return os.path.getsize(f"{self.path}-wal")
        except OSError:
            return 0

    def check(self) -> Checkpoint | None:
        """Truncate the WAL if it is past the limit; what was done (None: nothing to do)."""
        size = self.wal_bytes()
        if size <= self.limit_bytes:
            return None
        conn = sqlite3.connect(self.path, timeout=self.busy_ms / 1000,
                               isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_ms)}")
            busy, _frames, _copied = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError as exc:  # locked past the busy timeout
            log.debug("WAL checkpoint of %s did not run: %s", self.path, exc)
            busy = 1
        finally:
            conn.close()
        if busy:
            self.busy += 1
        else:
            self.truncated += 1
        return Checkpoint(bool(busy), size)

    def work(self) -> None:
        """One look at the WAL (:meth:`check`)."""
        self.check()
