"""Commission view tests use the engine fixtures and a runner of the commission view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.bootstrap import Engine
from projections.commissions import CommissionsProjection
from projections.runner import ProjectionRunner
from tests.engine.conftest import engine, make_engine

__all__ = ["engine", "make_engine", "runner"]


@pytest.fixture
def runner(engine: Engine) -> Iterator[ProjectionRunner]:
    """A runner of the commission view on the test's store; stopped at the end."""
    made = engine.runner([CommissionsProjection.name])
    yield made
    made.stop()
