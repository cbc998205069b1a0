"""Tamper-evident history: a hash chain over the log, signed checkpoints, Merkle proofs,
verification, deal histories and self-contained export bundles (see docs/audit.md)."""

from engine.audit.bundle import BundleSummary, export_bundle
from engine.audit.bundle_check import BundleCheck, check_bundle
from engine.audit.chain import ChainState, ChainStore
from engine.audit.checkpoint import Checkpoint, read_checkpoint
from engine.audit.errors import (
    AuditError,
    AuditKeyError,
    BundleError,
    ChainConflictError,
    CheckpointError,
    ProofError,
)
from engine.audit.findings import Finding, VerifyReport
from engine.audit.follower import ChainFollower
from engine.audit.history import DealHistory, HistoryEntry, deal_history
from engine.audit.keys import generate_key, key_id, load_private_key, load_public_key
from engine.audit.proofs import ConsistencyProof, InclusionProof, Prover
from engine.audit.verify import Verifier

__all__ = [
    "AuditError",
    "AuditKeyError",
    "BundleCheck",
    "BundleError",
    "BundleSummary",
    "ChainConflictError",
    "ChainFollower",
    "ChainState",
    "ChainStore",
    "Checkpoint",
    "CheckpointError",
    "ConsistencyProof",
    "DealHistory",
    "Finding",
    "HistoryEntry",
    "InclusionProof",
    "ProofError",
    "Prover",
    "Verifier",
    "VerifyReport",
    "check_bundle",
    "deal_history",
    "export_bundle",
    "generate_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "read_checkpoint",
]
