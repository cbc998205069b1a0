"""The chain follower: extends the hash chain over the log, in position order, in batches.

Ingest stays as fast as it was: nothing is hashed on the append path. The follower is a
singleton (lock ``audit-chain``, like the views' runner) that reads up to ``batch_size``
events after the chain's position, computes their entries, and writes the rows together
with the new state (size, position, head, Merkle frontier) in ONE transaction, the state
update being a compare-and-set on the size. Following live appends it polls every few
hundred milliseconds, so it is never more than one batch and one poll behind.

When it holds a signing key, it also signs a checkpoint every ``checkpoint_every`` events
or ``checkpoint_seconds`` seconds (whichever comes first, and only if the chain grew; a
chain never checkpointed gets one at once); :meth:`ChainFollower.checkpoint` signs one on
demand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from sqlalchemy import Engine

from engine.audit.chain import ChainRow, ChainState, ChainStore
from engine.audit.checkpoint import Checkpoint
from engine.audit.errors import AuditError, ChainConflictError
from engine.audit.keys import Ed25519PrivateKey
from engine.audit.log import EventLog
from engine.store import positions
from engine.store.app import DealflowApplication
from engine.store.follower import Follower
from engine.store.locks import SingletonLock

__all__ = ["ChainFollower"]

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
LOCK_NAME = "audit-chain"
_LEAF = b"\x00"  # see engine.audit.record.entry_hash


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ChainFollower:
    """Keeps the hash chain up with the log; see the module docstring."""

    def __init__(
        self,
        app: DealflowApplication,
        engine: Engine,
        lock: SingletonLock,
        *,
        batch_size: int = 5000,
        signer: Ed25519PrivateKey | None = None,
        checkpoint_every: int | None = 100_000,
        checkpoint_seconds: float = 3600.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Prepare the tables; nothing is chained yet. ``checkpoint_every=None`` turns the
        periodic checkpoints off (on demand only)."""
        self.app = app
        self.engine = engine
        self.log = EventLog(app, self.engine)
        self.chain = ChainStore(self.engine)
        self.batch_size = batch_size
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.clock = clock
        self._last_checkpoint: tuple[int, datetime | None] | None = None
        positions.ensure(engine, [LOCK_NAME])
        self.follower = Follower(LOCK_NAME, self._step, lock, idle=0.2, full=batch_size)

    @property
    def lock(self) -> SingletonLock:
        """The chain's singleton lock."""
        return self.follower.lock

    # ---------------------------------------------------------------- reading
    def head(self) -> int:
        """The last position in the log."""
        with self.engine.connect() as conn:
            return self.log.last_position(conn)

    def state(self) -> ChainState:
        """The chain's state (started if it was not)."""
        with self.engine.connect() as conn:
            return self.chain.start(conn)

    # -------------------------------------------------------------- chaining
    def run_once(self) -> int:
        """Chain at most one batch; return how many events were chained (0 when another
        process holds the chain's lock)."""
        return self.follower.run_once()

    def _step(self) -> int:
        with self.engine.connect() as conn:
            old = self.chain.start(conn)
            rows = self.log.chainable(conn, old.position, self.batch_size)
            conn.rollback()
            if not rows:
                return 0
            head, frontier, seq = old.head, old.frontier.copy(), old.size
            chained: list[ChainRow] = []
            for position, record, originator, version in rows:
                head = sha256(_LEAF + head + record).digest()
                frontier.append(head)
                chained.append((position, seq, originator, version, head))
                seq += 1
            new = ChainState(log=old.log, size=seq, position=rows[-1][0], head=head,
                             frontier=frontier)
            with conn.begin():
                if not self.chain.advance(conn, old, chained, new):
                    raise ChainConflictError(f"the chain moved past {old.size} meanwhile")
                positions.advance(conn, LOCK_NAME, self._position(conn, old), new.position)
        self._checkpoint_if_due(new)
        return len(rows)

    def catch_up(self, progress: Progress | None = None) -> int:
        """Chain everything up to the log's current head; return how many were chained."""
        total = 0
        head = self.head()
        while True:
            done = self.run_once()
            total += done
            if progress is not None:
                progress(self.state().position, head)
            if done < self.batch_size:
                return total

    # ------------------------------------------------------------ checkpoints
    def checkpoint(self) -> Checkpoint:
        """Sign and store a checkpoint of the chain as it is now."""
        if self.signer is None:
            raise AuditError("no signing key: set DEALFLOW_AUDIT_KEY or run "
                             "`dealflow audit keygen`")
        with self.engine.connect() as conn:
            state = self.chain.start(conn)
            signed = state.unsigned_checkpoint(self.clock()).signed(self.signer)
            self.chain.save_checkpoint(conn, signed)
            conn.commit()
        self._last_checkpoint = (signed.size, signed.time)
        return signed

    def _checkpoint_if_due(self, state: ChainState) -> None:
        if self.signer is None or self.checkpoint_every is None:
            return
        if self._last_checkpoint is None:
            with self.engine.connect() as conn:
                last = self.chain.last_checkpoint(conn)
            self._last_checkpoint = (last.size, last.time) if last else (0, None)
        size, at = self._last_checkpoint
        grown = state.size - size
        if grown > 0 and (grown >= self.checkpoint_every or at is None or
                          (self.clock() - at).total_seconds() >= self.checkpoint_seconds):
            self.checkpoint()

    def _position(self, conn: Any, state: ChainState) -> int:
        """The chain's row in the positions table (set to the chain's own on first use:
        chains made before the table existed)."""
        stored = int(positions.rows(conn)[LOCK_NAME]["position"])
        if stored != state.position and stored == 0:
            positions.advance(conn, LOCK_NAME, 0, state.position)
            return state.position
        return stored

    # ---------------------------------------------------------------- following
    def start(self, poll_interval: float = 0.2) -> None:
        """Follow live appends in a background thread."""
        self.follower.idle = poll_interval
        self.follower.start()

    def follow(self, poll_interval: float = 0.2) -> None:
        """Chain new events until :meth:`stop` (runs in the calling thread)."""
        self.follower.idle = poll_interval
        self.follower.follow()

    def stop(self) -> None:
        """Stop following and release the lock."""
        self.follower.stop()

    def wait(self, position: int, timeout: float = 10.0) -> bool:
        """Block until the chain reaches ``position`` (chains itself if not following)."""
        return self.follower.wait_until(lambda: self.state().position >= position, timeout)
