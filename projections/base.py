"""What a projection is: named SQLAlchemy tables and a batch ``process`` function.

A projection owns its tables, built for one *generation* (``a`` or ``b``): the live view
uses one, a rebuild fills the other from position zero and is then swapped in, so a rebuild
never disturbs readers. Table and index names carry the generation, which keeps them unique
on PostgreSQL, where index names are global to a schema.

A projection is an instance configured with what it reads (workflows, plans), given by
``bootstrap``; :meth:`Projection.in_generation` makes the same view for the other
generation, so a rebuilt view keeps its configuration.
"""

from __future__ import annotations

import copy
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, Self

from sqlalchemy import Connection, MetaData, Table

from engine.store.log import LoggedEvent
from workflows import WorkflowRegistry

__all__ = ["BulkLoad", "FactRowsProjection", "Projection", "RowBatch"]


class BulkLoad:
    """Fills a fresh (empty) generation of a view from the start of the log (a rebuild).

    The runner feeds it every batch in log order, several batches per transaction, then
    calls :meth:`finish` once in the last one. This default applies each batch as the live
    view would; a view whose live path rereads and rewrites its own rows (the pipeline)
    overrides it to keep its working state in memory and write each final row once.
    """

    def __init__(self, view: Projection) -> None:
        """Load into ``view``'s tables."""
        self.view = view

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        """Take one batch."""
        self.view.process(conn, events)

    def finish(self, conn: Connection) -> None:
        """Write what is still held in memory."""


class Projection(ABC):
    """One read model. Subclasses define ``name``, ``define_tables`` and ``process``.

    ``process`` must be a pure function of the events and the view's own rows: no wall
    clock, no other sources, so that a rebuild from zero equals the live view.
    """

    name: ClassVar[str]
    #: The stored names (topics) of the events ``process`` acts on; ``None``: any event. A
    #: rebuild process whose views all name theirs reads only those from the log.
    topics: ClassVar[frozenset[str] | None] = None
    #: What rebuilding this view costs per event of the log, relative to other views (1 for
    #: a view that does moderate work on nearly every event): a rebuild on several
    #: processes shares the views out by it.
    rebuild_cost: ClassVar[float] = 1.0

    def __init__(self, generation: str = "a") -> None:
        """Build this projection's tables for ``generation``."""
        self.generation = generation
        self.metadata = MetaData()
        self.define_tables()

    def in_generation(self, generation: str) -> Self:
        """The same view (same configuration) on the tables of ``generation``."""
        if generation == self.generation:
            return self
        other = copy.copy(self)
        other.generation = generation
        other.metadata = MetaData()
        other.define_tables()
        return other

    def layout_id(self) -> str:
        """A digest of this view's table layout (tables, columns, types, keys, indexes),
        the same for both generations: stored with the live generation, a different one
        after an upgrade tells the runner the view must be rebuilt."""
        parts = []
        for table in sorted(self.metadata.sorted_tables, key=lambda t: t.name):
            base = table.name.removesuffix(f"_{self.generation}")
            columns = ",".join(f"{c.name}:{c.type!r}:{int(c.primary_key)}:{int(bool(c.nullable))}"
                               for c in table.columns)
            indexes = ",".join(sorted(
                f"{ix.name.removesuffix(f'_{self.generation}') if ix.name else ''}"
                f"({'.'.join(c.name for c in ix.columns)}){int(bool(ix.unique))}"
                for ix in table.indexes))
            parts.append(f"{base}[{columns}][{indexes}]")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]

    def bulk_load(self) -> BulkLoad:
        """How a rebuild fills this view's fresh tables (see :class:`BulkLoad`)."""
        return BulkLoad(self)

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


class RowBatch(Protocol):
    """Builds and writes one batch's rows on ``conn``, remembering what it read back."""

    conn: Connection

    def apply(self, events: Sequence[LoggedEvent]) -> None:
        """Write the rows of ``events``."""


class FactRowsProjection(Projection):
    """A view over ``workflows`` that writes rows per fact through a :class:`RowBatch`.

    Live, each batch gets a fresh :meth:`new_batch` (what it reads back is read in that
    batch's transaction); a rebuild keeps one for the whole log, so what it learned (names,
    workflows) is not read back batch after batch.
    """

    def __init__(self, workflows: WorkflowRegistry, generation: str = "a") -> None:
        """The view over ``workflows`` (the registry ``bootstrap`` loaded), on ``generation``."""
        self.workflows = workflows
        super().__init__(generation)

    @abstractmethod
    def new_batch(self, conn: Connection) -> RowBatch:
        """A batch writing on ``conn``."""

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        """Write the batch's rows inside the runner's transaction."""
        self.new_batch(conn).apply(events)

    def bulk_load(self) -> BulkLoad:
        """A rebuild keeps one batch (and what it read back) for the whole log."""
        return _KeptBatchLoad(self)


class _KeptBatchLoad(BulkLoad):
    view: FactRowsProjection

    def __init__(self, view: FactRowsProjection) -> None:
        super().__init__(view)
        self.batch: RowBatch | None = None

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        if self.batch is None:
            self.batch = self.view.new_batch(conn)
        self.batch.conn = conn
        self.batch.apply(events)
