"""The views' runner and the SLA timer in a child process of ``dealflow serve``.

Projections and the timer are CPU-bound Python: in the serving process they would compete
with request handling and ingestion for the GIL. In a child process they use another core;
the service still sees their progress through the views' positions in the store (readiness,
``wait``/``min_position``), exactly as a replica sees another replica's runner.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from typing import Any

from engine.settings import Settings

__all__ = ["ViewsProcess"]

log = logging.getLogger(__name__)
#: How often the child says whether it holds the views' lock.
_REPORT_SECONDS = 0.2


def _run(settings_json: str, stop: Any, holding: Any, log_level: int
         ) -> None:  # pragma: no cover - runs in the child
    """Child: follow the log with every registered view (and tick the SLA timer) until
    ``stop`` is set; keep ``holding`` saying whether it holds the views' lock."""
    from engine.bootstrap import bootstrap
    from engine.serve.logs import configure_logging
    from engine.serve.malloc import (
        HeapTrimmer,
        fix_mmap_threshold,
        limit_arenas,
        limit_sqlite_heap,
    )
    from engine.serve.sla_timer import serve_sla_timer
    from engine.store.gc import freeze_startup

    # A Ctrl-C in a terminal reaches the whole process group: the serving process stops
    # this one (through ``stop``) once it has stopped serving; a child dying of it first
    # would be restarted by the watcher mid-shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The serving process's pid as spawn recorded it: a service killed while this one was
    # still starting would otherwise leave init as the "parent" seen below, and this
    # process would outlive it (holding the views' lock).
    spawner = multiprocessing.parent_process()
    parent = spawner.pid if spawner is not None and spawner.pid else os.getppid()
    limit_arenas()  # before this process starts a thread (engine.serve.malloc)
    fix_mmap_threshold()
    configure_logging(log_level)
    settings = Settings.model_validate_json(settings_json)
    limit_sqlite_heap(settings.serve_sqlite_heap_mb << 20)
    engine = bootstrap(settings)
    freeze_startup()
    runner = engine.runner()
    trimmer = None
    if settings.serve_heap_trim_seconds > 0:
        trimmer = HeapTrimmer(settings.serve_heap_trim_seconds)
        trimmer.start()
    timer = None
    if "sla" in runner.live and settings.sla_timer_interval > 0:
        timer = serve_sla_timer(engine, runner)
        timer.start()
    runner.start()
    try:
        # Also end if the service died without stopping us (killed): never outlive it.
        while not stop.wait(_REPORT_SECONDS):
            holding.value = int(runner.lock.held)
            if os.getppid() != parent:
                log.warning("the serving process is gone; the views process ends")
                break
    finally:
        holding.value = 0
        if trimmer is not None:
            trimmer.stop()
        if timer is not None:
            timer.stop()
        runner.stop()
        engine.close()


class ViewsProcess:
    """Starts, watches (restarting it if it dies) and stops the child process."""

    def __init__(self, settings: Settings) -> None:
        """Prepare; nothing runs yet."""
        self.settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._holding: Any = self._context.Value("b", 0, lock=False)
        self._stop: Any = None
        self._process: Any = None
        self._watching = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """Whether the child runs."""
        return self._process is not None and bool(self._process.is_alive())

    @property
    def holds_views(self) -> bool:
        """Whether the child runs and holds the views' lock (so this service is the one
        that exports the gauges read from the views)."""
        return self.alive and bool(self._holding.value)

    def start(self) -> None:
        """Start the child and a thread that restarts it if it exits unexpectedly."""
        self._spawn()
        self._watching.set()
        self._watcher = threading.Thread(target=self._watch, name="dealflow-views-watch",
                                         daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        self._stop = self._context.Event()
        self._holding.value = 0
        level = logging.getLogger("engine").getEffectiveLevel()
        self._process = self._context.Process(
            target=_run, args=(self.settings.model_dump_json(), self._stop, self._holding,
                               level),
            name="dealflow-views", daemon=True)
        self._process.start()

    def _watch(self) -> None:
        while self._watching.is_set():
            process = self._process
            if process is not None:
                process.join(timeout=1.0)
                if self._watching.is_set() and not process.is_alive():
                    self._holding.value = 0
                    log.error("the views process exited (code %s); restarting it",
                              process.exitcode)
                    self._spawn()
            else:
                self._watching.wait(1.0)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the child (it releases its locks) and wait for it."""
        self._watching.clear()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
        if self._process is not None:
            self._stop.set()
            self._process.join(timeout)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)
            self._holding.value = 0
            # Dropping the event frees its semaphores now (the process may end by a signal
            # next, with no finalizers run).
            self._process = self._stop = None
