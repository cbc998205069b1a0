"""Counts of batches, and totals over a whole run for the CLI's closing summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["BatchCounts", "IngestSummary"]


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """What one batch did, in numbers (small enough to pass between processes)."""

    inputs: int
    accepted: int
    duplicates: int
    events: int
    rejected: dict[str, int]
    last_position: int | None


@dataclass
class IngestSummary:
    """Accepted, duplicates and rejections by reason over a whole run."""

    inputs: int = 0
    accepted: int = 0
    duplicates: int = 0
    events: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    last_position: int | None = None

    def add(self, counts: BatchCounts) -> None:
        """Fold one batch in."""
        self.inputs += counts.inputs
        self.accepted += counts.accepted
        self.duplicates += counts.duplicates
        self.events += counts.events
        self.rejected.update(counts.rejected)
        if counts.last_position is not None:
            self.last_position = max(self.last_position or 0, counts.last_position)

    @property
    def rejected_total(self) -> int:
        """All rejections."""
        return sum(self.rejected.values())
