"""Fixtures for engine tests: an engine over each backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine.bootstrap import Engine, bootstrap
from engine.ingest.batch import BatchResult, RawInput
from engine.settings import Settings
from tests.engine.facts import raw
from tests.infra.factory import closing_factory


@pytest.fixture
def make_engine(store_url: str) -> Iterator[Callable[..., Engine]]:
    """Open engines on the test's store (several may be open at once); closed at the end."""

    def make(**settings: Any) -> Engine:
        return bootstrap(Settings(db=store_url, **settings))

    yield from closing_factory(make, Engine.close)


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    """One engine on the test's store (SQLite file or PostgreSQL database)."""
    return make_engine()


def send(engine: Engine, *objs: dict[str, Any] | bytes) -> BatchResult:
    """Ingest objects (or raw bytes) as one batch."""
    inputs = [RawInput(o if isinstance(o, bytes) else raw(o), f"test:{i}")
              for i, o in enumerate(objs, start=1)]
    return engine.ingestor.ingest(inputs)
