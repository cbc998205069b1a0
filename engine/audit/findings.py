"""What verification found: each finding has a kind, the position it concerns, and a message.

Kinds about the log (the first such position is where the log differs):

``altered``    the event at the position is there, but its bytes or topic changed
``removed``    an event the chain recorded is gone from the log
``reordered``  the position holds an event the chain recorded at another position
``inserted``   the position holds an event the chain never recorded, before chained ones
``truncated``  the log ends before the chain (or a signed checkpoint) does
``rewritten``  events and their chain rows were rewritten together: the chain agrees with
               the log but a signed checkpoint does not (located between two checkpoints)

Kinds about the trail itself: ``chain_altered`` (a chain row changed while the log still
matches a signed checkpoint), ``forged_checkpoint`` (its signature does not hold under the
trusted key, e.g. signed by another key), ``foreign_checkpoint`` (validly signed, but for
another store's log), ``malformed_checkpoint``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LOG_KINDS", "Finding", "VerifyReport"]

LOG_KINDS = frozenset({"altered", "removed", "reordered", "inserted", "truncated", "rewritten"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem; ``checkpoint`` is the size of the checkpoint concerned, if any."""

    kind: str
    position: int | None
    message: str
    checkpoint: int | None = None


@dataclass
class VerifyReport:
    """The outcome of one verification."""

    events: int = 0
    chained: int = 0
    unchained: int = 0
    last_position: int = 0
    checkpoints_valid: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Nothing was found."""
        return not self.findings

    @property
    def complete(self) -> bool:
        """Every event of the log is chained, so every one was checked."""
        return self.unchained == 0

    @property
    def first(self) -> Finding | None:
        """The finding at the first position where the log differs, else the first one."""
        on_log = [f for f in self.findings if f.kind in LOG_KINDS and f.position is not None]
        if on_log:
            return min(on_log, key=lambda f: f.position or 0)
        return self.findings[0] if self.findings else None

    def kinds(self) -> list[str]:
        """The kinds found, in order."""
        return [f.kind for f in self.findings]
