"""Inclusion proofs (one event against a checkpoint) and consistency proofs (an older
checkpoint against a newer one), built from the stored chain and checked with hashes only.

An inclusion proof carries the event as stored (identity, topic, bytes), the chain entry
before it, its index and the RFC 6962 audit path: whoever holds the checkpoint recomputes
the event's entry and walks the path to the checkpoint's root; O(log n) hashes.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from engine.audit.chain import ChainStore
from engine.audit.checkpoint import Checkpoint
from engine.audit.errors import ProofError
from engine.audit.log import EventLog, LogRow
from engine.audit.merkle import MerkleTree, verify_consistency, verify_inclusion
from engine.audit.record import GENESIS, entry_hash, record_header
from engine.store.app import DealflowApplication

__all__ = ["ConsistencyProof", "InclusionProof", "Prover", "state_from_json", "state_to_json"]


def state_to_json(state: bytes) -> dict[str, str]:
    """Stored bytes for a JSON document: as text when they are UTF-8 (they always are for
    dealflow's own events), else base64; either way they decode to the exact bytes."""
    try:
        return {"state": state.decode("utf-8")}
    except UnicodeDecodeError:
        return {"state_b64": base64.b64encode(state).decode()}


def state_from_json(obj: dict[str, Any]) -> bytes:
    """Inverse of :func:`state_to_json`."""
    if "state_b64" in obj:
        return base64.b64decode(obj["state_b64"], validate=True)
    text = obj["state"]
    if not isinstance(text, str):
        raise ValueError("state must be a string")
    return text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """That the event at ``position`` is entry ``index`` of the tree of ``size`` entries."""

    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes
    index: int
    size: int
    previous: bytes
    path: tuple[bytes, ...]

    def entry(self) -> bytes:
        """The event's chain entry, recomputed from its stored bytes."""
        header = record_header(self.position, self.originator_id, self.originator_version,
                               self.topic)
        return entry_hash(self.previous, header, self.state)

    def check(self, checkpoint: Checkpoint) -> None:
        """Raise :class:`ProofError` unless the proof leads to ``checkpoint``'s root."""
        if self.size != checkpoint.size:
            raise ProofError(
                f"the proof of position {self.position} is for a tree of {self.size} events, "
                f"the checkpoint covers {checkpoint.size}", position=self.position)
        if not verify_inclusion(self.entry(), self.index, self.size, self.path, checkpoint.root):
            raise ProofError(
                f"the event at position {self.position} is not entry {self.index} of the "
                f"checkpoint's tree (root {checkpoint.root.hex()[:16]}...): the event, its "
                "proof or the checkpoint differs", position=self.position)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"position": self.position, "originator_id": self.originator_id,
                "originator_version": self.originator_version, "topic": self.topic,
                **state_to_json(self.state), "index": self.index, "size": self.size,
                "previous": self.previous.hex(), "path": [p.hex() for p in self.path]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> InclusionProof:
        """Parse; raises ``ValueError``/``KeyError``/``TypeError`` on bad input."""
        return cls(
            position=int(obj["position"]), originator_id=str(obj["originator_id"]),
            originator_version=int(obj["originator_version"]), topic=str(obj["topic"]),
            state=state_from_json(obj), index=int(obj["index"]), size=int(obj["size"]),
            previous=bytes.fromhex(obj["previous"]),
            path=tuple(bytes.fromhex(p) for p in obj["path"]))


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """That the tree of ``old_size`` entries is a prefix of the tree of ``new_size``."""

    old_size: int
    new_size: int
    path: tuple[bytes, ...]

    def check(self, old: Checkpoint, new: Checkpoint) -> None:
        """Raise :class:`ProofError` unless ``old`` is a prefix of ``new``."""
        if (self.old_size, self.new_size) != (old.size, new.size):
            raise ProofError(f"the proof relates sizes {self.old_size} and {self.new_size}, "
                             f"the checkpoints are of sizes {old.size} and {new.size}")
        if not verify_consistency(old.size, new.size, old.root, new.root, self.path):
            raise ProofError(f"the checkpoint of size {old.size} is not a prefix of the one of "
                             f"size {new.size}: the log was changed between them")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"old_size": self.old_size, "new_size": self.new_size,
                "path": [p.hex() for p in self.path]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ConsistencyProof:
        """Parse; raises ``ValueError``/``KeyError``/``TypeError`` on bad input."""
        return cls(int(obj["old_size"]), int(obj["new_size"]),
                   tuple(bytes.fromhex(p) for p in obj["path"]))


class Prover:
    """Builds proofs from the stored chain, after checking it against the checkpoint."""

    def __init__(self, app: DealflowApplication, engine: Engine) -> None:
        """Read the store of ``app`` through ``engine`` (on the store's database)."""
        self.engine = engine
        self.log = EventLog(app, self.engine)
        self.chain = ChainStore(self.engine)
        self._trees: dict[int, MerkleTree] = {}

    def tree(self, checkpoint: Checkpoint) -> MerkleTree:
        """The Merkle tree of the checkpoint's size, checked against its root."""
        tree = self._trees.get(checkpoint.size)
        if tree is None:
            with self.engine.connect() as conn:
                try:
                    tree = MerkleTree(self.chain.entries(conn, checkpoint.size))
                except LookupError as exc:
                    raise ProofError(f"the chain cannot cover checkpoint {checkpoint.size}: "
                                     f"{exc}") from exc
            if tree.root() != checkpoint.root:
                raise ProofError(f"the stored chain does not match checkpoint {checkpoint.size}"
                                 ": run `dealflow audit verify`")
            self._trees = {checkpoint.size: tree}
        return tree

    def inclusion(self, positions: Sequence[int], checkpoint: Checkpoint
                  ) -> list[InclusionProof]:
        """Proofs for the events at ``positions`` (in log order) against ``checkpoint``."""
        tree = self.tree(checkpoint)
        with self.engine.connect() as conn:
            seqs = self.chain.positions_of(conn, positions)
            rows = {r.position: r for r in self.log.rows_at(conn, list(positions))}
        proofs: list[InclusionProof] = []
        for position in sorted(set(positions)):
            index = seqs.get(position)
            if index is None or index >= checkpoint.size:
                raise ProofError(f"position {position} is not covered by checkpoint "
                                 f"{checkpoint.size}", position=position)
            row = rows.get(position)
            if row is None:
                raise ProofError(f"the log has no event at position {position}",
                                 position=position)
            proof = _proof(row, index, tree, checkpoint.size)
            if proof.entry() != tree.entry(index):
                raise ProofError(f"the event at position {position} no longer matches the "
                                 "chain: run `dealflow audit verify`", position=position)
            proofs.append(proof)
        return proofs

    def consistency(self, old: Checkpoint, new: Checkpoint) -> ConsistencyProof:
        """The proof that ``old`` is a prefix of ``new``."""
        if old.size > new.size:
            old, new = new, old
        tree = self.tree(new)
        if tree.root(old.size) != old.root:
            raise ProofError(f"checkpoint {old.size} does not match the stored chain")
        return ConsistencyProof(old.size, new.size,
                                tuple(tree.consistency_proof(old.size, new.size)))


def _proof(row: LogRow, index: int, tree: MerkleTree, size: int) -> InclusionProof:
    return InclusionProof(
        position=row.position, originator_id=row.originator_id,
        originator_version=row.originator_version, topic=row.topic, state=row.state,
        index=index, size=size, previous=tree.entry(index - 1) if index else GENESIS,
        path=tuple(tree.inclusion_proof(index, size)))
