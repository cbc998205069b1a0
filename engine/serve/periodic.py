"""Background upkeep of ``dealflow serve``: one daemon thread per task, doing its work every
``interval`` seconds until stopped.

Several tasks keep a long-running process healthy without being asked: trimming the C
heap (:mod:`engine.serve.malloc`), checkpointing a SQLite WAL (:mod:`engine.serve.wal`),
probing a store that went away (:mod:`engine.serve.health`). They share one loop:
:class:`Periodic` runs :meth:`Periodic.work` in its own thread, waits ``interval`` seconds
(or until :meth:`Periodic.wake` ends the wait early) and goes on; a failing round is
logged and the next one runs as usual, so upkeep never ends the service's other work.

Not :class:`engine.store.follower.Follower`, the loop of the log's followers (views, SLA
timer, relay): that one steps only while it holds a singleton lock across replicas and backs
off after failures, while upkeep belongs to each process and has no lock to hold.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["Periodic"]

log = logging.getLogger(__name__)


class Periodic:
    """A background task: :meth:`work` every ``interval`` seconds in a daemon thread.

    Subclasses give :attr:`thread_name` and :meth:`work`; ``first_wait`` says whether the
    first round waits an interval (upkeep) or runs at once (a probe).
    """

    thread_name = "dealflow-periodic"
    first_wait = True

    def __init__(self, interval: float) -> None:
        """Work every ``interval`` seconds (> 0) once started."""
        self.interval = interval
        #: Rounds that finished without raising.
        self.rounds = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def work(self) -> None:
        """One round of the task."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        """Whether the thread runs."""
        return self._thread is not None

    def start(self) -> None:
        """Start the task in a daemon thread (no-op if it runs)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._wake.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """End the current wait early: the next round runs now."""
        self._wake.set()

    def _run(self) -> None:
        if self.first_wait:
            self._pause()
        while not self._stop.is_set():
            try:
                self.work()
                self.rounds += 1
            except Exception:  # never end the process's other work over upkeep
                log.exception("%s: a round failed; the next one runs as usual",
                              self.thread_name)
            self._pause()

    def _pause(self) -> None:
        self._wake.wait(self.interval)
        self._wake.clear()

    def stop(self) -> None:
        """Stop the task (waits for a round under way, up to 5 s)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
