"""Running the service under uvicorn: in the foreground (``dealflow serve``) or in a
background thread (tests and benchmarks, on a free loopback port)."""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from engine.api.app import create_app
from engine.serve.logs import configure_logging
from engine.serve.malloc import fix_mmap_threshold, limit_arenas
from engine.serve.service import Service
from engine.settings import Settings

__all__ = ["BackgroundServer", "serve"]

log = logging.getLogger(__name__)


def _config(service: Service, *, log_level: str = "info", owner: bool = False
            ) -> uvicorn.Config:
    # The owner (``dealflow serve``) configured logging before the service started (its
    # background work logs from the start) and logs every request, one access line each.
    return uvicorn.Config(create_app(service, stop_on_shutdown=owner),
                          host=service.settings.api_host, port=service.settings.api_port,
                          log_level=log_level, access_log=owner,
                          log_config=None if owner else LOGGING_CONFIG,
                          lifespan="on" if owner else "off", timeout_graceful_shutdown=10)


def serve(settings: Settings, *, on_started: Callable[[Service], None] | None = None,
          log_level: str = "info") -> None:
    """Build the service, follow the log, serve HTTP until interrupted, then stop it all.

    Logs uvicorn's lines, an access line per request and dealflow's own (views, SLA timer,
    Kafka: :mod:`engine.serve.logs`) at ``log_level``."""
    # Before any thread starts: two malloc arenas, not one per thread, or the C heap keeps
    # growing with freed chunks each thread's arena alone reuses (engine.serve.malloc).
    limit_arenas()
    fix_mmap_threshold()  # large blocks mapped on their own, never from the heap
    # Background work (the views' runner, report refreshes) holds the GIL in long Python
    # loops; a 1 ms switch interval (default 5 ms) keeps request latency tails short.
    sys.setswitchinterval(0.001)
    configure_logging(log_level)
    service = Service.build(settings)
    try:
        service.start()
        if on_started is not None:
            on_started(service)
        uvicorn.Server(_config(service, log_level=log_level, owner=True)).run()
    finally:
        service.stop()


class BackgroundServer:
    """A real uvicorn server for ``service`` in a thread; ``url`` once :meth:`start`
    returns. Bind port 0 in settings to get a free port."""

    def __init__(self, service: Service, *, log_level: str = "warning") -> None:
        """Prepare; nothing listens yet."""
        self.service = service
        self.server = uvicorn.Server(_config(service, log_level=log_level))
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only for
        # sockets whose proto says TCP; without it every response waits ~40 ms (Nagle).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((service.settings.api_host, service.settings.api_port))
        self.port: int = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self.server.run,
                                        kwargs={"sockets": [self._socket]},
                                        name="dealflow-http", daemon=True)

    @property
    def url(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self.service.settings.api_host}:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        """Start serving; return once the server accepts connections."""
        self._thread.start()
        stopped = threading.Event()
        for _ in range(int(timeout / 0.01)):
            if self.server.started or not self._thread.is_alive():
                break
            stopped.wait(0.01)
        if not self.server.started:
            raise RuntimeError("the HTTP server did not start")

    def stop(self) -> None:
        """Stop serving (the service itself is the caller's to stop)."""
        self.server.should_exit = True
        self._thread.join(timeout=15)
        self._socket.close()
