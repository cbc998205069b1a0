"""Forecast view tests: the engine fixtures (SQLite and PostgreSQL), a runner, fresh stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.bootstrap import Engine
from projections.forecast import ForecastProjection
from projections.runner import ProjectionRunner
from tests.engine.conftest import engine, make_engine
from tests.projections.pipeline.conftest import fresh_engine

__all__ = ["engine", "fresh_engine", "make_engine", "runner"]


@pytest.fixture
def runner(engine: Engine) -> Iterator[ProjectionRunner]:
    """A runner of the forecast view on the test's store (stopped at the end)."""
    made = engine.runner([ForecastProjection.name], batch_size=7)
    yield made
    made.stop()
