"""The pipeline projection (view name ``pipeline``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from engine.store.log import LoggedEvent
from projections.base import BulkLoad, Projection
from projections.pipeline.batch import HANDLED, PipelineBatch
from projections.pipeline.tables import PipelineTables, define
from workflows import WorkflowRegistry

__all__ = ["PipelineProjection"]


class PipelineProjection(Projection):
    """Stage history and current state of every deal, with open totals kept incrementally.

    Deterministic: a pure function of the events (business and recorded times are both
    taken from the events), identical for any batch boundaries. Stage probabilities come
    from the deal's workflow version in ``workflows``.
    """

    name = "pipeline"
    tables: PipelineTables

    def __init__(self, workflows: WorkflowRegistry, generation: str = "a") -> None:
        """The view over ``workflows`` (the registry ``bootstrap`` loaded), on ``generation``."""
        self.workflows = workflows
        super().__init__(generation)

    def define_tables(self) -> None:
        """Declare the tables (see :mod:`projections.pipeline.tables`)."""
        self.tables = define(self)

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        """Apply a batch in log order inside the runner's transaction."""
        mine = [e for e in events if type(e.event) in HANDLED]
        if mine:
            PipelineBatch(self.tables, conn, self.workflows).apply(mine)

    def bulk_load(self) -> BulkLoad:
        """A rebuild keeps every deal's state in memory and writes each row once."""
        return _PipelineBulkLoad(self)


class _PipelineBulkLoad(BulkLoad):
    """One :class:`PipelineBatch` over the whole log: deals, stays, reps and totals are
    written once at the end; changes and team moves (insert-only) with every batch."""

    view: PipelineProjection

    def __init__(self, view: PipelineProjection) -> None:
        super().__init__(view)
        self.batch: PipelineBatch | None = None

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        mine = [e for e in events if type(e.event) in HANDLED]
        if not mine:
            return
        if self.batch is None:
            self.batch = PipelineBatch(self.view.tables, conn, self.view.workflows)
        self.batch.conn = conn
        self.batch.take(mine)
        self.batch.write_appended()

    def finish(self, conn: Connection) -> None:
        if self.batch is not None:
            self.batch.conn = conn
            self.batch.write()
            self.batch = None
