"""Helpers for the views' property tests: run views over a store, dump their tables,
compute reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from engine.bootstrap import Engine
from projections.base import Projection
from projections.report import ReportParams
from projections.runner import ProjectionRunner
from tests.engine.conftest import send

__all__ = ["FUTURE", "Dump", "close_runner", "deliver", "dump", "open_runner", "report"]

FUTURE = ReportParams(as_of=datetime(2100, 1, 1, tzinfo=UTC))
Dump = dict[str, list[tuple[str, ...]]]


def deliver(engine: Engine, facts: Sequence[dict[str, Any]]) -> None:
    """Ingest ``facts`` as one batch; every one must be accepted."""
    if not facts:
        return
    result = send(engine, *facts)
    refused = [(f, o) for f, o in zip(facts, result.outcomes, strict=True)
               if o.status != "accepted"]
    assert not refused, refused[:3]


def open_runner(engine: Engine, views: Sequence[type[Projection]], batch: int
                ) -> ProjectionRunner:
    """A runner (the caller stops it and disposes its engine)."""
    return engine.runner([v.name for v in views], batch_size=batch)


def close_runner(runner: ProjectionRunner) -> None:
    """Stop and release."""
    runner.stop()


def dump(runner: ProjectionRunner) -> Dump:
    """Every row of every live table, by table name without generation, sorted."""
    out: Dump = {}
    with runner.engine.connect() as conn:
        for name, view in sorted(runner.live.items()):
            for table in view.metadata.sorted_tables:
                base = table.name.removeprefix(f"view_{name}_").removesuffix(
                    f"_{view.generation}")
                out[f"{name}.{base}"] = sorted(
                    tuple(repr(v) for v in row) for row in conn.execute(select(table)))
    return out


def report(runner: ProjectionRunner, name: str,
           build: Callable[[Connection, Any, ReportParams], Any],
           params: ReportParams = FUTURE) -> dict[str, Any]:
    """``build``'s report of view ``name`` as JSON, without the fields naming its times
    and the tables it was read from."""
    with runner.engine.connect() as conn:
        out: dict[str, Any] = build(conn, runner.live[name], params).to_json()
    for key in ("as_of", "known_at", "source"):
        out.pop(key, None)
    return out
