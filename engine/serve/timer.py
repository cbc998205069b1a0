"""The SLA timer as a background task of the service (records breaches as events)."""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["TimerTask"]


class TimerTask:
    """Runs ``timer.run(stop, interval)`` in a daemon thread (the timer takes its own
    singleton lock, so only one process per store escalates)."""

    def __init__(self, timer: Any, interval: float) -> None:
        """Wrap an :class:`projections.sla.timer.SlaTimer`."""
        self.timer = timer
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start ticking."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.timer.run, args=(self._stop,),
                                        kwargs={"interval": self.interval},
                                        name="dealflow-sla-timer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking and release the timer's lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
