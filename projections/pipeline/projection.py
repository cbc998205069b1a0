"""The pipeline projection (view name ``pipeline``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from engine.store.log import LoggedEvent
from projections.base import Projection
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
