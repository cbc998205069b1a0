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
    topics = frozenset(event.TOPIC for event in HANDLED)
    rebuild_cost = 0.5  # of the SLA view's 1 (measured, docs/views.md)
    tables: PipelineTables
    #: During a rebuild, deals held in memory are written and dropped after this many
    #: events (see ``_PipelineBulkLoad``); measured on a 1M-event log: see docs/views.md.
    flush_every: int = 50_000

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
        """A rebuild keeps deals' state in memory and writes their rows once (or once per
        ``flush_every`` events)."""
        return _PipelineBulkLoad(self)


class _PipelineBulkLoad(BulkLoad):
    """A :class:`PipelineBatch` held over many batches of the log: changes and team moves
    (insert-only) are written with every batch; deals, stays, reps and totals stay in
    memory and are written, each row once and in key order, when ``flush_every`` events
    have been taken (then a fresh batch starts, reloading a deal when it is touched again,
    the totals moving by deltas as they do live) and at the end. The flush bounds the
    memory a rebuild holds whatever the size of the log."""

    view: PipelineProjection

    def __init__(self, view: PipelineProjection) -> None:
        super().__init__(view)
        self.batch: PipelineBatch | None = None
        self.taken = 0

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        mine = [e for e in events if type(e.event) in HANDLED]
        if not mine:
            return
        if self.batch is None:
            self.batch = PipelineBatch(self.view.tables, conn, self.view.workflows)
        self.batch.conn = conn
        self.batch.take(mine)
        self.taken += len(mine)
        if self.taken >= self.view.flush_every:
            self.finish(conn)
        else:
            self.batch.write_appended()

    def finish(self, conn: Connection) -> None:
        if self.batch is not None:
            self.batch.conn = conn
            self.batch.write()
            self.batch = None
            self.taken = 0
