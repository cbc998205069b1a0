"""Totals over many batches, for the CLI's closing summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from engine.ingest.batch import BatchResult

__all__ = ["IngestSummary"]


@dataclass
class IngestSummary:
    """Accepted, duplicates and rejections by reason over a whole run."""

    inputs: int = 0
    accepted: int = 0
    duplicates: int = 0
    events: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    last_position: int | None = None

    def add(self, result: BatchResult) -> None:
        """Fold one batch in."""
        self.inputs += len(result.outcomes)
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self.events += result.events
        self.rejected.update(result.rejected)
        if result.last_position is not None:
            self.last_position = result.last_position

    @property
    def rejected_total(self) -> int:
        """All rejections."""
        return sum(self.rejected.values())
