"""The one mechanism behind every background loop over the store.

The views' runner, the audit chain, the outbox relay and the SLA timer all do the same
around their own work: hold a singleton lock (so one process per store does it), run in a
thread or in the caller's, stop on request, wait when idle, back off after a failure, say
when they moved (read-your-writes) and close what they opened. :class:`Follower` does that
once; each loop gives it a ``step`` that does one unit of work and returns how much it did.

Idle rule (one for all): after a step that did less than ``full`` units the loop waits
``idle`` seconds (``full=None``: a clock-driven loop that always waits). A failing step is
retried after ``backoff`` seconds, doubled per consecutive failure up to ``max_backoff``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from engine.store.locks import SingletonLock

__all__ = ["Follower"]

log = logging.getLogger(__name__)


class Follower:
    """Runs ``step`` under ``lock`` until stopped; see the module docstring."""

    def __init__(
        self,
        name: str,
        step: Callable[[], int],
        lock: SingletonLock,
        *,
        idle: float,
        full: int | None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        on_error: Callable[[Exception], None] | None = None,
        on_stop: Callable[[], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        """Prepare; nothing is locked or started yet.

        ``on_error`` sees each failure before the backoff (e.g. to drop a connection);
        ``on_stop`` runs in the loop's thread after its last step, still under the lock;
        ``on_close`` releases what the owner opened (engines), once, from :meth:`close`.
        """
        self.name = name
        self.step = step
        self.lock = lock
        self.idle = idle
        self.full = full
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.on_error = on_error
        self.on_stop = on_stop
        self.on_close = on_close
        self.failures = 0
        self._stop = threading.Event()
        self._wake = threading.Event()  # ends an idle wait early (new work, or a stop)
        self._moved = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    # ------------------------------------------------------------------ one step
    def run_once(self) -> int:
        """One step if the lock is (or can be) held here; 0 if another process holds it."""
        if not self.lock.acquire():
            return 0
        done = self.step()
        if done:
            with self._moved:
                self._moved.notify_all()
        return done

    def _idles_after(self, done: int) -> bool:
        return self.full is None or done < self.full

    # ------------------------------------------------------------------ the loop
    @property
    def following(self) -> bool:
        """Whether a background thread runs the loop."""
        return self._thread is not None

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked."""
        return self._stop.is_set()

    def start(self) -> None:
        """Run :meth:`follow` in a daemon thread (no-op if it runs)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._wake.clear()
        self._thread = threading.Thread(target=self.follow, name=f"dealflow-{self.name}",
                                        daemon=True)
        self._thread.start()

    def follow(self, *, until_idle: bool = False) -> None:
        """Run the loop in the calling thread until :meth:`stop` (or, with ``until_idle``,
        until a step finds nothing more to do). Waits for the lock while another process
        holds it."""
        said = False
        try:
            while not self._stop.is_set():
                if not self.lock.acquire():
                    if not said:
                        log.info("%s: another process holds the %r lock; standing by",
                                 self.name, self.lock.name)
                        said = True
                    self._stop.wait(max(self.idle, 1.0))
                    continue
                try:
                    done = self.run_once()
                except Exception as exc:  # the loop survives; the next step retries
                    self.failures += 1
                    delay = min(self.backoff * 2 ** (self.failures - 1), self.max_backoff)
                    log.exception("%s: step failed (%d in a row); retrying in %.1fs",
                                  self.name, self.failures, delay)
                    if self.on_error is not None:
                        self.on_error(exc)
                    self._stop.wait(delay)
                    continue
                self.failures = 0
                if self._idles_after(done):
                    if until_idle and done == 0:
                        return
                    self._wake.wait(self.idle)
                    self._wake.clear()
        finally:
            if self.on_stop is not None and self.lock.held:
                self.on_stop()

    def request_stop(self) -> None:
        """Ask the loop to end after its current step (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def nudge(self) -> None:
        """There is new work (e.g. a commit in this process): end the idle wait now."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the loop (waiting for its thread) and release the lock."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.lock.release()

    def close(self) -> None:
        """Stop, then release what the owner opened (once)."""
        self.stop()
        if not self._closed:
            self._closed = True
            if self.on_close is not None:
                self.on_close()

    # ------------------------------------------------------------------ waiting
    def wait_until(self, reached: Callable[[], bool], timeout: float) -> bool:
        """Block until ``reached()`` holds or ``timeout`` seconds passed.

        Without a background thread, steps run here (when the lock can be had) so that a
        one-shot caller never waits for nobody; otherwise the loop's moves wake the waiter.
        """
        deadline = time.monotonic() + timeout
        while True:
            if reached():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._thread is None and self.lock.acquire():
                if self.run_once() == 0 and not reached():
                    time.sleep(min(remaining, 0.01))
            else:
                with self._moved:
                    self._moved.wait(min(remaining, 0.05))
