"""The one loop mechanism (engine.store.follower) and the position compare-and-set
(engine.store.positions) that the views' runner, the audit chain, the relay and the SLA
timer share; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from engine.bootstrap import Engine
from engine.errors import PositionConflictError
from engine.store import positions
from engine.store.follower import Follower

NAME = "test-follower"


class Counter:
    """A step that moves the position ``NAME`` by up to ``batch`` towards ``target``,
    writing the move in one transaction with a compare-and-set, as the real loops do."""

    def __init__(self, engine: Engine, target: int, batch: int = 10) -> None:
        self.engine, self.target, self.batch = engine, target, batch
        self.steps = 0
        positions.ensure(engine.sql, [NAME])

    def position(self) -> int:
        with self.engine.sql.connect() as conn:
            return int(positions.rows(conn)[NAME]["position"])

    def __call__(self) -> int:
        self.steps += 1
        old = self.position()
        new = min(self.target, old + self.batch)
        if new == old:
            return 0
        with self.engine.sql.begin() as conn:
            positions.advance(conn, NAME, old, new)
        return new - old


@pytest.fixture
def make(engine: Engine) -> Iterator[Callable[..., Follower]]:
    made: list[Follower] = []

    def follower(step: Callable[[], int], **options: object) -> Follower:
        options = {"idle": 0.01, "full": 10, **options}
        made.append(Follower("test", step, engine.lock(NAME), **options))  # type: ignore[arg-type]
        return made[-1]

    yield follower
    for f in made:
        f.close()


def test_one_holder_of_the_lock_steps_and_another_takes_over_after_it(
        engine: Engine, make: Callable[..., Follower]) -> None:
    counter = Counter(engine, target=30)
    first, second = make(counter), make(counter)
    assert first.run_once() == 10
    assert second.run_once() == 0  # standby: the lock is held
    assert counter.steps == 1
    first.stop()
    assert not first.lock.held
    assert second.run_once() == 10
    assert counter.position() == 20


def test_a_restarted_loop_resumes_from_the_stored_position(
        engine: Engine, make: Callable[..., Follower]) -> None:
    counter = Counter(engine, target=35)
    first = make(counter)
    first.run_once()
    first.close()
    again = make(Counter(engine, target=35))
    again.follow(until_idle=True)
    assert counter.position() == 35
    assert not again.following


def test_the_position_moves_by_compare_and_set(engine: Engine) -> None:
    positions.ensure(engine.sql, [NAME])
    with engine.sql.begin() as conn:
        positions.advance(conn, NAME, 0, 5)
    with pytest.raises(PositionConflictError, match="moved past 0"):  # noqa: SIM117
        with engine.sql.begin() as conn:
            positions.advance(conn, NAME, 0, 9)  # a stale reader: rolled back
    with engine.sql.connect() as conn:
        assert positions.rows(conn)[NAME]["position"] == 5


def test_wait_is_woken_by_the_loop_and_runs_steps_itself_when_nobody_follows(
        engine: Engine, make: Callable[..., Follower]) -> None:
    counter = Counter(engine, target=50)
    follower = make(counter)
    # Nobody follows: the waiter steps itself.
    assert follower.wait_until(lambda: counter.position() >= 20, timeout=30)
    counter.target = 100
    follower.start()
    assert follower.following
    assert follower.wait_until(lambda: counter.position() == 100, timeout=30)
    # A condition the loop never reaches: the wait gives up at its timeout.
    assert not follower.wait_until(lambda: counter.position() > 100, timeout=0.05)


def test_a_failing_step_backs_off_reports_and_recovers(
        engine: Engine, make: Callable[..., Follower]) -> None:
    counter = Counter(engine, target=20)
    failures: list[Exception] = []
    calls = 0

    def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError(f"failure {calls}")
        return counter()

    follower = make(flaky, backoff=0.001, on_error=failures.append)
    follower.follow(until_idle=True)
    assert [str(e) for e in failures] == ["failure 1", "failure 2"]
    assert follower.failures == 0  # reset by the first good step
    assert counter.position() == 20


def test_stop_ends_the_thread_runs_on_stop_once_and_close_releases(
        engine: Engine, make: Callable[..., Follower]) -> None:
    stopped: list[str] = []
    closed: list[str] = []
    ticked = threading.Event()

    def step() -> int:
        ticked.set()
        return 0

    follower = make(step, on_stop=lambda: stopped.append(threading.current_thread().name),
                    on_close=lambda: closed.append("closed"))
    follower.start()
    assert ticked.wait(30)
    follower.close()
    follower.close()
    assert not follower.following and not follower.lock.held
    assert stopped == ["dealflow-test"]  # in the loop's own thread, under the lock
    assert closed == ["closed"]


def test_a_clock_driven_loop_waits_after_every_step(
        engine: Engine, make: Callable[..., Follower]) -> None:
    ticks: list[int] = []

    def step() -> int:
        ticks.append(1)
        if len(ticks) == 3:
            follower.request_stop()
        return 1_000  # however much it did: full=None always idles

    follower = make(step, full=None, idle=0.001)
    follower.follow()
    assert len(ticks) == 3


def test_several_positions_move_together_or_not_at_all(engine: Engine) -> None:
    positions.ensure(engine.sql, ["a", "b"])
    with engine.sql.begin() as conn:
        positions.advance_all(conn, {"a": (0, 3), "b": (0, 4)})
    with pytest.raises(PositionConflictError):  # noqa: SIM117
        with engine.sql.begin() as conn:
            positions.advance_all(conn, {"a": (3, 9), "b": (0, 9)})  # b is stale
    with engine.sql.connect() as conn:
        stored = positions.rows(conn)
    assert (stored["a"]["position"], stored["b"]["position"]) == (3, 4)


def test_a_nudge_ends_the_idle_wait(engine: Engine, make: Callable[..., Follower]) -> None:
    counter = Counter(engine, target=0)
    follower = make(counter, idle=3600.0)  # it would sleep an hour between polls
    follower.start()
    assert follower.wait_until(lambda: counter.steps >= 1, timeout=30)
    counter.target = 10
    follower.nudge()
    assert follower.wait_until(lambda: counter.position() == 10, timeout=30)
