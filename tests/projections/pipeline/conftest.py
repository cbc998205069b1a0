"""Pipeline view tests: the engine fixtures (SQLite and PostgreSQL), a runner, and fresh
stores for Hypothesis examples."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from itertools import count
from pathlib import Path

import psycopg
import pytest

from engine.bootstrap import Engine, bootstrap
from engine.settings import Settings
from projections.pipeline import PipelineProjection
from projections.runner import ProjectionRunner
from tests.engine.conftest import engine, make_engine
from tests.infra import create_database, drop_database

__all__ = ["engine", "fresh_engine", "make_engine", "runner"]

FreshEngine = Callable[[], AbstractContextManager[Engine]]


@pytest.fixture
def runner(engine: Engine) -> Iterator[ProjectionRunner]:
    """A runner of the pipeline view on the test's store (stopped at the end)."""
    made = engine.runner([PipelineProjection.name], batch_size=7)
    yield made
    made.stop()


def _empty(url: str) -> None:
    """Drop everything in the database's public schema (cheaper than a new database)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def fresh_engine(store_url: str, tmp_path: Path, request: pytest.FixtureRequest
                 ) -> Iterator[FreshEngine]:
    """``with fresh_engine() as engine:`` an engine on an empty store of the test's backend
    (a new SQLite file; on PostgreSQL a pooled database, emptied), closed on exit."""
    numbers = count()
    admin = (request.getfixturevalue("postgres_url")
             if not store_url.startswith("sqlite") else None)
    pool: list[str] = []
    created: list[str] = []

    @contextmanager
    def fresh() -> Iterator[Engine]:
        if admin is None:
            url = f"sqlite:///{tmp_path}/fresh-{next(numbers)}.db"
        elif pool:
            url = pool.pop()
            _empty(url)
        else:
            url = create_database(admin)
            created.append(url)
        made = bootstrap(Settings(db=url))
        try:
            yield made
        finally:
            made.close()
            if admin is not None:
                pool.append(url)

    yield fresh
    for url in created:
        assert admin is not None
        drop_database(admin, url)
