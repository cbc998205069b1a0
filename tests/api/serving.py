"""A real ``dealflow serve`` (the console script) in a subprocess on a free loopback port,
its output in a file, stopped by its PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from tests.infra.common import LOOPBACK, free_loopback_port, stop_process, tail

__all__ = ["DEALFLOW", "ServeProcess", "token"]

DEALFLOW = str(Path(sys.executable).with_name("dealflow"))


def token(db: str, role: str, name: str) -> str:
    """Create a token with the console script; its secret (the last line printed)."""
    done = subprocess.run([DEALFLOW, "token", "create", "--role", role, "--name", name,
                           "--db", db], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=True)
    return done.stdout.strip().splitlines()[-1]


class ServeProcess:
    """``dealflow serve --db DB --port PORT`` with ``env`` added to this environment."""

    def __init__(self, db: str, log: Path, *, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = ()) -> None:
        self.db = db
        self.log = log
        self.port = free_loopback_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DEALFLOW_")}
        self.env.update(env or {})
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, *, ready_within: float = 60.0) -> ServeProcess:
        """Start, and return once ``/readyz`` says ready (bounded)."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [DEALFLOW, "serve", "--db", self.db, "--host", LOOPBACK, "--port",
                 str(self.port), *self.args], env=self.env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited\n{self.output()}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve not ready within {ready_within:.0f}s\n{self.output()}")

    def text(self) -> str:
        """Everything it wrote so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def output(self, lines: int = 60) -> str:
        """The tail of what it wrote."""
        return tail(self.text(), lines)

    def wait_for_output(self, needle: str, timeout: float = 30.0) -> str:
        """Wait (bounded) until ``needle`` appears in the output; return the line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.text().splitlines():
                if needle in line:
                    return line
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} not in the output after {timeout:.0f}s\n"
                             f"{self.output()}")

    def stop(self) -> None:
        """SIGTERM (a clean shutdown, views process included), SIGKILL after a bounded
        wait."""
        if self.proc is not None:
            stop_process(self.proc, sig=signal.SIGTERM, timeout=30)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
