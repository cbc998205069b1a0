"""What the waterfall and accuracy tests share: ingesting facts (all must be accepted), a
runner of the forecast view, reading a report, and instants as the CLI reads dates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from typing import Any

from engine.bootstrap import Engine
from projections.runner import ProjectionRunner
from tests.engine.conftest import send
from tests.projections.forecast.oracle import ZONE

__all__ = ["end_of", "forecast_runner", "ingest"]


def end_of(day: str) -> datetime:
    """A CLI date: the end of that day in Asia/Shanghai."""
    start = datetime.combine(datetime.fromisoformat(day).date() + timedelta(days=1), time(),
                             ZONE)
    return start - timedelta(microseconds=1)


def ingest(engine: Engine, facts: list[dict[str, Any]], *, batch: int = 500) -> None:
    """Send ``facts`` in arrival order; every one must be accepted."""
    for first in range(0, len(facts), batch):
        counts = send(engine, *facts[first:first + batch]).counts()
        assert not counts.rejected, counts.rejected


@contextmanager
def forecast_runner(engine: Engine) -> Iterator[ProjectionRunner]:
    """A runner of the forecast view on ``engine``'s store; stopped at the end."""
    runner = engine.runner(["forecast"])
    try:
        yield runner
    finally:
        runner.stop()
