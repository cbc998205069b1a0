"""The projection runner: batches, positions in the same transaction, resume, lock,
read-your-writes, rebuild into fresh tables; on SQLite and PostgreSQL."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence

import pytest
from sqlalchemy import Column, Connection, Integer, String, func, select

from engine.bootstrap import Engine
from engine.store.log import LoggedEvent
from projections.base import Projection
from projections.runner import ProjectionRunner
from tests.engine.conftest import send
from tests.engine.facts import fact, opened


class TopicCounts(Projection):
    """Counts events per stored name, and remembers every position it saw."""

    name = "topic_counts"

    def define_tables(self) -> None:
        self.seen = self.table("seen", Column("position", Integer, primary_key=True),
                               Column("topic", String(80), nullable=False))

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        conn.execute(self.seen.insert(), [{"position": e.position, "topic": e.topic}
                                          for e in events])


#: A batch that opens deals also records the routing book: its start (the first time) and one
#: record of the batch (contract 1.1).
BOOK = 2


@pytest.fixture
def make_runner(engine: Engine) -> Iterator[Callable[..., ProjectionRunner]]:
    runners: list[ProjectionRunner] = []

    def make(**options: int) -> ProjectionRunner:
        runner = engine.runner_of([TopicCounts()], **options)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.stop()


def seen(runner: ProjectionRunner) -> list[int]:
    table = runner.live["topic_counts"].seen  # type: ignore[attr-defined]
    with runner.engine.connect() as conn:
        return [row[0] for row in conn.execute(select(table.c.position).order_by(table.c.position))]


def test_applies_in_batches_and_resumes(engine: Engine,
                                        make_runner: Callable[..., ProjectionRunner]) -> None:
    send(engine, *[opened(f"D-{i}") for i in range(25)])
    first = make_runner(batch_size=10)
    first.catch_up_size = 10  # every step one batch
    assert first.run_once() == 10
    assert first.positions() == {"topic_counts": 10}
    first.stop()
    second = make_runner(batch_size=10)
    assert second.catch_up() == 15 + BOOK
    assert seen(second) == list(range(1, 26 + BOOK))


def test_a_step_applies_what_the_log_holds_up_to_ten_batches(
        engine: Engine, make_runner: Callable[..., ProjectionRunner]) -> None:
    send(engine, *[opened(f"D-{i}") for i in range(35)])
    runner = make_runner(batch_size=10)
    assert runner.run_once() == 35 + BOOK  # a writer's transaction in one step
    send(engine, *[opened(f"E-{i}") for i in range(110)])
    assert runner.run_once() == 100  # ten batches at most
    assert runner.positions() == {"topic_counts": 35 + BOOK + 100}
    assert runner.run_once() == 10 + 1  # the rest, with the book's record of the batch
    assert runner.run_once() == 0
    assert seen(runner) == list(range(1, 35 + BOOK + 110 + 1 + 1))


def test_only_one_runner_applies(engine: Engine,
                                 make_runner: Callable[..., ProjectionRunner]) -> None:
    send(engine, *[opened(f"D-{i}") for i in range(5)])
    holder, other = make_runner(), make_runner()
    assert holder.run_once() == 5 + BOOK
    send(engine, opened("D-late"))
    assert other.run_once() == 0  # locked out: standby
    holder.stop()
    assert other.run_once() == 2  # the opening and the book's record of it
    assert seen(other) == list(range(1, 7 + BOOK + 1))


def test_wait_gives_read_your_writes_while_following(
        engine: Engine, make_runner: Callable[..., ProjectionRunner]) -> None:
    runner = make_runner()
    runner.start(poll_interval=0.01)
    result = send(engine, opened("D-1"), fact("activity.logged", "D-1", {"kind": "call"}))
    assert result.last_position is not None
    assert runner.wait(result.last_position, timeout=10)
    assert seen(runner) == [1, 2, 3, 4]  # the opening, the call, the routing book's two


def test_rebuild_fills_fresh_tables_and_swaps(engine: Engine,
                                              make_runner: Callable[..., ProjectionRunner]) -> None:
    send(engine, *[opened(f"D-{i}") for i in range(30)])
    runner = make_runner(batch_size=7)
    runner.catch_up()
    before = seen(runner)
    old_table = runner.live["topic_counts"].table_name("seen")
    progress: list[tuple[int, int]] = []
    assert runner.rebuild(progress=lambda done, total: progress.append((done, total))) == {
        "topic_counts": 30 + BOOK}
    assert runner.live["topic_counts"].table_name("seen") != old_table
    assert seen(runner) == before
    assert progress[-1] == (30 + BOOK, 30 + BOOK)
    with runner.engine.connect() as conn:
        table = runner.live["topic_counts"].seen  # type: ignore[attr-defined]
        assert conn.execute(select(func.count()).select_from(table)).scalar() == 30 + BOOK


def test_a_view_whose_tables_changed_is_rebuilt_before_it_applies_anything(
        engine: Engine, make_runner: Callable[..., ProjectionRunner]) -> None:
    from engine.store import positions

    send(engine, *[opened(f"L-{i}") for i in range(12)])
    first = make_runner(batch_size=5)
    first.catch_up()
    generation = first.live["topic_counts"].generation
    first.stop()
    with engine.sql.begin() as conn:  # as if an older release had laid the tables out
        positions.set_layout(conn, "topic_counts", "an-older-layout")
    upgraded = make_runner(batch_size=5)
    assert upgraded.stale == ["topic_counts"]
    upgraded.catch_up()
    assert upgraded.stale == []
    assert upgraded.live["topic_counts"].generation != generation  # rebuilt, swapped in
    assert seen(upgraded) == list(range(1, 13 + BOOK))
    with engine.sql.connect() as conn:
        row = positions.rows(conn)["topic_counts"]
    assert (row["position"], row["layout"]) == (12 + BOOK, TopicCounts().layout_id())


def test_the_layout_id_follows_the_tables_not_the_generation() -> None:
    assert TopicCounts("a").layout_id() == TopicCounts("b").layout_id()

    class Wider(TopicCounts):
        def define_tables(self) -> None:
            self.seen = self.table("seen", Column("position", Integer, primary_key=True),
                                   Column("topic", String(80), nullable=False),
                                   Column("extra", String(10)))

    assert Wider().layout_id() != TopicCounts().layout_id()


def test_views_built_before_layouts_were_kept_are_rebuilt_once(
        engine: Engine, make_runner: Callable[..., ProjectionRunner]) -> None:
    from sqlalchemy import text

    from engine.store import positions

    send(engine, *[opened(f"G-{i}") for i in range(7)])
    first = make_runner(batch_size=5)
    first.catch_up()
    first.stop()
    with engine.sql.begin() as conn:  # the catalog of an older release
        conn.execute(text("ALTER TABLE view_catalog DROP COLUMN layout"))
    upgraded = make_runner(batch_size=5)
    assert upgraded.stale == ["topic_counts"]
    upgraded.catch_up()
    assert seen(upgraded) == list(range(1, 8 + BOOK))
    again = make_runner(batch_size=5)
    assert again.stale == []  # rebuilt once, its layout now known
    with engine.sql.connect() as conn:
        assert positions.rows(conn)["topic_counts"]["layout"] == TopicCounts().layout_id()


class CollectorWatch(TopicCounts):
    """Notes whether the collector could run automatically while it applied a batch."""

    name = "collector_watch"

    def define_tables(self) -> None:
        super().define_tables()
        self.enabled: list[bool] = []

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        self.enabled.append(gc.isenabled())
        super().process(conn, events)


def test_a_step_runs_without_the_automatic_collector(engine: Engine) -> None:
    """Automatic collection is off while a step applies (a step's objects live as long as
    the step; :func:`engine.store.gc.batches` collects between steps) and on again after."""
    send(engine, *[opened(f"D-{i}") for i in range(5)])
    view = CollectorWatch()
    runner = engine.runner_of([view])
    try:
        assert gc.isenabled()
        assert runner.run_once() == 5 + BOOK
        assert gc.isenabled()  # back on between steps
        assert view.enabled == [False]
    finally:
        runner.stop()
