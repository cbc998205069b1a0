"""``dealflow audit verify``: recompute the chain and the Merkle roots from the stored bytes.

The verifier reads the log in position order, recomputes every chain entry and the Merkle
frontier from the stored bytes (two hashes per event, no decoding), and compares:

- with the stored chain, batch by batch (entry lists compared in one go); on a difference
  :mod:`engine.audit.locate` walks that batch to the first position where the log and the
  chain part, and names the kind;
- with every signed checkpoint (stored ones and those the auditor brings), at its size:
  position, head and root. The checkpoints are the trusted part: the chain table lives in
  the same database as the log and could be rewritten with it, so a checkpoint that
  disagrees where the chain agrees means ``rewritten`` (located between two checkpoints),
  and a log that matches a checkpoint past a chain difference means the chain row, not the
  log, was altered.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import sha256

from sqlalchemy import Connection, Engine

from engine.audit.chain import ChainState, ChainStore
from engine.audit.checkpoint import Checkpoint
from engine.audit.errors import CheckpointError
from engine.audit.findings import Finding, VerifyReport
from engine.audit.keys import Ed25519PublicKey
from engine.audit.locate import Locator
from engine.audit.log import EventLog
from engine.audit.merkle import EMPTY_ROOT, Frontier
from engine.audit.record import GENESIS
from engine.store.app import DealflowApplication

__all__ = ["Verifier"]

Progress = Callable[[int, int], None]
_LEAF, _NODE = b"\x00", b"\x01"


@dataclass(frozen=True, slots=True)
class _Reached:
    """A checkpoint's size was reached while recomputing: did the log match it?"""

    checkpoint: Checkpoint
    origin: str
    matches: bool
    position: int


class Verifier:
    """Verifies one store's log against its chain and signed checkpoints."""

    def __init__(
        self,
        app: DealflowApplication,
        engine: Engine,
        public_key: Ed25519PublicKey,
        *,
        checkpoints: Sequence[tuple[str, Checkpoint]] = (),
        batch_size: int = 20_000,
    ) -> None:
        """``checkpoints``: (origin, checkpoint) pairs the auditor brings (e.g. files)."""
        self.engine = engine
        self.log = EventLog(app, self.engine)
        self.chain = ChainStore(self.engine)
        self.public_key = public_key
        self.given = list(checkpoints)
        self.batch_size = batch_size

    def run(self, progress: Progress | None = None) -> VerifyReport:
        """Verify everything; see the module docstring."""
        started = time.perf_counter()
        report = VerifyReport()
        with self.engine.connect() as conn:
            try:
                state = self.chain.state(conn)
            except ValueError as exc:
                state = None
                report.findings.append(Finding("chain_altered", None,
                                               f"the chain's state row is corrupt: {exc}"))
            chain_end = state.position if state is not None else self.chain.last_position(conn)
            report.last_position = self.log.last_position(conn)
            report.chained = state.size if state is not None else 0
            trusted = self._trusted(conn, state, report)
            _Pass(self, conn, chain_end, trusted, report, progress).run()
        report.seconds = time.perf_counter() - started
        return report

    def _trusted(self, conn: Connection, state: ChainState | None,
                 report: VerifyReport) -> list[tuple[str, Checkpoint]]:
        """The checkpoints whose signature holds and that belong to this log."""
        candidates: list[tuple[str, Checkpoint]] = []
        for size, document in self.chain.documents(conn):
            origin = f"stored checkpoint {size}"
            try:
                candidates.append((origin, Checkpoint.loads(document, origin)))
            except CheckpointError as exc:
                report.findings.append(Finding("malformed_checkpoint", None, str(exc), size))
        candidates.extend(self.given)
        trusted: list[tuple[str, Checkpoint]] = []
        for origin, checkpoint in candidates:
            what = f"{origin} (size {checkpoint.size}, position {checkpoint.position})"
            problem = checkpoint.signature_problem(self.public_key)
            if problem is not None:
                report.findings.append(Finding("forged_checkpoint", checkpoint.position,
                                               f"{what} is forged: {problem}", checkpoint.size))
            elif state is not None and checkpoint.log != state.log:
                report.findings.append(Finding(
                    "foreign_checkpoint", checkpoint.position,
                    f"{what} is signed for log {checkpoint.log}, not this store's log "
                    f"{state.log}", checkpoint.size))
            else:
                trusted.append((origin, checkpoint))
        trusted.sort(key=lambda pair: pair[1].size)
        return trusted


class _Pass:
    """One streaming pass over the log (state of the recomputation)."""

    def __init__(self, verifier: Verifier, conn: Connection, chain_end: int,
                 trusted: list[tuple[str, Checkpoint]], report: VerifyReport,
                 progress: Progress | None) -> None:
        self.v, self.conn, self.report, self.progress = verifier, conn, report, progress
        self.chain_end = chain_end
        self.pending = trusted
        self.locator = Locator(verifier.log, verifier.chain, conn)
        self.head, self.frontier = GENESIS, Frontier()
        self.divergence: Finding | None = None
        self.last_good: Checkpoint | None = None
        self.read_upto = 0
        self.heads: list[bytes] = []

    def run(self) -> None:
        """Stream, compare, conclude."""
        log, conn, batch_size = self.v.log, self.conn, self.v.batch_size
        self._settle([_Reached(cp, origin, (cp.position, cp.head, cp.root) ==
                               (0, GENESIS, EMPTY_ROOT), 0)
                      for origin, cp in self.pending if cp.size == 0])
        while True:
            rows = log.records(conn, self.read_upto, batch_size)
            if not rows:
                break
            start_head, start_size = self.head, self.frontier.size
            reached = self._hash(rows)
            if self.divergence is None and rows[0][0] <= self.chain_end:
                self.divergence = self._compare(rows, start_head, start_size)
            self.read_upto = rows[-1][0]
            self.report.events += len(rows)
            if rows[-1][0] > self.chain_end:
                self.report.unchained += sum(1 for r in rows if r[0] > self.chain_end)
            if self.progress is not None:
                self.progress(self.read_upto, max(self.read_upto, self.report.last_position))
            if self._settle(reached):
                break
        self._conclude()

    def _hash(self, rows: list[tuple[int, bytes]]) -> list[_Reached]:
        """Extend the recomputation by ``rows``; note the checkpoints reached.

        The hot loop: one entry hash, on average one node hash, per event."""
        head, frontier, heads = self.head, self.frontier, self.heads
        nodes, size = frontier.nodes, frontier.size
        stops = sorted(cp.size for _, cp in self.pending if cp.size > size)
        upcoming = stops[0] if stops else -1
        reached: list[_Reached] = []
        heads.clear()
        keep = heads.append
        for position, record in rows:
            head = sha256(_LEAF + head + record).digest()
            keep(head)
            node, carry = head, size
            while carry & 1:
                node = sha256(_NODE + nodes.pop() + node).digest()
                carry >>= 1
            nodes.append(node)
            size += 1
            if size == upcoming:
                frontier.size = size
                reached.extend(
                    _Reached(cp, origin, cp.position == position and cp.head == head
                             and cp.root == frontier.root(), position)
                    for origin, cp in self.pending if cp.size == size)
                later = [s for s in stops if s > size]
                upcoming = later[0] if later else -1
        frontier.size = size
        self.head = head
        return reached

    def _compare(self, rows: list[tuple[int, bytes]], start_head: bytes,
                 start_size: int) -> Finding | None:
        """Compare the batch with the stored chain, entry by entry; the first difference."""
        upto = min(rows[-1][0], self.chain_end)
        stored = self.v.chain.entries_between(self.conn, self.read_upto, upto)
        heads = self.heads
        if rows[-1][0] > upto:
            heads = heads[: bisect_right(rows, upto, key=lambda r: r[0])]
        if stored == heads:
            return None
        return self.locator.first_difference(rows, start_head, start_size, self.chain_end,
                                             self.read_upto)

    def _settle(self, reached: list[_Reached]) -> bool:
        """Judge the checkpoints reached; True when nothing more can be learnt."""
        for item in reached:
            cp, what = item.checkpoint, f"{item.origin} (size {item.checkpoint.size})"
            self.pending = [(o, c) for o, c in self.pending if c is not cp]
            if item.matches:
                self.report.checkpoints_valid.append(cp.size)
                if self.divergence is not None and self.divergence.kind != "chain_altered" \
                        and (self.divergence.position or 0) <= cp.position:
                    self.divergence = Finding(
                        "chain_altered", self.divergence.position,
                        f"the chain row at position {self.divergence.position} was altered: "
                        f"the log still matches signed {what} (the chain table said: "
                        f"{self.divergence.message})")
                    return True
                self.last_good = cp
                continue
            if self.divergence is not None \
                    and (self.divergence.position or 0) <= cp.position:
                return True  # the log differs from a signed checkpoint too: confirmed
            after = self.last_good.position if self.last_good is not None else 0
            self.divergence = Finding(
                "rewritten", after + 1,
                f"the log does not match signed {what} at position {cp.position}, although "
                f"the chain table agrees with it: events after position {after} and up to "
                f"{cp.position} were rewritten together with their chain rows", cp.size)
            return True
        return self.divergence is not None and not self.pending

    def _conclude(self) -> None:
        report, size = self.report, self.frontier.size
        if self.divergence is not None:
            report.findings.insert(0, self.divergence)
            return
        if self.chain_end > self.read_upto:
            missing = self.v.chain.rows_between(self.conn, self.read_upto, self.chain_end)
            first = missing[0][0] if missing else self.read_upto + 1
            report.findings.insert(0, Finding(
                "truncated", first,
                f"the log ends at position {self.read_upto}, but the chain recorded "
                f"{len(missing)} more event(s), from position {first} to {self.chain_end}"))
            return
        for origin, cp in self.pending:
            if cp.size > size:
                report.findings.insert(0, Finding(
                    "truncated", self.read_upto + 1,
                    f"{origin} covers {cp.size} events up to position {cp.position}, but the "
                    f"log has only {size}, ending at position {self.read_upto}", cp.size))
                return
