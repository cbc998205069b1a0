"""What a report is: a pure function of a view's rows and explicit times.

``as_of`` counts what happened (the facts' ``time``) by then; ``known_at`` restricts to what
dealflow had recorded by then, so a statement printed on a date can be reproduced exactly
later, after corrections arrived. ``now`` is the clock for "open"/"overdue"; the CLI sets it
to ``as_of``. Nothing in a report reads the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rich.table import Table

__all__ = ["Report", "ReportParams"]


@dataclass(frozen=True, slots=True)
class ReportParams:
    """The explicit times a report is computed for (all timezone-aware)."""

    as_of: datetime
    known_at: datetime | None = None

    @property
    def now(self) -> datetime:
        """The clock for open/overdue judgements: the ``as_of`` time."""
        return self.as_of

    def visible(self, occurred_at: datetime, recorded_at: datetime) -> bool:
        """Whether a fact counts: happened by ``as_of`` and recorded by ``known_at``."""
        return occurred_at <= self.as_of and (
            self.known_at is None or recorded_at <= self.known_at
        )


class Report(Protocol):
    """A computed report: JSON for machines, rich tables for people."""

    @property
    def title(self) -> str:
        """A heading for people."""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready content (decimals as strings, times as RFC 3339)."""

    def tables(self) -> list[Table]:
        """Readable tables for the terminal."""
