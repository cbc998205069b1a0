"""A rebuild shared out to a helper process, and views that read only their topics, equal
the live views row for row; a helper that fails leaves the live views as they were. On
SQLite (the helper loads a scratch file, copied in at the swap) and PostgreSQL (the helper
writes the fresh tables itself)."""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import Column, Connection, Integer

from engine.bootstrap import Engine
from engine.demo import generate
from engine.errors import DealflowError
from engine.ingest.batch import RawInput
from engine.store.log import LoggedEvent
from projections.base import Projection
from projections.rebuild import share
from tests.projections.pipeline.support import dump


class Exploding(Projection):
    """A view whose rebuild fails half way (it is light, so the helper gets it)."""

    name = "exploding"
    rebuild_cost: ClassVar[float] = 0.01

    def define_tables(self) -> None:
        self.seen = self.table("seen", Column("position", Integer, primary_key=True))

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        if events[-1].position > 300:
            raise RuntimeError("boom")
        conn.execute(self.seen.insert(), [{"position": e.position} for e in events])


def _ingest(engine: Engine) -> None:
    lines = list(generate(9, deals=120))
    for start in range(0, len(lines), 400):
        engine.ingestor.ingest([RawInput(raw, f"r:{start + i}")
                                for i, raw in enumerate(lines[start : start + 400])])


def _scratch_folders(engine: Engine) -> set[Path]:
    database = engine.sql.url.database
    folder = Path(database).parent if database else Path(tempfile.gettempdir())
    return set(folder.glob("dealflow-rebuild-*"))


def test_a_rebuild_shared_with_a_helper_process_equals_the_live_views(engine: Engine) -> None:
    _ingest(engine)
    live = engine.runner(batch_size=250)
    live.catch_up()
    expected = dump(live)
    live.close()
    before = _scratch_folders(engine)

    runner = engine.runner(batch_size=300)
    runner.rebuild_parallel_from = 0
    head = runner.head()
    scratch: set[Path] = set()

    def progress(done: int, total: int) -> None:
        scratch.update(_scratch_folders(engine) - before)

    assert runner.rebuild(progress=progress) == dict.fromkeys(engine.views, head)
    # On SQLite the helper loads a scratch file beside the store; on PostgreSQL, the store.
    assert len(scratch) == (1 if engine.app.backend == "sqlite" else 0)
    stats = runner.rebuild_stats
    assert stats["processes"] == 2
    assert stats["here"] and stats["there"]
    assert sorted(stats["here"] + stats["there"]) == sorted(engine.views)
    assert dump(runner) == expected
    assert runner.positions() == dict.fromkeys(engine.views, head)
    assert _scratch_folders(engine) == before
    runner.close()


def test_views_naming_their_topics_read_only_those_and_equal_the_live_views(
        engine: Engine) -> None:
    _ingest(engine)
    named = [name for name, view in engine.views.items() if view.topics is not None]
    assert {"pipeline", "kpis", "commissions"} <= set(named)
    live = engine.runner(named, batch_size=100)
    live.catch_up()
    expected = dump(live)
    live.rebuild()  # one process: every view names its topics, so only those are read
    assert live.rebuild_stats["processes"] == 1
    assert dump(live) == expected
    live.close()


def test_a_failing_helper_leaves_the_live_views_as_they_were(engine: Engine) -> None:
    _ingest(engine)
    views = [engine.views["pipeline"], Exploding()]
    runner = engine.runner_of(views, batch_size=100)
    runner.rebuild_parallel_from = 0
    with pytest.raises(DealflowError, match="boom"):
        runner.rebuild()  # the first rebuild: nothing live yet but empty tables
    assert runner.positions() == {"pipeline": 0, "exploding": 0}
    assert {v.generation for v in runner.live.values()} == {"a"}
    runner.close()


def test_a_daemonic_process_rebuilds_alone(engine: Engine,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``dealflow serve`` runs the views in a daemonic process, which may not start one."""
    _ingest(engine)
    runner = engine.runner(["pipeline", "kpis"], batch_size=200)
    runner.rebuild_parallel_from = 0
    monkeypatch.setattr(multiprocessing.current_process(), "daemon", True, raising=False)
    runner.rebuild()
    assert runner.rebuild_stats["processes"] == 1
    runner.close()


def test_views_are_shared_out_by_cost() -> None:
    class Heavy(Exploding):
        name = "heavy"
        rebuild_cost = 1.0

    class Middle(Exploding):
        name = "middle"
        rebuild_cost = 0.6

    class Light(Exploding):
        name = "light"
        rebuild_cost = 0.3

    views = [Light(), Heavy(), Middle(), Exploding()]
    here, there = share(views)
    assert [v.name for v in here] == ["heavy"]
    assert [v.name for v in there] == ["light", "middle", "exploding"]
