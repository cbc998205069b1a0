"""The audit package's errors: a small branch of dealflow's one exception tree.

::

    DealflowError
    └── AuditError                  the audit trail cannot do what was asked
        ├── AuditKeyError           no usable signing or public key (also a ConfigurationError)
        ├── ChainConflictError      another chain follower extended the chain first
        ├── CheckpointError         a checkpoint file is malformed, forged or foreign
        ├── ProofError              an inclusion or consistency proof does not hold
        └── BundleError             an export bundle is incomplete or does not verify

Tampering found by ``dealflow audit verify`` is not an exception: it is a finding in the
verification report, because the verifier goes on to check the rest.
"""

from __future__ import annotations

from engine.errors import ConfigurationError, DealflowError

__all__ = [
    "AuditError",
    "AuditKeyError",
    "BundleError",
    "ChainConflictError",
    "CheckpointError",
    "ProofError",
]


class AuditError(DealflowError):
    """The audit trail cannot do what was asked."""


class AuditKeyError(AuditError, ConfigurationError):
    """No usable signing key or public key at the configured path."""


class ChainConflictError(AuditError):
    """Another chain follower extended the chain first; this batch was rolled back."""


class CheckpointError(AuditError):
    """A checkpoint is malformed, or its signature does not hold under the trusted key."""


class ProofError(AuditError):
    """A proof does not lead to the checkpoint it is checked against.

    ``position`` names the event (inclusion proofs) or is ``None`` (consistency proofs).
    """

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class BundleError(AuditError):
    """An export bundle is incomplete, altered, or its statements do not recompute.

    ``position`` names the first event at fault when there is one.
    """

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position
