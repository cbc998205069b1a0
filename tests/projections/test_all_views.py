"""All views together over a realistic corpus: a runner killed mid-batch and resumed, a
restart, and re-sent duplicates give exactly the views of a clean rebuild."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Connection, select

from engine.bootstrap import Engine
from engine.demo import generate
from engine.ingest.batch import RawInput
from engine.store.log import LoggedEvent
from projections.base import Projection
from projections.runner import ProjectionRunner


class Crash(Exception):
    """Stands in for the process dying in the middle of a batch."""


def snapshot(runner: ProjectionRunner) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every live view table, keyed by the table's name without generation."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with runner.engine.connect() as conn:
        for view in runner.live.values():
            for table in view.metadata.sorted_tables:
                key = table.name.rsplit("_", 1)[0]
                rows[key] = sorted(conn.execute(select(table)).all(), key=repr)
    return rows


def ingest(engine: Engine, lines: Sequence[bytes]) -> None:
    for start in range(0, len(lines), 400):
        engine.ingestor.ingest([RawInput(raw, f"c:{start + i}")
                                for i, raw in enumerate(lines[start : start + 400])])


def test_killed_mid_batch_restart_and_duplicates_equal_a_clean_rebuild(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = list(generate(9, deals=120))
    ingest(engine, lines)
    assert set(engine.views) >= {"pipeline", "sla", "commissions", "kpis", "forecast",
                                 "segments", "routing"}

    crashing = engine.runner(batch_size=250)
    crashing.catch_up_size = 250  # every step one batch of 250
    assert crashing.run_once() > 0
    # The last view of the second batch fails after the others wrote their rows in the
    # same transaction: nothing of that batch may remain.
    victim = list(crashing.live.values())[-1]
    original = type(victim).process

    def fail(self: Projection, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        raise Crash

    monkeypatch.setattr(type(victim), "process", fail)
    with pytest.raises(Crash):
        crashing.run_once()
    assert set(crashing.positions().values()) == {250}
    crashing.close()
    monkeypatch.setattr(type(victim), "process", original)

    resumed = engine.runner(batch_size=250)
    resumed.catch_up()
    resumed.close()
    ingest(engine, lines)  # every line again: duplicates and rejections, no new events
    restarted = engine.runner(batch_size=250)
    restarted.catch_up()
    live = snapshot(restarted)
    assert set(restarted.positions().values()) == {restarted.head()}

    restarted.rebuild()
    assert snapshot(restarted) == live
    restarted.close()
