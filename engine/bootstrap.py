"""Build the object graph from settings: the one place that wires things together."""

from __future__ import annotations

from dataclasses import dataclass

from engine.ingest.batch import IngestObserver, Ingestor
from engine.settings import Settings
from engine.store.app import DealflowApplication
from workflows import WorkflowRegistry

__all__ = ["Engine", "bootstrap"]


@dataclass
class Engine:
    """The wired engine: settings, store, workflows and the ingestor."""

    settings: Settings
    app: DealflowApplication
    workflows: WorkflowRegistry
    ingestor: Ingestor

    def close(self) -> None:
        """Release the store's connections."""
        self.app.close()


def bootstrap(
    settings: Settings, *, observer: IngestObserver | None = None, create_tables: bool = True
) -> Engine:
    """Open the store named by ``settings.db`` and wire the engine around it.

    ``observer`` (e.g. the metrics) is told about every stored batch.
    """
    workflows = WorkflowRegistry.shipped()
    if settings.definitions is not None:
        workflows.load_dir(settings.definitions)
    app = DealflowApplication(settings.db, create_tables=create_tables)
    ingestor = Ingestor(app, workflows, cache_size=settings.cache_size, observer=observer)
    return Engine(settings=settings, app=app, workflows=workflows, ingestor=ingestor)
