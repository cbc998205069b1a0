"""What a projection is: named SQLAlchemy tables and a batch ``process`` function.

A projection owns its tables, built for one *generation* (``a`` or ``b``): the live view
uses one, a rebuild fills the other from position zero and is then swapped in, so a rebuild
never disturbs readers. Table and index names carry the generation, which keeps them unique
on PostgreSQL, where index names are global to a schema.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy import Connection, MetaData, Table

__all__ = ["LoggedEvent", "Projection"]


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """A decoded event with its position in the log (and its stored bytes)."""

    position: int
    originator_id: UUID
    version: int
    topic: str
    event: Any
    state: bytes = b""

    @property
    def recorded_at(self) -> datetime:
        """When dealflow recorded it."""
        value: datetime = self.event.timestamp
        return value

    @property
    def occurred_at(self) -> datetime:
        """When it happened (the fact's ``time``); recording time for derived events."""
        value: datetime = getattr(self.event, "occurred_at", None) or self.event.timestamp
        return value


class Projection(ABC):
    """One read model. Subclasses define ``name``, ``define_tables`` and ``process``.

    ``process`` must be a pure function of the events and the view's own rows: no wall
    clock, no other sources, so that a rebuild from zero equals the live view.
    """

    name: ClassVar[str]

    def __init__(self, generation: str = "a") -> None:
        """Build this projection's tables for ``generation``."""
        self.generation = generation
        self.metadata = MetaData()
        self.define_tables()

    def table_name(self, base: str) -> str:
        """The name of a table of this projection in this generation."""
        return f"view_{self.name}_{base}_{self.generation}"

    def table(self, base: str, *columns: Any) -> Table:
        """Declare a table (call from ``define_tables``); indexes should be named via
        :meth:`table_name` too."""
        return Table(self.table_name(base), self.metadata, *columns)

    @abstractmethod
    def define_tables(self) -> None:
        """Declare the tables on ``self.metadata``."""

    @abstractmethod
    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        """Apply a batch of events (in log order) inside the runner's transaction."""
