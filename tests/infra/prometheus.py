"""A real Prometheus server (and promtool) for the suite: Debian's ``prometheus`` package.

``python3 dev.py test`` installs the package when ``promtool`` is missing and it runs as
root with apt-get; elsewhere the tests that need it skip, except under ``CI=true``.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from .common import LOOPBACK, free_loopback_port, stop_process, tail

__all__ = ["PrometheusBinaries", "PrometheusServer", "PrometheusUnavailable", "find_prometheus"]


class PrometheusUnavailable(RuntimeError):
    """The Prometheus server or promtool is not installed, or the server did not start."""


@dataclass(frozen=True)
class PrometheusBinaries:
    """Paths of the server and of promtool."""

    prometheus: str
    promtool: str


def find_prometheus() -> PrometheusBinaries:
    """Both binaries from ``PATH``, or :class:`PrometheusUnavailable` saying how to get them."""
    found = {name: shutil.which(name) for name in ("prometheus", "promtool")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise PrometheusUnavailable(
            f"{' and '.join(missing)} not installed: `python3 dev.py test` installs Debian's "
            "prometheus package when it runs as root with apt-get (or: apt-get install -y "
            "prometheus)")
    return PrometheusBinaries(str(found["prometheus"]), str(found["promtool"]))


class PrometheusServer:
    """``prometheus`` on a free 127.0.0.1 port with a config and a data folder of the
    caller's, started and stopped (by its PID) by this object."""

    def __init__(self, binary: str, config: Path, data: Path, *,
                 startup_timeout: float = 30.0) -> None:
        self.binary = binary
        self.config = config
        self.data = data
        self.startup_timeout = startup_timeout
        self.port = free_loopback_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server process this object started is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> PrometheusServer:
        """Start; return once ``/-/ready`` answers 200 (a taken port: try another)."""
        for _attempt in range(3):
            self._spawn()
            problem = self._wait_ready()
            if problem is None:
                atexit.register(self.stop)
                return self
            text = self.log_text()
            self._reap()
            if "address already in use" not in text:
                raise PrometheusUnavailable(f"Prometheus did not start: {problem}\n"
                                            f"{tail(text)}")
            self.port = free_loopback_port()
        raise PrometheusUnavailable("Prometheus found no free port")

    def _spawn(self) -> None:
        self._log = tempfile.TemporaryFile(prefix="dealflow-prometheus-")  # noqa: SIM115 - closed in _reap
        self._proc = subprocess.Popen(
            [self.binary, f"--config.file={self.config}", f"--storage.tsdb.path={self.data}",
             f"--web.listen-address={LOOPBACK}:{self.port}", "--log.level=info"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def _wait_ready(self) -> str | None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return f"exited with {None if self._proc is None else self._proc.returncode}"
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return None
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        return f"not ready within {self.startup_timeout:.0f}s"

    def log_text(self) -> str:
        """What the server wrote."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>``'s ``data`` (asserting the call succeeded)."""
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """An instant query: each result's labels (sorted, without ``__name__``) -> value."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        return {tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")):
                float(r["value"][1]) for r in data["result"]}

    def stop(self) -> None:
        """Stop the server by its PID (SIGTERM, SIGKILL after a bounded wait). Idempotent."""
        atexit.unregister(self.stop)
        self._reap()

    def _reap(self) -> None:
        if self._proc is not None:
            stop_process(self._proc, timeout=15)
        if self._log is not None:
            self._log.close()
        self._proc = None
        self._log = None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
