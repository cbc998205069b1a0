"""The shared loop of serve's upkeep tasks (engine.serve.periodic)."""

from __future__ import annotations

import threading

import pytest

from engine.serve.periodic import Periodic


class Rounds(Periodic):
    """Counts its rounds; the second one fails; signals after ``until`` rounds."""

    thread_name = "test-periodic"

    def __init__(self, interval: float, until: int, *, first_wait: bool = True) -> None:
        super().__init__(interval)
        self.first_wait = first_wait
        self.calls = 0
        self.until = until
        self.reached = threading.Event()

    def work(self) -> None:
        self.calls += 1
        if self.calls >= self.until:
            self.reached.set()
        if self.calls == 2:
            raise RuntimeError("a failing round")


def test_a_failing_round_is_logged_and_the_task_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    task = Rounds(0.001, until=4)
    task.start()
    try:
        assert task.reached.wait(10)
    finally:
        task.stop()
    assert not task.running
    assert task.calls >= 4
    assert task.rounds == task.calls - 1  # the failing round is not counted
    assert "test-periodic: a round failed" in caplog.text


def test_wake_runs_a_round_before_the_interval_ends() -> None:
    # An hour's interval: only wake() can make the rounds happen.
    task = Rounds(3600, until=1)
    task.start()
    try:
        assert not task.reached.is_set()
        task.wake()
        assert task.reached.wait(10)
    finally:
        task.stop()
    assert task.calls == 1


def test_a_probe_runs_its_first_round_at_once() -> None:
    task = Rounds(3600, until=1, first_wait=False)
    task.start()
    try:
        assert task.reached.wait(10)
    finally:
        task.stop()
    assert task.calls == 1
